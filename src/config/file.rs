//! The config file read into [`RawConfig`] with every mistake reported the way `check-config`
//! reports the rest, one `key = "value": rule` line each: an unknown key or a value of the
//! wrong type is named by its dotted path (`teams[1].issuer`), not by the TOML parser's
//! multi-line excerpt, and all of them are reported at once, not only the first.

use toml::{Table, Value};

use super::raw::RawConfig;
use super::ConfigError;

/// More mistakes than this in one file are not worth listing one by one.
const MAX_REPORTED: usize = 50;

/// The file as far as it could be read: the settings without the keys that were mistaken
/// (so the rest can still be checked), and those mistakes.
pub struct Parsed {
    pub raw: Option<RawConfig>,
    pub mistakes: Vec<ConfigError>,
    /// The file's table without the mistaken keys.
    pub table: Table,
}

/// `Err` only for a file that is not TOML at all: where and why, on one line.
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut table: Table = text.parse().map_err(|e| syntax(text, &e))?;
    let mut mistakes = Vec::new();
    loop {
        let value = Value::Table(table.clone());
        let e = match serde_path_to_error::deserialize::<_, RawConfig>(value) {
            Ok(raw) => {
                return Ok(Parsed {
                    raw: Some(raw),
                    mistakes,
                    table,
                })
            }
            Err(e) => e,
        };
        // toml's value deserializer adds "\nin `key`": the path says that already.
        let message = e.inner().to_string();
        let found = Mistake::of(e.path(), message.lines().next().unwrap_or_default());
        let key = found.key();
        let name = key.to_string();
        // An unknown key may be a mistyped secret's (`client_secert`): its value is never
        // printed, nor a secret's of the wrong type; the key's name is what to fix.
        let secret = found.unknown || key.names_a_secret();
        mistakes.push(ConfigError {
            value: match at(&table, &key) {
                Some(_) if secret => "***".into(),
                Some(v) => show(v),
                None => String::new(),
            },
            rule: if name == "teams" && found.rule == "must be a list in brackets" {
                "must be a list of tables: write each team as a [[teams]] block (two brackets)"
                    .into()
            } else {
                found.rule
            },
            key: name,
        });
        // Taken out, so the next attempt finds the next mistake; a missing key cannot be
        // taken out, and a mistake that does not go away ends the list.
        if found.missing || !remove(&mut table, &key) || mistakes.len() >= MAX_REPORTED {
            return Ok(Parsed {
                raw: None,
                mistakes,
                table,
            });
        }
    }
}

