//! `teamportal admin ...`: recovery and operator tasks run from the shell against the
//! database of `serve`; `create-team` checks its input as the config file and the settings
//! form do.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::Args;

use super::*;
use crate::config::{self, Settings};
use crate::domain::TeamSource;
use crate::store::{self, users, Store, StoreError};

fn open_store(settings: &Settings, create: bool) -> Result<Store, StoreError> {
    let store = if create {
        Store::open(&settings.database, 2)?
    } else {
        Store::open_existing(&settings.database, 2)?
    };
    store
        .run_blocking(|c| store::teams::sync_from_config(c, &settings.teams, TeamSource::Config))?;
    Ok(store)
}

pub(super) fn admin(settings: Settings, cmd: AdminCommand) -> ExitCode {
    // Run in the wrong folder or with the wrong config, an admin command must not leave an
    // empty database behind that `serve` would later start on. Only `create-team` may be
    // the first command of a new instance.
    let create = matches!(cmd, AdminCommand::CreateTeam(_));
    let existed = settings.database.exists();
    // Which of the database's files were there before: only the others are ever removed.
    let before = store::private_files_of(&settings.database)
        .map(|f| (std::fs::symlink_metadata(&f).is_ok(), f));
    if !existed && !create {
        eprintln!(
            "teamportal: there is no database at {}; admin commands never create one. \
             Run them with the config (--config or TEAMPORTAL_CONFIG) and working directory of `teamportal serve`",
            shown(&settings.database)
        );
        return ExitCode::from(1);
    }
    // A new team's input (and its secret) is checked before any file is made: a typo in a
    // flag leaves nothing behind.
    let mut prepared = match &cmd {
        AdminCommand::CreateTeam(t) => match checked_new_team(&settings, t) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("teamportal: {e}");
                return ExitCode::from(1);
            }
        },
        _ => None,
    };
    // As `serve` does, the first command of a new instance makes the database's folder.
    let new_folders = match create
        .then(|| new_folder_for(&settings.database))
        .transpose()
    {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            eprintln!("teamportal: {e}");
            return ExitCode::from(1);
        }
    };
    let undo = || {
        remove_new_files(&before);
        // Innermost first, and only when empty: nothing but what this command made goes.
        for folder in &new_folders {
            let _ = std::fs::remove_dir(folder);
        }
    };
    let store = match open_store(&settings, create) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("teamportal: {e}");
            undo();
            return ExitCode::from(1);
        }
    };
    if let Some(team) = cmd.team() {
        match store.run_blocking(|c| store::teams::get(c, team)) {
            Ok(Some(_)) => {}
            Ok(None) => {
                eprintln!(
                    "teamportal: there is no team {team:?} in this database (`teamportal admin list` shows its teams)"
                );
                return ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("teamportal: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let result: Result<(), String> = match cmd {
        AdminCommand::List => store
            .run_blocking(|c| -> Result<(), StoreError> {
                let teams = store::teams::list(c)?;
                if teams.is_empty() {
                    println!("No team yet: add a [[teams]] block to the config file (see sample.toml) or run `teamportal admin create-team`.");
                }
                for team in teams {
                    println!("{} ({}) [{}]", team.id, team.name, team.source.as_str());
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
        AdminCommand::SetPassword { email, team } => {
            set_password(&store, &team, &email).map(|()| {
                if !settings.security.password_login {
                    eprintln!("note: [security] password_login is off, so the sign-in form for this password is not shown until it is set to true");
                }
            })
        }
        AdminCommand::CreateTeam(team) => match prepared.take() {
            Some(p) => create_team(&settings, &store, team, p),
            None => Err("the new team was not checked".into()),
        },
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
            .run_blocking(|c| -> Result<bool, Msg> {
                let user = admin_user(c, &team, &email)?;
                Ok(users::set_password(c, &team, user, None)?)
            })
            .map(|removed| match removed {
                true => println!("break-glass password removed for {email}"),
                false => println!("{email} has no break-glass password; nothing changed"),
            })
            .map_err(|m| m.0),
    };
    drop(store);
    match result {
        Ok(()) => {
            if !existed {
                eprintln!(
                    "teamportal: created a new database at {}",
                    shown(&settings.database)
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("teamportal: {e}");
            // A first `create-team` refused after the checks (its Team ID's domains taken)
            // leaves no empty instance behind for `serve` to start on later.
            undo();
            ExitCode::from(1)
        }
    }
}

/// Makes the database's folder when it is missing; the folders made, innermost first.
fn new_folder_for(database: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
    let missing: Vec<std::path::PathBuf> = database
        .ancestors()
        .skip(1)
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(std::path::Path::to_path_buf)
        .collect();
    if let Some(dir) = missing.first() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the database's folder {}: {e}", shown(dir)))?;
    }
    Ok(missing)
}

/// Removes the database files this command created: those that were not there before.
fn remove_new_files(before: &[(bool, std::path::PathBuf)]) {
    for (existed, f) in before {
        if *existed {
            continue;
        }
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("teamportal: could not remove {}: {e}", shown(f)),
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
            Ok(users::set_password(c, team, user, Some(&hash)).map(|_| ())?)
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
            .ok_or_else(|| match creator {
                Some(email) => Msg(format!("{email} is not an active member of team {team}")),
                None => Msg(format!("no admin of team {team} has signed in yet to record as the token's creator; pass --creator EMAIL of an active member")),
            })?;
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
    let token = crate::web::scim_settings::new_scim_token();
    let hash = crate::crypto::sha256(token.as_bytes());
    let replaced = store
        .run_blocking(|c| {
            crate::store::scim::set_token(c, team, &crate::store::audit::Actor::shell(), &hash)
        })
        .map_err(|e| e.to_string())?;
    println!("{token}");
    if replaced {
        eprintln!("SCIM token created for team {team}; its previous SCIM token no longer works");
    } else {
        eprintln!("SCIM token created for team {team}");
    }
    Ok(())
}

/// Domains as given on the command line, checked as the config file checks them.
fn parse_domains(flag: &str, given: &[String]) -> Result<Vec<String>, Vec<String>> {
    crate::domain::domains::normalise_list(given).map_err(|bad| {
        bad.iter()
            .map(|d| {
                format!(
                    "{flag}{:?}: {}",
                    d.trim().to_ascii_lowercase(),
                    crate::domain::domains::DOMAIN_RULE
                )
            })
            .collect()
    })
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
    /// The Team ID: lowercase letters and digits in dash-separated parts (e.g. acme-eng).
    #[arg(long)]
    id: String,
    /// The team's name as the pages show it.
    #[arg(long)]
    name: String,
    /// The identity provider's issuer (the "issuer" of its OpenID Provider Metadata).
    #[arg(long)]
    issuer: String,
    /// The OIDC app's client ID.
    #[arg(long)]
    client_id: String,
    /// This email becomes admin on its first (verified) sign-in.
    #[arg(long)]
    admin_email: String,
    /// jit (accounts made at first sign-in) or invite (only invited emails).
    #[arg(long, default_value = "jit")]
    provisioning: String,
    /// An email domain of the team (repeat for several); only the shell sets them.
    #[arg(long = "email-domain")]
    email_domains: Vec<String>,
    /// An IdP group whose members are admins (repeat for several).
    #[arg(long = "admin-group")]
    admin_groups: Vec<String>,
    /// Trust emails the IdP does not mark verified (for IdPs such as Entra ID).
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

/// What `create-team` checked before touching the database.
struct Prepared {
    email_domains: Vec<String>,
    secret: String,
}

/// Every check of a new team that needs no database, and its secret read.
fn checked_new_team(settings: &Settings, t: &NewTeam) -> Result<Prepared, String> {
    let mut errors = Vec::new();
    if let Err(rule) = crate::domain::TeamId::parse(&t.id) {
        errors.push(format!("--id {:?}: {rule}", t.id));
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
    if t.admin_groups.iter().any(|g| g.trim().is_empty()) {
        errors.push("--admin-group \"\": group names must not be empty".into());
    }
    let email_domains = parse_domains("--email-domain ", &t.email_domains).unwrap_or_else(|e| {
        errors.extend(e);
        Vec::new()
    });
    if !errors.is_empty() {
        return Err(errors.join("\n"));
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
    Ok(Prepared {
        email_domains,
        secret,
    })
}

fn create_team(
    settings: &Settings,
    store: &Store,
    t: NewTeam,
    Prepared {
        email_domains,
        secret,
    }: Prepared,
) -> Result<(), String> {
    let claims = store
        .run_blocking(|c| store::teams::shell_domain_claims(c, &settings.teams))
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
            // Chosen on /settings/sso, like the rest of the team's sign-in behaviour.
            idp_logout: false,
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
