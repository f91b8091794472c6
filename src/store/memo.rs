//! The pool's connections, each remembering the results of the short reads every signed-in
//! page makes (its session row and user, its team's counts and invitations) for as long as
//! the database has not changed since they were read.
//!
//! "Not changed" is asked of SQLite at the start of each read transaction, so a change
//! committed anywhere, by this process or by a shell command in another one, is seen by the
//! next read exactly as before: `PRAGMA data_version` moves when another connection has
//! committed, and the connection's own total of changed rows when it has written itself.
//! A remembered read is therefore the read itself, without running its statements again:
//! what depends on the clock (a session's expiry) is kept as data and checked by the caller.

use std::borrow::Borrow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::Hash;
use std::ops::{Deref, DerefMut};

use rusqlite::Connection;

use super::StoreError;

/// A pooled connection and what it remembers.
pub struct Conn {
    conn: Connection,
    memo: Memo,
}

impl Conn {
    pub(super) fn new(conn: Connection) -> Conn {
        Conn {
            conn,
            memo: Memo::default(),
        }
    }

    /// What this connection remembers, once it is checked against the database: to be
    /// called inside a read transaction, which then sees the database the memo holds.
    pub(super) fn memo(&self) -> Result<&Memo, StoreError> {
        self.memo.sync(&self.conn)?;
        Ok(&self.memo)
    }
}

impl Deref for Conn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Entries kept per kind of read at most: a connection remembers what the pages of many
/// signed-in people read between two changes; past that it starts again.
const ENTRIES: usize = 1_024;

/// Reads remembered on one connection, all from the database as it was at `seen`. Handed
/// out only by [`Conn::memo`], inside a read transaction.
#[derive(Default)]
pub struct Memo {
    /// `PRAGMA data_version` and the connection's total changes when the entries were read.
    seen: Cell<Option<(i64, u64)>>,
    pub(super) sessions: Remembered<Vec<u8>, super::users::SessionRead>,
    pub(super) counts: Remembered<String, super::members::Counts>,
    pub(super) invites: Remembered<String, Option<Vec<super::invites::Invite>>>,
}

impl Memo {
    /// Forgets everything when the database changed since the entries were read. The
    /// pragma is also what starts the read transaction's snapshot (a deferred BEGIN reads
    /// nothing), so the entries and the caller's other statements see the same database.
    fn sync(&self, conn: &Connection) -> Result<(), StoreError> {
        let others: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        let now = Some((others, conn.total_changes()));
        if self.seen.get() != now {
            self.sessions.clear();
            self.counts.clear();
            self.invites.clear();
            self.seen.set(now);
        }
        Ok(())
    }
}

/// One kind of read, by its key.
pub struct Remembered<K, V>(RefCell<HashMap<K, V>>);

