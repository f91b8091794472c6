//! HTML views (maud): the page layout, shared components and one module per page. Views
//! take plain data and return `Markup`; they never touch the store.

pub mod ask;
pub mod audit;
pub mod billing;
pub mod error;
pub mod form;
pub mod gzip;
pub mod login;
pub mod model;
pub mod scim;
pub mod sessions;
pub mod settings;
pub mod team;
pub mod tokens;

use maud::{html, Markup, Render, DOCTYPE};

use crate::assets;

/// What the header needs to know about the signed-in person.
pub struct Chrome<'a> {
    pub team_name: &'a str,
    pub user_name: &'a str,
    pub user_email: &'a str,
    pub is_admin: bool,
    pub csrf: &'a str,
    pub current: &'a str,
    /// A break-glass password exists in the team: admins are reminded on every page.
    pub break_glass: bool,
    /// The one-time confirmation of the action that led here.
    pub flash: Option<&'a str>,
    /// Why the action that led here was refused, when the page is answered in its stead.
    pub refusal: Option<&'a str>,
}

pub fn page(title: &str, chrome: Option<&Chrome<'_>>, body: impl Render) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · teamportal" }
                link rel="stylesheet" href=(assets::url("app.css"));
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                script src=(assets::url("app.js")) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "teamportal" }
                    @if let Some(c) = chrome {
                        nav aria-label="Main" {
                            (NavLink("/team", "Team", c.current))
                            (NavLink("/tokens", "API tokens", c.current))
                            (NavLink("/sessions", "Sessions", c.current))
                            @if c.is_admin {
                                (NavLink("/billing", "Billing", c.current))
                                (NavLink("/settings/sso", "SSO settings", c.current))
                                (NavLink("/settings/scim", "Provisioning", c.current))
                                (NavLink("/audit", "Audit log", c.current))
                            }
                        }
                        div.who {
                            span.team { (c.team_name) }
                            span.user title=(c.user_email) { (c.user_name) @if c.is_admin { " " span.badge { "admin" } } }
                            form method="post" action="/logout" {
                                (csrf_field(c.csrf))
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                @if let Some(c) = chrome {
                    @if c.is_admin && c.break_glass {
                        div.banner.warn role="alert" {
                            "A break-glass password exists in this team. Remove it with "
                            code { "teamportal admin clear-password" } " once SSO works."
                        }
                    }
                }
                main #main tabindex="-1" {
                    @if let Some(message) = chrome.and_then(|c| c.flash) {
                        p #flash .banner.ok role="status" { (message) }
                    }
                    @if let Some(why) = chrome.and_then(|c| c.refusal) {
                        p #refusal .banner.refused role="alert" { (why) }
                    }
                    (body)
                }
                footer { "teamportal " (env!("CARGO_PKG_VERSION")) }
            }
        }
    }
}

/// A link of the main navigation (`href`, label, the current page's path), marked when it is
/// the current page. Every page has up to seven: they are written straight into the page's
/// buffer, and as `href` and the label are the navigation's own constants, unescaped.
struct NavLink<'a>(&'static str, &'static str, &'a str);

impl Render for NavLink<'_> {
    fn render_to(&self, out: &mut String) {
        let NavLink(href, label, current) = *self;
        out.push_str("<a href=\"");
        out.push_str(href);
        out.push('"');
        if href == current {
            out.push_str(" aria-current=\"page\"");
        }
        out.push('>');
        out.push_str(label);
        out.push_str("</a>");
    }
}

pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(token); }
}

/// `2026-11-23 09:30 UTC`, or a dash for never.
pub fn when(ts: Option<i64>) -> String {
    match ts.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()) {
        None => "—".into(),
        Some(t) => {
            // Digits pushed by hand: `format!` with padded fields cost more than the rest of
            // a team page row, and a page shows 50 of these.
            let mut out = String::with_capacity(20);
            let two = |out: &mut String, n: u8| {
                out.push(char::from(b'0' + n / 10));
                out.push(char::from(b'0' + n % 10));
            };
            let year = t.year();
            if !(0..=9999).contains(&year) {
                return format!("{t} UTC");
            }
            two(&mut out, (year / 100) as u8);
            two(&mut out, (year % 100) as u8);
            out.push('-');
            two(&mut out, u8::from(t.month()));
            out.push('-');
            two(&mut out, t.day());
            out.push(' ');
            two(&mut out, t.hour());
            out.push(':');
            two(&mut out, t.minute());
            out.push_str(" UTC");
            out
        }
    }
}

/// `q=ada&page=2` for a list's search and page, leaving out what is the default.
pub fn list_query(q: &str, page: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let q = q.trim();
    if !q.is_empty() {
        query.append_pair("q", &q.chars().take(100).collect::<String>());
    }
    if page > 1 && page <= 1_000_000 {
        query.append_pair("page", &page.to_string());
    }
    query.finish()
}

pub use crate::domain::text::count;

/// Page links for a paged list; `params` is the query without `page`.
pub fn pager(base: &str, params: &str, page: i64, per_page: i64, total: i64) -> Markup {
    let pages = ((total + per_page - 1) / per_page).max(1);
    let link = |p: i64| {
        if params.is_empty() {
            format!("{base}?page={p}")
        } else {
            format!("{base}?{params}&page={p}")
        }
    };
    html! {
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                @if page > 1 { a rel="prev" href=(link(page - 1)) { "← Previous" } }
                span { "Page " (page) " of " (pages) }
                @if page < pages { a rel="next" href=(link(page + 1)) { "Next →" } }
            }
        }
    }
}

/// A value with a copy button (progressive enhancement: the value stays selectable).
pub fn copyable(id: &str, value: &str) -> Markup {
    html! {
        span.copyable {
            input.mono id=(id) type="text" readonly value=(value) aria-label="Value to copy";
            button.copy type="button" data-copy=(id) aria-controls=(id) { "Copy" }
        }
    }
}

#[cfg(test)]
mod tests {
    use maud::Render;

    use super::when;

    #[test]
    fn a_navigation_link_is_written_as_maud_would_write_it() {
        for current in ["/team", "/tokens"] {
            let maud = maud::html! {
                @if current == "/team" {
                    a href="/team" aria-current="page" { "Team" }
                } @else {
                    a href="/team" { "Team" }
                }
            };
            assert_eq!(super::NavLink("/team", "Team", current).render().0, maud.0);
        }
    }

    #[test]
    fn when_writes_the_same_as_the_time_crate_and_a_dash_for_never() {
        let described =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
        for ts in [
            0,
            59,
            951_782_400,
            1_795_435_199,
            1_798_761_599,
            4_102_444_800,
            253_402_300_799,
        ] {
            let t = time::OffsetDateTime::from_unix_timestamp(ts).expect("in range");
            assert_eq!(
                when(Some(ts)),
                t.format(described).expect("formats"),
                "{ts}"
            );
        }
        assert_eq!(when(Some(0)), "1970-01-01 00:00 UTC");
        assert_eq!(when(None), "—");
    }
}
