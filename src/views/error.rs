//! The error page every failure ends in.

use maud::{html, Markup};

pub fn page(status: u16, title: &str, message: &str) -> Markup {
    super::page(
        title,
        None,
        html! {
            section.error {
                h1 { (title) }
                p { (message) }
                p.muted { "Status " (status) ". " a href="/" { "Back to teamportal" } }
            }
        },
    )
}
