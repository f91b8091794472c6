//! The sessions page: where the signed-in user is signed in, and ending those sessions.

use maud::{html, Markup};

use crate::domain::session_list::Listed;
use crate::domain::useragent;

use super::{csrf_field, when, Chrome};

pub fn page(c: &Chrome<'_>, sessions: &[Listed]) -> Markup {
    let others = sessions.iter().filter(|s| !s.current).count();
    super::page(
        "Sessions",
        Some(c),
        html! {
            h1 { "Sessions" }
            p.muted { "Where you are signed in to teamportal. Ending a session signs that browser out at once." }
            table.sessions {
                thead { tr { th { "Browser" } th { "Address" } th { "Started" } th { "Last seen" } th { "Actions" } } }
                tbody {
                    @for s in sessions {
                        tr data-session-id=(s.public_id) {
                            td title=(s.browser) {
                                (useragent::summary(&s.browser))
                                @if s.current { " " span.badge.current { "this session" } }
                            }
                            td.mono { (s.address) }
                            td { (when(Some(s.created_at))) }
                            td { (when(Some(s.last_seen_at))) }
                            td.actions {
                                form.inline method="post" action=(format!("/sessions/{}/revoke", s.public_id)) {
                                    (csrf_field(c.csrf))
                                    button.danger type="submit" {
                                        @if s.current { "Sign out here" } @else { "End session" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if others > 0 {
                form method="post" action="/sessions/revoke-others" {
                    (csrf_field(c.csrf))
                    button.danger #revoke-others type="submit" { "End all other sessions (" (others) ")" }
                }
            }
        },
    )
}
