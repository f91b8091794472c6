//! The team page: members, roles, and the admin's controls.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use maud::{html, Markup, PreEscaped, Render};

use crate::config::Provisioning;
use crate::domain::team_list::{Member, TeamPage};
use crate::domain::Role;

use super::gzip::{Gzip, Template};
use super::{count, csrf_field, pager, when, Chrome};

pub struct TeamData {
    pub team_id: String,
    pub found: TeamPage,
    pub q: String,
    pub page: i64,
    pub per_page: i64,
}

/// The invitation refused just now: what was typed, and why.
pub struct InviteError<'a> {
    pub value: &'a str,
    pub error: &'a str,
}

fn source_label(u: &Member) -> &'static str {
    u.role_source.label()
}

fn joined_label(u: &Member) -> &'static str {
    match u.joined_via.as_str() {
        "jit" => "joined on first sign-in",
        "scim" => "provisioned by SCIM",
        "invite" => "joined by invitation",
        "shell" => "added from the shell",
        "demo" => "demo account",
        _ => "joined",
    }
}

/// The team page as sent: HTML, or gzip of it for a browser that takes gzip.
pub enum Encoded {
    Html(String),
    Gzip(Vec<u8>),
}

/// The team page; `gzip` when the browser takes it. Only a page whose rows come from the
/// cache is compressed (its rows were deflated once, see `gzip`): a search result or a page
/// the template refused is sent as HTML.
#[allow(clippy::too_many_arguments)]
pub fn page(
    c: &Chrome<'_>,
    me: i64,
    is_admin: bool,
    provisioning: Provisioning,
    d: &TeamData,
    cache: &RowCache,
    invite: Option<InviteError<'_>>,
    gzip: bool,
) -> Encoded {
    let view = if is_admin {
        View::Admin(provisioning)
    } else {
        View::Member
    };
    // A search result is read fresh each time: nothing to reuse. Other pages' rows are
    // taken from the cache now, so the page's buffer can be sized for them (see `Body`).
    let rendered =
        d.q.is_empty()
            .then(|| cache.get_or_render(&d.team_id, d.page, view, &d.found.rows));
    // A page past the end has no rows, and so no table for the deflated rows to go in.
    let template = rendered
        .as_ref()
        .filter(|_| gzip && fits_placeholder(c.csrf) && !d.found.rows.is_empty())
        .and_then(|r| r.deflated(me, view, d.page));
    let body = Body {
        c,
        d,
        invite,
        rows: Rows {
            rendered,
            deflated: template.is_some(),
            mark_at: Cell::new(None),
            d,
            view,
            me,
            // Every row of an admin's page carries forms: the token's field is rendered once.
            csrf: &csrf_field(c.csrf),
        },
    };
    let html = super::page("Team", Some(c), &body).into_string();
    // Cut where the rows wrote their mark into the page's buffer (no search of 4 KB for it).
    let cut = body.rows.mark_at.get().and_then(|at| {
        let after = html.get(at..)?.strip_prefix(ROWS_MARK)?;
        Some((&html[..at], after))
    });
    let Some((template, (before, after))) = template.zip(cut) else {
        return Encoded::Html(html);
    };
    let mut gz = Gzip::with_capacity(before.len() + after.len() + template.compressed_len() + 64);
    gz.stored(before.as_bytes());
    gz.template(&template, c.csrf.as_bytes());
    gz.stored(after.as_bytes());
    Encoded::Gzip(gz.finish())
}

/// Stands in the deflated rows for the viewer's CSRF token: as long as one (22 characters of
/// base64url), of bytes no token, member data or markup holds, each one once, so a copy the
/// compressor makes from one hole to the next is always of the same place in it.
const PLACEHOLDER: &str =
    "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19";

