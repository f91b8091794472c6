//! The billing page: statement, daily chart (server-rendered SVG with a text alternative),
//! usage per token, and the months with statements.

use maud::{html, Markup, PreEscaped};

use crate::domain::billing::{Month, Statement};

use super::Chrome;

pub fn page(c: &Chrome<'_>, s: &Statement, months: &[Month], current: Month) -> Markup {
    let title = if s.month == current {
        format!("{} so far", s.month)
    } else {
        s.month.to_string()
    };
    super::page(
        "Billing",
        Some(c),
        html! {
            h1 { "Billing" }
            nav.months aria-label="Months" {
                a href=(format!("/billing?month={}", s.month.prev())) { "← " (s.month.prev()) }
                form.inline method="get" action="/billing" {
                    label for="month" { "Month" }
                    input #month name="month" type="month" value=(s.month.to_string());
                    button type="submit" { "Show" }
                }
                @if s.month < current { a href=(format!("/billing?month={}", s.month.next())) { (s.month.next()) " →" } }
            }
            p.muted { "Months run from the first to the last day in UTC. Prices come from the [billing] section of the config file." }
            h2 { "Statement " (title) }
            table.statement {
                thead { tr { th { "Item" } th.num { "Quantity" } th.num { "Unit price" } th.num { "Amount" } } }
                tbody {
                    @for l in &s.lines {
                        tr { td { (l.label) } td.num { (l.quantity) } td.num { (l.unit_price) " " (s.currency) } td.num { (l.amount) " " (s.currency) } }
                    }
                }
                tfoot { tr { th colspan="3" { "Total" } td.num #billing-total { strong { (s.total) " " (s.currency) } } } }
            }
            p { a href=(format!("/billing/usage.csv?month={}", s.month)) download { "Download usage as CSV" } }
            h2 { "Daily usage" }
            @if s.daily.is_empty() {
                p.empty { "No metered usage in " (s.month) " yet. Requests verified with a team token at /api/v1/verify and reports sent to /api/v1/usage appear here within seconds." }
            } @else {
                @for (unit, series) in &s.daily {
                    figure.chart {
                        (chart(unit, series))
                        figcaption { "Daily " (unit) " in " (s.month) " (UTC)." }
                        details {
                            summary { "Table of daily " (unit) }
                            table { thead { tr { th { "Day" } th.num { (unit) } } }
                                tbody { @for (i, q) in series.iter().enumerate() { @if *q > 0 { tr { td { (i + 1) } td.num { (q) } } } } } }
                        }
                    }
                }
                h2 { "Usage per token" }
                table.per-token {
                    thead { tr { th { "Token" } th { "Unit" } th.num { "Quantity" } } }
                    tbody { @for ((token, unit), q) in &s.per_token { tr { td { (token) } td { (unit) } td.num { (q) } } } }
                }
            }
            @if !months.is_empty() {
                h2 { "Statements" }
                ul.statements { @for m in months { li { a href=(format!("/billing?month={m}")) { (m) } } } }
            }
        },
    )
}

/// A bar chart as inline SVG (no script; the CSP allows it since it is markup, not code).
fn chart(unit: &str, series: &[i64]) -> Markup {
    let max = series.iter().copied().max().unwrap_or(0).max(1);
    let (w, h, gap) = (24 * series.len(), 160usize, 4usize);
    let mut bars = String::new();
    for (i, q) in series.iter().enumerate() {
        let bh = ((*q as f64 / max as f64) * (h - 20) as f64).round() as usize;
        bars.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>day {}: {} {}</title></rect>",
            i * 24 + gap / 2,
            h - bh,
            24 - gap,
            bh,
            i + 1,
            q,
            maud::html! { (unit) }.into_string()
        ));
    }
    html! {
        svg.bars role="img" aria-label=(format!("Bar chart of daily {unit}; peak {max}")) viewBox=(format!("0 0 {w} {h}")) preserveAspectRatio="none" {
            (PreEscaped(bars))
        }
    }
}
