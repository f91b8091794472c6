//! What a user or a group becomes after PATCH operations, as Okta and Entra ID send them:
//! path-less `replace` with an object (Okta's `{"active": false}`, Entra's dotted keys),
//! capitalised `op` values, string booleans, filtered paths (`emails[type eq "work"].value`,
//! `members[value eq "ID"]`), member removal with a value array. Unknown attributes and
//! extension URNs are ignored; `password` is never kept.

use std::collections::BTreeSet;

use serde_json::Value;

use super::filter::attribute;
use super::types::{EmailValue, GroupInput, PatchOp, UserInput};
use super::{lenient_bool, Refusal};

/// The attributes the portal keeps for a SCIM user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAttrs {
    pub user_name: String,
    pub external_id: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub formatted: String,
    pub display_name: String,
    pub emails: Vec<EmailValue>,
    pub active: bool,
}

impl UserAttrs {
    /// A POST or PUT body; what it leaves out is empty (PUT replaces), `active` defaults on.
    pub fn from_input(u: UserInput) -> UserAttrs {
        let name = u.name.unwrap_or_default();
        UserAttrs {
            user_name: u.user_name.unwrap_or_default(),
            external_id: u.external_id,
            given_name: name.given_name.unwrap_or_default(),
            family_name: name.family_name.unwrap_or_default(),
            formatted: name.formatted.unwrap_or_default(),
            display_name: u.display_name.unwrap_or_default(),
            emails: u.emails.unwrap_or_default(),
            active: u.active.unwrap_or(true),
        }
    }

    /// The name shown on `/team`: `displayName`, else `name.formatted`, else given + family.
    pub fn shown_name(&self) -> String {
        let joined = format!("{} {}", self.given_name.trim(), self.family_name.trim());
        let shown = [
            self.display_name.trim(),
            self.formatted.trim(),
            joined.trim(),
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_default()
        .to_string();
        shown
    }
}

/// The longest text attribute kept (names, `externalId`); IdPs send far shorter ones, and a
/// provisioning client is trusted for its own team only, not with the instance's disk.
pub const MAX_TEXT: usize = 256;
/// The most `emails` entries kept for one user.
pub const MAX_EMAILS: usize = 10;

fn check_text(name: &str, value: &str) -> Result<(), Refusal> {
    if value.chars().count() > MAX_TEXT {
        return Err(Refusal::invalid_value(format!(
            "{name} is longer than {MAX_TEXT} characters."
        )));
    }
    Ok(())
}

/// `check_text` for a value the write changes; one kept already (from before these limits)
/// never stops a write that leaves it as it is, such as a deactivation.
fn check_changed(name: &str, value: &str, before: Option<&str>) -> Result<(), Refusal> {
    if before == Some(value) {
        return Ok(());
    }
    check_text(name, value)
}

/// One of a user's name attributes.
type Field = fn(&UserAttrs) -> &String;

impl UserAttrs {
    /// Refuses what is too long to keep among what changes from `before` (everything for a
    /// new user); `userName` is checked as an email elsewhere.
    pub fn check_lengths(&self, before: Option<&UserAttrs>) -> Result<(), Refusal> {
        let ext = |u: &UserAttrs| u.external_id.clone().unwrap_or_default();
        check_changed("externalId", &ext(self), before.map(ext).as_deref())?;
        let names: [(&str, Field); 4] = [
            ("name.givenName", |u| &u.given_name),
            ("name.familyName", |u| &u.family_name),
            ("name.formatted", |u| &u.formatted),
            ("displayName", |u| &u.display_name),
        ];
        for (name, get) in names {
            check_changed(name, get(self), before.map(get).map(String::as_str))?;
        }
        if before.is_some_and(|b| b.emails == self.emails) {
            return Ok(());
        }
        if self.emails.len() > MAX_EMAILS {
            return Err(Refusal::invalid_value(format!(
                "At most {MAX_EMAILS} emails per user."
            )));
        }
        for e in &self.emails {
            check_text("emails.value", &e.value)?;
            check_text("emails.type", e.kind.as_deref().unwrap_or_default())?;
        }
        Ok(())
    }
}

/// The attributes of a group that PATCH may change; members are user ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupState {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: BTreeSet<i64>,
}

/// The most members one request (POST, PUT or PATCH) may name: a bigger group is pushed in
/// several PATCHes, as Okta and Entra do.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;

fn too_many_members() -> Refusal {
    Refusal::invalid_value(format!(
        "At most {MAX_MEMBERS_PER_REQUEST} members per request; send the rest in further PATCH requests."
    ))
}

