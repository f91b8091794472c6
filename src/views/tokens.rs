//! The API tokens page.

use maud::{html, Markup};

use crate::domain::tokens::TokenStatus;
use crate::store::tokens::Token;

use super::{copyable, csrf_field, when, Chrome};

/// One page of the team's tokens, as the viewer may see them.
pub struct Listing<'a> {
    pub team_id: &'a str,
    /// `public_url` without the trailing slash, for the proxy example.
    pub portal_url: &'a str,
    pub me: i64,
    pub is_admin: bool,
    pub tokens: &'a [Token],
    /// 1-based.
    pub page: i64,
    /// A further page follows.
    pub more: bool,
}

pub fn page(c: &Chrome<'_>, l: &Listing<'_>, shown: Option<&(i64, String)>, now: i64) -> Markup {
    let (me, is_admin, tokens) = (l.me, l.is_admin, l.tokens);
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
                    input #token_name name="name" type="text" required maxlength="64" placeholder="e.g. ci-deploy";
                    label for="token_expiry" { "Expires in days (empty: never)" }
                    input #token_expiry name="expires_in_days" type="number" min="1" max="3650";
                    label.check { input type="checkbox" name="personal" value="on"; " Personal: only I can see and reveal it" }
                    button type="submit" { "Create token" }
                }
            }
            @if tokens.is_empty() && l.page == 1 {
                p.empty { "No tokens yet. Create the first one above." }
            } @else if tokens.is_empty() {
                p.empty { "No tokens on this page. " a href="/tokens" { "Back to the first page" } "." }
            } @else {
                table.tokens {
                    thead { tr { th { "Name" } th { "Prefix" } th { "Created by" } th { "Created" } th { "Last used" } th { "Expires" } th { "Status" } th { "Actions" } } }
                    tbody {
                        @for t in tokens {
                            @let mine = t.created_by == me;
                            @let status = t.status(now);
                            tr data-token-id=(t.id) {
                                td { (t.name) @if t.personal { " " span.badge { "personal" } } }
                                td.mono { (t.prefix) "…" }
                                td { (t.creator) }
                                td { (when(Some(t.created_at))) }
                                td { (when(t.last_used_at)) }
                                td { (when(t.expires_at)) }
                                td { span class=(format!("status {status}")) { (status) } }
                                td.actions {
                                    @if status != TokenStatus::Revoked && (!t.personal || mine) {
                                        form.inline method="post" action=(format!("/tokens/{}/reveal", t.id)) {
                                            (csrf_field(c.csrf))
                                            button type="submit" { "Reveal" }
                                        }
                                    }
                                    @if status != TokenStatus::Revoked && (mine || is_admin) {
                                        form.inline method="post" action=(format!("/tokens/{}/revoke", t.id)) {
                                            (csrf_field(c.csrf))
                                            button.danger type="submit" { "Revoke" }
                                        }
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