impl<K, V> Default for Remembered<K, V> {
    fn default() -> Self {
        Remembered(RefCell::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V: Clone> Remembered<K, V> {
    /// The value read for `key` at the memo's database when `fits` takes it, or else
    /// `read`'s, remembered in its place. A failed read is not remembered.
    pub(super) fn get_or<Q>(
        &self,
        key: &Q,
        fits: impl FnOnce(&V) -> bool,
        read: impl FnOnce() -> Result<V, StoreError>,
    ) -> Result<V, StoreError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        // The map is not borrowed while `read` runs.
        let remembered = self.0.borrow().get(key).filter(|v| fits(v)).cloned();
        if let Some(v) = remembered {
            return Ok(v);
        }
        let v = read()?;
        let mut entries = self.0.borrow_mut();
        if entries.len() >= ENTRIES && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_owned(), v.clone());
        Ok(v)
    }

    fn clear(&self) {
        self.0.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use rusqlite::Connection;

    use crate::store::{members, sessions, users, Memo, Store, StoreError};

    /// A store of one connection (every inline read gets the same one, and its memo), with a
    /// team `t`, a member and a live session `key` of theirs, and a team `u` of two.
    fn store() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db"), 1).expect("create");
        let uid = store
            .run_blocking(|c| -> Result<i64, StoreError> {
                c.execute(
                    "INSERT INTO teams (id, name, source, issuer, client_id, created_at)
                     VALUES ('t', 'T', 'shell', 'https://idp.test', 'c', 0),
                            ('u', 'U', 'shell', 'https://idp.test', 'c', 0)",
                    [],
                )?;
                for (subject, email) in [("u1", "a@u.test"), ("u2", "b@u.test")] {
                    users::insert_seeded(c, "u", "https://idp.test", subject, email, "U", 0)?;
                }
                let uid =
                    users::insert_seeded(c, "t", "https://idp.test", "s", "a@t.test", "A", 0)?;
                sessions::insert(c, b"key", Some(uid), "{}", (3600, 3600), None)?;
                Ok(uid)
            })
            .expect("seeded");
        (dir, store, uid)
    }

    fn signed_in(store: &Store, uid: i64) -> Option<String> {
        store
            .read_inline(|c, memo| users::for_live_session_remembered(c, memo, uid, b"key"))
            .expect("an idle connection")
            .expect("read")
            .map(|(user, _)| user.name.clone())
    }

    /// Reads of the team's counts through the memo, and how many of them ran the query.
    fn members(store: &Store, ran: &Cell<u32>) -> i64 {
        let read = |c: &Connection, memo: &Memo| {
            memo.counts.get_or(
                "t",
                |_| true,
                || {
                    ran.set(ran.get() + 1);
                    members::counts(c, "t")
                },
            )
        };
        store
            .read_inline(read)
            .expect("an idle connection")
            .expect("read")
            .members
    }

    #[test]
    fn a_read_is_remembered_until_the_database_changes() {
        let (dir, store, _) = store();
        let ran = Cell::new(0);
        assert_eq!(members(&store, &ran), 1);
        assert_eq!(members(&store, &ran), 1);
        assert_eq!(ran.get(), 1, "the second read was remembered");
        // Another team's counts are read, and remembered, as theirs.
        let other_team = |c: &Connection, memo: &Memo| {
            memo.counts
                .get_or("u", |_| true, || members::counts(c, "u"))
        };
        let read = store.read_inline(other_team).expect("idle").expect("read");
        assert_eq!(read.members, 2);
        assert_eq!(members(&store, &ran), 1);
        assert_eq!(ran.get(), 1);

        // A commit by another process (a shell command): the next read sees it.
        let other = Connection::open(dir.path().join("t.db")).expect("other");
        users::insert_seeded(&other, "t", "https://idp.test", "s2", "b@t.test", "B", 0)
            .expect("added");
        assert_eq!(members(&store, &ran), 2);
        assert_eq!(ran.get(), 2);

        // A commit on the pool's own connection (this process's writes): seen too.
        store
            .run_blocking(|c| {
                users::insert_seeded(c, "t", "https://idp.test", "s3", "c@t.test", "C", 0)
            })
            .expect("added");
        assert_eq!(members(&store, &ran), 3);
        assert_eq!(members(&store, &ran), 3);
        assert_eq!(ran.get(), 3);
    }

    #[test]
    fn a_session_ended_anywhere_stops_at_once_though_its_read_was_remembered() {
        let (dir, store, uid) = store();
        assert_eq!(signed_in(&store, uid).as_deref(), Some("A"));
        assert_eq!(signed_in(&store, uid).as_deref(), Some("A"));
        // Not the same user: the row says whose session it is.
        assert_eq!(signed_in(&store, uid + 1), None);
        assert_eq!(signed_in(&store, uid).as_deref(), Some("A"));

        // Renamed from this process, then removed from a shell.
        store
            .run_blocking(|c| -> Result<usize, StoreError> {
                Ok(c.execute("UPDATE users SET name = 'Ada' WHERE id = ?1", [uid])?)
            })
            .expect("renamed");
        assert_eq!(signed_in(&store, uid).as_deref(), Some("Ada"));
        let other = Connection::open(dir.path().join("t.db")).expect("other");
        other
            .execute("DELETE FROM sessions WHERE key_hash = ?1", [&b"key"[..]])
            .expect("revoked");
        assert_eq!(signed_in(&store, uid), None);
    }

    #[test]
    fn a_remembered_session_still_expires_with_the_clock() {
        let (_dir, store, uid) = store();
        // A session that ends in two seconds, read (and remembered) while it is live.
        let ends = crate::store::now() + 2;
        store
            .run_blocking(|c| -> Result<usize, StoreError> {
                Ok(c.execute("UPDATE sessions SET expires_at = ?1", [ends])?)
            })
            .expect("ends soon");
        assert_eq!(signed_in(&store, uid).as_deref(), Some("A"));
        while crate::store::now() < ends {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // Nothing was written meanwhile: the remembered read is served, and it has expired.
        assert_eq!(signed_in(&store, uid), None);
    }

    #[test]
    fn a_failed_read_is_not_remembered() {
        let (_dir, store, _) = store();
        let failing = |_: &Connection, memo: &Memo| {
            memo.counts.get_or(
                "t",
                |_| true,
                || Err(StoreError::Task("the read failed".into())),
            )
        };
        assert!(store.read_inline(failing).expect("idle").is_err());
        let ran = Cell::new(0);
        assert_eq!(members(&store, &ran), 1);
        assert_eq!(ran.get(), 1);
    }
}
