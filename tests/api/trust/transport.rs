//! A request body must arrive within the deadline after its headers (10 s; 1 s here), or
//! the request answers 408 and the connection is closed.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::spawn_app_tuned;

const STATE: &str = "SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM sso_logins) \
                     + (SELECT count(*) FROM audit)";

#[actix_web::test]
async fn a_body_short_of_its_content_length_is_cut_off_at_the_deadline_with_408_and_a_close() {
    let app = spawn_app_tuned(tempfile::tempdir().expect("tempdir"), "", |s, _| {
        s.server.body_timeout = Duration::from_secs(1)
    })
    .await;
    assert_eq!(teamportal::config::BODY_TIMEOUT, Duration::from_secs(10));
    let before = app.count(STATE);

    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let started = Instant::now();
    conn.write_all(
        b"POST /login/sso HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
          team_id=ac",
    )
    .await
    .expect("send head and 10 bytes");
    // The other 90 bytes never come. The server answers and closes: read to the end.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), conn.read_to_end(&mut answer)).await;
    let waited = started.elapsed();
    assert!(read.is_ok(), "the connection was closed within 15 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        waited >= Duration::from_millis(900),
        "not before the deadline: {waited:?}"
    );
    assert_eq!(app.count(STATE), before, "nothing was stored");

    // A body that arrives in time is read as before.
    let r = reqwest::Client::new()
        .post(app.url("/login/sso"))
        .form(&[("team_id", "acme")])
        .send()
        .await
        .expect("POST");
    assert_ne!(r.status().as_u16(), 408);
}
