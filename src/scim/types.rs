//! The SCIM resources and messages as they travel: what Okta and Entra ID send (read
//! leniently: unknown attributes and schema URNs are ignored, `password` is never kept) and
//! what the portal answers (exact: real booleans, integer counts, `application/scim+json`).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{lenient_bool, ERROR_URN, GROUP_URN, LIST_URN, USER_URN};

/// An entry of a user's `emails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailValue {
    #[serde(default)]
    pub value: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "de_bool")]
    pub primary: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameInput {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub formatted: Option<String>,
}

/// A user as POST and PUT carry it. `id`, `meta`, `groups` (read-only) and `password` are
/// ignored by not being here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInput {
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    #[serde(default)]
    pub name: Option<NameInput>,
    pub display_name: Option<String>,
    #[serde(default)]
    pub emails: Option<Vec<EmailValue>>,
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MemberRef {
    #[serde(default, deserialize_with = "de_id")]
    pub value: String,
}

/// A group as POST and PUT carry it; Microsoft's extension URNs and `$ref` are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInput {
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    #[serde(default)]
    pub members: Option<Vec<MemberRef>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PatchOp {
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PatchRequest {
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<PatchOp>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub resource_type: &'static str,
    pub created: String,
    pub last_modified: String,
    pub location: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NameOut {
    pub given_name: String,
    pub family_name: String,
    pub formatted: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupRef {
    pub value: String,
    pub display: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserResource {
    pub schemas: [&'static str; 1],
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub user_name: String,
    pub name: NameOut,
    pub display_name: String,
    pub emails: Vec<EmailValue>,
    pub active: bool,
    pub groups: Vec<GroupRef>,
    pub meta: Meta,
}

impl UserResource {
    pub const SCHEMAS: [&'static str; 1] = [USER_URN];
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberOut {
    pub value: String,
    pub display: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupResource {
    pub schemas: [&'static str; 1],
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub display_name: String,
    pub members: Vec<MemberOut>,
    pub meta: Meta,
}

impl GroupResource {
    pub const SCHEMAS: [&'static str; 1] = [GROUP_URN];
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    pub schemas: [&'static str; 1],
    pub total_results: i64,
    pub start_index: i64,
    pub items_per_page: i64,
    #[serde(rename = "Resources")]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    pub fn new(total_results: i64, start_index: i64, resources: Vec<T>) -> Self {
        ListResponse {
            schemas: [LIST_URN],
            total_results,
            start_index,
            items_per_page: resources.len() as i64,
            resources,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub schemas: [&'static str; 1],
    /// A string, as RFC 7644 3.12 has it.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ErrorBody {
    pub fn of(r: &super::Refusal) -> Self {
        ErrorBody {
            schemas: [ERROR_URN],
            status: r.status.to_string(),
            scim_type: r.scim_type,
            detail: r.detail.clone(),
        }
    }
}

fn de_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(lenient_bool(&Value::deserialize(d)?).unwrap_or(false))
}

fn de_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    lenient_bool(&v)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("active must be a boolean"))
}

/// Member ids arrive as strings; a number is taken as its digits.
fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_okta_create_reads_without_its_password_and_groups() {
        let u: UserInput = serde_json::from_value(json!({
            "schemas": [USER_URN],
            "userName": "Ann@Acme.test",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"primary": true, "value": "ann@acme.test", "type": "work"}],
            "displayName": "Ann Lee",
            "locale": "en-US",
            "externalId": "00u1",
            "groups": [],
            "password": "hunter2",
            "active": true
        }))
        .expect("reads");
        assert_eq!(u.user_name.as_deref(), Some("Ann@Acme.test"));
        assert_eq!(u.active, Some(true));
        assert!(u.emails.expect("emails")[0].primary);
    }

    #[test]
    fn entra_strings_for_booleans_read_as_booleans() {
        let u: UserInput = serde_json::from_value(json!({
            "userName": "a@b.test", "active": "False",
            "emails": [{"primary": "True", "value": "a@b.test", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"}
        }))
        .expect("reads");
        assert_eq!(u.active, Some(false));
        assert!(u.emails.expect("emails")[0].primary);
        assert!(serde_json::from_value::<UserInput>(json!({"active": "maybe"})).is_err());
    }

    #[test]
    fn lists_and_errors_serialise_as_rfc_7644_says() {
        let l = ListResponse::<u8>::new(0, 1, vec![]);
        assert_eq!(
            serde_json::to_value(&l).expect("json"),
            json!({"schemas": [LIST_URN], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        );
        let e = ErrorBody::of(&crate::scim::Refusal::uniqueness("taken"));
        assert_eq!(
            serde_json::to_value(&e).expect("json"),
            json!({"schemas": [ERROR_URN], "status": "409", "scimType": "uniqueness", "detail": "taken"})
        );
    }
}
