//! Checks of the server-wide sections: `[log]`, `public_url`, `[billing]` prices.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use url::Url;

use super::*;

/// `[log]`, with `RUST_LOG` (read through `env`) winning over `level`. A filter that names no
/// real level is refused rather than read as "info": the operator asked for something.
pub fn check_log(
    raw: &RawLog,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> LogSettings {
    let mut push = |key: &str, value: &str, rule: &str| {
        errors.push(ConfigError {
            key: key.into(),
            value: value.into(),
            rule: rule.into(),
        })
    };
    let format = match raw.format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(v) => {
            push("log.format", v, "must be \"text\" or \"json\"");
            LogFormat::Text
        }
    };
    let (key, filter) = match env("RUST_LOG").filter(|v| !v.trim().is_empty()) {
        Some(v) => ("RUST_LOG", v),
        None => (
            "log.level",
            raw.level.clone().unwrap_or_else(|| "info".into()),
        ),
    };
    if let Err(rule) = check_filter(&filter) {
        push(key, &filter, rule);
    }
    LogSettings {
        format,
        filter,
        access: raw.access,
    }
}

pub(super) const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// `tracing` reads a bare word as a target name, so "verbose" would silently mean "log
/// nothing but a target called verbose": every directive must end in a level.
pub(super) fn check_filter(filter: &str) -> Result<(), &'static str> {
    const RULE: &str = "must be a level (trace, debug, info, warn, error, off) or directives \
                        such as \"info,teamportal=debug\"";
    let is_level = |l: &str| LEVELS.iter().any(|x| x.eq_ignore_ascii_case(l.trim()));
    for part in filter.split(',') {
        let level = part.rsplit_once('=').map_or(part, |(_, level)| level);
        if !is_level(level) {
            return Err(RULE);
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map(|_| ())
        .map_err(|_| RULE)
}

pub(super) fn check_public_url(value: &str, errors: &mut Errors) -> Option<Url> {
    let key = "server.public_url";
    let Ok(url) = Url::parse(value) else {
        errors.push(
            key,
            value,
            "must be an absolute URL such as \"https://portal.example.com\"",
        );
        return None;
    };
    if url.scheme() != "https" && url.scheme() != "http" {
        errors.push(
            key,
            value,
            "must start with https:// (or http:// on loopback)",
        );
        return None;
    }
    if url.scheme() == "http" && !is_loopback_host(&url) {
        errors.push(key, value, "must be https unless the host is loopback");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        errors.push(
            key,
            value,
            "must be an origin without a path, query or fragment (teamportal is served at the root)",
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        errors.push(key, value, "must not contain a user name or password");
    }
    Some(url)
}

pub(super) fn check_billing(raw: RawBilling, errors: &mut Errors) -> BillingSettings {
    let currency = raw.currency.trim().to_string();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        errors.push(
            "billing.currency",
            &raw.currency,
            "must be a three-letter ISO 4217 code in capitals, e.g. \"USD\"",
        );
    }
    let seat_price = price("billing.seat_price", &raw.seat_price, errors);
    let mut unit_prices = BTreeMap::new();
    for (unit, p) in &raw.unit_prices {
        if !crate::domain::valid_unit(unit) {
            errors.push(
                format!("billing.unit_prices.{unit}"),
                p,
                "unit names are 1-64 characters: lowercase letters, digits, '_', '-', '.'",
            );
        }
        unit_prices.insert(
            unit.clone(),
            price(&format!("billing.unit_prices.{unit}"), p, errors),
        );
    }
    BillingSettings {
        currency,
        seat_price,
        unit_prices,
        metering: raw.metering,
    }
}

pub(super) fn price(key: &str, value: &str, errors: &mut Errors) -> Decimal {
    match value.trim().parse::<Decimal>() {
        Ok(d) if d >= Decimal::ZERO => d,
        _ => {
            errors.push(
                key,
                value,
                "must be a non-negative decimal number written as a string, e.g. \"10.00\"",
            );
            Decimal::ZERO
        }
    }
}
