//! The discovery documents (RFC 7644 section 4): what this service provider supports, and
//! only the attributes it stores. Fixed content, so written out as JSON.

use serde_json::{json, Value};

use super::{GROUP_URN, LIST_URN, MAX_COUNT, USER_URN};

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/teamportal/teamportal#scim-provisioning",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The team's SCIM token from /settings/scim, as Authorization: Bearer <token>",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

pub fn resource_types(base: &str) -> Value {
    let types = vec![resource_type(base, "User"), resource_type(base, "Group")];
    json!({"schemas": [LIST_URN], "totalResults": 2, "startIndex": 1, "itemsPerPage": 2, "Resources": types})
}

pub fn resource_type(base: &str, name: &str) -> Value {
    let (endpoint, schema) = if name == "User" {
        ("/Users", USER_URN)
    } else {
        ("/Groups", GROUP_URN)
    };
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name, "name": name, "endpoint": endpoint, "schema": schema,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")}
    })
}

fn attr(name: &str, kind: &str, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "required": required,
        "caseExact": false, "mutability": mutability, "returned": "default", "uniqueness": uniqueness
    })
}

fn with(mut a: Value, key: &str, v: Value) -> Value {
    if let Some(m) = a.as_object_mut() {
        m.insert(key.into(), v);
    }
    a
}

pub fn user_schema(base: &str) -> Value {
    let name = with(
        attr("name", "complex", false, "readWrite", "none"),
        "subAttributes",
        json!([
            attr("givenName", "string", false, "readWrite", "none"),
            attr("familyName", "string", false, "readWrite", "none"),
            attr("formatted", "string", false, "readWrite", "none"),
        ]),
    );
    let emails = with(
        with(
            attr("emails", "complex", false, "readWrite", "none"),
            "multiValued",
            json!(true),
        ),
        "subAttributes",
        json!([
            attr("value", "string", false, "readWrite", "none"),
            attr("type", "string", false, "readWrite", "none"),
            attr("primary", "boolean", false, "readWrite", "none"),
        ]),
    );
    let groups = with(
        with(
            attr("groups", "complex", false, "readOnly", "none"),
            "multiValued",
            json!(true),
        ),
        "subAttributes",
        json!([
            attr("value", "string", false, "readOnly", "none"),
            attr("display", "string", false, "readOnly", "none"),
        ]),
    );
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_URN, "name": "User", "description": "A team member; userName is the work email",
        "attributes": [
            attr("userName", "string", true, "readWrite", "server"),
            attr("externalId", "string", false, "readWrite", "none"),
            name,
            attr("displayName", "string", false, "readWrite", "none"),
            emails,
            attr("active", "boolean", false, "readWrite", "none"),
            groups,
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_URN}")}
    })
}

pub fn group_schema(base: &str) -> Value {
    let members = with(
        with(
            attr("members", "complex", false, "readWrite", "none"),
            "multiValued",
            json!(true),
        ),
        "subAttributes",
        json!([
            attr("value", "string", false, "immutable", "none"),
            attr("display", "string", false, "readOnly", "none"),
        ]),
    );
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_URN, "name": "Group", "description": "A group pushed from the IdP",
        "attributes": [
            attr("displayName", "string", true, "readWrite", "server"),
            attr("externalId", "string", false, "readWrite", "none"),
            members,
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_URN}")}
    })
}

pub fn schemas(base: &str) -> Value {
    json!({
        "schemas": [LIST_URN], "totalResults": 2, "startIndex": 1, "itemsPerPage": 2,
        "Resources": [user_schema(base), group_schema(base)]
    })
}
