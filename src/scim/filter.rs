//! The filter subset the portal answers (RFC 7644 3.4.2.2): `attr eq "value"` joined by
//! `and` / `or`, with parentheses. Anything else is `invalidFilter`. Attribute names are
//! case-insensitive and may carry the core schema URN; which attributes a resource knows is
//! the store's to say.

use super::{Refusal, GROUP_URN, USER_URN};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Attribute (lowercased, URN stripped), value.
    Eq(String, String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

/// Longest filter read: Okta's and Entra's are a few dozen characters.
const MAX_LEN: usize = 4096;

pub fn parse(input: &str) -> Result<Filter, Refusal> {
    if input.len() > MAX_LEN {
        return Err(Refusal::invalid_filter("The filter is too long."));
    }
    let toks = tokenize(input)?;
    let mut p = Parser { toks, at: 0 };
    let f = p.or_expr(0)?;
    if p.at != p.toks.len() {
        return Err(Refusal::invalid_filter("Unexpected text after the filter."));
    }
    Ok(f)
}

fn tokenize(s: &str) -> Result<Vec<Tok>, Refusal> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                loop {
                    match chars.next() {
                        None => return Err(Refusal::invalid_filter("A string is not closed.")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => v.push('\n'),
                            Some('t') => v.push('\t'),
                            Some(other) => v.push(other),
                            None => return Err(Refusal::invalid_filter("A string is not closed.")),
                        },
                        Some(ch) => v.push(ch),
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '"' {
                        break;
                    }
                    w.push(ch);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

/// Deepest nesting of parentheses accepted (the parser recurses).
const MAX_DEPTH: usize = 16;

impl Parser {
    fn keyword(&mut self, k: &str) -> bool {
        match self.toks.get(self.at) {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn or_expr(&mut self, depth: usize) -> Result<Filter, Refusal> {
        let mut left = self.and_expr(depth)?;
        while self.keyword("or") {
            let right = self.and_expr(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, depth: usize) -> Result<Filter, Refusal> {
        let mut left = self.factor(depth)?;
        while self.keyword("and") {
            let right = self.factor(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn factor(&mut self, depth: usize) -> Result<Filter, Refusal> {
        if depth > MAX_DEPTH {
            return Err(Refusal::invalid_filter("The filter nests too deeply."));
        }
        match self.toks.get(self.at).cloned() {
            Some(Tok::Open) => {
                self.at += 1;
                let f = self.or_expr(depth + 1)?;
                if self.toks.get(self.at) != Some(&Tok::Close) {
                    return Err(Refusal::invalid_filter("A parenthesis is not closed."));
                }
                self.at += 1;
                Ok(f)
            }
            Some(Tok::Word(attr)) => {
                self.at += 1;
                if !self.keyword("eq") {
                    return Err(Refusal::invalid_filter(
                        "Only the eq operator (with and / or) is supported.",
                    ));
                }
                let value = match self.toks.get(self.at).cloned() {
                    Some(Tok::Str(v)) => v,
                    Some(Tok::Word(w))
                        if !w.eq_ignore_ascii_case("and") && !w.eq_ignore_ascii_case("or") =>
                    {
                        w
                    }
                    _ => return Err(Refusal::invalid_filter("eq needs a value.")),
                };
                self.at += 1;
                Ok(Filter::Eq(attribute(&attr), value))
            }
            _ => Err(Refusal::invalid_filter("Expected an attribute name.")),
        }
    }
}

/// `urn:...:User:userName` and `userName` name the same attribute: lowercased, URN dropped.
pub fn attribute(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    for urn in [USER_URN, GROUP_URN] {
        let prefix = format!("{}:", urn.to_ascii_lowercase());
        if let Some(rest) = lower.strip_prefix(&prefix) {
            return rest.to_string();
        }
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: &str, v: &str) -> Filter {
        Filter::Eq(a.into(), v.into())
    }

    #[test]
    fn oktas_and_entras_filters_parse() {
        assert_eq!(
            parse("userName eq \"ann@acme.test\"").expect("parses"),
            eq("username", "ann@acme.test")
        );
        assert_eq!(
            parse("displayName eq \"Admins \\\"x\\\"\"").expect("parses"),
            eq("displayname", "Admins \"x\"")
        );
        assert_eq!(
            parse("urn:ietf:params:scim:schemas:core:2.0:User:externalId EQ \"00u1\"")
                .expect("parses"),
            eq("externalid", "00u1")
        );
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let f = parse("id eq \"1\" or userName eq \"a\" and externalId eq \"b\"").expect("parses");
        assert_eq!(
            f,
            Filter::Or(
                Box::new(eq("id", "1")),
                Box::new(Filter::And(
                    Box::new(eq("username", "a")),
                    Box::new(eq("externalid", "b"))
                ))
            )
        );
        let g = parse("(id eq \"1\" or id eq \"2\") and emails.value eq \"x@y\"").expect("parses");
        assert!(matches!(g, Filter::And(..)));
    }

    #[test]
    fn other_operators_and_broken_filters_are_invalid_filter() {
        for bad in [
            "userName co \"a\"",
            "userName sw \"a\"",
            "userName pr",
            "not (id eq \"1\")",
            "userName eq",
            "userName eq \"open",
            "(id eq \"1\"",
            "id eq \"1\" junk",
            "",
            &"(".repeat(40),
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some("invalidFilter")),
                "{bad}"
            );
        }
    }
}
