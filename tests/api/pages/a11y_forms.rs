//! A refused form in headless Chromium: the demo's browser-managed team's SSO settings sent
//! with an issuer that is not https come back with what was typed, the reason beside the
//! field, and no serious or critical axe-core violation, light and dark (screenshots in
//! `target/screenshots/`).

use super::a11y::{axe, axe_source, open, shoot, sign_in_to, sign_out, start_demo};

#[actix_web::test]
async fn in_the_browser_a_refused_sso_settings_form_keeps_the_input_and_names_the_field() {
    let demo = start_demo();
    let axe_src = axe_source();
    let mut violations = Vec::new();
    for (theme, dark) in [("light", false), ("dark", true)] {
        let b = open(dark).await;
        let mut seen = Vec::new();
        sign_in_to(
            &b,
            &demo,
            "demo-lab",
            "demo-admin",
            &axe_src,
            theme,
            &mut seen,
        )
        .await;
        b.client
            .goto(&demo.url("/settings/sso"))
            .await
            .expect("goto");
        let issuer = b.wait_for("#issuer").await.expect("an editable team");
        issuer.clear().await.expect("clear");
        issuer
            .send_keys("http://example.com/oauth2")
            .await
            .expect("type");
        let typed = [
            ("#client_secret", "typed-in-the-browser"),
            ("#admin_groups", "lab-admins"),
        ];
        for (field, value) in typed {
            let input = b.wait_for(field).await.expect("field");
            input.send_keys(value).await.expect("type");
        }
        b.click("#save-and-test").await;
        let said = b.text_of("#issuer_error").await;
        assert!(said.contains("must be https"), "{said}");
        let issuer = b.wait_for("#issuer").await.expect("the form again");
        let attr = |name: &'static str| {
            let issuer = issuer.clone();
            async move { issuer.attr(name).await.expect("attr").unwrap_or_default() }
        };
        assert_eq!(attr("aria-describedby").await, "issuer_error");
        assert_eq!(attr("aria-invalid").await, "true");
        let value = |css: &'static str| {
            let b = &b;
            async move {
                let field = b.wait_for(css).await.expect("field");
                field
                    .prop("value")
                    .await
                    .expect("value")
                    .unwrap_or_default()
            }
        };
        assert_eq!(value("#issuer").await, "http://example.com/oauth2");
        assert!(value("#admin_groups").await.ends_with("lab-admins"));
        assert_eq!(
            value("#client_secret").await,
            "",
            "the secret is not sent back"
        );
        let note = b.text_of("#client_secret_error").await;
        assert!(note.contains("type it again"), "{note}");
        assert_eq!(
            demo.one("SELECT count(*) FROM sso_pending"),
            0,
            "nothing saved"
        );
        for v in axe(&b, &axe_src).await {
            violations.push(format!("{theme} refused settings: {v}"));
        }
        shoot(&b, &format!("labadmin-sso-settings-refused-{theme}")).await;
        sign_out(&b, &demo).await;
        b.close().await.expect("close");
    }
    assert_eq!(
        violations,
        Vec::<String>::new(),
        "no serious or critical violation"
    );
}
