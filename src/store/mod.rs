//! The SQLite store: connection pool, embedded migrations, and one module per aggregate.
//! All SQL of the program lives below this module; functions take a `&Connection` (or a
//! `&Transaction` when several statements must commit together) and are run off the async
//! executor through [`Store::run`], but for the short reads of a signed-in page, which
//! [`Store::read_inline`] runs where it is called when that cannot wait.

pub mod access;
pub mod attempts;
pub mod audit;
pub mod invites;
pub mod key_check;
pub mod logins;
pub mod logout_jtis;
pub mod members;
mod memo;
pub mod scim;
pub mod sessions;
pub mod sign_in;
pub mod statements;
pub mod teams;
pub mod tokens;
pub mod usage;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use memo::Conn;
pub use memo::Memo;

pub type Pool = r2d2::Pool<Manager>;

/// r2d2_sqlite's manager, but a connection handed back inside a transaction (its ROLLBACK
/// failed, say) is closed instead of kept: the next request to take it would otherwise find
/// its BEGIN refused, or worse, its reads inside someone else's unfinished transaction.
#[derive(Debug)]
pub struct Manager(SqliteConnectionManager);

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Conn, rusqlite::Error> {
        self.0.connect().map(Conn::new)
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), rusqlite::Error> {
        self.0.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        !conn.is_autocommit()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database task failed: {0}")]
    Task(String),
    #[error("the database's schema is version {database}, newer than this teamportal knows (version {binary}): a newer release has upgraded it. Run that release (or newer), or restore a backup taken before the upgrade; this one does not start on it")]
    TooNew { database: i64, binary: i64 },
}

impl StoreError {
    /// SQLite refused to wait for another connection's lock (`SQLITE_BUSY`, `SQLITE_LOCKED`,
    /// `SQLITE_PROTOCOL`).
    fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    // A WAL read that gave up retrying on its own, unlike one allowed to wait.
                    | rusqlite::ErrorCode::FileLockingProtocolFailed)
        )
    }
}

/// How long a statement waits for another connection's lock (`PRAGMA busy_timeout`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations, in order; `PRAGMA user_version` records how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_sso_settings.sql"),
    include_str!("migrations/0003_break_glass_index.sql"),
    include_str!("migrations/0004_team_page_scale.sql"),
    include_str!("migrations/0005_team_list_index.sql"),
    include_str!("migrations/0006_team_list_version.sql"),
    include_str!("migrations/0007_token_trust.sql"),
    include_str!("migrations/0008_audit_repeats.sql"),
    include_str!("migrations/0009_login_origin.sql"),
    include_str!("migrations/0010_instance_key_check.sql"),
    include_str!("migrations/0011_session_details.sql"),
    include_str!("migrations/0012_scim.sql"),
    include_str!("migrations/0013_scim_joined.sql"),
];

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    path: Arc<Path>,
    /// Requests of the blocking pool waiting for a connection (see [`Store::read_inline`]).
    waiting: Arc<AtomicUsize>,
}

