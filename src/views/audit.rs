//! The audit log page.

use maud::{html, Markup};

use crate::domain::AuditAction;

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
                            tr { td { (when(Some(e.at))) } td { (e.actor) } td data-action=(e.action) { (action_label(&e.action)) } td { (e.target) } td { (e.detail) @if e.repeats > 1 { " (" (e.repeats) " times this minute)" } } td { (e.ip) } }
                        }
                    }
                }
            }
            (pager("/audit", &params.join("&"), page, per_page, total))
        },
    )
}

/// An audit action in words; a word this build does not know (a newer row) as it is, its
/// underscores turned to spaces.
fn action_label(code: &str) -> String {
    AuditAction::parse(code).map_or_else(|| code.replace('_', " "), |a| a.label().to_string())
}
