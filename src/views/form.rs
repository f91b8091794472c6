//! What every refused form shows: the reason next to the field it concerns, which names it
//! (`aria-describedby`) and is marked invalid, so the message is read with the field.

use maud::{html, Markup};

/// Why a form was refused, and which of its fields that is about.
pub struct Refusal<'a, F> {
    pub field: F,
    pub error: &'a str,
}

/// The reason to say next to `field`, if the refusal is about it.
pub fn said_on<'a, F: PartialEq>(refused: Option<&Refusal<'a, F>>, field: F) -> Option<&'a str> {
    refused.filter(|r| r.field == field).map(|r| r.error)
}

/// The id of the message beside the field `id`.
pub fn error_id(id: &str) -> String {
    format!("{id}_error")
}

/// The message beside the field `id`, when there is one.
pub fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { p.field-error id=(error_id(id)) role="alert" { (e) } }
    }
}
