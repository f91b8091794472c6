//! The confirmation page a destructive action asks first: it works without JavaScript (the
//! list's button leads here, this page's form makes the one POST), and `static/app.js` asks
//! the same question in place when it runs.

use maud::{html, Markup};

use super::{csrf_field, Chrome};

pub struct Ask<'a> {
    /// "Remove Alan Turing?"
    pub question: &'a str,
    /// What happens, and what can be undone.
    pub explain: &'a str,
    /// The POST route that acts.
    pub action: &'a str,
    /// The button's words: "Remove Alan Turing".
    pub button: &'a str,
    /// Where "Cancel" goes: the list it came from.
    pub back: &'a str,
    /// Hidden fields the action takes back (the list's search and page).
    pub hidden: &'a [(&'a str, &'a str)],
}

pub fn page(c: &Chrome<'_>, a: &Ask<'_>) -> Markup {
    super::page(
        a.question,
        Some(c),
        html! {
            section.ask {
                h1 { (a.question) }
                p { (a.explain) }
                form method="post" action=(a.action) {
                    (csrf_field(c.csrf))
                    @for (name, value) in a.hidden {
                        input type="hidden" name=(name) value=(value);
                    }
                    button.danger.solid type="submit" { (a.button) }
                    " "
                    a.cancel href=(a.back) { "Cancel" }
                }
            }
        },
    )
}
