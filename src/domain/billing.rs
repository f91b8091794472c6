//! Billing arithmetic: UTC months, statements (seats plus metered usage at configured
//! prices, exact decimal money rounded to cents per line, half away from zero) and the CSV
//! export. No I/O here: `store::statements` reads the rows and calls [`compute`].

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use time::{Date, Month as TMonth, OffsetDateTime, Time};

/// Metered usage of one token and unit on one UTC day.
#[derive(Debug, Clone)]
pub struct DailyRow {
    pub day: String,
    pub token_id: i64,
    pub token_name: String,
    pub unit: String,
    pub quantity: i64,
}

/// The configured prices (`[billing]`).
#[derive(Debug, Clone, Copy)]
pub struct Prices<'a> {
    pub currency: &'a str,
    pub seat_price: Decimal,
    pub unit_prices: &'a BTreeMap<String, Decimal>,
}

/// A calendar month in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u8,
}

impl Month {
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month: u8 = m.parse().ok()?;
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    pub fn containing(ts: i64) -> Month {
        let d = OffsetDateTime::from_unix_timestamp(ts).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Month {
            year: d.year(),
            month: d.month() as u8,
        }
    }

    /// The month of `now` (Unix seconds); callers pass the clock.
    pub fn of_now(now: i64) -> Month {
        Month::containing(now)
    }

    fn first(&self) -> Date {
        let m = TMonth::try_from(self.month).unwrap_or(TMonth::January);
        Date::from_calendar_date(self.year, m, 1).unwrap_or(Date::MIN)
    }