impl GroupState {
    /// Refuses a name or `externalId` too long to keep, among what changes from `before`
    /// (a change of members alone is never refused for them).
    pub fn check_lengths(&self, before: Option<&GroupState>) -> Result<(), Refusal> {
        check_changed(
            "displayName",
            &self.display_name,
            before.map(|b| b.display_name.as_str()),
        )?;
        let ext = |g: &GroupState| g.external_id.clone().unwrap_or_default();
        check_changed("externalId", &ext(self), before.map(ext).as_deref())
    }

    pub fn from_input(g: GroupInput) -> Result<GroupState, Refusal> {
        if g.members
            .as_ref()
            .is_some_and(|m| m.len() > MAX_MEMBERS_PER_REQUEST)
        {
            return Err(too_many_members());
        }
        Ok(GroupState {
            display_name: g.display_name.unwrap_or_default(),
            external_id: g.external_id,
            members: g
                .members
                .unwrap_or_default()
                .iter()
                .filter_map(|m| m.value.parse().ok())
                .collect(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

fn op_of(p: &PatchOp) -> Result<Op, Refusal> {
    match p.op.to_ascii_lowercase().as_str() {
        "add" => Ok(Op::Add),
        "replace" => Ok(Op::Replace),
        "remove" => Ok(Op::Remove),
        other => Err(Refusal::invalid_syntax(format!(
            "Unknown PATCH op {other:?}: add, replace or remove."
        ))),
    }
}

/// A PATCH path: `attr`, `attr.sub`, `attr[field eq "x"]`, `attr[field eq "x"].sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Path {
    attr: String,
    filter: Option<(String, String)>,
    sub: Option<String>,
}

fn parse_path(raw: &str) -> Result<Option<Path>, Refusal> {
    let raw = raw.trim();
    let lower = attribute(raw);
    if lower.starts_with("urn:") {
        // An extension schema (Entra's enterprise User, Microsoft's group extension).
        return Ok(None);
    }
    let (head, filter, tail) = match lower.find('[') {
        Some(open) => {
            let close = lower.rfind(']').filter(|c| *c > open).ok_or_else(|| {
                Refusal::new(400, Some("invalidPath"), "A path filter is not closed.")
            })?;
            // The value keeps its case: read it from the original text at the same place.
            let inner_start = raw.len() - lower.len() + open + 1;
            let inner_end = raw.len() - lower.len() + close;
            let inner = &raw[inner_start..inner_end];
            let f = match super::filter::parse(inner) {
                Ok(super::filter::Filter::Eq(a, v)) => (a, v),
                _ => {
                    return Err(Refusal::new(
                        400,
                        Some("invalidPath"),
                        "A path filter must be one `attr eq \"value\"`.",
                    ))
                }
            };
            (
                lower[..open].to_string(),
                Some(f),
                lower[close + 1..].trim_start_matches('.').to_string(),
            )
        }
        None => match lower.split_once('.') {
            Some((a, s)) => (a.to_string(), None, s.to_string()),
            None => (lower.clone(), None, String::new()),
        },
    };
    Ok(Some(Path {
        attr: head,
        filter,
        sub: (!tail.is_empty()).then_some(tail),
    }))
}

fn text(v: &Value) -> Result<String, Refusal> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Refusal::invalid_value("Expected a string value.")),
    }
}

fn emails_of(v: &Value) -> Result<Vec<EmailValue>, Refusal> {
    let list = match v {
        Value::Array(_) => v.clone(),
        Value::Object(_) => Value::Array(vec![v.clone()]),
        Value::Null => Value::Array(vec![]),
        _ => return Err(Refusal::invalid_value("emails must be a list.")),
    };
    serde_json::from_value(list).map_err(|e| Refusal::invalid_value(format!("emails: {e}")))
}

/// Where one operation applies.
enum Target<'a> {
    Path(Path),
    /// A path-less operation: the keys of its object value.
    Keys(&'a serde_json::Map<String, Value>),
    /// An extension schema's path: not ours, left alone.
    Ignored,
}

/// An operation's target: its path, or for one without a path (Entra, Okta's `replace` of
/// several attributes) its object value; a `remove` needs a path.
fn target_of(op: Op, p: &PatchOp) -> Result<Target<'_>, Refusal> {
    if let Some(raw) = p.path.as_deref().filter(|raw| !raw.trim().is_empty()) {
        return Ok(parse_path(raw)?.map_or(Target::Ignored, Target::Path));
    }
    if op == Op::Remove {
        return Err(Refusal::new(400, Some("noTarget"), "remove needs a path."));
    }
    match &p.value {
        Some(Value::Object(map)) => Ok(Target::Keys(map)),
        _ => Err(Refusal::invalid_syntax(
            "An operation without a path needs an object value.",
        )),
    }
}

