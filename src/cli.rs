//! The command line: `serve`, `check-config`, `backup`, `demo`, `healthcheck` and `admin`
//! recovery tools.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::Application;
use crate::config::{self, LoadError, Overrides, Settings};
use crate::store::{self, users, Store, StoreError};

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
        email: String,
        #[arg(long)]
        team: String,
    },
    /// Give an existing admin a break-glass password (read from stdin, or TEAMPORTAL_PASSWORD).
    SetPassword {
        email: String,
        #[arg(long)]
        team: String,
    },
    /// Create a team whose SSO settings are then managed in the browser (/settings/sso).
    /// The client secret is read from TEAMPORTAL_CLIENT_SECRET or stdin, never argv.
    CreateTeam(NewTeam),
    /// Create a shared API token for automation; prints the secret once.
    CreateToken {
        #[arg(long)]
        team: String,
        #[arg(long)]
        name: String,
        /// Email of the member recorded as creator (default: the first admin).
        #[arg(long)]
        creator: Option<String>,
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// Create the team's SCIM bearer token (Okta / Entra ID provisioning); prints it once.
    /// The team's previous SCIM token stops working.
    CreateScimToken {
        #[arg(long)]
        team: String,
    },
    /// Give a browser-managed team its email domains (replacing its list; none clears it).
    /// Work-email sign-ins with these domains then go to that team's identity provider.
    SetDomains {
        /// The team's ID.
        id: String,
        domains: Vec<String>,
    },
    /// Remove an admin's break-glass password.
    ClearPassword {
        email: String,
        #[arg(long)]
        team: String,
    },
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
                    println!(
                        "teams.email_domains = {:?}: {c} (the browser-managed team is stored in {})",
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
        .map(|teams| teams.iter().filter(|t| t.source == "shell").count())
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
        let (app, base) = crate::demo::build(crate::demo::DemoOptions { listen, database })?;
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
                println!("Team ID: {}", crate::demo::TEAM_ID);
                println!("admin: {}", crate::demo::ADMIN_EMAIL);
                println!("member: {}", crate::demo::MEMBER_EMAIL);
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

fn backup(settings: Settings, dest: &Path) -> ExitCode {
    let dest_key = crate::crypto::key_path(dest);
    for file in [dest, dest_key.as_path()] {
        if file.exists() {
            eprintln!(
                "teamportal: {} already exists; choose a new file name",
                file.display()
            );
            return ExitCode::from(1);
        }
    }
    if !settings.database.exists() {
        eprintln!(
            "teamportal: database {} does not exist",
            shown(&settings.database)
        );
        return ExitCode::from(1);
    }
    // A copy is only restorable with the key that sealed its secrets: that key is checked
    // against the database first and written beside the copy.
    let key = match backup_key(&settings.database) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("teamportal: backup refused: {e}");
            return ExitCode::from(1);
        }
    };
    // The umask already makes the copy 0600; the copy is the whole database, so its mode
    // is set outright as well rather than depending on that.
    let written = store::backup(&settings.database, dest)
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::Task(format!("cannot make {} 0600: {e}", dest.display())))
        })
        .map_err(|e| e.to_string())
        .and_then(|()| match &key {
            Some(k) => k.write_new(&dest_key).map_err(|e| e.to_string()),
            None => Ok(()),
        });
    match (written, key) {
        (Ok(()), Some(_)) => {
            println!(
                "backup written to {} and its instance key to {}; keep both (restore: see README \"Backup and restore\")",
                dest.display(),
                dest_key.display()
            );
            ExitCode::SUCCESS
        }
        (Ok(()), None) => {
            println!(
                "backup written to {} (the database has no instance key yet: it holds nothing sealed)",
                dest.display()
            );
            ExitCode::SUCCESS
        }
        (Err(e), _) => {
            eprintln!("teamportal: backup failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// The database's instance key, checked against the database; `None` when there is no key
/// file and the database needs none (never started, nothing sealed).
fn backup_key(database: &Path) -> Result<Option<crate::crypto::InstanceKey>, String> {
    use crate::crypto::{key_path, InstanceKey, KeyError};
    let path = key_path(database);
    let conn = store::open_read_only(database).map_err(|e| e.to_string())?;
    let key = InstanceKey::load(&path).map_err(|e| e.to_string())?;
    let missing = || {
        KeyError::Missing {
            key: path.clone(),
            database: database.to_path_buf(),
        }
        .to_string()
    };
    match key {
        Some(key) => match crate::keyguard::belongs(&conn, &key) {
            Ok(true) => Ok(Some(key)),
            Ok(false) => Err(KeyError::Wrong {
                key: path.clone(),
                database: database.to_path_buf(),
            }
            .to_string()),
            Err(e) => Err(e.to_string()),
        },
        None => {
            let guarded = store::key_check::get(&conn)
                .map_err(|e| e.to_string())?
                .is_some()
                || store::key_check::any_sealed(&conn)
                    .map_err(|e| e.to_string())?
                    .is_some();
            if guarded {
                Err(missing())
            } else {
                Ok(None)
            }
        }
    }
}

fn open_store(settings: &Settings, create: bool) -> Result<Store, StoreError> {
    let store = if create {
        Store::open(&settings.database, 2)?
    } else {
        Store::open_existing(&settings.database, 2)?
    };
    store.run_blocking(|c| store::teams::sync_from_config(c, &settings.teams, "config"))?;
    Ok(store)
}

fn admin(settings: Settings, cmd: AdminCommand) -> ExitCode {
    // Run in the wrong folder or with the wrong config, an admin command must not leave an
    // empty database behind that `serve` would later start on. Only `create-team` may be
    // the first command of a new instance.
    let create = matches!(cmd, AdminCommand::CreateTeam(_));
    let existed = settings.database.exists();
    if !existed && !create {
        eprintln!(
            "teamportal: there is no database at {}; admin commands never create one. \
             Run them with the config (--config or TEAMPORTAL_CONFIG) and working directory of `teamportal serve`",
            shown(&settings.database)
        );
        return ExitCode::from(1);
    }
    let store = match open_store(&settings, create) {
        Ok(s) => {
            if !existed {
                eprintln!(
                    "teamportal: created a new database at {}",
                    shown(&settings.database)
                );
            }
            s
        }
        Err(e) => {
            eprintln!("teamportal: {e}");
            return ExitCode::from(1);
        }
    };
    let result: Result<(), String> = match cmd {
        AdminCommand::List => store
            .run_blocking(|c| -> Result<(), StoreError> {
                let teams = store::teams::list(c)?;
                if teams.is_empty() {
                    println!("No team yet: add a [[teams]] block to the config file (see sample.toml) or run `teamportal admin create-team`.");
                }
                for team in teams {
                    println!("{} ({}) [{}]", team.id, team.name, team.source);
                    let admins = users::admins(c, &team.id)?;
                    if admins.is_empty() {
                        println!("  no admin has signed in yet");
                    }
                    for a in admins {
                        let pw = if a.has_password {
                            " (break-glass password set)"
                        } else {
                            ""
                        };
                        println!("  admin: {}{pw}", a.email);
                    }
                }
                Ok(())
            })
            .map_err(|e| e.to_string()),
        AdminCommand::Promote { email, team } => store
            .run_blocking(|c| users::promote_by_email(c, &team, &email))
            .map(|u| println!("{} is now an admin of {}", u.email, team))
            .map_err(|e| format!("cannot promote {email} in team {team}: {e}")),
        AdminCommand::SetPassword { email, team } => set_password(&store, &team, &email),
        AdminCommand::CreateTeam(team) => create_team(&settings, &store, team),
        AdminCommand::CreateToken {
            team,
            name,
            creator,
            expires_in_days,
        } => create_token(
            &settings,
            &store,
            &team,
            &name,
            creator.as_deref(),
            expires_in_days,
        ),
        AdminCommand::CreateScimToken { team } => create_scim_token(&store, &team),
        AdminCommand::SetDomains { id, domains } => set_domains(&settings, &store, &id, &domains),
        AdminCommand::ClearPassword { email, team } => store
            .run_blocking(|c| -> Result<(), Msg> {
                let user = admin_user(c, &team, &email)?;
                Ok(users::set_password(c, &team, user, None)?)
            })
            .map(|()| println!("break-glass password removed for {email}"))
            .map_err(|m| m.0),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("teamportal: {e}");
            ExitCode::from(1)
        }
    }
}

/// A message for the shell, from any store error.
struct Msg(String);

impl From<StoreError> for Msg {
    fn from(e: StoreError) -> Self {
        Msg(e.to_string())
    }
}

fn admin_user(c: &rusqlite::Connection, team: &str, email: &str) -> Result<i64, Msg> {
    users::find_by_email(c, team, email)?
        .into_iter()
        .find(|u| u.active && u.is_admin())
        .map(|u| u.id)
        .ok_or_else(|| Msg(format!("{email} is not an active admin of team {team}")))
}

fn set_password(store: &Store, team: &str, email: &str) -> Result<(), String> {
    let password = match std::env::var("TEAMPORTAL_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            if std::io::stdin().is_terminal() {
                eprintln!("New break-glass password (input is visible; end with Enter):");
            }
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if password.chars().count() < 12 {
        return Err("a break-glass password needs at least 12 characters".into());
    }
    let hash = crate::break_glass::hash_password(&password)?;
    store
        .run_blocking(|c| -> Result<(), Msg> {
            let user = admin_user(c, team, email)?;
            Ok(users::set_password(c, team, user, Some(&hash))?)
        })
        .map_err(|m| m.0)?;
    println!("break-glass password set for {email}; remove it with `teamportal admin clear-password {email} --team {team}`");
    Ok(())
}

fn create_token(
    settings: &Settings,
    store: &Store,
    team: &str,
    name: &str,
    creator: Option<&str>,
    expires_in_days: Option<i64>,
) -> Result<(), String> {
    let name = crate::domain::tokens::clean_name(name).ok_or_else(|| {
        "a token name is 1 to 64 characters (control and bidi-format characters are dropped)"
            .to_string()
    })?;
    let name = name.as_str();
    if expires_in_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err("--expires-in-days must be from 1 to 3650".into());
    }
    let key = store
        .run_blocking(|c| crate::keyguard::open(c, &settings.database))
        .map_err(|e| e.to_string())?;
    let sealer = key.sealer();
    let issued = store
        .run_blocking(|c| -> Result<crate::tokens::Issued, Msg> {
            let user = match creator {
                Some(email) => users::find_by_email(c, team, email)?.into_iter().find(|u| u.active),
                None => users::admins(c, team)?.into_iter().next(),
            }
            .ok_or_else(|| Msg(format!("no active member to record as the creator in team {team}; sign in once first or pass --creator EMAIL")))?;
            let expires_at = expires_in_days.map(|d| store::now() + d * 86_400);
            crate::tokens::issue(
                c,
                &sealer,
                &crate::store::audit::Actor::shell(),
                &crate::tokens::Request {
                    team_id: team,
                    creator: user.id,
                    name,
                    personal: false,
                    expires_at,
                },
            )
            .map_err(|e| Msg(e.to_string()))
        })
        .map_err(|m| m.0)?;
    println!("{}", issued.secret);
    eprintln!("token #{} {:?} created for team {team}", issued.id, name);
    Ok(())
}

fn create_scim_token(store: &Store, team: &str) -> Result<(), String> {
    let known = store
        .run_blocking(|c| crate::store::teams::get(c, team))
        .map_err(|e| e.to_string())?;
    if known.is_none() {
        return Err(format!("there is no team {team:?} in this database"));
    }
    let token = crate::web::scim_settings::new_scim_token();
    let hash = crate::crypto::sha256(token.as_bytes());
    store
        .run_blocking(|c| {
            crate::store::scim::set_token(c, team, &crate::store::audit::Actor::shell(), &hash)
        })
        .map_err(|e| e.to_string())?;
    println!("{token}");
    eprintln!("SCIM token created for team {team}; its previous SCIM token no longer works");
    Ok(())
}

/// Domains as given on the command line: trimmed, lowercase, each a domain name, no repeats.
fn parse_domains(flag: &str, given: &[String]) -> Result<Vec<String>, Vec<String>> {
    let mut domains = Vec::new();
    let mut errors = Vec::new();
    for d in given {
        let d = d.trim().to_ascii_lowercase();
        if !crate::domain::valid_domain(&d) {
            errors.push(format!(
                "{flag}{d:?}: must be a domain name such as example.com"
            ));
        } else if !domains.contains(&d) {
            domains.push(d);
        }
    }
    if errors.is_empty() {
        Ok(domains)
    } else {
        Err(errors)
    }
}

fn taken_message(taken: &[(String, String)]) -> String {
    taken
        .iter()
        .map(|(d, team)| {
            format!("email domain {d:?} already belongs to team {team:?}; a domain may belong to one team only")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn set_domains(
    settings: &Settings,
    store: &Store,
    id: &str,
    given: &[String],
) -> Result<(), String> {
    let domains = parse_domains("", given).map_err(|e| e.join("\n"))?;
    let outcome = store
        .run_blocking(|c| {
            store::teams::set_domains(
                c,
                id,
                &domains,
                &settings.teams,
                &crate::store::audit::Actor::shell(),
            )
        })
        .map_err(|e| e.to_string())?;
    match outcome {
        store::teams::SetDomains::Set { before } => {
            let show = |l: &[String]| {
                if l.is_empty() {
                    "none".to_string()
                } else {
                    l.join(", ")
                }
            };
            println!(
                "team {id}: email domains {} (before: {}); sign-ins by work email use them at once",
                show(&domains),
                show(&before)
            );
            Ok(())
        }
        store::teams::SetDomains::NoSuchTeam => Err(format!("there is no team with the ID {id:?}")),
        store::teams::SetDomains::ConfigManaged => Err(format!(
            "team {id:?} is managed in the config file: set teams.email_domains there"
        )),
        store::teams::SetDomains::Taken(taken) => Err(taken_message(&taken)),
    }
}

#[derive(Args, Debug)]
pub struct NewTeam {
    #[arg(long)]
    id: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    issuer: String,
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    admin_email: String,
    #[arg(long, default_value = "jit")]
    provisioning: String,
    #[arg(long = "email-domain")]
    email_domains: Vec<String>,
    #[arg(long = "admin-group")]
    admin_groups: Vec<String>,
    #[arg(long)]
    trust_email: bool,
}

fn read_secret(var: &str, prompt: &str) -> Result<String, String> {
    if let Ok(v) = std::env::var(var) {
        return Ok(v.trim().to_string());
    }
    if std::io::stdin().is_terminal() {
        eprintln!("{prompt}");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim().to_string())
}

fn create_team(settings: &Settings, store: &Store, t: NewTeam) -> Result<(), String> {
    let mut errors = Vec::new();
    if crate::domain::TeamId::parse(&t.id).is_err() {
        errors.push(format!(
            "--id {:?}: a Team ID is lowercase letters and digits in dash-separated parts",
            t.id
        ));
    }
    if settings.teams.iter().any(|c| c.id.as_str() == t.id) {
        errors.push(format!(
            "--id {:?}: this team is managed in the config file",
            t.id
        ));
    }
    if let Err(rule) = config::check_issuer(&t.issuer) {
        errors.push(format!("--issuer {:?}: {rule}", t.issuer));
    }
    if crate::domain::Email::parse(&t.admin_email).is_none() {
        errors.push(format!(
            "--admin-email {:?}: must be an email address",
            t.admin_email
        ));
    }
    if config::Provisioning::parse(&t.provisioning).is_none() {
        errors.push(format!(
            "--provisioning {:?}: must be jit or invite",
            t.provisioning
        ));
    }
    if t.name.trim().is_empty() || t.client_id.trim().is_empty() {
        errors.push("--name and --client-id must not be empty".into());
    }
    let email_domains = parse_domains("--email-domain ", &t.email_domains).unwrap_or_else(|e| {
        errors.extend(e);
        Vec::new()
    });
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let claims = store
        .run_blocking(|c| store::teams::live_domain_claims(c, &settings.teams))
        .map_err(|e| e.to_string())?;
    let taken = crate::domain::domains::taken_by_others(&claims, &t.id, &email_domains);
    if !taken.is_empty() {
        return Err(taken_message(
            &taken
                .into_iter()
                .map(|(d, team)| (d, team.to_string()))
                .collect::<Vec<_>>(),
        ));
    }
    let secret = read_secret(
        "TEAMPORTAL_CLIENT_SECRET",
        "Client secret (end with Enter):",
    )?;
    if secret.is_empty() {
        return Err(
            "the client secret is empty (give it on stdin or in TEAMPORTAL_CLIENT_SECRET)".into(),
        );
    }
    let key = store
        .run_blocking(|c| crate::keyguard::open(c, &settings.database))
        .map_err(|e| e.to_string())?;
    let issuer = config::check_issuer(&t.issuer)
        .map(|u| config::issuer_string(&u))
        .map_err(str::to_string)?;
    let team = store::teams::ShellTeam {
        id: t.id.clone(),
        name: t.name.trim().to_string(),
        admin_email: crate::domain::Email::parse(&t.admin_email).map(|e| e.to_string()),
        sso: store::teams::SsoRecord {
            issuer,
            client_id: t.client_id.trim().to_string(),
            client_secret_enc: key.sealer().seal(
                secret.as_bytes(),
                &crate::sso::editable::secret_context(&t.id),
            ),
            provisioning: t.provisioning,
            email_domains,
            admin_groups: t.admin_groups,
            trust_email: t.trust_email,
        },
    };
    let created = store
        .run_blocking(|c| store::teams::create_shell(c, &team))
        .map_err(|e| e.to_string())?;
    if !created {
        return Err(format!("a team with the ID {:?} already exists", t.id));
    }
    println!(
        "team {} created; restart teamportal to serve it, then its admins manage SSO at /settings/sso",
        t.id
    );
    Ok(())
}
