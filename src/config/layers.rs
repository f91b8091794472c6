//! Where a setting may come from besides the file: `TEAMPORTAL_<SECTION>__<KEY>` variables,
//! their `..._FILE` twins (the value read from a file, as container secrets are mounted), and
//! `serve`'s flags. figment merges them over the file (file < environment < flags); each
//! value is its own named layer, so an error names the variable or flag it came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::ConfigError;

pub const PREFIX: &str = "TEAMPORTAL_";

/// Values given on `serve`'s command line; they win over the environment and the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database: Option<PathBuf>,
}

/// One value from outside the file.
#[derive(Debug, Clone)]
pub(super) struct Layer {
    /// The variable or flag, as the operator wrote it.
    pub origin: String,
    /// `["server", "public_url"]`.
    pub key: Vec<String>,
    /// As given (for error messages).
    pub text: String,
}

impl Layer {
    pub fn dotted(&self) -> String {
        self.key.join(".")
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        // A variable holds text: numbers and booleans are read from it only where the key
        // wants one (`extract_lossy`), so "10.00" stays a price string. `[...]`/`{...}` are
        // lists and tables, in figment's TOML-like syntax.
        let value = if self.text.starts_with('[') || self.text.starts_with('{') {
            self.text.parse::<Value>().unwrap_or_else(|e| match e {})
        } else {
            Value::from(self.text.clone())
        };
        let dict = figment::util::nest(&self.dotted(), value)
            .into_dict()
            .ok_or_else(|| figment::Error::from(format!("{} names no key", self.origin)))?;
        Ok(Profile::Default.collect(dict))
    }
}

/// The layers over the file, in the order they apply, and the problems found reading them.
#[derive(Debug, Default)]
pub(super) struct Outside {
    pub layers: Vec<Layer>,
    pub errors: Vec<ConfigError>,
}

impl Outside {
    /// The layer that supplied `key` (dotted, as [`ConfigError::key`] spells it): the last one
    /// wins, as in the merge.
    pub fn origin_of(&self, key: &str) -> Option<&Layer> {
        let key = key.split('[').next().unwrap_or(key);
        self.layers.iter().rev().find(|l| l.dotted() == key)
    }
}

/// Reads the `TEAMPORTAL_*__*` variables of `vars` and the flags. Relative database paths
/// from here are taken from `cwd`, where the operator typed them, not from the file's folder.
pub(super) fn outside(
    vars: &BTreeMap<String, String>,
    overrides: &Overrides,
    cwd: &Path,
) -> Outside {
    let mut out = Outside::default();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        // TEAMPORTAL_CONFIG, TEAMPORTAL_PASSWORD... are not settings.
        if !rest.contains("__") {
            continue;
        }
        let (rest, from_file) = match rest.strip_suffix("_FILE") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let key: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if key.iter().any(String::is_empty) {
            out.errors.push(err(
                name,
                value,
                "must be named TEAMPORTAL_<SECTION>__<KEY>, e.g. TEAMPORTAL_SERVER__PUBLIC_URL",
            ));
            continue;
        }
        if key[0] == "teams" {
            out.errors.push(err(
                name,
                value,
                "[[teams]] are configured in the config file only",
            ));
            continue;
        }
        if from_file && vars.contains_key(&format!("{PREFIX}{rest}")) {
            out.errors.push(err(
                name,
                value,
                &format!("{PREFIX}{rest} is set as well; set only one of them"),
            ));
            continue;
        }
        let text = if from_file {
            match std::fs::read_to_string(value) {
                Ok(s) => s.trim().to_string(),
                Err(e) => {
                    out.errors
                        .push(err(name, value, &format!("cannot read the file: {e}")));
                    continue;
                }
            }
        } else {
            value.clone()
        };
        let text = if key == ["database", "path"] {
            absolute(cwd, &text)
        } else {
            text
        };
        out.layers.push(Layer {
            origin: name.clone(),
            key,
            text,
        });
    }
    if let Some(listen) = &overrides.listen {
        out.layers.push(Layer {
            origin: "--listen".into(),
            key: vec!["server".into(), "listen".into()],
            text: listen.clone(),
        });
    }
    if let Some(db) = &overrides.database {
        out.layers.push(Layer {
            origin: "--database".into(),
            key: vec!["database".into(), "path".into()],
            text: absolute(cwd, &db.to_string_lossy()),
        });
    }
    out
}

fn absolute(cwd: &Path, path: &str) -> String {
    cwd.join(path).to_string_lossy().into_owned()
}

fn err(key: &str, value: &str, rule: &str) -> ConfigError {
    ConfigError {
        key: key.into(),
        value: value.into(),
        rule: rule.into(),
    }
}

/// figment's error (one bad value: serde stops at the first) as a config error naming the
/// layer it came from.
pub(super) fn from_figment(e: figment::Error, outside: &Outside) -> Vec<ConfigError> {
    e.into_iter()
        .map(|e| {
            let named = e.metadata.as_ref().and_then(|m| {
                outside
                    .layers
                    .iter()
                    .rev()
                    .find(|l| l.origin == m.name.as_ref())
            });
            // An unknown key is reported on its table, whose layer is the file: find the
            // variable that added it instead.
            let unknown = match &e.kind {
                figment::error::Kind::UnknownField(field, _) => outside
                    .layers
                    .iter()
                    .find(|l| l.key.last().is_some_and(|k| k == field)),
                _ => None,
            };
            let rule = rule_of(&e.kind);
            match unknown.or(named) {
                Some(l) => err(&l.origin, &l.text, &rule),
                None => err(&e.path.join("."), "", &rule),
            }
        })
        .collect()
}

/// figment's words for a mistake as the file's are worded (`must be a whole number`).
fn rule_of(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::UnknownField(_, &[]) => "unknown key".into(),
        Kind::UnknownField(_, known) => {
            format!("unknown key; the keys here are {}", known.join(", "))
        }
        Kind::InvalidType(..) | Kind::InvalidValue(..) => super::file::expected(&kind.to_string()),
        other => other.to_string(),
    }
}
