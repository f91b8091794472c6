//! Refused page forms come back as the form, with their status, what was typed and the
//! reason next to the field: the SSO settings form (its client secret never sent back) and
//! the break-glass password sign-in.

use reqwest::StatusCode;

use crate::helpers::browser;
use crate::settings::{post_settings, shell_team_app};

#[actix_web::test]
async fn a_refused_sso_settings_save_keeps_what_was_typed_names_the_fields_and_saves_nothing() {
    let (app, idp, _) = shell_team_app("").await;
    let admin = browser();
    idp.sign_in(&app, &admin, "shellco", "a", "alice@shell.test")
        .await;
    let audit_before = app.count("SELECT count(*) FROM audit");
    let fields = [
        ("issuer", "not a url".to_string()),
        ("client_id", " ".to_string()),
        ("client_secret", "typed-but-refused-secret".to_string()),
        ("provisioning", "invite".to_string()),
        ("admin_groups", "ops, eng".to_string()),
        ("trust_email", "on".to_string()),
    ];
    let r = post_settings(&app, &admin, &fields).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("id=\"save-and-test\""),
        "the form, not an error page: {page}"
    );
    assert!(
        page.contains(
            "id=\"issuer\" name=\"issuer\" type=\"url\" required value=\"not a url\" aria-invalid=\"true\" aria-describedby=\"issuer_error\""
        ),
        "{page}"
    );
    assert!(
        page.contains("id=\"issuer_error\" role=\"alert\">Issuer &quot;not a url&quot;"),
        "{page}"
    );
    assert!(
        page.contains("aria-describedby=\"client_id_error\""),
        "{page}"
    );
    assert!(
        page.contains("id=\"client_id_error\" role=\"alert\">Client ID is required."),
        "{page}"
    );
    assert!(
        page.contains("value=\"invite\" selected"),
        "provisioning kept: {page}"
    );
    assert!(page.contains("value=\"ops, eng\""), "groups kept: {page}");
    assert!(
        page.contains("name=\"trust_email\" value=\"on\" checked"),
        "checkbox kept: {page}"
    );
    // The secret is never sent back; the page says to type it again.
    assert!(!page.contains("typed-but-refused-secret"));
    assert!(page.contains("id=\"client_secret_error\""), "{page}");
    assert!(page.contains("aria-describedby=\"client_secret_error\""));
    assert_eq!(
        app.count("SELECT count(*) FROM sso_pending"),
        0,
        "nothing saved"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sso_logins"),
        0,
        "no test sign-in"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit"),
        audit_before,
        "nothing audited"
    );

    // Apply with nothing tested: 409, the page with the reason at the form.
    let r = app.post_csrf(&admin, "/settings/sso/apply", &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.expect("body");
    assert!(page.contains("id=\"save-and-test\""), "{page}");
    assert!(
        page.contains("class=\"banner warn\" id=\"edit_error\" role=\"alert\">Save and test the new settings first"),
        "{page}"
    );
    assert_eq!(app.count("SELECT count(*) FROM audit"), audit_before);
}

#[actix_web::test]
async fn a_refused_break_glass_sign_in_is_the_login_form_open_with_the_team_and_email_kept() {
    let (app, idp, cfg) = shell_team_app("password_login = true\n").await;
    let admin = browser();
    idp.sign_in(&app, &admin, "shellco", "a", "alice@shell.test")
        .await;
    let out = crate::settings::teamportal(&cfg)
        .args([
            "admin",
            "set-password",
            "alice@shell.test",
            "--team",
            "shellco",
        ])
        .env("TEAMPORTAL_PASSWORD", "correct horse battery staple")
        .output()
        .expect("set-password");
    assert!(out.status.success());
    let c = browser();
    let post = |team: &'static str, email: &'static str, password: &'static str| {
        let (app, c) = (&app, &c);
        async move {
            let token = app.csrf(c, "/login").await;
            let form = [
                ("csrf_token", token.as_str()),
                ("team_id", team),
                ("email", email),
                ("password", password),
            ];
            let r = app.post(c, "/login/password", &form).await;
            (r.status(), r.text().await.expect("body"))
        }
    };

    let (status, page) = post("Not A Team!", "alice@shell.test", "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("<details class=\"break-glass\" open>"),
        "{page}"
    );
    assert!(
        page.contains(
            "value=\"Not A Team!\" aria-invalid=\"true\" aria-describedby=\"pw_team_error\""
        ),
        "{page}"
    );
    assert!(
        page.contains("id=\"pw_team_error\" role=\"alert\">The Team ID is not valid"),
        "{page}"
    );
    assert!(
        page.contains("value=\"alice@shell.test\""),
        "the email kept"
    );

    let (status, page) = post("shellco", "not-an-email", "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("aria-describedby=\"pw_email_error\""),
        "{page}"
    );
    assert!(page.contains("value=\"shellco\"") && page.contains("value=\"not-an-email\""));

    let (status, page) = post("shellco", "alice@shell.test", "a wrong guess").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("aria-describedby=\"pw_password_error\""),
        "{page}"
    );
    assert!(page.contains("The Team ID, email or password is not right."));
    assert!(
        !page.contains("a wrong guess"),
        "the password is never sent back"
    );
    assert_eq!(
        app.get(&c, "/team").await.status(),
        StatusCode::SEE_OTHER,
        "not signed in"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'password_sign_in_failed'"),
        1,
        "only the checked attempt is counted"
    );
}
