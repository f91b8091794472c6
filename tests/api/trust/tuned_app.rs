//! The app as `spawn_app` starts it, with settings the config file cannot set (internal
//! timings) changed first.

use std::net::TcpListener;

use teamportal::app::{Application, Extras};
use teamportal::config::{self, Settings};

use crate::helpers::TestApp;

pub async fn spawn_tuned(extra: &str, tune: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let db_path = dir.path().join("portal.db");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\nworkers = 1\n\
         [database]\npath = {:?}\n{extra}",
        db_path.display().to_string()
    );
    let raw = config::parse(&text).expect("test config parses");
    let mut settings = config::validate(raw, dir.path(), &|_| None).expect("test config is valid");
    tune(&mut settings);
    let app = Application::build_with(
        settings,
        Extras {
            listener: Some(listener),
            ..Extras::default()
        },
    )
    .expect("app builds");
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        dir,
        db_path,
    }
}
