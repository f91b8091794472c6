//! The command line: `serve`, `check-config`, `backup`, `demo`, `healthcheck` and `admin`
//! recovery tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::Application;
use crate::config::{self, LoadError, Overrides, Settings};
use crate::store::{self, StoreError};

mod admin;
mod backup;
use admin::admin;
pub use admin::NewTeam;
use backup::backup;

#[derive(Debug, Parser)]
#[command(
    name = "teamportal",
    version,
    about = "Self-hosted team portal with corporate SSO"
)]
pub struct Cli {
    /// Config file (TOML); without one, embedded defaults are used.
    #[arg(long, global = true, env = "TEAMPORTAL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the portal.
    Serve(ServeArgs),
    /// Validate the config file and explain every problem.
    CheckConfig,
    /// Write a consistent copy of the live database to DEST.
    Backup { dest: PathBuf },
    /// Try teamportal: a demo team and a built-in demo identity provider on loopback.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The demo's own database file.
        #[arg(long, default_value = "teamportal-demo.db")]
        database: PathBuf,
    },
    /// Exit 0 when the local server's /healthz answers 200, else 1 (container and systemd
    /// health checks). Reads the listen address from the config; opens no database.
    Healthcheck,
    /// Recovery from the shell.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// `serve`'s flags: they win over `TEAMPORTAL_*` variables and the config file.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (overrides server.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The database file (overrides database.path).
    #[arg(long, value_name = "FILE")]
    pub database: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// List teams and their admins.
    List,
    /// Make an existing member an admin (when every admin is locked out).
    Promote {
        /// The member's work email.
        email: String,
        /// The Team ID.
        #[arg(long)]
        team: String,
    },
    /// Give an existing admin a break-glass password (read from stdin, or TEAMPORTAL_PASSWORD).
    /// It works only while `[security] password_login = true`.
    SetPassword {
        /// The admin's work email.
        email: String,
        /// The Team ID.
        #[arg(long)]
        team: String,
    },
    /// Create a team whose SSO settings are then managed in the browser (/settings/sso).
    /// The client secret is read from TEAMPORTAL_CLIENT_SECRET or stdin, never argv.
    CreateTeam(NewTeam),
    /// Create a shared API token for automation; prints the secret once.
    CreateToken {
        /// The Team ID.
        #[arg(long)]
        team: String,
        /// The token's name, as `/tokens` lists it (1-64 characters).
        #[arg(long)]
        name: String,
        /// Email of the member recorded as creator (default: the first admin).
        #[arg(long)]
        creator: Option<String>,
        /// Days until the token stops verifying (1-3650; default: never).
        #[arg(long, allow_negative_numbers = true)]
        expires_in_days: Option<i64>,
    },
    /// Create the team's SCIM bearer token (Okta / Entra ID provisioning); prints it once.
    /// The team's previous SCIM token stops working.
    CreateScimToken {
        /// The Team ID.
        #[arg(long)]
        team: String,
    },
    /// Give a browser-managed team its email domains (replacing its list; none clears it).
    /// Work-email sign-ins with these domains then go to that team's identity provider.
    SetDomains {
        /// The team's ID.
        id: String,
        /// The domains, such as acme.com (none: the team has no email domain).
        domains: Vec<String>,
    },
    /// Remove an admin's break-glass password.
    ClearPassword {
        /// The admin's work email.
        email: String,
        /// The Team ID.
        #[arg(long)]
        team: String,
    },
}

