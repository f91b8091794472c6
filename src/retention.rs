//! What is stored is kept only while it is needed: audit rows past
//! `[security] audit_retention_days`, break-glass failure counters whose window has closed.
//! Purged when the app starts and then once a day.

use std::time::Duration;

use rusqlite::Connection;

use crate::store::{attempts, audit, now, Store, StoreError};

pub const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// How many rows a purge deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub audit: usize,
    pub attempts: usize,
}

pub fn purge(conn: &mut Connection, audit_retention_days: i64) -> Result<Purged, StoreError> {
    let tx = conn.transaction()?;
    let purged = Purged {
        audit: audit::purge_before(&tx, now() - audit_retention_days * 86_400)?,
        attempts: attempts::purge_expired(&tx)?,
    };
    tx.commit()?;
    Ok(purged)
}

/// Purges every [`EVERY`], the first time one period from now (the start purged already).
pub async fn daily(store: Store, audit_retention_days: i64) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    loop {
        tick.tick().await;
        match store.run(move |c| purge(c, audit_retention_days)).await {
            Ok(p) => tracing::info!(audit = p.audit, attempts = p.attempts, "purged old rows"),
            Err(e) => tracing::warn!(error = %e, "could not purge old rows; will retry tomorrow"),
        }
    }
}
