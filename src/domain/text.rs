//! Text that arrives from outside (IdP claims, token names, search boxes) made safe to store,
//! show and put in headers: no control characters, no bidi-format characters that could make
//! a name read differently from what it is.

/// True for the Unicode bidi-format characters (embeddings, overrides, isolates, marks).
fn is_bidi_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// True for characters never kept in a name or a search: controls and bidi formats.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || is_bidi_format(c)
}

/// `value` without control and bidi-format characters, trimmed.
pub fn strip_unsafe(value: &str) -> String {
    value
        .chars()
        .filter(|c| !is_unsafe_char(*c))
        .collect::<String>()
        .trim()
        .to_string()
}

/// `value` as a header value: printable ASCII kept, every other byte percent-encoded
/// (so a name in any script survives and no proxy sees a raw non-ASCII header).
pub fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `1 admin`, `2 admins`: a count with its noun, singular or plural.
pub fn count(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_formats_are_dropped_and_the_rest_kept() {
        assert_eq!(strip_unsafe(" Ada\u{0}\u{202E} Lovelace\n"), "Ada Lovelace");
        assert_eq!(strip_unsafe("Zoë 李\u{2066}"), "Zoë 李");
        assert_eq!(strip_unsafe("\u{200F}\t"), "");
    }

    #[test]
    fn header_values_are_printable_ascii() {
        assert_eq!(header_safe("ci deploy"), "ci deploy");
        assert_eq!(header_safe("Zoë"), "Zo%C3%AB");
        assert_eq!(header_safe("50%"), "50%25");
        assert_eq!(header_safe("a\r\nb"), "a%0D%0Ab");
    }
}
