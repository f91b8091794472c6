//! `teamportal backup DEST`: a consistent online copy of the database and its key.

use std::path::Path;
use std::process::ExitCode;

use super::*;
use crate::config::Settings;
use crate::store::StoreError;

pub(super) fn backup(settings: Settings, dest: &Path) -> ExitCode {
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
                "backup written to {} and its instance key to {}; keep both (restore: see README \"Restore on a new machine\")",
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
