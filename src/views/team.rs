//! The team page: members, roles, and the admin's controls.

use maud::{html, Markup};

use crate::config::Provisioning;
use crate::domain::Role;
use crate::store::members::{Member, TeamPage};

use super::{csrf_field, pager, when, Chrome};

pub struct TeamData {
    pub found: TeamPage,
    pub q: String,
    pub page: i64,
    pub per_page: i64,
}

fn source_label(u: &Member) -> &'static str {
    match u.role_source {
        crate::domain::RoleSource::AdminEmail => "admin_email",
        crate::domain::RoleSource::Manual => "set by an admin",
        crate::domain::RoleSource::Groups => "IdP groups",
        crate::domain::RoleSource::Default => "default",
    }
}

pub fn page(
    c: &Chrome<'_>,
    me: i64,
    is_admin: bool,
    provisioning: Provisioning,
    d: &TeamData,
) -> Markup {
    let params = if d.q.is_empty() {
        String::new()
    } else {
        format!(
            "q={}",
            url::form_urlencoded::byte_serialize(d.q.as_bytes()).collect::<String>()
        )
    };
    // Every row of an admin's page carries forms: the token's field is rendered once.
    let csrf = csrf_field(c.csrf);
    super::page(
        "Team",
        Some(c),
        html! {
            h1 { (c.team_name) }
            p.muted { (d.found.counts.members) " active members, " (d.found.counts.admins) " admins"
                @if d.found.counts.removed > 0 { ", " (d.found.counts.removed) " removed" } "." }
            form.search method="get" action="/team" role="search" {
                label for="q" { "Search by name or email" }
                input #q type="search" name="q" value=(d.q);
                button type="submit" { "Search" }
            }
            @if d.found.rows.is_empty() {
                p.empty { "No member matches." }
            } @else {
                table.members {
                    thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Last sign-in" } th { "Status" }
                        @if is_admin { th { "Actions" } } } }
                    tbody {
                        @for u in d.found.rows.iter() {
                            tr data-user-id=(u.id) {
                                td { (u.display_name()) @if u.id == me { " " span.badge { "you" } } }
                                td { (u.email) }
                                td { (u.role) @if is_admin { br; small.muted { (source_label(u)) ", joined via " (u.joined_via) } } }
                                td { (when(u.last_login_at)) }
                                td { @if u.active { "active" } @else { "removed" } }
                                @if is_admin { td.actions { (actions(&csrf, u, provisioning)) } }
                            }
                        }
                    }
                }
            }
            (pager("/team", &params, d.page, d.per_page, d.found.total))
            @if is_admin {
                section.invites {
                    h2 { "Invitations" }
                    @if provisioning == Provisioning::Jit {
                        p.muted { "This team creates accounts on first sign-in (JIT): anyone your identity provider lets in joins as a member. Invitations matter for invite-only teams and for bringing back removed members." }
                    }
                    form method="post" action="/team/invites" {
                        (csrf_field(c.csrf))
                        label for="invite_email" { "Invite by work email" }
                        input #invite_email type="email" name="email" required;
                        button type="submit" { "Invite" }
                    }
                    @if !d.found.invites.is_empty() {
                        ul {
                            @for i in &d.found.invites {
                                li {
                                    (i.email) " — invited by " (i.invited_by) ", " (when(Some(i.created_at)))
                                    form.inline method="post" action=(format!("/team/invites/{}/cancel", i.id)) {
                                        (csrf_field(c.csrf))
                                        button.link type="submit" { "Cancel" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

// A page holds 50 of these: they are written lean (the forms' style comes from
// `td.actions form`, a button in a form submits it by default), which keeps the page small.
fn actions(csrf: &Markup, u: &Member, provisioning: Provisioning) -> Markup {
    html! {
        @if u.active {
            form method="post" action={ "/team/members/" (u.id) "/role" } {
                (csrf)
                @if u.role == Role::Admin {
                    input type="hidden" name="role" value="member";
                    button { "Make member" }
                } @else {
                    input type="hidden" name="role" value="admin";
                    button { "Make admin" }
                }
            }
            form method="post" action={ "/team/members/" (u.id) "/remove" } {
                (csrf)
                button.danger { "Remove" }
            }
        } @else {
            form method="post" action={ "/team/members/" (u.id) "/restore" } {
                (csrf)
                button { "Restore" }
            }
            @if provisioning == Provisioning::Invite {
                br; small.muted { "or invite them again" }
            }
        }
    }
}