/// Applies `ops` to `u` in order; the first bad operation refuses the whole PATCH.
pub fn apply_user(u: &mut UserAttrs, ops: &[PatchOp]) -> Result<(), Refusal> {
    for p in ops {
        let op = op_of(p)?;
        let path = match target_of(op, p)? {
            Target::Path(path) => path,
            Target::Ignored => continue,
            Target::Keys(map) => {
                for (k, v) in map {
                    set_user_key(u, op, k, v)?;
                }
                continue;
            }
        };
        let value = p.value.clone().unwrap_or(Value::Null);
        if op == Op::Remove {
            remove_user_path(u, &path);
        } else {
            set_user_path(u, op, &path, &value)?;
        }
    }
    Ok(())
}

/// A key of a path-less operation's object: `active`, `name.givenName`, `name` (object),
/// or the core schema URN holding more of them.
fn set_user_key(u: &mut UserAttrs, op: Op, key: &str, v: &Value) -> Result<(), Refusal> {
    if key.eq_ignore_ascii_case(super::USER_URN) {
        if let Value::Object(map) = v {
            for (k, v) in map {
                set_user_key(u, op, k, v)?;
            }
        }
        return Ok(());
    }
    match parse_path(key)? {
        Some(path) => set_user_path(u, op, &path, v),
        None => Ok(()),
    }
}

fn set_user_path(u: &mut UserAttrs, op: Op, p: &Path, v: &Value) -> Result<(), Refusal> {
    match (p.attr.as_str(), p.sub.as_deref(), &p.filter) {
        ("active", None, None) => {
            u.active = lenient_bool(v)
                .ok_or_else(|| Refusal::invalid_value("active must be a boolean."))?;
        }
        ("username", None, None) => u.user_name = text(v)?,
        ("externalid", None, None) => {
            let t = text(v)?;
            u.external_id = (!t.is_empty()).then_some(t);
        }
        ("displayname", None, None) => u.display_name = text(v)?,
        ("name", None, None) => {
            if let Value::Object(map) = v {
                for (k, v) in map {
                    let sub = Path {
                        attr: "name".into(),
                        filter: None,
                        sub: Some(k.to_ascii_lowercase()),
                    };
                    set_user_path(u, op, &sub, v)?;
                }
            }
        }
        ("name", Some("givenname"), None) => u.given_name = text(v)?,
        ("name", Some("familyname"), None) => u.family_name = text(v)?,
        ("name", Some("formatted"), None) => u.formatted = text(v)?,
        ("emails", None, None) => {
            let new = emails_of(v)?;
            if op == Op::Add {
                for e in new {
                    u.emails
                        .retain(|old| !old.value.eq_ignore_ascii_case(&e.value));
                    u.emails.push(e);
                }
            } else {
                u.emails = new;
            }
        }
        ("emails", sub, Some((field, want))) => {
            let matches = |e: &EmailValue| match field.as_str() {
                "type" => e
                    .kind
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(want)),
                "value" => e.value.eq_ignore_ascii_case(want),
                "primary" => lenient_bool(&Value::String(want.clone())) == Some(e.primary),
                _ => false,
            };
            let at = match u.emails.iter().position(matches) {
                Some(i) => i,
                None => {
                    // Entra's `emails[type eq "work"].value` creates the entry when absent.
                    let mut e = EmailValue {
                        value: String::new(),
                        kind: None,
                        primary: u.emails.is_empty(),
                    };
                    if field == "type" {
                        e.kind = Some(want.clone());
                    }
                    u.emails.push(e);
                    u.emails.len() - 1
                }
            };
            let e = &mut u.emails[at];
            match sub {
                Some("value") | None if !v.is_object() => e.value = text(v)?,
                Some("primary") => e.primary = lenient_bool(v).unwrap_or(false),
                Some("type") => e.kind = Some(text(v)?),
                _ => {}
            }
        }
        // Read-only or not kept here (groups, password, meta, id, extension attributes).
        _ => {}
    }
    Ok(())
}