    pub fn next(&self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(&self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// [start, end) in Unix seconds.
    pub fn bounds(&self) -> (i64, i64) {
        let start = self
            .first()
            .with_time(Time::MIDNIGHT)
            .assume_utc()
            .unix_timestamp();
        let end = self
            .next()
            .first()
            .with_time(Time::MIDNIGHT)
            .assume_utc()
            .unix_timestamp();
        (start, end)
    }

    pub fn days(&self) -> Vec<String> {
        let (mut d, end) = (self.first(), self.next().first());
        let mut out = Vec::new();
        while d < end {
            out.push(d.to_string());
            d = d.next_day().unwrap_or(end);
        }
        out
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Months with statements, newest first: every month from the one of `first_day` to the one
/// of `last_day` (`YYYY-MM-DD`, the first and last day with usage).
pub fn statement_months(first_day: &str, last_day: &str) -> Vec<Month> {
    let (Some(first), Some(last)) = (
        first_day.get(..7).and_then(Month::parse),
        last_day.get(..7).and_then(Month::parse),
    ) else {
        return Vec::new();
    };
    let mut months = vec![last];
    while let Some(m) = months.last().map(Month::prev).filter(|m| *m >= first) {
        months.push(m);
    }
    months
}

pub fn round_money(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

#[derive(Debug, Clone)]
pub struct Line {
    pub label: String,
    pub quantity: i64,
    pub unit_price: Decimal,
    pub amount: Decimal,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub month: Month,
    pub currency: String,
    pub seats: i64,
    pub lines: Vec<Line>,
    pub total: Decimal,
    /// (token name, unit) -> quantity.
    pub per_token: BTreeMap<(String, String), i64>,
    /// unit -> quantity per day of the month (index = day - 1).
    pub daily: BTreeMap<String, Vec<i64>>,
    pub rows: Vec<DailyRow>,
}

pub fn compute(month: Month, seats: i64, rows: Vec<DailyRow>, prices: &Prices<'_>) -> Statement {
    let ndays = month.days().len();
    let mut per_unit: BTreeMap<String, i64> = BTreeMap::new();
    let mut per_token = BTreeMap::new();
    let mut daily: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        *per_unit.entry(r.unit.clone()).or_default() += r.quantity;
        let label = if r.token_name.is_empty() {
            format!("#{}", r.token_id)
        } else {
            r.token_name.clone()
        };
        *per_token.entry((label, r.unit.clone())).or_default() += r.quantity;
        let day: usize = r.day.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(1);
        let series = daily
            .entry(r.unit.clone())
            .or_insert_with(|| vec![0; ndays]);
        if let Some(slot) = series.get_mut(day.saturating_sub(1)) {
            *slot += r.quantity;
        }
    }
    let mut lines = vec![Line {
        label: "Seats (active members)".into(),
        quantity: seats,
        unit_price: prices.seat_price,
        amount: round_money(prices.seat_price * Decimal::from(seats)),
    }];
    for (unit, qty) in &per_unit {
        let price = prices
            .unit_prices
            .get(unit)
            .copied()
            .unwrap_or(Decimal::ZERO);
        lines.push(Line {
            label: unit.clone(),
            quantity: *qty,
            unit_price: price,
            amount: round_money(price * Decimal::from(*qty)),
        });
    }
    let total = lines.iter().map(|l| l.amount).sum();
    Statement {
        month,
        currency: prices.currency.to_string(),
        seats,
        lines,
        total,
        per_token,
        daily,
        rows,
    }
}

/// A CSV cell: quoted when needed, and prefixed with `'` when a spreadsheet would run it as
/// a formula (cells beginning with = + - @, tab or carriage return). Spreadsheets set to a
/// `;` separator (common in Europe) would split a cell at `;`, so such a cell is quoted too,
/// and escaped when any of its `;`-parts would start a formula.
pub fn csv_cell(s: &str) -> String {
    let formula = |part: &str| part.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let s = if s.split(';').any(formula) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', ';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn csv(rows: &[DailyRow]) -> String {
    let mut out = String::from("date,token,unit,quantity\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}\n",
            r.day,
            csv_cell(&r.token_name),
            csv_cell(&r.unit),
            r.quantity
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn unit_prices() -> BTreeMap<String, Decimal> {
        [(
            "requests".to_string(),
            Decimal::from_str("0.0001").expect("dec"),
        )]
        .into()
    }

    fn prices(units: &BTreeMap<String, Decimal>) -> Prices<'_> {
        Prices {
            currency: "USD",
            seat_price: Decimal::from_str("10.00").expect("dec"),
            unit_prices: units,
        }
    }

    fn row(day: &str, unit: &str, q: i64) -> DailyRow {
        DailyRow {
            day: day.into(),
            token_id: 1,
            token_name: "ci".into(),
            unit: unit.into(),
            quantity: q,
        }
    }

    #[test]
    fn month_bounds_are_utc() {
        let m = Month::parse("2026-02").expect("month");
        assert_eq!(m.days().len(), 28);
        let (s, e) = m.bounds();
        assert_eq!(s, 1_769_904_000);
        assert_eq!(e - s, 28 * 86_400);
        assert_eq!(Month::containing(e - 1), m);
        assert_eq!(
            Month::containing(e),
            Month::parse("2026-03").expect("month")
        );
        assert_eq!(
            Month::parse("2026-12").expect("m").next().to_string(),
            "2027-01"
        );
        for bad in ["2026-13", "2026-00", "26-01", "2026-1", "2026/01", ""] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn charges_are_exact_and_rounded_half_away_from_zero_per_line() {
        let units = unit_prices();
        let m = Month::parse("2026-11").expect("month");
        // 12,345 requests at 0.0001 = 1.2345 -> 1.23; 3 seats at 10.00 = 30.00
        let s = compute(
            m,
            3,
            vec![
                row("2026-11-01", "requests", 12_000),
                row("2026-11-30", "requests", 345),
            ],
            &prices(&units),
        );
        assert_eq!(s.lines[0].amount.to_string(), "30.00");
        assert_eq!(s.lines[1].quantity, 12_345);
        assert_eq!(s.lines[1].amount.to_string(), "1.23");
        assert_eq!(s.total.to_string(), "31.23");
        assert_eq!(s.daily["requests"][0], 12_000);
        assert_eq!(s.daily["requests"][29], 345);
        // 125 requests = 0.0125 -> 0.01; 150 = 0.015 -> 0.02 (half away from zero)
        assert_eq!(
            compute(
                m,
                0,
                vec![row("2026-11-02", "requests", 150)],
                &prices(&units)
            )
            .total
            .to_string(),
            "0.02"
        );
    }

    #[test]
    fn unpriced_units_are_listed_at_zero() {
        let units = unit_prices();
        let m = Month::parse("2026-11").expect("month");
        let s = compute(
            m,
            0,
            vec![row("2026-11-02", "gpu_seconds", 7)],
            &prices(&units),
        );
        assert_eq!(s.lines[1].label, "gpu_seconds");
        assert_eq!(s.lines[1].amount, Decimal::ZERO);
    }

    #[test]
    fn csv_escapes_formulas_and_quotes() {
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@x"), "'@x");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("ci"), "ci");
        assert_eq!(csv_cell("a;b"), "\"a;b\"");
        assert_eq!(csv_cell("a;=HYPERLINK(1)"), "\"'a;=HYPERLINK(1)\"");
        let out = csv(&[DailyRow {
            day: "2026-11-01".into(),
            token_id: 1,
            token_name: "=cmd|' /C calc'!A0".into(),
            unit: "requests".into(),
            quantity: 5,
        }]);
        assert_eq!(
            out,
            "date,token,unit,quantity\n2026-11-01,'=cmd|' /C calc'!A0,requests,5\n"
        );
    }

    #[test]
    fn months_step_across_year_ends_and_leap_februaries() {
        let m = |s| Month::parse(s).expect("month");
        assert_eq!(m("2026-01").prev(), m("2025-12"));
        assert_eq!(m("2025-12").next(), m("2026-01"));
        assert_eq!(m("2028-02").days().len(), 29);
        assert_eq!(m("2100-02").days().len(), 28);
        assert_eq!(m("2026-04").days().len(), 30);
        let days = m("2026-12").days();
        assert_eq!(days.first().map(String::as_str), Some("2026-12-01"));
        assert_eq!(days.last().map(String::as_str), Some("2026-12-31"));
        // The last second of a month is in it; the first of the next is not.
        let (start, end) = m("2025-12").bounds();
        assert_eq!(Month::containing(start), m("2025-12"));
        assert_eq!(Month::containing(start - 1), m("2025-11"));
        assert_eq!(Month::containing(end), m("2026-01"));
        assert_eq!(end, m("2026-01").bounds().0);
        assert_eq!(Month::of_now(end - 1), m("2025-12"));
    }

    #[test]
    fn statement_months_run_newest_first_from_the_last_to_the_first_month_with_usage() {
        let m = |s| Month::parse(s).expect("month");
        assert_eq!(
            statement_months("2025-11-30", "2026-02-01"),
            vec![m("2026-02"), m("2026-01"), m("2025-12"), m("2025-11")]
        );
        assert_eq!(
            statement_months("2026-03-05", "2026-03-09"),
            vec![m("2026-03")]
        );
        assert_eq!(statement_months("garbage", "2026-03-09"), Vec::new());
    }

    #[test]
    fn each_line_is_rounded_on_its_own_before_the_total() {
        let units: BTreeMap<String, Decimal> = [
            ("a".to_string(), Decimal::from_str("0.005").expect("dec")),
            ("b".to_string(), Decimal::from_str("0.005").expect("dec")),
        ]
        .into();
        let m = Month::parse("2026-11").expect("month");
        // 1 x 0.005 = 0.005 -> 0.01 per line: 0.02 in all, not round(0.010) = 0.01.
        let s = compute(
            m,
            0,
            vec![row("2026-11-03", "a", 1), row("2026-11-03", "b", 1)],
            &prices(&units),
        );
        assert_eq!(s.lines[1].amount.to_string(), "0.01");
        assert_eq!(s.total.to_string(), "0.02");
        assert_eq!(
            round_money(Decimal::from_str("0.0149").expect("dec")).to_string(),
            "0.01"
        );
        assert_eq!(
            round_money(Decimal::from_str("-0.005").expect("dec")).to_string(),
            "-0.01"
        );
        // Usage on the month's last day lands in the last slot of the chart.
        let s = compute(m, 0, vec![row("2026-11-30", "a", 4)], &prices(&units));
        assert_eq!(s.daily["a"].len(), 30);
        assert_eq!(s.daily["a"][29], 4);
    }
}
