//! The billing page: statement, daily chart (server-rendered SVG with a text alternative),
//! usage per token, and the months with statements.

use maud::{html, Markup};

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
                @if s.daily.len() > 1 {
                    nav.units aria-label="Units" {
                        "Units: "
                        @for unit in s.daily.keys() { a href=(format!("#chart-{}", slug(unit))) { (unit) } " " }
                    }
                }
                @for (unit, series) in &s.daily {
                    figure.chart #(format!("chart-{}", slug(unit))) aria-labelledby=(format!("caption-{}", slug(unit))) {
                        figcaption #(format!("caption-{}", slug(unit))) { "Daily " (unit) " in " (s.month) " (UTC)" }
                        div.plot { (chart(s.month, unit, series)) }
                        table.daily {
                            caption.vh { "Daily " (unit) " in " (s.month) }
                            thead { tr { th scope="col" { "Day" } th.num scope="col" { (unit) } } }
                            tbody { @for (i, q) in series.iter().enumerate() { @if *q > 0 { tr { td { (s.month) "-" (format!("{:02}", i + 1)) } td.num { (thousands(*q)) } } } } }
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

/// A unit as an id fragment: letters and digits, the rest dashes.
fn slug(unit: &str) -> String {
    unit.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `12,345`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The smallest of 1, 2, 5 times a power of ten that is at least `max`: the y axis's top.
fn axis_top(max: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= max {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// Geometry of the chart, in SVG user units.
const LEFT: i64 = 56;
const TOP: i64 = 10;
const PLOT_H: i64 = 150;
const BAR: i64 = 18;
const GAP: i64 = 4;

/// A bar chart as inline SVG built with maud (no script: the CSP allows it since it is
/// markup, not code): a y axis with its unit and three values, the days under the bars,
/// and each bar titled with its day and value. The table beside it carries the same data.
fn chart(month: crate::domain::billing::Month, unit: &str, series: &[i64]) -> Markup {
    let max = series.iter().copied().max().unwrap_or(0).max(1);
    let top = axis_top(max);
    let width = LEFT + (BAR + GAP) * series.len() as i64 + GAP;
    let height = TOP + PLOT_H + 34;
    let y = |q: i64| TOP + PLOT_H - (q as f64 / top as f64 * PLOT_H as f64).round() as i64;
    let ticks = [0, top / 2, top];
    html! {
        svg.bars role="img" viewBox=(format!("0 0 {width} {height}"))
            aria-label=(format!("Bar chart of daily {unit} in {month}, peak {} {unit}; the table beside it has the values", thousands(max))) {
            @for t in ticks {
                line.grid x1=(LEFT) x2=(width) y1=(y(t)) y2=(y(t)) {}
                text.end x=(LEFT - 6) y=(y(t) + 4) { (thousands(t)) }
            }
            text.mid transform=(format!("translate(12 {}) rotate(-90)", TOP + PLOT_H / 2)) { (unit) }
            line x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(TOP + PLOT_H) {}
            line x1=(LEFT) x2=(width) y1=(TOP + PLOT_H) y2=(TOP + PLOT_H) {}
            @for (i, q) in series.iter().enumerate() {
                @let x = LEFT + GAP + (BAR + GAP) * i as i64;
                @let day = i + 1;
                rect.bar x=(x) y=(y(*q)) width=(BAR) height=(TOP + PLOT_H - y(*q)) {
                    title { (month) "-" (format!("{day:02}")) ": " (thousands(*q)) " " (unit) }
                }
                @if day == 1 || day % 5 == 0 {
                    text.mid x=(x + BAR / 2) y=(TOP + PLOT_H + 16) { (day) }
                }
            }
            text.mid x=(LEFT + (width - LEFT) / 2) y=(height - 2) { "day of " (month) " (UTC)" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_top_is_a_round_number_above_the_peak_and_numbers_group_thousands() {
        assert_eq!(
            [1, 3, 7, 10, 11, 4_999, 5_001].map(axis_top),
            [1, 5, 10, 10, 20, 5_000, 10_000]
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn every_bar_has_a_title_with_its_day_and_value_and_the_axis_names_the_unit() {
        let month = crate::domain::billing::Month {
            year: 2026,
            month: 11,
        };
        let svg = chart(month, "requests", &[0, 1_500, 3]).into_string();
        assert!(
            svg.contains("<title>2026-11-02: 1,500 requests</title>"),
            "{svg}"
        );
        assert!(svg.contains("<title>2026-11-01: 0 requests</title>"));
        assert!(
            svg.contains(">2,000</text>") && svg.contains(">requests</text>"),
            "{svg}"
        );
        assert_eq!(svg.matches("<rect").count(), 3);
    }
}
