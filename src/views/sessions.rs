//! The sessions page: where the signed-in user is signed in, and ending those sessions.

use maud::{html, Markup};

use crate::domain::session_list::Listed;
use crate::domain::useragent;

use super::{when, Chrome};

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
                                @let (label, question) = if s.current {
                                    ("Sign out here", "Sign out here?".to_string())
                                } else {
                                    ("End session", format!("End the session of {} at {}?", useragent::summary(&s.browser), s.address))
                                };
                                a.button.danger data-confirm=(question)
                                    href=(format!("/sessions/{}/revoke/confirm", s.public_id)) {
                                    (label)
                                    @if !s.current { span.vh { " of " (useragent::summary(&s.browser)) " at " (s.address) } }
                                }
                            }
                        }
                    }
                }
            }
            @if others > 0 {
                p {
                    a.button.danger #revoke-others data-confirm="End all your other sessions?"
                        href="/sessions/revoke-others/confirm" { "End all other sessions (" (others) ")" }
                }
            }
        },
    )
}