fn remove_user_path(u: &mut UserAttrs, p: &Path) {
    match (p.attr.as_str(), p.sub.as_deref(), &p.filter) {
        ("externalid", None, None) => u.external_id = None,
        ("displayname", None, None) => u.display_name.clear(),
        ("name", None, None) => {
            u.given_name.clear();
            u.family_name.clear();
            u.formatted.clear();
        }
        ("name", Some("givenname"), None) => u.given_name.clear(),
        ("name", Some("familyname"), None) => u.family_name.clear(),
        ("name", Some("formatted"), None) => u.formatted.clear(),
        ("emails", None, None) => u.emails.clear(),
        ("emails", _, Some((field, want))) if field == "type" || field == "value" => {
            u.emails.retain(|e| {
                let v = if field == "type" {
                    e.kind.clone().unwrap_or_default()
                } else {
                    e.value.clone()
                };
                !v.eq_ignore_ascii_case(want)
            });
        }
        _ => {}
    }
}

fn member_ids(v: &Value) -> Vec<i64> {
    let list = match v {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![v.clone()],
        _ => vec![],
    };
    list.iter()
        .filter_map(|m| match m.get("value") {
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        })
        .collect()
}

/// Applies `ops` to a group in order; the first bad operation refuses the whole PATCH.
pub fn apply_group(g: &mut GroupState, ops: &[PatchOp]) -> Result<(), Refusal> {
    let named: usize = ops
        .iter()
        .map(|p| match &p.value {
            Some(Value::Array(items)) => items.len(),
            Some(Value::Object(o)) => match o.get("members") {
                Some(Value::Array(items)) => items.len(),
                _ => 1,
            },
            _ => 0,
        })
        .sum();
    if named > MAX_MEMBERS_PER_REQUEST {
        return Err(too_many_members());
    }
    for p in ops {
        let op = op_of(p)?;
        let value = p.value.clone().unwrap_or(Value::Null);
        let path = match target_of(op, p)? {
            Target::Path(path) => path,
            Target::Ignored => continue,
            Target::Keys(map) => {
                for (k, v) in map {
                    match attribute(k).as_str() {
                        "displayname" => g.display_name = text(v)?,
                        "externalid" => {
                            let t = text(v)?;
                            g.external_id = (!t.is_empty()).then_some(t);
                        }
                        "members" if op == Op::Add => g.members.extend(member_ids(v)),
                        "members" => g.members = member_ids(v).into_iter().collect(),
                        // `id` (Okta sends it with every rename), extension URNs.
                        _ => {}
                    }
                }
                continue;
            }
        };
        match (path.attr.as_str(), op, &path.filter) {
            ("members", Op::Add, None) => g.members.extend(member_ids(&value)),
            ("members", Op::Replace, None) => g.members = member_ids(&value).into_iter().collect(),
            ("members", Op::Remove, None) => {
                if value.is_null() {
                    g.members.clear();
                } else {
                    for id in member_ids(&value) {
                        g.members.remove(&id);
                    }
                }
            }
            ("members", Op::Remove, Some((field, id))) if field == "value" => {
                if let Ok(id) = id.trim().parse::<i64>() {
                    g.members.remove(&id);
                }
            }
            ("displayname", Op::Add | Op::Replace, None) => g.display_name = text(&value)?,
            ("externalid", Op::Add | Op::Replace, None) => {
                let t = text(&value)?;
                g.external_id = (!t.is_empty()).then_some(t);
            }
            ("externalid", Op::Remove, None) => g.external_id = None,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Vec<PatchOp> {
        serde_json::from_value::<super::super::types::PatchRequest>(v)
            .expect("patch reads")
            .operations
    }

    fn ann() -> UserAttrs {
        UserAttrs {
            user_name: "ann@acme.test".into(),
            given_name: "Ann".into(),
            active: true,
            emails: vec![EmailValue {
                value: "ann@acme.test".into(),
                kind: Some("work".into()),
                primary: true,
            }],
            ..UserAttrs::default()
        }
    }

    #[test]
    fn oktas_pathless_deactivation_and_reactivation() {
        let mut u = ann();
        apply_user(&mut u, &ops(json!({"schemas": [super::super::PATCH_URN], "Operations": [{"op": "replace", "value": {"active": false}}]}))).expect("ok");
        assert!(!u.active);
        apply_user(
            &mut u,
            &ops(json!({"Operations": [{"op": "replace", "value": {"active": true}}]})),
        )
        .expect("ok");
        assert!(u.active);
    }

    #[test]
    fn entras_capitalised_ops_string_booleans_and_dotted_keys() {
        let mut u = ann();
        apply_user(
            &mut u,
            &ops(json!({"Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "value": {"name.givenName": "Anna", "name.familyName": "Lee", "displayName": "Anna Lee",
                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"}},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:externalId", "value": "e-1"}
            ]})),
        )
        .expect("ok");
        assert!(!u.active);
        assert_eq!(
            (u.given_name.as_str(), u.family_name.as_str()),
            ("Anna", "Lee")
        );
        assert_eq!(u.shown_name(), "Anna Lee");
        assert_eq!(u.external_id.as_deref(), Some("e-1"));
    }

    #[test]
    fn a_filtered_email_path_changes_the_entry_or_creates_it() {
        let mut u = ann();
        apply_user(&mut u, &ops(json!({"Operations": [{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "Ann.Lee@acme.test"}]}))).expect("ok");
        assert_eq!(u.emails.len(), 1);
        assert_eq!(u.emails[0].value, "Ann.Lee@acme.test");
        let mut bare = UserAttrs::default();
        apply_user(&mut bare, &ops(json!({"Operations": [{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@acme.test"}]}))).expect("ok");
        assert_eq!(
            bare.emails,
            vec![EmailValue {
                value: "x@acme.test".into(),
                kind: Some("work".into()),
                primary: true
            }]
        );
    }

    #[test]
    fn bad_operations_are_refused_and_unknown_attributes_ignored() {
        let mut u = ann();
        let e = apply_user(
            &mut u,
            &ops(json!({"Operations": [{"op": "move", "path": "active"}]})),
        )
        .expect_err("bad op");
        assert_eq!(e.scim_type, Some("invalidSyntax"));
        let e = apply_user(
            &mut u,
            &ops(json!({"Operations": [{"op": "replace", "path": "active", "value": "perhaps"}]})),
        )
        .expect_err("bad bool");
        assert_eq!(e.scim_type, Some("invalidValue"));
        let e = apply_user(&mut u, &ops(json!({"Operations": [{"op": "remove"}]})))
            .expect_err("no path");
        assert_eq!(e.scim_type, Some("noTarget"));
        apply_user(&mut u, &ops(json!({"Operations": [{"op": "replace", "value": {"password": "x", "nickName": "a"}}]}))).expect("ignored");
        assert_eq!(u, ann());
    }

    #[test]
    fn a_request_naming_more_than_1000_members_is_refused() {
        let mut g = GroupState::default();
        let many: Vec<Value> = (1..=1001)
            .map(|i| json!({"value": i.to_string()}))
            .collect();
        let err = apply_group(
            &mut g,
            &ops(json!({"Operations": [{"op": "add", "path": "members", "value": many}]})),
        )
        .expect_err("refused");
        assert_eq!(err.status, 400);
        assert!(g.members.is_empty());
        let few: Vec<Value> = (1..=1000)
            .map(|i| json!({"value": i.to_string()}))
            .collect();
        apply_group(
            &mut g,
            &ops(json!({"Operations": [{"op": "add", "path": "members", "value": few}]})),
        )
        .expect("1000 is fine");
        assert_eq!(g.members.len(), 1000);
    }

    #[test]
    fn group_membership_as_okta_and_entra_change_it() {
        let mut g = GroupState {
            display_name: "Eng".into(),
            ..GroupState::default()
        };
        apply_group(&mut g, &ops(json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "1"}, {"value": "2"}, {"value": "3"}]}]}))).expect("ok");
        assert_eq!(g.members, BTreeSet::from([1, 2, 3]));
        apply_group(
            &mut g,
            &ops(json!({"Operations": [
                {"op": "replace", "value": {"id": "9", "displayName": "Engineering"}},
                {"op": "remove", "path": "members[value eq \"2\"]"}
            ]})),
        )
        .expect("ok");
        assert_eq!(
            (g.display_name.as_str(), &g.members),
            ("Engineering", &BTreeSet::from([1, 3]))
        );
        apply_group(&mut g, &ops(json!({"Operations": [{"op": "Remove", "path": "members", "value": [{"value": "1", "$ref": null}]}]}))).expect("ok");
        assert_eq!(g.members, BTreeSet::from([3]));
        apply_group(&mut g, &ops(json!({"Operations": [{"op": "replace", "path": "members", "value": [{"value": "5"}]}]}))).expect("ok");
        assert_eq!(g.members, BTreeSet::from([5]));
        apply_group(
            &mut g,
            &ops(json!({"Operations": [{"op": "remove", "path": "members"}]})),
        )
        .expect("ok");
        assert!(g.members.is_empty());
    }
}
