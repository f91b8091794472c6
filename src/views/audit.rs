//! The audit log page.

use maud::{html, Markup};

use super::model::AuditRow;

use super::{pager, when, Chrome};

pub fn page(
    c: &Chrome<'_>,
    rows: &[AuditRow],
    total: i64,
    actions: &[String],
    // The action and the person filtered on.
    filter: (Option<&str>, Option<&str>),
    page: i64,
    per_page: i64,
) -> Markup {
    let (filter_action, filter_person) = filter;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut params = Vec::new();
    if let Some(a) = filter_action {
        params.push(format!("action={}", enc(a)));
    }
    if let Some(p) = filter_person {
        params.push(format!("person={}", enc(p)));
    }
    super::page(
        "Audit log",
        Some(c),
        html! {
            h1 { "Audit log" }
            form.search method="get" action="/audit" {
                label for="action" { "Action" }
                select #action name="action" {
                    option value="" { "All actions" }
                    @for a in actions {
                        option value=(a) selected[filter_action == Some(a.as_str())] { (action_label(a)) }
                    }
                }
                label for="person" { "Person" }
                input #person name="person" type="search" value=(filter_person.unwrap_or_default());
                button type="submit" { "Filter" }
            }
            @if rows.is_empty() {
                p.empty { "Nothing recorded that matches." }
            } @else {
                table.audit {
                    thead { tr { th { "When" } th { "Who" } th { "Action" } th { "On" } th { "Details" } th { "From" } } }
                    tbody {
                        @for e in rows {
                            tr { td { (when(Some(e.at))) } td { (e.actor) } td { code { (e.action) } } td { (e.target) } td { (e.detail) @if e.repeats > 1 { " (" (e.repeats) " times this minute)" } } td { (e.ip) } }
                        }
                    }
                }
            }
            (pager("/audit", &params.join("&"), page, per_page, total))
        },
    )
}

/// An audit action in words, for the filter (the table keeps the code, which is what the
/// filter and exports match on).
fn action_label(code: &str) -> String {
    let known = match code {
        "account_created" => "Account created",
        "sign_in" => "Signed in",
        "sign_in_refused" => "Sign-in refused",
        "role_changed" => "Role changed",
        "member_removed" => "Member removed",
        "member_restored" => "Member restored",
        "invite_created" => "Invitation sent",
        "invite_cancelled" => "Invitation cancelled",
        "token_created" => "Token created",
        "token_revealed" => "Token revealed",
        "token_revoked" => "Token revoked",
        "sso_settings_saved" => "SSO settings saved",
        "sso_settings_applied" => "SSO settings applied",
        "sso_settings_discarded" => "SSO settings discarded",
        "team_created" => "Team created",
        "sessions_ended" => "Sessions ended by an admin",
        "session_revoked" => "Session ended",
        "other_sessions_revoked" => "Other sessions ended",
        "backchannel_logout" => "Signed out by the identity provider",
        "backchannel_logout_refused" => "Identity provider sign-out refused",
        "email_domains_set" => "Email domains set",
        "password_sign_in" => "Break-glass sign-in",
        "password_sign_in_failed" => "Break-glass sign-in failed",
        "password_sign_in_throttled" => "Break-glass sign-in throttled",
        "scim_token_created" => "SCIM token created",
        "scim_token_rotated" => "SCIM token rotated",
        "scim_token_revoked" => "SCIM token revoked",
        "scim_user_created" => "Provisioned by SCIM",
        "scim_user_updated" => "Updated by SCIM",
        "scim_user_deleted" => "Deleted by SCIM",
        "scim_user_linked" => "Provisioned account signed in",
        "scim_group_created" => "SCIM group created",
        "scim_group_updated" => "SCIM group updated",
        "scim_group_deleted" => "SCIM group deleted",
        _ => "",
    };
    if known.is_empty() {
        code.replace('_', " ")
    } else {
        format!("{known} ({code})")
    }
}