impl Store {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path, max_size: u32) -> Result<Store, StoreError> {
        Self::open_with(path, max_size, true)
    }

    /// Opens an existing database file and applies pending migrations; a missing file is an
    /// error and is not created (`admin` commands run in the wrong folder create nothing).
    pub fn open_existing(path: &Path, max_size: u32) -> Result<Store, StoreError> {
        Self::open_with(path, max_size, false)
    }

    fn open_with(path: &Path, max_size: u32, create: bool) -> Result<Store, StoreError> {
        let opened = Self::open_checked(path, max_size, create, |_| Ok::<(), StoreError>(()))?;
        opened.map(|(store, ())| store)
    }

    /// Opens like [`Store::open`] (`create`: may make a new file), first running `check` on
    /// the one connection that set the file up. When `check` fails, no pool is built and that
    /// connection is closed before this returns, so a refused start leaves no WAL or SHM
    /// behind (the instance key's check, `keyguard::open`).
    pub fn open_checked<T, E>(
        path: &Path,
        max_size: u32,
        create: bool,
        check: impl FnOnce(&mut Connection) -> Result<T, E>,
    ) -> Result<Result<(Store, T), E>, StoreError> {
        tighten_modes(path);
        // The flags r2d2_sqlite and rusqlite use by default, less CREATE unless asked for.
        let mut flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_URI
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= rusqlite::OpenFlags::SQLITE_OPEN_CREATE;
        }
        // One connection sets the file up (WAL, migrations) before the pool exists: the
        // pool opens its connections at once, and on a new file they raced to switch it to
        // WAL, which logged `database is locked` on a clean first start.
        let checked = {
            let mut first = Connection::open_with_flags(path, flags)?;
            init_connection(&mut first)?;
            migrate(&mut first)?;
            match check(&mut first) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            }
        };
        // The first connection made the file. The pool opens more as the load asks for them
        // (min_idle below), and one opened after the file was moved or deleted must fail, not
        // leave an empty database at the path.
        let manager = Manager(
            SqliteConnectionManager::file(path)
                .with_flags(flags.difference(rusqlite::OpenFlags::SQLITE_OPEN_CREATE))
                .with_init(init_connection),
        );
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            // Opened as the load asks for them rather than all at start: each connection
            // holds its own schema copy and page cache, most of an idle server's memory
            // (see benches/startup.sh). Two stay open: the flush thread's and a request's.
            .min_idle(Some(2.min(max_size)))
            // A connection to a local file does not go stale; the check cost a statement
            // on every checkout, i.e. on every trip to the store.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(5))
            .build(manager)?;
        let store = Store {
            pool,
            path: Arc::from(path),
            waiting: Arc::default(),
        };
        Ok(Ok((store, checked)))
    }

    /// Fails when the database file is no longer at its path: open connections keep
    /// answering from a deleted file, but nothing written there survives a restart.
    pub fn file_present(&self) -> Result<(), StoreError> {
        if self.path.exists() {
            Ok(())
        } else {
            Err(StoreError::Task("database file is missing".into()))
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs blocking database work on actix's blocking thread pool.
    pub async fn run<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (pool, waiting) = (self.pool.clone(), self.waiting.clone());
        actix_web::web::block(move || {
            // While this waits for a connection, inline reads leave the ones put back to it.
            waiting.fetch_add(1, Ordering::Relaxed);
            let conn = pool.get();
            waiting.fetch_sub(1, Ordering::Relaxed);
            let mut conn = conn.map_err(StoreError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// [`Store::run`] for reads: `f` runs in one read transaction, so its queries see one
    /// snapshot and the store's locks are taken once, not once per statement.
    pub async fn read<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.run(move |c| {
            let _tx = ReadTx::begin(c)?;
            f(c)
        })
        .await
    }

    /// [`Store::read`] on the calling thread, for the short, bounded reads of every signed-in
    /// page (point lookups by key, a cached page's version, a capped list): handing them to
    /// the blocking pool costs two thread switches, more than the reads themselves (`/team`
    /// answered a fifth more requests per second without them, docs/benchmarks.md). It never
    /// waits: `None` when no pooled connection is idle, when a request of the pool is waiting
    /// for one (it goes first), or when another connection holds a lock SQLite would wait
    /// for; the caller then takes [`Store::read`]. What may scan or sort many rows stays there.
    /// `f` is also handed the connection's [`Memo`], checked against the database in this
    /// transaction: the reads it remembers are served without their statements until the
    /// database changes.
    pub fn read_inline<T>(
        &self,
        f: impl FnOnce(&Connection, &Memo) -> Result<T, StoreError>,
    ) -> Option<Result<T, StoreError>> {
        if self.waiting.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let conn = self.pool.try_get()?;
        let read = NoWait::on(&conn).and_then(|_no_wait| {
            let _tx = ReadTx::begin(&conn)?;
            f(&conn, conn.memo()?)
        });
        match read {
            Err(e) if e.is_busy() => None,
            read => Some(read),
        }
    }

    /// [`Store::run`] for callers outside actix (CLI commands, background threads).
    pub fn run_blocking<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        f(&mut conn)
    }
}

/// A read-only connection to an existing database, for checks that must change nothing
/// (`check-config`). Fails when the file does not exist.
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    Ok(Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?)
}

/// The database, its `-wal` and `-shm` and the instance key beside it, whichever exist.
pub fn private_files_of(database: &Path) -> [PathBuf; 4] {
    let sibling = |suffix: &str| {
        let mut p = database.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    [
        database.to_path_buf(),
        sibling("-wal"),
        sibling("-shm"),
        crate::crypto::key_path(database),
    ]
}

/// Takes the group and other bits off the database's files. The umask (`cli::private_files`)
/// only governs files created now: a database from an older install or a restore may be 0644,
/// and SQLite gives every new WAL and SHM the database file's mode, so one readable database
/// keeps producing readable companions. A file that cannot be changed is logged, not fatal:
/// the database still opens.
fn tighten_modes(database: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for file in private_files_of(database) {
        let mode = match std::fs::metadata(&file) {
            Ok(m) => m.permissions().mode(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "cannot read the file's mode");
                continue;
            }
        };
        if mode & 0o077 == 0 {
            continue;
        }
        let tightened = mode & 0o700;
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(tightened)) {
            Ok(()) => tracing::info!(
                file = %file.display(),
                from = format!("{:o}", mode & 0o7777),
                to = format!("{:o}", tightened),
                "made a database file private to its owner"
            ),
            Err(e) => tracing::warn!(
                file = %file.display(),
                mode = format!("{:o}", mode & 0o7777),
                error = %e,
                "cannot take group and other access off a database file"
            ),
        }
    }
}

