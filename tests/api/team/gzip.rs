//! `/team` in gzip for a browser that takes it: the same page, byte for byte, as the HTML
//! sent to one that does not, with the viewer's own CSRF token in its forms, and `Vary` on
//! both so no cache hands one to the other.

use std::io::Read;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use reqwest::{Client, StatusCode};

use super::Portal;
use crate::helpers::csrf_in;

/// `/team` asked for with `accept` as `Accept-Encoding`: its `Content-Encoding` (if any) and
/// the page, gunzipped when it came in gzip.
async fn team(p: &Portal, client: &Client, path: &str, accept: &str) -> (Option<String>, String) {
    let resp = client
        .get(p.app.url(path))
        .header(ACCEPT_ENCODING, accept)
        .send()
        .await
        .expect("GET /team");
    assert_eq!(resp.status(), StatusCode::OK, "{path} opens");
    let header = |name| {
        resp.headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().expect("ASCII").to_string())
    };
    assert_eq!(header(VARY).as_deref(), Some("Accept-Encoding"), "{path}");
    let encoding = header(CONTENT_ENCODING);
    let bytes = resp.bytes().await.expect("body");
    let html = match encoding.as_deref() {
        Some("gzip") => {
            let mut html = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut html)
                .expect("a whole gzip stream of UTF-8 (its CRC checked)");
            html
        }
        None => String::from_utf8(bytes.to_vec()).expect("UTF-8"),
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    };
    (encoding, html)
}

#[actix_web::test]
async fn a_browser_taking_gzip_gets_the_same_page_compressed_and_its_forms_work() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let bob_id = p.id("acme", "bob@acme.test");
    let chromium = "gzip, deflate, br, zstd";

    for (who, client) in [("alice", &alice), ("bob", &bob)] {
        // Twice: the first render fills the caches, the second is served from them.
        for round in 0..2 {
            let (plain_enc, plain) = team(&p, client, "/team", "identity").await;
            let (gz_enc, unzipped) = team(&p, client, "/team", chromium).await;
            assert_eq!(plain_enc, None, "{who} {round}: identity gets HTML");
            assert_eq!(gz_enc.as_deref(), Some("gzip"), "{who} {round}");
            assert_eq!(unzipped, plain, "{who} {round}: the same page");
            assert_eq!(csrf_in(&unzipped), p.app.csrf(client, "/team").await);
        }
    }
    // Each viewer's page carries only their own token.
    let (_, alice_page) = team(&p, &alice, "/team", "gzip").await;
    let (_, bob_page) = team(&p, &bob, "/team", "gzip").await;
    assert!(!alice_page.contains(&csrf_in(&bob_page)));
    assert!(alice_page.contains(&format!("/team/members/{bob_id}/role")));

    // No gzip when the browser refuses it, and none for a search (read fresh each time).
    assert_eq!(team(&p, &alice, "/team", "gzip;q=0").await.0, None);
    assert_eq!(team(&p, &alice, "/team", "").await.0, None);
    let (enc, found) = team(&p, &alice, "/team?q=bob", chromium).await;
    assert_eq!(enc, None);
    assert!(found.contains("bob@acme.test"));

    // The token in the compressed page is the session's: a role change made with it works.
    let token = csrf_in(&alice_page);
    let resp = alice
        .post(p.app.url(&format!("/team/members/{bob_id}/role")))
        .form(&[("csrf_token", token.as_str()), ("role", "admin")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(p.role("acme", "bob@acme.test").0, "admin");
    // The page after it says so once (the flash), compressed too; then both agree again.
    let (enc, after) = team(&p, &alice, "/team", chromium).await;
    assert_eq!(enc.as_deref(), Some("gzip"));
    assert!(after.contains("Bob is now an admin."), "the flash");
    assert!(super::row(&after, bob_id).contains("Make member"));
    let (_, plain_after) = team(&p, &alice, "/team", "identity").await;
    let (_, gz_after) = team(&p, &alice, "/team", chromium).await;
    assert_eq!(gz_after, plain_after);
    assert!(!gz_after.contains("Bob is now an admin."), "said once");
}

#[actix_web::test]
async fn a_page_past_the_end_of_the_list_is_answered_to_a_browser_taking_gzip() {
    // A bookmark of page 2 kept from when the team was larger: no rows, so no table for the
    // compressed rows to go in; the page says so, as it does in HTML.
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let chromium = "gzip, deflate, br, zstd";
    for _ in 0..2 {
        let (_, gz) = team(&p, &alice, "/team?page=2", chromium).await;
        let (_, plain) = team(&p, &alice, "/team?page=2", "identity").await;
        assert_eq!(gz, plain);
        assert!(gz.contains("No member matches."), "{gz}");
    }
    // The first page still comes compressed.
    assert_eq!(
        team(&p, &alice, "/team", chromium).await.0.as_deref(),
        Some("gzip")
    );
}

#[actix_web::test]
async fn the_compressed_rows_are_only_the_viewers_team_and_an_anonymous_visitor_gets_none() {
    // Two teams viewed in turn through the same caches: each gunzipped page lists its own
    // team alone, and a visitor without a session gets the sign-in redirect, not a page.
    let p = Portal::start(&[
        ("acme", "admin_email = \"alice@acme.test\""),
        ("globex", "admin_email = \"hank@globex.test\""),
    ])
    .await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let _bob = p.sign_in("acme", "bob@acme.test").await;
    let hank = p.sign_in("globex", "hank@globex.test").await;
    let chromium = "gzip, deflate, br, zstd";
    for _ in 0..2 {
        let (enc, acme) = team(&p, &alice, "/team", chromium).await;
        assert_eq!(enc.as_deref(), Some("gzip"));
        assert!(acme.contains("bob@acme.test") && !acme.contains("globex.test"));
        let (enc, globex) = team(&p, &hank, "/team", chromium).await;
        assert_eq!(enc.as_deref(), Some("gzip"));
        assert!(globex.contains("hank@globex.test") && !globex.contains("acme.test"));
    }
    let anonymous = crate::helpers::browser();
    let resp = anonymous
        .get(p.app.url("/team"))
        .header(ACCEPT_ENCODING, chromium)
        .send()
        .await
        .expect("GET /team");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers().get(CONTENT_ENCODING), None);
    assert!(!resp.text().await.expect("body").contains("acme.test"));
}
