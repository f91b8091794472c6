//! Filters and ids as SQL: what `list_users` and `list_groups` share.

use rusqlite::ToSql;

use super::Result;
use crate::scim::filter::Filter;
use crate::scim::Refusal;

pub(super) type Args = Vec<Box<dyn ToSql>>;
/// A resource's filterable attributes: the SQL condition for `attr eq value`, its arguments
/// pushed; `None` for an attribute it does not filter on.
pub(super) type Column = dyn Fn(&str, &str, &mut Args) -> Option<String>;

/// SQL for a filter over one resource's attributes; unknown attributes are `invalidFilter`.
pub(super) fn filter_sql(f: &Filter, column: &Column, args: &mut Args) -> Result<String> {
    Ok(match f {
        Filter::Eq(attr, value) => column(attr, value, args).ok_or_else(|| {
            Refusal::invalid_filter(format!("Filtering on {attr:?} is not supported."))
        })?,
        Filter::And(a, b) => format!(
            "({} AND {})",
            filter_sql(a, column, args)?,
            filter_sql(b, column, args)?
        ),
        Filter::Or(a, b) => format!(
            "({} OR {})",
            filter_sql(a, column, args)?,
            filter_sql(b, column, args)?
        ),
    })
}

pub(super) fn id_arg(value: &str) -> i64 {
    // Ids are server-issued integers; anything else matches nothing.
    value.trim().parse().unwrap_or(-1)
}