/// A token the deflated rows can carry: the placeholder's length, and nothing the field's
/// markup would escape (which would change its length).
fn fits_placeholder(token: &str) -> bool {
    token.len() == PLACEHOLDER.len()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where the deflated rows go in a gzip page: the page around it is rendered as usual, then
/// cut here. Nothing else can write it: maud escapes every `<` in data.
const ROWS_MARK: &str = "<!--rows-->";

/// The page's main part, written straight into the page's buffer: its rows are nearly all of
/// the page, and a `html!` block of its own would copy them once more.
struct Body<'a> {
    c: &'a Chrome<'a>,
    d: &'a TeamData,
    invite: Option<InviteError<'a>>,
    rows: Rows<'a>,
}

impl Render for Body<'_> {
    fn render_to(&self, out: &mut String) {
        let Body {
            c,
            d,
            ref invite,
            ref rows,
        } = *self;
        let is_admin = rows.view != View::Member;
        // Room for the rows and what follows them, so the page's buffer grows once: a guess
        // short of a page of 50 admin rows (about 700 bytes each) grew it again, copying the
        // page so far (about 40 KB) on every request.
        out.reserve(rows.bytes() + 8_192);
        html! {
            h1 { (c.team_name) }
            p.muted { (count(d.found.counts.members, "active member", "active members")) ", "
                (count(d.found.counts.admins, "admin", "admins"))
                @if d.found.counts.removed > 0 { ", " (d.found.counts.removed) " removed" } "." }
            form.search method="get" action="/team" role="search" {
                label for="q" { "Search by name or email" }
                input #q type="search" name="q" value=(d.q);
                button type="submit" { "Search" }
            }
        }
        .render_to(out);
        if d.found.rows.is_empty() {
            html! { p.empty { "No member matches." } }.render_to(out);
        } else {
            // Opened and closed by hand so the rows need no buffer of their own.
            out.push_str(r#"<table class="members">"#);
            html! {
                caption.vh { "Team members" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Last sign-in" } th scope="col" { "Status" }
                    @if is_admin { th scope="col" { "Actions" } } } }
            }
            .render_to(out);
            out.push_str("<tbody>");
            rows.render_to(out);
            out.push_str("</tbody></table>");
        }
        let params = if d.q.is_empty() {
            String::new()
        } else {
            format!(
                "q={}",
                url::form_urlencoded::byte_serialize(d.q.as_bytes()).collect::<String>()
            )
        };
        html! {
            (pager("/team", &params, d.page, d.per_page, d.found.total))
            @if let View::Admin(provisioning) = rows.view {
                section.invites {
                    h2 { "Invitations" }
                    @if provisioning == Provisioning::Jit {
                        p.muted { "This team creates accounts on first sign-in (JIT): anyone your identity provider lets in joins as a member. Invitations matter for invite-only teams and for bringing back removed members." }
                    }
                    form method="post" action="/team/invites" {
                        (rows.csrf)
                        label for="invite_email" { "Invite by work email" }
                        @if let Some(e) = invite {
                            input #invite_email type="email" name="email" required value=(e.value)
                                aria-invalid="true" aria-describedby="invite_email_error";
                            (super::form::field_error("invite_email", Some(e.error)))
                        } @else {
                            input #invite_email type="email" name="email" required;
                        }
                        button type="submit" { "Invite" }
                    }
                    @if !d.found.invites.is_empty() {
                        ul {
                            @for i in &d.found.invites {
                                li {
                                    (i.email) " — invited by " (i.invited_by) ", " (when(Some(i.created_at)))
                                    form.inline method="post" action=(format!("/team/invites/{}/cancel", i.id)) {
                                        (rows.csrf)
                                        button.link type="submit" { "Cancel" span.vh { " the invitation of " (i.email) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        .render_to(out);
    }
}

/// What a row shows depends on who looks: admins get the role source and the actions.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum View {
    Member,
    Admin(Provisioning),
}

/// Rendered rows of team list pages (without a search), each kept with the rows it was
/// rendered from. Everyone viewing the same page of the same list version in the same view
/// gets the same rows but for their CSRF token and their own row, so a page is rendered
/// once per list version instead of on every request. The store's page cache hands out the
/// same `Arc` while the list version stands; a different `Arc` means the list changed.
#[derive(Default)]
pub struct RowCache {
    pages: Mutex<HashMap<(String, i64, View), Arc<Rendered>>>,
}

struct Rendered {
    from: Arc<Vec<Member>>,
    /// Per row of `from`: its HTML cut where the viewer's CSRF field goes.
    rows: Vec<Vec<String>>,
    /// The rows' bytes without the CSRF fields, and how many CSRF fields go between them.
    bytes: usize,
    slots: usize,
    /// The rows deflated for gzip pages, made on the first such page: for viewers not on
    /// this page (`None`) and for each viewer on it (whose row says "you"). `None` inside:
    /// the template refused these rows (see `gzip`), so they go as HTML.
    deflated: Mutex<HashMap<Option<i64>, Option<Arc<Template>>>>,
}

/// Deflated variants kept per page at most: one for everyone, and one per viewer on the
/// page (50 at most on a page of 50 rows).
const DEFLATED_VARIANTS: usize = 64;

/// Pages kept at most (each about 30 KB); when full, the cache starts over.
const CACHED_PAGES: usize = 200;

/// Marks the CSRF field's place in a cached row. Member data cannot produce it: maud
/// escapes every `<` in it.
const CSRF_SLOT: &str = "<!--csrf-->";

/// The table's rows, written straight into the page's buffer (which `Body` sized for them):
/// from `cache` when this page of the list is unchanged since it was rendered for the same
/// view, else rendered now.
struct Rows<'a> {
    /// `None` for a search result.
    rendered: Option<Arc<Rendered>>,
    /// The rows go deflated: only their mark is written here, at `mark_at` of the page.
    deflated: bool,
    mark_at: Cell<Option<usize>>,
    d: &'a TeamData,
    view: View,
    me: i64,
    csrf: &'a Markup,
}

impl Rows<'_> {
    /// About how many bytes the rows take: exact for cached rows (the viewer's own row aside),
    /// a generous guess for a search's.
    fn bytes(&self) -> usize {
        match &self.rendered {
            Some(_) if self.deflated => 0,
            Some(r) => r.bytes + r.slots * self.csrf.0.len(),
            None => self.d.found.rows.len() * 900,
        }
    }
}

impl Render for Rows<'_> {
    fn render_to(&self, out: &mut String) {
        let Rows {
            ref rendered,
            deflated,
            ref mark_at,
            d,
            view,
            me,
            csrf,
        } = *self;
        let back = Back {
            q: &d.q,
            page: d.page,
        };
        let Some(rendered) = rendered else {
            for u in d.found.rows.iter() {
                row(u, Some(me), view, csrf, back).render_to(out);
            }
            return;
        };
        if deflated {
            mark_at.set(Some(out.len()));
            out.push_str(ROWS_MARK);
            return;
        }
        for (u, parts) in rendered.from.iter().zip(&rendered.rows) {
            if u.id == me {
                row(u, Some(me), view, csrf, back).render_to(out);
                continue;
            }
            let mut parts = parts.iter();
            if let Some(first) = parts.next() {
                out.push_str(first);
            }
            for part in parts {
                out.push_str(&csrf.0);
                out.push_str(part);
            }
        }
    }
}

impl RowCache {
    fn get_or_render(
        &self,
        team: &str,
        page: i64,
        view: View,
        from: &Arc<Vec<Member>>,
    ) -> Arc<Rendered> {
        let key = (team.to_string(), page, view);
        {
            let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = pages.get(&key).filter(|r| Arc::ptr_eq(&r.from, from)) {
                return r.clone();
            }
        }
        let rows: Vec<Vec<String>> = from.iter().map(|u| cut_row(u, None, view, page)).collect();
        let rendered = Arc::new(Rendered {
            from: from.clone(),
            bytes: rows.iter().flatten().map(String::len).sum(),
            slots: rows.iter().map(|parts| parts.len().saturating_sub(1)).sum(),
            rows,
            deflated: Mutex::default(),
        });
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= CACHED_PAGES {
            pages.clear();
        }
        pages.insert(key, rendered.clone());
        rendered
    }
}

/// A row of a cached page (`me`: the viewer's own), cut where the CSRF field goes.
fn cut_row(u: &Member, me: Option<i64>, view: View, page: i64) -> Vec<String> {
    let slot = PreEscaped(CSRF_SLOT.to_string());
    // Cached pages are those without a search: the way back is the page alone.
    let back = Back { q: "", page };
    let html = row(u, me, view, &slot, back).0;
    html.split(CSRF_SLOT).map(str::to_string).collect()
}

impl Rendered {
    /// These rows deflated for `me`'s gzip page (made now if they were not yet).
    fn deflated(&self, me: i64, view: View, page: i64) -> Option<Arc<Template>> {
        let key = self.from.iter().any(|u| u.id == me).then_some(me);
        if let Some(t) = self.variants().get(&key) {
            return t.clone();
        }
        // Deflated outside the lock (about a millisecond, once per list version and page):
        // two viewers arriving together may both do it, and one result is kept.
        let t = self.deflate(key, view, page).map(Arc::new);
        if t.is_none() {
            tracing::debug!("team rows refused by the gzip template; sent as HTML");
        }
        let mut variants = self.variants();
        if variants.len() >= DEFLATED_VARIANTS {
            variants.clear();
        }
        variants.insert(key, t.clone());
        t
    }

    fn variants(&self) -> std::sync::MutexGuard<'_, HashMap<Option<i64>, Option<Arc<Template>>>> {
        self.deflated.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rows' HTML with the placeholder where each CSRF token goes (`me`'s own row as
    /// theirs), deflated.
    fn deflate(&self, me: Option<i64>, view: View, page: i64) -> Option<Template> {
        let field = csrf_field(PLACEHOLDER).0;
        let (before, after) = field.split_once(PLACEHOLDER)?;
        let mut text = String::with_capacity(self.bytes + self.slots * field.len() + 1024);
        let mut holes = Vec::with_capacity(self.slots + 4);
        for (u, parts) in self.from.iter().zip(&self.rows) {
            let own;
            let parts = if me == Some(u.id) {
                own = cut_row(u, me, view, page);
                &own
            } else {
                parts
            };
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    text.push_str(before);
                    holes.push(text.len());
                    text.push_str(PLACEHOLDER);
                    text.push_str(after);
                }
                text.push_str(part);
            }
        }
        Template::build(text.as_bytes(), &holes, PLACEHOLDER.as_bytes())
    }
}

/// The list the row's forms lead back to: its search and page.
#[derive(Clone, Copy)]
struct Back<'a> {
    q: &'a str,
    page: i64,
}

impl Back<'_> {
    fn fields(self) -> Markup {
        html! {
            @if !self.q.is_empty() { input type="hidden" name="back_q" value=(self.q); }
            @if self.page > 1 { input type="hidden" name="back_page" value=(self.page); }
        }
    }

    fn query(self) -> String {
        let s = super::list_query(self.q, self.page);
        if s.is_empty() {
            s
        } else {
            format!("?{s}")
        }
    }
}

/// One member's row; `me` marks the viewer's own row. The stacked layout of narrow screens
/// names each cell's column from the stylesheet (by its place in the row), not from an
/// attribute repeated on every cell of 50 rows.
fn row(u: &Member, me: Option<i64>, view: View, csrf: &Markup, back: Back<'_>) -> Markup {
    let is_admin = view != View::Member;
    html! {
        tr data-user-id=(u.id) {
            td { (u.display_name()) @if Some(u.id) == me { " " span.badge { "you" } } }
            td { (u.email) }
            td { (u.role) @if is_admin { small { (source_label(u)) ", " (joined_label(u)) } } }
            td { @if u.provisioned_not_signed_in() { "provisioned, not signed in yet" } @else { (when(u.last_login_at)) } }
            td { @if u.active { "active" } @else { "removed" } }
            @if let View::Admin(provisioning) = view { td { (actions(csrf, u, provisioning, back)) } }
        }
    }
}

// A page holds 50 of these: they are written lean (the style comes from `table.members td
// form` and `td small`, a button in a form submits it by default), which keeps the page small.
// Each button names whom it acts on (visually hidden), as a screen reader lists them alone;
// an empty `data-confirm` asks that name as the question ("Remove Ada Lovelace?").
fn actions(csrf: &Markup, u: &Member, provisioning: Provisioning, back: Back<'_>) -> Markup {
    let name = u.display_name();
    html! {
        @if u.active {
            form method="post" action={ "/team/members/" (u.id) "/role" } {
                (csrf) (back.fields())
                @if u.role == Role::Admin {
                    input type="hidden" name="role" value="member";
                    button { "Make member" span.vh { ": " (name) } }
                } @else {
                    input type="hidden" name="role" value="admin";
                    button { "Make admin" span.vh { ": " (name) } }
                }
            }
            a.button.danger data-confirm href={ "/team/members/" (u.id) "/remove/confirm" (back.query()) } { "Remove" span.vh { " " (name) } }
            a.button data-confirm href={ "/team/members/" (u.id) "/sessions/revoke/confirm" (back.query()) } { "End sessions" span.vh { " of " (name) } }
        } @else {
            form method="post" action={ "/team/members/" (u.id) "/restore" } {
                (csrf) (back.fields())
                button { "Restore" span.vh { " " (name) } }
            }
            @if provisioning == Provisioning::Invite {
                small { "or invite them again" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::team_list::Counts;
    use crate::domain::RoleSource;

    fn member(id: i64, name: &str, role: Role, active: bool) -> Member {
        Member {
            id,
            email: format!("{}@example.test", name.to_lowercase()),
            name: name.into(),
            role,
            role_source: RoleSource::Manual,
            joined_via: "jit".into(),
            active,
            last_login_at: Some(1_795_435_199),
        }
    }

    fn data(rows: &Arc<Vec<Member>>, q: &str) -> TeamData {
        TeamData {
            team_id: "acme".into(),
            found: TeamPage {
                counts: Counts {
                    members: 3,
                    admins: 1,
                    removed: 1,
                    list_version: 1,
                },
                rows: rows.clone(),
                total: rows.len() as i64,
                invites: Vec::new(),
            },
            q: q.into(),
            page: 1,
            per_page: 50,
        }
    }

    /// The rows as rendered now: an empty cache has nothing to reuse.
    fn fresh(rows: &Arc<Vec<Member>>, view: View, me: i64, csrf: &str) -> String {
        let cache = RowCache::default();
        rows_html(&cache, &data(rows, ""), view, me, csrf)
    }

    fn rows_html(cache: &RowCache, d: &TeamData, view: View, me: i64, csrf: &str) -> String {
        let csrf = &csrf_field(csrf);
        let rendered =
            d.q.is_empty()
                .then(|| cache.get_or_render(&d.team_id, d.page, view, &d.found.rows));
        Rows {
            rendered,
            deflated: false,
            mark_at: Cell::new(None),
            d,
            view,
            me,
            csrf,
        }
        .render()
        .0
    }

    fn gunzip(body: &[u8]) -> String {
        use std::io::Read;
        let mut out = String::new();
        flate2::read::GzDecoder::new(body)
            .read_to_string(&mut out)
            .expect("valid gzip of UTF-8 with a matching CRC and length");
        out
    }

    fn whole_page(
        cache: &RowCache,
        d: &TeamData,
        me: i64,
        admin: bool,
        csrf: &str,
        gzip: bool,
    ) -> Encoded {
        let c = Chrome {
            team_name: "Acme",
            user_name: "Ada",
            user_email: "ada@example.test",
            is_admin: admin,
            csrf,
            current: "/team",
            break_glass: false,
            flash: Some("Saved."),
            refusal: None,
        };
        page(&c, me, admin, Provisioning::Jit, d, cache, None, gzip)
    }

    #[test]
    fn a_gzip_page_is_the_html_page_compressed_for_every_viewer_and_token() {
        let list: Arc<Vec<Member>> = Arc::new(
            (1..=50)
                .map(|i| {
                    member(
                        i,
                        &format!("Member{i:02}"),
                        if i % 7 == 0 {
                            Role::Admin
                        } else {
                            Role::Member
                        },
                        i % 11 != 0,
                    )
                })
                .collect(),
        );
        let d = data(&list, "");
        let cache = RowCache::default();
        for (me, admin) in [(7, true), (14, true), (500, true), (3, false), (500, false)] {
            for csrf in ["AAAAAAAAAAAAAAAAAAAAAA", "q-9_zKPlTxn0is8JhG4u_M"] {
                let Encoded::Html(html) = whole_page(&cache, &d, me, admin, csrf, false) else {
                    panic!("HTML was asked for");
                };
                let Encoded::Gzip(gz) = whole_page(&cache, &d, me, admin, csrf, true) else {
                    panic!("a cached page with a base64url token of 22 goes as gzip");
                };
                assert_eq!(gunzip(&gz), html, "viewer {me}, admin {admin}");
                // The page's own parts go uncompressed; the rows, nearly all of it, do not.
                assert!(
                    html.contains(csrf) && gz.len() * 2 < html.len(),
                    "{} of {}",
                    gz.len(),
                    html.len()
                );
            }
        }
        // A search's rows are not cached, and a token the placeholder cannot stand for is
        // not put in deflated rows: both go as HTML.
        let searched = data(&list, "Member0");
        assert!(matches!(
            whole_page(&cache, &searched, 7, true, "AAAAAAAAAAAAAAAAAAAAAA", true),
            Encoded::Html(_)
        ));
        assert!(matches!(
            whole_page(&cache, &d, 7, true, "short", true),
            Encoded::Html(_)
        ));
        assert!(matches!(
            whole_page(&cache, &d, 7, true, "AAAAAAAAAAAAAAAAAAAA\"\"", true),
            Encoded::Html(_)
        ));
    }

    #[test]
    fn cached_rows_are_the_viewers_own_and_follow_the_list() {
        let list = Arc::new(vec![
            member(1, "Ada <Admin>", Role::Admin, true),
            member(2, "Bo", Role::Member, true),
            member(3, "Cy", Role::Member, false),
        ]);
        let cache = RowCache::default();
        for view in [
            View::Admin(Provisioning::Jit),
            View::Admin(Provisioning::Invite),
            View::Member,
        ] {
            // Two viewers, one after the other, on the same cached page: each gets their own
            // token and their own "you" badge, and exactly what a fresh render gives.
            for (me, csrf) in [(1, "token-of-ada"), (2, "token-of-bo")] {
                let got = rows_html(&cache, &data(&list, ""), view, me, csrf);
                assert_eq!(got, fresh(&list, view, me, csrf));
                assert_eq!(got.matches("badge\">you").count(), 1);
                if view == View::Member {
                    assert!(!got.contains("csrf_token"));
                } else {
                    assert!(got.contains(&format!("value=\"{csrf}\"")));
                    assert!(!got.contains(CSRF_SLOT));
                }
            }
        }
        // A search is rendered fresh, its forms leading back to the search.
        let searched = rows_html(
            &cache,
            &data(&list, "b o"),
            View::Admin(Provisioning::Jit),
            1,
            "t",
        );
        assert!(
            searched.contains("name=\"back_q\" value=\"b o\""),
            "{searched}"
        );
        assert!(searched.contains("/remove/confirm?q=b+o\""), "{searched}");
        assert!(
            rows_html(&cache, &data(&list, ""), View::Member, 2, "t").contains("Ada &lt;Admin&gt;")
        );

        // A changed list comes from the store as a new `Arc`: the rows are rendered again.
        let changed = Arc::new(vec![
            member(1, "Ada <Admin>", Role::Admin, true),
            member(2, "Bo", Role::Admin, true),
            member(3, "Cy", Role::Member, true),
        ]);
        let view = View::Admin(Provisioning::Jit);
        let got = rows_html(&cache, &data(&changed, ""), view, 1, "t");
        assert_eq!(got, fresh(&changed, view, 1, "t"));
        assert_ne!(
            got,
            rows_html(&RowCache::default(), &data(&list, ""), view, 1, "t")
        );
    }
}
