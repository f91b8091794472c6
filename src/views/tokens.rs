//! The API tokens page.

use maud::{html, Markup};

use crate::domain::tokens::TokenStatus;

use super::form::{error_id, field_error, said_on, Refusal};
use super::model::TokenRow;

use super::{copyable, csrf_field, when, Chrome};

/// One page of the team's tokens, as the viewer may see them.
pub struct Listing<'a> {
    pub team_id: &'a str,
    /// `public_url` without the trailing slash, for the proxy example.
    pub portal_url: &'a str,
    pub is_admin: bool,
    pub tokens: &'a [TokenRow],
    /// 1-based.
    pub page: i64,
    /// A further page follows.
    pub more: bool,
}

/// The field a refused create names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Expiry,
}

/// A create form refused just now: what was entered, and why.
pub struct CreateForm<'a> {
    pub name: &'a str,
    pub expires_in_days: &'a str,
    pub personal: bool,
    pub refusal: Refusal<'a, Field>,
}

fn status_label(status: TokenStatus) -> &'static str {
    match status {
        TokenStatus::Revoked => "Revoked",
        TokenStatus::Expired => "Expired",
        TokenStatus::Active => "Active",
    }
}

pub fn page(
    c: &Chrome<'_>,
    l: &Listing<'_>,
    shown: Option<&(i64, String)>,
    refused: Option<&CreateForm<'_>>,
) -> Markup {
    let refusal = refused.map(|r| &r.refusal);
    let (name_error, expiry_error) = (
        said_on(refusal, Field::Name),
        said_on(refusal, Field::Expiry),
    );
    let page_query = if l.page > 1 {
        format!("?page={}", l.page)
    } else {
        String::new()
    };
    let tokens = l.tokens;
    let verify = format!("/api/v1/verify?team={}", l.team_id);
    super::page(
        "API tokens",
        Some(c),
        html! {
            h1 { "API tokens" }
            p.muted { "Tokens are shared by the whole team. Services check them at " code { "GET " (verify) } " with " code { "Authorization: Bearer <token>" } "; with " code { "team" } ", a token of another team answers 403 (see " a href="#proxy" { "the proxy example" } " below)." }
            @if let Some((id, secret)) = shown {
                section.secret.banner.ok role="status" {
                    h2 { "Token secret" }
                    p { "Copy it now and keep it safe. Members can reveal it again later; the reveal is recorded in the audit log." }
                    div #new-token data-token-id=(id) { (copyable("new-token-secret", secret)) }
                }
            }
            section.create {
                h2 { "Create a token" }
                form method="post" action="/tokens" {
                    (csrf_field(c.csrf))
                    label for="token_name" { "Name" }
                    input #token_name name="name" type="text" required maxlength="64" placeholder="e.g. ci-deploy"
                        value=[refused.map(|r| r.name)]
                        aria-invalid=[name_error.map(|_| "true")]
                        aria-describedby=[name_error.map(|_| error_id("token_name"))];
                    (field_error("token_name", name_error))
                    label for="token_expiry" { "Expires in days (empty: never)" }
                    input #token_expiry name="expires_in_days" type="number" min="1" max="3650"
                        value=[refused.map(|r| r.expires_in_days).filter(|v| !v.is_empty())]
                        aria-invalid=[expiry_error.map(|_| "true")]
                        aria-describedby=[expiry_error.map(|_| error_id("token_expiry"))];
                    (field_error("token_expiry", expiry_error))
                    label.check { input type="checkbox" name="personal" value="on" checked[refused.is_some_and(|r| r.personal)]; " Personal: only I can see and reveal it" }
                    button type="submit" { "Create token" }
                }
            }
            @if tokens.is_empty() && l.page == 1 {
                p.empty { "No tokens yet. Create the first one above." }
            } @else if tokens.is_empty() {
                p.empty { "No tokens on this page. " a href="/tokens" { "Back to the first page" } "." }
            } @else {
                table.tokens {
                    caption.vh { "API tokens" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Prefix" } th scope="col" { "Created by" } th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "Expires" } th scope="col" { "Status" } th scope="col" { "Actions" } } }
                    tbody {
                        @for t in tokens {
                            @let status = t.status;
                            tr data-token-id=(t.id) {
                                td data-label="Name" { (t.name) @if t.personal { " " span.badge { "personal" } } }
                                td.mono data-label="Prefix" { (t.prefix) "…" }
                                td data-label="Created by" { (t.creator) }
                                td data-label="Created" { (when(Some(t.created_at))) }
                                td data-label="Last used" { (when(t.last_used_at)) }
                                td data-label="Expires" { @if t.expires_at.is_none() { "never" } @else { (when(t.expires_at)) } }
                                td data-label="Status" { span class=(format!("status {status}")) { (status_label(status)) } }
                                td.actions data-label="Actions" {
                                    @if t.may_reveal {
                                        form.inline method="post" action=(format!("/tokens/{}/reveal", t.id)) {
                                            (csrf_field(c.csrf))
                                            button type="submit" { "Reveal" span.vh { " " (t.name) } }
                                        }
                                    }
                                    @if t.may_revoke {
                                        a.button.danger data-confirm=(format!("Revoke the token {}?", t.name))
                                            href=(format!("/tokens/{}/revoke/confirm{page_query}", t.id)) { "Revoke" span.vh { " " (t.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if l.page > 1 || l.more {
                nav.pager aria-label="Token pages" {
                    @if l.page > 1 {
                        a rel="prev" href=(format!("/tokens?page={}", l.page - 1)) { "← Previous" }
                    }
                    " " span.muted { "Page " (l.page) } " "
                    @if l.more {
                        a rel="next" href=(format!("/tokens?page={}", l.page + 1)) { "Next →" }
                    }
                }
            }
            section #proxy {
                h2 { "Use with a proxy" }
                p { "Pass " code { "team" } " so that only this team's tokens get through. For nginx " code { "auth_request" } ":" }
                pre.mono { code { "location = /_teamportal_verify {\n    internal;\n    proxy_pass " (l.portal_url) (verify) ";\n    proxy_pass_request_body off;\n    proxy_set_header Content-Length \"\";\n    proxy_set_header Authorization $http_authorization;\n}" } }
            }
        },
    )
}