/// A connection whose statements fail with `SQLITE_BUSY` rather than wait for a lock, until
/// this is dropped (a panic included): the pool's next user waits again.
struct NoWait<'c>(&'c Connection);

impl<'c> NoWait<'c> {
    fn on(c: &'c Connection) -> Result<Self, StoreError> {
        c.busy_timeout(Duration::ZERO)?;
        Ok(NoWait(c))
    }
}

impl Drop for NoWait<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.busy_timeout(BUSY_TIMEOUT) {
            tracing::warn!(error = %e, "restoring a connection's busy timeout failed");
        }
    }
}

/// A read transaction that ends (releasing its lock) when dropped, also on error or panic.
/// BEGIN and ROLLBACK are prepared once per connection: rusqlite's `Transaction` parses them
/// on every use, which cost a signed-in page more than its own queries' planning.
struct ReadTx<'c>(&'c Connection);

impl<'c> ReadTx<'c> {
    fn begin(c: &'c Connection) -> Result<Self, StoreError> {
        c.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        Ok(ReadTx(c))
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        // Nothing was written: ending the transaction either way only releases the lock.
        if !self.0.is_autocommit() {
            if let Err(e) = self
                .0
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]))
            {
                tracing::warn!(error = %e, "ending a read transaction failed");
            }
        }
    }
}

/// Every connection's settings. `busy_timeout` comes first so the statements after it wait
/// for another connection's lock instead of failing at once.
fn init_connection(c: &mut Connection) -> Result<(), rusqlite::Error> {
    // Every transaction here reads, checks a rule, then writes. Taking the write lock at
    // BEGIN makes concurrent ones wait their turn (busy_timeout) and see each other's result,
    // instead of failing on a read made stale by the other writer.
    c.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    c.busy_timeout(BUSY_TIMEOUT)?;
    plan_once(c)?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;",
    )
}

/// Each statement is planned once, whatever values are bound to it (SQLite's query planner
/// stability guarantee). Otherwise a statement with a bound LIMIT or LIKE pattern is prepared
/// again every time rusqlite binds its values, and the statement cache saves nothing: a bound
/// LIMIT once cost `/team` 38% of its instructions in `sqlite3Reprepare`. The list queries
/// also write their page size into the text, so they stay cheap without this setting too. Nothing here gains
/// from plans made for bound values: the LIKE patterns start with `%`, and no statistics are
/// gathered.
fn plan_once(c: &Connection) -> Result<(), rusqlite::Error> {
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Applies every migration not yet recorded, each in its own transaction. A database whose
/// schema is newer than this binary's migrations is refused: running on a schema it does not
/// know, an older release would misread or damage what the newer one wrote.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let too_new = |database| StoreError::TooNew {
        database,
        binary: known,
    };
    // Up to date, the common case: no write lock is taken.
    if conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? == known {
        return Ok(());
    }
    // The version is read inside each write transaction: a shell command and the server
    // starting at the same moment must not both apply the same migration.
    let mut from = None;
    loop {
        let tx = conn.transaction()?;
        let done = tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))?;
        if done > known {
            return Err(too_new(done));
        }
        let Some(sql) = MIGRATIONS.get(done.max(0) as usize) else {
            // One line for the whole upgrade, not one per migration.
            if let Some(from) = from {
                tracing::info!(from, to = done, "applied database migrations");
            }
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", done + 1)?;
        tx.commit()?;
        from.get_or_insert(done);
        tracing::debug!(version = done + 1, "applied database migration");
    }
}

