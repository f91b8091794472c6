//! SCIM 2.0 (RFC 7643/7644) as Okta and Entra ID speak it: the wire types, the filter subset
//! the portal answers, and how PATCH operations change a user or a group. No I/O here: the
//! store keeps what these decide, `web::scim` carries it over HTTP.

pub mod discovery;
pub mod filter;
pub mod patch;
pub mod types;

/// Why a SCIM request is refused: an RFC 7644 3.12 error (status, `scimType`, detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {detail}")]
pub struct Refusal {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl Refusal {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Refusal {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidValue"), detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidSyntax"), detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidFilter"), detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }
    pub fn not_found() -> Self {
        Self::new(404, None, "No such resource in this team.")
    }
}

/// Entra ID sends booleans as the strings `"True"` / `"False"`.
pub fn lenient_bool(v: &serde_json::Value) -> Option<bool> {
    match v {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most resources one list page returns, whatever `count` asks for.
pub const MAX_COUNT: i64 = 200;

/// `startIndex` (1-based) and `count` as the store pages: offset and limit.
pub fn paging(start_index: Option<i64>, count: Option<i64>) -> (i64, i64) {
    let start = start_index.unwrap_or(1).max(1);
    let count = count.unwrap_or(100).clamp(0, MAX_COUNT);
    (start, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_are_read_from_json_and_from_entras_strings() {
        assert_eq!(lenient_bool(&json!(false)), Some(false));
        assert_eq!(lenient_bool(&json!("True")), Some(true));
        assert_eq!(lenient_bool(&json!("false")), Some(false));
        assert_eq!(lenient_bool(&json!("yes")), None);
        assert_eq!(lenient_bool(&json!(1)), None);
    }

    #[test]
    fn paging_is_one_based_and_bounded() {
        assert_eq!(paging(None, None), (1, 100));
        assert_eq!(paging(Some(0), Some(500)), (1, 200));
        assert_eq!(paging(Some(101), Some(-3)), (101, 0));
    }
}
