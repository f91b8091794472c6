//! Statements read from the store: a month's usage rows and seats, priced by
//! [`crate::domain::billing::compute`], and the months that have usage.

use rusqlite::Connection;

use super::{usage, users, StoreError};
use crate::domain::billing::{self, Month, Prices, Statement};

/// The month's statement from the store; `rows` carries the CSV data.
pub fn statement(
    conn: &Connection,
    team: &str,
    month: Month,
    prices: &Prices<'_>,
) -> Result<Statement, StoreError> {
    let (start, end) = month.bounds();
    let days = month.days();
    let first = days.first().cloned().unwrap_or_default();
    let last = days.last().cloned().unwrap_or_default();
    let rows = usage::daily(conn, team, &first, &last)?;
    let seats = users::seats_between(conn, team, start, end)?;
    Ok(billing::compute(month, seats, rows, prices))
}

/// Months with statements, newest first: every month from the first to the last with usage.
pub fn statement_months(conn: &Connection, team: &str) -> Result<Vec<Month>, StoreError> {
    Ok(usage::day_range(conn, team)?
        .map(|(first, last)| billing::statement_months(&first, &last))
        .unwrap_or_default())
}