/// `line L, column C: message` from the parser's error, on one line.
fn syntax(text: &str, e: &toml::de::Error) -> String {
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
                .chars()
                .count()
                + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// A step of a key's path: a table's key or a list's element.
#[derive(Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Where a mistake is: `teams[1].issuer`, or `server."public.url"` for a quoted key with a dot.
#[derive(Clone, Default)]
struct KeyPath(Vec<Step>);

impl KeyPath {
    /// A key whose value is a secret (`client_secret`), not one that merely mentions one
    /// (`password_login`, `client_secret_file`).
    fn names_a_secret(&self) -> bool {
        let last = self.0.iter().rev().find_map(|s| match s {
            Step::Key(k) => Some(k.to_ascii_lowercase()),
            Step::Index(_) => None,
        });
        last.is_some_and(|k| {
            ["secret", "password", "token"]
                .iter()
                .any(|w| k.ends_with(w))
        })
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// One mistake serde reported, as `check-config` words it.
struct Mistake {
    /// The table (or value) serde was in.
    path: KeyPath,
    /// The key under `path` the mistake is about, when serde names it in the message
    /// (an unknown or missing key) rather than in the path.
    field: Option<String>,
    rule: String,
    missing: bool,
    unknown: bool,
}

impl Mistake {
    fn of(path: &serde_path_to_error::Path, message: &str) -> Mistake {
        use serde_path_to_error::Segment;
        let path = KeyPath(
            path.iter()
                .filter_map(|segment| match segment {
                    Segment::Map { key } => Some(Step::Key(key.clone())),
                    Segment::Seq { index } => Some(Step::Index(*index)),
                    Segment::Enum { .. } | Segment::Unknown => None,
                })
                .collect(),
        );
        if let Some(rest) = message.strip_prefix("unknown field ") {
            let (field, known) = match rest.split_once(", expected ") {
                Some((f, k)) => (f, k),
                None => (rest, ""),
            };
            let known = known.trim_start_matches("one of ").replace('`', "");
            return Mistake {
                path,
                field: Some(field.trim_matches('`').to_string()),
                rule: if known.is_empty() {
                    "unknown key".into()
                } else {
                    format!("unknown key; the keys here are {known}")
                },
                missing: false,
                unknown: true,
            };
        }
        if let Some(field) = message.strip_prefix("missing field ") {
            return Mistake {
                path,
                field: Some(field.trim_matches('`').to_string()),
                rule: "is required".into(),
                missing: true,
                unknown: false,
            };
        }
        Mistake {
            path,
            field: None,
            rule: expected(message),
            missing: false,
            unknown: false,
        }
    }

    fn key(&self) -> KeyPath {
        let mut key = self.path.clone();
        // serde_path_to_error already puts an unknown key at the end of the path.
        if let Some(field) = &self.field {
            if key.0.last() != Some(&Step::Key(field.clone())) {
                key.0.push(Step::Key(field.clone()));
            }
        }
        key
    }
}

/// "invalid type: string \"four\", expected usize" as "must be a whole number".
pub(super) fn expected(message: &str) -> String {
    let Some((_, wanted)) = message.rsplit_once("expected ") else {
        return message.to_string();
    };
    let words = match wanted.trim() {
        "usize" | "u8" | "u16" | "u32" | "u64" | "isize" | "i8" | "i16" | "i32" | "i64" => {
            "a whole number"
        }
        "a boolean" | "bool" => "true or false",
        "a string" | "string" | "a borrowed string" | "path string" => "a string in quotes",
        "a sequence" => "a list in brackets",
        "struct" => "a table",
        w if w.starts_with("struct ") || w.starts_with("a map") => "a table",
        w => return format!("must be {w}"),
    };
    format!("must be {words}")
}

/// The value at a key's path.
fn at<'t>(table: &'t Table, key: &KeyPath) -> Option<&'t Value> {
    let (first, rest) = key.0.split_first()?;
    let Step::Key(first) = first else {
        return None;
    };
    let mut value = table.get(first)?;
    for step in rest {
        value = match step {
            Step::Key(k) => value.as_table()?.get(k)?,
            Step::Index(i) => value.as_array()?.get(*i)?,
        };
    }
    Some(value)
}

/// Takes the key at `key` out of the table; false when there is no such key. An element of a
/// list goes with its whole key (serde would stop at it again).
fn remove(table: &mut Table, key: &KeyPath) -> bool {
    let Some(last) = key.0.iter().rposition(|s| matches!(s, Step::Key(_))) else {
        return false;
    };
    let Step::Key(name) = &key.0[last] else {
        return false;
    };
    let mut here = table;
    let mut parents = key.0[..last].iter().peekable();
    while let Some(step) = parents.next() {
        let Step::Key(k) = step else {
            return false;
        };
        let Some(mut v) = here.get_mut(k) else {
            return false;
        };
        while let Some(Step::Index(i)) = parents.peek() {
            let Some(element) = v.as_array_mut().and_then(|a| a.get_mut(*i)) else {
                return false;
            };
            v = element;
            parents.next();
        }
        let Some(t) = v.as_table_mut() else {
            return false;
        };
        here = t;
    }
    here.remove(name).is_some()
}

/// A value as the line shows it in quotes: a string as itself, anything else as TOML.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Table(_) => "{...}".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(p) => p.mistakes.iter().map(ToString::to_string).collect(),
            Err(s) => vec![s],
        }
    }

    #[test]
    fn every_unknown_key_and_wrong_type_is_one_line_with_its_path() {
        let got = errors(
            r#"
[server]
workerz = 4
workers = "four"
[database]
path = 7
[[teams]]
id = "acme"
[[teams]]
id = "beta"
isuer = "https://beta.okta.com"
trust_email = "yes"
"#,
        );
        // In the order of the keys' names (toml's tables are sorted).
        let expected = [
            r#"database.path = "7": must be a string in quotes"#,
            r#"server.workers = "four": must be a whole number"#,
            r#"server.workerz = "***": unknown key; the keys here are listen, public_url, workers, trusted_proxies"#,
            r#"teams[1].isuer = "***": unknown key; the keys here are id, name, issuer, "#,
            r#"teams[1].trust_email = "yes": must be true or false"#,
        ];
        // A key that only mentions a secret shows its value; a secret's stays hidden.
        let got2 = errors("[security]\npassword_login = 1\n[[teams]]\nclient_secret = 5\n");
        assert!(
            got2.iter()
                .any(|l| l.starts_with(r#"security.password_login = "1": "#)),
            "{got2:#?}"
        );
        assert!(
            got2.iter()
                .any(|l| l.starts_with(r#"teams[0].client_secret = "***": "#)),
            "{got2:#?}"
        );
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for (line, want) in got.iter().zip(expected) {
            assert!(line.starts_with(want), "{line}\nwanted {want}");
        }
    }

    #[test]
    fn a_quoted_key_with_a_dot_is_named_once_and_the_next_mistake_still_found() {
        let got = errors(
            "[server]\n\"public.url\" = \"https://x\"\n[database]\npath = 7\n[[teams]]\nid = 1\n",
        );
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].starts_with(r#"database.path = "7": "#), "{got:#?}");
        assert!(
            got[1].starts_with(r#"server."public.url" = "***": unknown key"#),
            "{got:#?}"
        );
        assert!(got[2].starts_with(r#"teams[0].id = "1": "#), "{got:#?}");
    }

    #[test]
    fn teams_written_as_one_table_says_to_write_double_brackets() {
        let got = errors("[teams]\nid = \"acme\"\n");
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(
            got[0].starts_with(
                r#"teams = "{...}": must be a list of tables: write each team as a [[teams]] block"#
            ),
            "{got:#?}"
        );
    }

    #[test]
    fn a_syntax_error_says_where_on_one_line() {
        let got = errors("[server\nworkers = 2\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("line 1, column 8: "), "{got:?}");
        assert!(!got[0].contains('\n'), "{got:?}");
    }

    #[test]
    fn a_valid_file_reads_as_before() {
        let parsed = parse("[server]\nworkers = 3\n[[teams]]\nid = \"acme\"\n").expect("TOML");
        assert!(parsed.mistakes.is_empty());
        let raw = parsed.raw.expect("valid");
        assert_eq!(raw.server.workers, Some(3));
        assert_eq!(raw.teams.len(), 1);
    }
}
