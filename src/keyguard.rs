//! The instance key as the database knows it: a database that holds sealed data opens only
//! with the key that sealed it. A fresh database gets a new key, whose check value is then
//! recorded; a missing or different key file is refused before anything is created, because a
//! new key would silently orphan every stored secret.

use std::path::Path;

use crate::crypto::{key_path, InstanceKey, KeyError};
use crate::store::key_check::{self, Sealed};
use rusqlite::Connection;

/// The instance key of the database at `database` (key file `<database>.key`), created only
/// when the database has neither a check value nor sealed data; `conn` is that database.
pub fn open(conn: &mut Connection, database: &Path) -> Result<InstanceKey, KeyError> {
    let path = key_path(database);
    let wrong = || KeyError::Wrong {
        key: path.clone(),
        database: database.to_path_buf(),
    };
    let key = match InstanceKey::load(&path)? {
        Some(key) => {
            if !belongs(conn, &key)? {
                return Err(wrong());
            }
            key
        }
        None => {
            if key_check::get(conn)?.is_some() || key_check::any_sealed(conn)?.is_some() {
                return Err(KeyError::Missing {
                    key: path,
                    database: database.to_path_buf(),
                });
            }
            match InstanceKey::create(&path) {
                Ok(key) => key,
                // Another process (an `admin` command next to `serve`) made it first.
                Err(KeyError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    InstanceKey::load(&path)?.ok_or_else(wrong)?
                }
                Err(e) => return Err(e),
            }
        }
    };
    let ours = key.check_value();
    if key_check::record(conn, &ours)? != ours {
        return Err(wrong());
    }
    Ok(key)
}

/// Whether `key` is the database's key: it matches the recorded check value, or, in a
/// database from before check values, opens a sealed value (or nothing is sealed yet).
pub fn belongs(conn: &Connection, key: &InstanceKey) -> Result<bool, KeyError> {
    if let Some(recorded) = key_check::get(conn)? {
        return Ok(recorded == key.check_value());
    }
    let sealer = key.sealer();
    Ok(match key_check::any_sealed(conn)? {
        None => true,
        Some(Sealed::Token { team, hash, sealed }) => {
            crate::tokens::unseal(&sealer, &team, &hash, &sealed).is_some()
        }
        Some(Sealed::ClientSecret { team, sealed }) => sealer
            .open(&sealed, &crate::sso::editable::secret_context(&team))
            .is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn open_db(db: &Path) -> Result<InstanceKey, KeyError> {
        Store::open(db, 1)
            .expect("store")
            .run_blocking(|c| open(c, db))
    }

    #[test]
    fn a_fresh_database_gets_a_new_key_that_it_then_recognises() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        let first = open_db(&db).expect("new key");
        let again = open_db(&db).expect("same key");
        assert_eq!(first.check_value(), again.check_value());
    }

    #[test]
    fn a_missing_or_different_key_is_refused_once_a_key_is_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        open_db(&db).expect("new key");
        let key = key_path(&db);
        std::fs::remove_file(&key).expect("remove");
        assert!(matches!(open_db(&db), Err(KeyError::Missing { .. })));
        assert!(!key.exists(), "no new key file");
        InstanceKey::create(&key).expect("another key");
        assert!(matches!(open_db(&db), Err(KeyError::Wrong { .. })));
    }

    #[test]
    fn a_database_from_before_check_values_opens_only_with_a_key_that_opens_its_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        let store = Store::open(&db, 1).expect("store");
        let key = key_path(&db);
        let sealer = InstanceKey::create(&key).expect("the old key").sealer();
        let sealed = sealer.seal(b"s", &crate::sso::editable::secret_context("t"));
        let forget_check = |c: &mut Connection| {
            c.execute("DELETE FROM instance_key_check", [])
                .map_err(crate::store::StoreError::from)
        };
        store
            .run_blocking(|c| {
                forget_check(c)?;
                c.execute(
                    "INSERT INTO teams (id, name, source, issuer, client_id, client_secret_enc, created_at)
                     VALUES ('t', 'T', 'shell', 'https://x.test', 'c', ?1, 0)",
                    [&sealed],
                )
                .map_err(crate::store::StoreError::from)
            })
            .expect("an older install's sealed secret");
        let other = dir.path().join("other.key");
        InstanceKey::create(&other).expect("another key");
        let old = std::fs::read(&key).expect("key");
        std::fs::copy(&other, &key).expect("swap");
        assert!(matches!(open_db(&db), Err(KeyError::Wrong { .. })));

        std::fs::write(&key, &old).expect("put back");
        open_db(&db).expect("the key that sealed it, now recorded");
        let recorded = store
            .run_blocking(|c| key_check::get(c))
            .expect("read")
            .is_some();
        assert!(recorded);
    }
}