impl AdminCommand {
    /// The existing team the command acts on, when it acts on one.
    pub fn team(&self) -> Option<&str> {
        match self {
            AdminCommand::Promote { team, .. }
            | AdminCommand::SetPassword { team, .. }
            | AdminCommand::CreateToken { team, .. }
            | AdminCommand::CreateScimToken { team }
            | AdminCommand::ClearPassword { team, .. } => Some(team),
            AdminCommand::SetDomains { id, .. } => Some(id),
            AdminCommand::List | AdminCommand::CreateTeam(_) => None,
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    private_files();
    let path = cli.config.as_deref();
    match cli.command {
        Command::CheckConfig => check_config(path),
        Command::Serve(args) => {
            let overrides = Overrides {
                listen: args.listen,
                database: args.database,
            };
            with_settings(path, &overrides, |s| serve(path, s))
        }
        Command::Backup { dest } => {
            with_settings(path, &Overrides::default(), |s| backup(s, &dest))
        }
        Command::Demo { listen, database } => {
            // The demo has no config file; RUST_LOG still chooses the level.
            if let Some(p) = path {
                eprintln!(
                    "teamportal demo: {} is not read: the demo has its own settings (--listen, --database)",
                    p.display()
                );
            }
            let mut errors = Vec::new();
            let log = config::check_log(
                &config::RawLog::default(),
                &|n| std::env::var(n).ok(),
                &mut errors,
            );
            if let Some(e) = errors.first() {
                eprintln!("teamportal: {e}");
                return ExitCode::from(1);
            }
            with_logging(&log, || demo(listen, database))
        }
        Command::Healthcheck => {
            with_settings(path, &Overrides::default(), |s| crate::healthcheck::run(&s))
        }
        Command::Admin(cmd) => with_settings(path, &Overrides::default(), |s| admin(s, cmd)),
    }
}

/// The database, its WAL and SHM, the instance key and backups hold secrets (sealed tokens,
/// session keys): set before any command creates a file, the umask makes them 0600 (and
/// directories 0700) whatever the caller's umask was.
fn private_files() {
    use nix::sys::stat::{umask, Mode};
    umask(Mode::from_bits_truncate(0o077));
}

/// Runs `f` with the logger installed; the guard outlives it, so queued access-log lines
/// are written before the process exits.
fn with_logging(log: &config::LogSettings, f: impl FnOnce() -> ExitCode) -> ExitCode {
    match crate::logging::init(log) {
        Ok(_guard) => f(),
        Err(e) => {
            eprintln!("teamportal: {e}");
            ExitCode::from(1)
        }
    }
}

fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Settings, ExitCode> {
    config::load(path, overrides).map_err(|e| {
        match e {
            LoadError::Invalid(errors) => {
                eprintln!("teamportal: the config has {} error(s):", errors.len());
                for err in errors {
                    eprintln!("{err}");
                }
            }
            other => eprintln!("teamportal: {other}"),
        }
        ExitCode::from(1)
    })
}

fn with_settings(
    path: Option<&Path>,
    overrides: &Overrides,
    f: impl FnOnce(Settings) -> ExitCode,
) -> ExitCode {
    match load(path, overrides) {
        Ok(s) => {
            let log = s.log.clone();
            with_logging(&log, || f(s))
        }
        Err(code) => code,
    }
}

fn check_config(path: Option<&Path>) -> ExitCode {
    match config::load(path, &Overrides::default()) {
        Ok(s) => {
            // An unreadable database (permissions, not a teamportal database) leaves only
            // this cross-check undone: the config itself may be fine, and `serve` reports a
            // database it cannot open on its own.
            let collisions = match stored_domain_collisions(&s) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!(
                        "teamportal: warning: could not check email domains against the teams stored in {}: {e}; skipped",
                        s.database.display()
                    );
                    Vec::new()
                }
            };
            if !collisions.is_empty() {
                for c in collisions {
                    // One of the two is the file's team: the key is its place in the file.
                    let place = |id: &str| s.teams.iter().position(|t| t.id.as_str() == id);
                    let (at, mine, stored) = match place(&c.first) {
                        Some(i) => (Some(i), &c.first, &c.second),
                        None => (place(&c.second), &c.second, &c.first),
                    };
                    let key = at.map_or("teams.email_domains".to_string(), |i| {
                        format!("teams[{i}].email_domains")
                    });
                    println!(
                        "{key} = {:?}: team {mine:?} claims it, and so does the browser-managed team {stored:?} stored in {}; a domain may belong to one team only",
                        c.domain,
                        s.database.display()
                    );
                }
                return ExitCode::from(1);
            }
            println!(
                "config OK: {} team(s), listening on {}, public URL {}, database {}",
                s.teams.len(),
                s.server.listen,
                s.server.base(),
                s.database.display()
            );
            if s.teams.is_empty() && browser_managed_teams(&s.database) == 0 {
                println!("note: no team is configured yet: add a [[teams]] block (see sample.toml) or run `teamportal admin create-team`");
            }
            ExitCode::SUCCESS
        }
        Err(LoadError::Invalid(errors)) => {
            for e in errors {
                println!("{e}");
            }
            ExitCode::from(1)
        }
        Err(e) => {
            println!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Email domains that a config team shares with a browser-managed team stored in the
/// database (when the database exists: `check-config` never creates one).
fn stored_domain_collisions(
    s: &Settings,
) -> Result<Vec<crate::domain::domains::Collision>, StoreError> {
    if !s.database.exists() {
        return Ok(Vec::new());
    }
    let conn = store::open_read_only(&s.database)?;
    let claims = store::teams::live_domain_claims(&conn, &s.teams)?;
    Ok(crate::domain::domains::collisions(&claims))
}

fn serve(path: Option<&Path>, settings: Settings) -> ExitCode {
    // Logged, not printed: with `[log] format = "json"` every line on stderr is JSON.
    if path.is_none() {
        tracing::info!(
            "no config file given; using the embedded defaults and TEAMPORTAL_* variables (listen {}, database {})",
            settings.server.listen,
            settings.database.display()
        );
    }
    let no_config_team = settings.teams.is_empty();
    let database = settings.database.clone();
    run_app(move || {
        let app = Application::build(settings)?;
        // Only now is the store synced: a team made with `admin create-team` counts too.
        if no_config_team && browser_managed_teams(&database) == 0 {
            tracing::warn!(
                "no team is configured yet. Copy sample.toml, add a [[teams]] entry for your Okta app, \
                 check it with `teamportal check-config --config FILE`, and start with `teamportal serve --config FILE` \
                 (or make a browser-managed team with `teamportal admin create-team`)."
            );
        }
        Ok((app, None))
    })
}

/// How many teams made with `admin create-team` the database holds (0 when it cannot say).
fn browser_managed_teams(database: &Path) -> usize {
    store::open_read_only(database)
        .and_then(|c| store::teams::list(&c))
        .map(|teams| teams.iter().filter(|t| t.source.browser_managed()).count())
        .unwrap_or(0)
}

/// A path as an operator would look for it: absolute, from the working directory.
fn shown(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn demo(listen: std::net::SocketAddr, database: PathBuf) -> ExitCode {
    run_app(move || {
        let (app, base) =
            crate::sso::demo_idp::build(crate::sso::demo_idp::DemoOptions { listen, database })?;
        Ok((app, Some(base)))
    })
}

fn run_app(
    build: impl FnOnce() -> Result<(Application, Option<String>), crate::app::BuildError>,
) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(async move {
        let (app, demo_base) = match build() {
            Ok(x) => x,
            // Through the logger, so a refusal to start is a line in the configured format.
            Err(e) => {
                tracing::error!("{e}");
                return Err(());
            }
        };
        match demo_base {
            Some(base) => {
                println!("teamportal demo — a demo team with a built-in DEMO identity provider (loopback only)");
                println!("Open {base}/login");
                println!("Team ID: {}", crate::sso::demo_idp::TEAM_ID);
                println!("admin: {}", crate::sso::demo_idp::ADMIN_EMAIL);
                println!("member: {}", crate::sso::demo_idp::MEMBER_EMAIL);
                // Not on stdout, which says exactly what DESIGN.md promises (scripts read it).
                eprintln!(
                    "Also Team ID: {} (browser-managed: edit and test its SSO settings)",
                    crate::sso::demo_idp::LAB_TEAM_ID
                );
            }
            None => tracing::info!(
                port = app.port(),
                "teamportal is serving on http://{}; database {}, instance key {}",
                app.local_addr(),
                shown(app.database()),
                shown(&crate::crypto::key_path(app.database()))
            ),
        }
        app.run_until_stopped()
            .await
            .map_err(|e| tracing::error!("{e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(()) => ExitCode::from(1),
    }
}