pub fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Current time as Unix seconds.
pub fn now() -> i64 {
    // Seconds since the epoch without a calendar date: verify reads the clock on every check.
    // A clock set before 1970 reads as 1970.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Writes a consistent standalone copy of the live database to `dest` (SQLite online backup).
pub fn backup(src: &Path, dest: &Path) -> Result<(), StoreError> {
    tighten_modes(src);
    let source = Connection::open_with_flags(src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    source.busy_timeout(Duration::from_secs(5))?;
    let mut target = Connection::open(dest)?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
        backup.run_to_completion(256, Duration::from_millis(10), None)?;
    }
    // The copy must stand alone: no WAL file beside it.
    target.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// True when the database answers a trivial query.
pub fn ping(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("SELECT count(*) FROM teams", [], |_| Ok(()))?;
    Ok(())
}

/// A migrated in-memory database holding the (browser-managed) teams `ids`, for the
/// store's unit tests.
#[cfg(test)]
pub(crate) fn test_db(ids: &[&str]) -> Connection {
    let mut c = Connection::open_in_memory().expect("db");
    plan_once(&c).expect("planned once");
    migrate(&mut c).expect("schema");
    for id in ids {
        c.execute(
            "INSERT INTO teams (id, name, source, issuer, client_id, created_at)
             VALUES (?1, upper(?1), 'shell', 'https://idp.test', 'c', 0)",
            [id],
        )
        .expect("team");
    }
    c
}

/// How many times SQLite prepared the cached statement `sql` again since it was first
/// prepared on `conn`: a list query run on every page view must stay at 0.
#[cfg(test)]
pub(crate) fn times_prepared_again(conn: &Connection, sql: &str) -> i32 {
    conn.prepare_cached(sql)
        .expect("the statement")
        .get_status(rusqlite::StatementStatus::RePrepare)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("exists").permissions().mode() & 0o7777
    }

    #[test]
    fn a_connection_handed_back_inside_a_transaction_is_not_handed_out_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db"), 1).expect("create");
        let c = store.pool().get().expect("the one connection");
        c.execute_batch("BEGIN IMMEDIATE")
            .expect("a transaction left open");
        drop(c);
        let next = store.pool().get().expect("a connection again");
        assert!(
            next.is_autocommit(),
            "a fresh connection, not the one left mid-transaction"
        );
        // The write lock went with the closed connection: another writer gets it at once.
        let other = Connection::open(dir.path().join("t.db")).expect("other");
        other
            .execute_batch("BEGIN IMMEDIATE; COMMIT")
            .expect("the write lock is free");
    }

    #[test]
    fn an_inline_read_never_waits_and_leaves_its_connection_waiting_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        let store = Store::open(&db, 1).expect("create");
        let teams = |c: &Connection, _: &Memo| -> Result<i64, StoreError> {
            Ok(c.query_row("SELECT count(*) FROM teams", [], |r| r.get(0))?)
        };
        let read = store
            .read_inline(teams)
            .expect("an idle connection")
            .expect("read");
        assert_eq!(read, 0);

        // The pool's one connection is taken: no waiting for it.
        let held = store.pool().get().expect("the one connection");
        assert!(store.read_inline(teams).is_none());
        drop(held);
        // A request of the blocking pool waits for a connection: it gets the idle one first.
        store.waiting.fetch_add(1, Ordering::Relaxed);
        assert!(store.read_inline(teams).is_none());
        store.waiting.fetch_sub(1, Ordering::Relaxed);

        // A statement that needs another connection's lock: the pool's connections wait up
        // to five seconds for it; inline, it gives way at once. (WAL readers take no lock a
        // writer holds, so the lock a write needs stands in for the rare ones they do.)
        let other = Connection::open(&db).expect("other");
        other
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the write lock");
        let started = std::time::Instant::now();
        let write = |c: &Connection, _: &Memo| -> Result<usize, StoreError> {
            Ok(c.execute("DELETE FROM teams", [])?)
        };
        assert!(store.read_inline(write).is_none());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        drop(other);

        assert_eq!(store.read_inline(teams).expect("idle").expect("read"), 0);
        let c = store.pool().get().expect("connection");
        let waits: i64 = c
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(waits, 5000, "the pool's other users wait for locks again");
        drop(c);

        // Also when the read panics (the request's task ends without an answer; the worker
        // and the pool go on).
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.read_inline(|_, _| -> Result<(), StoreError> { panic!("a bug in a read") })
        }));
        assert!(panicked.is_err());
        let c = store.pool().get().expect("connection");
        let waits: i64 = c
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(waits, 5000);
    }

    #[test]
    fn open_takes_group_and_other_bits_off_the_database_its_wal_shm_and_key_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        drop(Store::open(&db, 1).expect("create"));
        let [_, wal, shm, key] = private_files_of(&db);
        std::fs::write(&key, "not read by the store").expect("key");
        // Created if missing, never truncated: a pool thread may still be closing the first
        // store's connection, which has the SHM mapped (a truncated mapping is SIGBUS).
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&shm)
            .expect("shm");
        let other = dir.path().join("t.db.bak");
        std::fs::write(&other, "").expect("other");
        for (f, m) in [(&db, 0o644), (&key, 0o640), (&shm, 0o604), (&other, 0o644)] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(m)).expect("chmod");
        }

        let _store = Store::open(&db, 1).expect("reopen");
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&shm), 0o600);
        assert_eq!(mode(&wal), 0o600, "created by the open connection");
        assert_eq!(mode(&other), 0o644, "not one of the database's files");
    }

    #[test]
    fn version_13_marks_the_accounts_scim_made_and_keeps_the_other_checks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        let mut c = Connection::open(&db).expect("open");
        init_connection(&mut c).expect("init");
        for sql in &MIGRATIONS[..12] {
            c.execute_batch(sql).expect("migration");
        }
        c.pragma_update(None, "user_version", 12).expect("version");
        c.execute_batch(
            "INSERT INTO teams (id, name, source, issuer, client_id, created_at)
                 VALUES ('t', 'T', 'shell', 'https://idp.test', 'c', 0);
             INSERT INTO users (id, team_id, issuer, subject, email, role, role_source, joined_via, created_at)
                 VALUES (1, 't', '', 'scim:abc', 'new@t.test', 'member', 'default', 'invite', 100),
                        (2, 't', 'https://idp.test', 's2', 'linked@t.test', 'member', 'default', 'invite', 200),
                        (3, 't', 'https://idp.test', 's3', 'invited@t.test', 'member', 'default', 'invite', 300),
                        (4, 't', 'https://idp.test', 's4', 'jit@t.test', 'member', 'default', 'jit', 400);
             INSERT INTO scim_users (user_id, team_id, created_at, updated_at)
                 VALUES (1, 't', 100, 100), (2, 't', 201, 201), (3, 't', 9000, 9000), (4, 't', 400, 400);",
        )
        .expect("a version 12 team");
        // A member invited and made by that sign-in, whom SCIM then touched in the same second.
        c.execute_batch(
            "INSERT INTO users (id, team_id, issuer, subject, email, role, role_source, joined_via, created_at)
                 VALUES (5, 't', 'https://idp.test', 's5', 'touched@t.test', 'member', 'default', 'invite', 500);
             INSERT INTO invites (team_id, email, created_at, accepted_at) VALUES ('t', 'touched@t.test', 450, 500);
             INSERT INTO scim_users (user_id, team_id, created_at, updated_at) VALUES (5, 't', 500, 500);",
        )
        .expect("an invited member");
        // Open before the migration, as the server's pool is when a shell command migrates.
        let before = Connection::open(&db).expect("another connection");
        before
            .query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))
            .expect("read the old schema");
        migrate(&mut c).expect("migrate");
        drop(c);
        before
            .execute("UPDATE users SET joined_via = 'scim' WHERE id = 3", [])
            .expect("a connection opened before sees the widened CHECK");
        before
            .execute("UPDATE users SET joined_via = 'invite' WHERE id = 3", [])
            .expect("and back");
        drop(before);

        // A connection opened afterwards reads the widened definition.
        let c = Connection::open(&db).expect("reopen");
        let joined: Vec<String> = c
            .prepare("SELECT joined_via FROM users ORDER BY id")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(joined, ["scim", "scim", "invite", "jit", "invite"]);
        c.execute("UPDATE users SET joined_via = 'scim' WHERE id = 4", [])
            .expect("scim is allowed");
        for bad in [
            "UPDATE users SET joined_via = 'bogus' WHERE id = 4",
            "UPDATE users SET role = 'owner' WHERE id = 4",
        ] {
            assert!(c.execute(bad, []).is_err(), "{bad}");
        }
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok");
        assert_eq!(schema_version(&c).expect("version"), 13);
    }

    #[test]
    fn a_schema_newer_than_this_binary_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("t.db");
        drop(Store::open(&db, 1).expect("create"));
        let newer = MIGRATIONS.len() as i64 + 3;
        Connection::open(&db)
            .expect("open")
            .pragma_update(None, "user_version", newer)
            .expect("set version");
        let err = Store::open(&db, 1).err().expect("refused");
        assert!(
            matches!(err, StoreError::TooNew { database, binary }
                if database == newer && binary == MIGRATIONS.len() as i64),
            "{err}"
        );
    }
}
