//! The embedded implementation of the work queues: one SQLite file, for `pvs up`.
//!
//! The same semantics as [`RedisQueue`](crate::RedisQueue), kept in tables that use the
//! original key names as values (`queue = 'register_queue'`,
//! `set_key = 'preprocess-failure_set'`), so that `sqlite3 queue.sqlite` shows what
//! `redis-cli` would:
//!
//! - `queue_items`: every item, waiting (`consumer IS NULL`, taken in `pos` order) or taken
//!   (`consumer` = the consumer's name, in `taken_seq` order). Taking an item only sets its
//!   consumer, in one statement, so an item is always either waiting or someone's.
//! - `queue_consumers`: one heartbeat per live consumer (`expires_at`, milliseconds since the
//!   Unix epoch), renewed every third of the heartbeat TTL.
//! - `queue_status`, `queue_failure_reasons`: the status sets and failure reasons.
//! - `queue_reports`, `queue_report_outcomes`: report tracking.
//!
//! SQLite is blocking: every statement runs on tokio's blocking pool, on the queue's one
//! connection behind a mutex. Several processes may open the same file (WAL mode, a busy
//! timeout); each transaction is atomic across them. WAL needs the processes on one machine
//! and the file on a local file system (not NFS); heartbeats compare that machine's clock. A
//! push wakes the takers of its queue that wait on the same [`SqliteQueue`] (or a clone) at
//! once; pushes by other processes are seen within 100 ms ([`POLL_INTERVAL`]).
//!
//! Items handed back (by `close`, `recover`, or a restart under the same name) go to the front
//! of the line in the order they were taken; Redis puts the last taken first. The contract
//! leaves that order open.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::redis_queue::DEFAULT_HEARTBEAT_TTL;
use crate::{
    CompletedReport, Consumer, QueueError, QueueName, Result, Stage, Status, StatusSet, Taken,
    WorkQueue, validate_consumer_name,
};

/// How often a waiting `take` looks for items pushed by other processes.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long a statement waits for another process's write to finish before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The write-ahead log is cut back to this size after a checkpoint (a burst of large items
/// does not leave a large `-wal` file behind).
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// The tables, created when missing. Items are kept as TEXT: payloads are `&str`, and SQLite
/// keeps text byte for byte (NULs included) when bound with its length, as rusqlite does.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS queue_items (
        id INTEGER PRIMARY KEY,
        queue TEXT NOT NULL,
        pos INTEGER NOT NULL,
        payload TEXT NOT NULL,
        consumer TEXT,
        taken_seq INTEGER
    );
    CREATE INDEX IF NOT EXISTS queue_items_waiting
        ON queue_items (queue, pos) WHERE consumer IS NULL;
    CREATE INDEX IF NOT EXISTS queue_items_taken
        ON queue_items (queue, consumer, taken_seq) WHERE consumer IS NOT NULL;
    CREATE TABLE IF NOT EXISTS queue_consumers (
        queue TEXT NOT NULL,
        name TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (queue, name)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS queue_status (
        set_key TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (set_key, id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS queue_failure_reasons (
        reasons_key TEXT NOT NULL,
        id TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (reasons_key, id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS queue_failure_items (
        items_key TEXT NOT NULL,
        id TEXT NOT NULL,
        queue TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (items_key, id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS queue_reports (
        name TEXT PRIMARY KEY,
        expected INTEGER NOT NULL,
        info TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS queue_report_outcomes (
        name TEXT NOT NULL,
        id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (name, id)
    ) WITHOUT ROWID;
";

/// Each table with a statement naming every column the code uses: a file whose tables of these
/// names were made by something else is refused at open, instead of failing at the first push.
const SCHEMA_CHECK: [(&str, &str); 7] = [
    (
        "queue_items",
        "SELECT id, queue, pos, payload, consumer, taken_seq FROM queue_items",
    ),
    (
        "queue_consumers",
        "SELECT queue, name, expires_at FROM queue_consumers",
    ),
    ("queue_status", "SELECT set_key, id FROM queue_status"),
    (
        "queue_failure_reasons",
        "SELECT reasons_key, id, reason FROM queue_failure_reasons",
    ),
    (
        "queue_failure_items",
        "SELECT items_key, id, queue, payload FROM queue_failure_items",
    ),
    (
        "queue_reports",
        "SELECT name, expected, info FROM queue_reports",
    ),
    (
        "queue_report_outcomes",
        "SELECT name, id, outcome FROM queue_report_outcomes",
    ),
];

/// Work queues in one SQLite file (or in memory), for running without services.
#[derive(Clone)]
pub struct SqliteQueue {
    conn: Arc<Mutex<Connection>>,
    /// What was opened, for messages: the path, or `:memory:`.
    target: String,
    /// One per queue, in the order of [`QueueName::ALL`]: wakes the takers of this process.
    pushed: Arc<[Notify; QueueName::ALL.len()]>,
    heartbeat_ttl: Duration,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("target", &self.target)
            .field("heartbeat_ttl", &self.heartbeat_ttl)
            .finish()
    }
}

impl SqliteQueue {
    /// Opens the queue file at `path`, creating it and its tables when missing (its directory
    /// must exist). The path is taken literally (no `file:` URIs). Fails, naming the path,
    /// when the file cannot be opened or written, is not an SQLite database, or holds tables
    /// of these names that pvs did not make.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let target = path.display().to_string();
        let conn = tokio::task::spawn_blocking(move || open_file(&path))
            .await
            .map_err(|e| QueueError::Connect {
                target: target.clone(),
                reason: format!("the task opening the file stopped: {e}"),
            })?
            .map_err(|reason| QueueError::Connect {
                target: target.clone(),
                reason,
            })?;
        Ok(Self::new(conn, target))
    }

    /// A queue that lives in memory and ends with the last clone of it: nothing is durable and
    /// no other process sees it (tests, one-shot runs).
    pub fn in_memory() -> Result<Self> {
        let target = ":memory:".to_owned();
        let conn = Connection::open_in_memory()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| prepare(&mut conn).map(|()| conn))
            .map_err(|reason| QueueError::Connect {
                target: target.clone(),
                reason,
            })?;
        Ok(Self::new(conn, target))
    }

    fn new(conn: Connection, target: String) -> Self {
        Self {
            conn: Arc::new(Mutex::new(conn)),
            target,
            pushed: Arc::new(std::array::from_fn(|_| Notify::new())),
            heartbeat_ttl: DEFAULT_HEARTBEAT_TTL,
        }
    }

    /// Sets how long a consumer counts as alive after its last heartbeat (at least 1 s; its
    /// heartbeat is renewed every third of that).
    pub fn with_heartbeat_ttl(mut self, ttl: Duration) -> Self {
        self.heartbeat_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// The file this queue lives in (`:memory:` for [`SqliteQueue::in_memory`]).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Runs `f` on the connection, on the blocking pool. Errors name the operation, the key
    /// (queue or set) and the file.
    async fn run<T, F>(&self, operation: &'static str, key: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let answer = tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled it back (the transaction's drop), so the
            // connection is sound even when the mutex is poisoned.
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await;
        let reason = match answer {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("the database task stopped: {e}"),
        };
        Err(QueueError::Backend {
            operation,
            key: format!("{key} in {}", self.target),
            reason,
        })
    }

    fn notify(&self, queue: QueueName) -> &Notify {
        let index = QueueName::ALL
            .iter()
            .position(|q| *q == queue)
            .expect("every queue is in QueueName::ALL");
        &self.pushed[index]
    }

    async fn refresh_heartbeat(&self, queue: QueueName, consumer: &str) -> Result<()> {
        let name = consumer.to_owned();
        let ttl = self.heartbeat_ttl;
        self.run("heartbeat", queue.key(), move |conn| {
            refresh_heartbeat(conn, queue, &name, ttl)
        })
        .await
    }
}

/// Opens (creating when missing) and prepares the file; the error says what failed.
fn open_file(path: &Path) -> std::result::Result<Connection, String> {
    // No SQLITE_OPEN_URI: the path is a file name, whatever it looks like.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)
        .map_err(|e| format!("cannot open or create the SQLite file: {e}"))?;
    // SQLite falls back to read-only when the file is write-protected; a queue must write.
    if conn.is_readonly("main").map_err(|e| e.to_string())? {
        return Err("the file is read-only".to_owned());
    }
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| format!("cannot set the busy timeout: {e}"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| format!("cannot switch to WAL mode: {e}"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!(
            "the file does not support WAL mode (journal mode is {mode:?})"
        ));
    }
    prepare(&mut conn)?;
    Ok(conn)
}

/// Settings of every connection, then the tables: those present checked, the others created.
fn prepare(conn: &mut Connection) -> std::result::Result<(), String> {
    // NORMAL (in WAL mode): a commit is in the file's write-ahead log when it returns, so a
    // killed process loses nothing; a power cut may lose the last commits before the next
    // sync (as Redis without `appendfsync always` does), but never corrupts the file. FULL
    // syncs every commit: about 100 times slower here (5.5 ms instead of 55 µs per push).
    conn.pragma_update(None, "synchronous", "NORMAL")
        .and_then(|()| conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT))
        .map_err(|e| format!("cannot configure the database: {e}"))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    for (table, check) in SCHEMA_CHECK {
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
                [table],
                |row| row.get(0),
            )
            .map_err(|e| format!("cannot read the file: {e}"))?;
        if exists && let Err(e) = tx.prepare(check) {
            return Err(format!(
                "the file holds a table {table} that is not that of a pvs queue ({e})"
            ));
        }
    }
    tx.execute_batch(SCHEMA)
        .and_then(|()| tx.commit())
        .map_err(|e| format!("cannot create the queue tables: {e}"))
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

fn refresh_heartbeat(
    conn: &Connection,
    queue: QueueName,
    consumer: &str,
    ttl: Duration,
) -> rusqlite::Result<()> {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT OR REPLACE INTO queue_consumers (queue, name, expires_at) VALUES (?1, ?2, ?3)",
        params![queue.key(), consumer, now_ms().saturating_add(ttl_ms)],
    )?;
    Ok(())
}

/// The position after the last waiting item of `queue`.
fn end_of_line(conn: &Connection, queue: QueueName) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(pos), 0) + 1 FROM queue_items WHERE queue = ?1 AND consumer IS NULL",
        [queue.key()],
        |row| row.get(0),
    )
}

/// Puts every item `consumer` holds back at the front of `queue`, the one taken first to be
/// taken next; returns how many. Run inside a transaction.
fn drain_back(conn: &Connection, queue: QueueName, consumer: &str) -> rusqlite::Result<usize> {
    let ids: Vec<i64> = conn
        .prepare(
            "SELECT id FROM queue_items WHERE queue = ?1 AND consumer = ?2 ORDER BY taken_seq",
        )?
        .query_map(params![queue.key(), consumer], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if ids.is_empty() {
        return Ok(0);
    }
    let front: i64 = conn.query_row(
        "SELECT COALESCE(MIN(pos), 1) FROM queue_items WHERE queue = ?1 AND consumer IS NULL",
        [queue.key()],
        |row| row.get(0),
    )?;
    let first = front - i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let mut update = conn.prepare(
        "UPDATE queue_items SET consumer = NULL, taken_seq = NULL, pos = ?2 WHERE id = ?1",
    )?;
    for (pos, id) in (first..).zip(&ids) {
        update.execute(params![id, pos])?;
    }
    Ok(ids.len())
}

/// The id of the item with `payload` that `consumer` took last from `queue`.
fn held_item(
    conn: &Connection,
    queue: QueueName,
    consumer: &str,
    payload: &str,
) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT id FROM queue_items WHERE queue = ?1 AND consumer = ?2 AND payload = ?3
         ORDER BY taken_seq DESC LIMIT 1",
        params![queue.key(), consumer, payload],
        |row| row.get(0),
    )
    .optional()
}

/// Takes the next waiting item of `queue` for `consumer`, in one statement.
fn take_one(
    conn: &Connection,
    queue: QueueName,
    consumer: &str,
) -> rusqlite::Result<Option<String>> {
    // A plain read first: an empty queue (the usual answer to a poll) takes no write lock.
    let waiting: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM queue_items WHERE queue = ?1 AND consumer IS NULL)",
        [queue.key()],
        |row| row.get(0),
    )?;
    if !waiting {
        return Ok(None);
    }
    conn.query_row(
        "UPDATE queue_items SET consumer = ?2, taken_seq = (
             SELECT COALESCE(MAX(taken_seq), 0) + 1 FROM queue_items
             WHERE queue = ?1 AND consumer = ?2)
         WHERE id = (
             SELECT id FROM queue_items WHERE queue = ?1 AND consumer IS NULL
             ORDER BY pos LIMIT 1)
         RETURNING payload",
        params![queue.key(), consumer],
        |row| row.get(0),
    )
    .optional()
}

/// Removes `id` from the given sets of `stage`.
fn remove_from_sets(
    conn: &Connection,
    stage: Stage,
    sets: &[StatusSet],
    id: &str,
) -> rusqlite::Result<()> {
    let mut delete = conn.prepare("DELETE FROM queue_status WHERE set_key = ?1 AND id = ?2")?;
    for set in sets {
        delete.execute(params![stage.set_key(*set), id])?;
    }
    Ok(())
}

/// Forgets the failure reason and the kept item of `id` in `stage`.
fn forget_failure(conn: &Connection, stage: Stage, id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM queue_failure_reasons WHERE reasons_key = ?1 AND id = ?2",
        params![stage.reasons_key(), id],
    )?;
    conn.execute(
        "DELETE FROM queue_failure_items WHERE items_key = ?1 AND id = ?2",
        params![stage.items_key(), id],
    )?;
    Ok(())
}

/// Records that `id` failed `stage` for `reason`, keeping `item` (its queue and payload) if
/// given and dropping an item kept before otherwise.
fn record_failure(
    conn: &mut Connection,
    stage: Stage,
    id: &str,
    reason: &str,
    item: Option<(QueueName, &str)>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    remove_from_sets(&tx, stage, &[StatusSet::InFlight, StatusSet::Success], id)?;
    forget_failure(&tx, stage, id)?;
    tx.execute(
        "INSERT INTO queue_failure_reasons (reasons_key, id, reason) VALUES (?1, ?2, ?3)",
        params![stage.reasons_key(), id, reason],
    )?;
    if let Some((queue, payload)) = item {
        tx.execute(
            "INSERT INTO queue_failure_items (items_key, id, queue, payload)
             VALUES (?1, ?2, ?3, ?4)",
            params![stage.items_key(), id, queue.key(), payload],
        )?;
    }
    add_to_set(&tx, stage, StatusSet::Failure, id)?;
    tx.commit()
}

fn add_to_set(conn: &Connection, stage: Stage, set: StatusSet, id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO queue_status (set_key, id) VALUES (?1, ?2)",
        params![stage.set_key(set), id],
    )?;
    Ok(())
}

fn is_member(conn: &Connection, stage: Stage, set: StatusSet, id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM queue_status WHERE set_key = ?1 AND id = ?2)",
        params![stage.set_key(set), id],
        |row| row.get(0),
    )
}

#[async_trait]
impl WorkQueue for SqliteQueue {
    async fn ping(&self) -> Result<()> {
        // A read of the file, not only of the connection: an unreadable file fails here.
        self.run("ping", "queue_consumers", |conn| {
            conn.query_row("SELECT COUNT(*) FROM queue_consumers", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|_| ())
        })
        .await
    }

    async fn push(&self, queue: QueueName, item: &str) -> Result<()> {
        self.push_many(queue, &[item.to_owned()]).await
    }

    async fn push_if_held(
        &self,
        source: QueueName,
        consumer: &str,
        held: &str,
        target: QueueName,
        message: &str,
    ) -> Result<bool> {
        let (consumer, held, message) = (consumer.to_owned(), held.to_owned(), message.to_owned());
        let pushed = self
            .run("push", target.key(), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                if held_item(&tx, source, &consumer, &held)?.is_none() {
                    return Ok(false);
                }
                let pos = end_of_line(&tx, target)?;
                tx.execute(
                    "INSERT INTO queue_items (queue, pos, payload) VALUES (?1, ?2, ?3)",
                    params![target.key(), pos, message],
                )?;
                tx.commit().map(|()| true)
            })
            .await?;
        if pushed {
            self.notify(target).notify_waiters();
        }
        Ok(pushed)
    }

    async fn push_many(&self, queue: QueueName, items: &[String]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let items = items.to_vec();
        self.run("push", queue.key(), move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let first = end_of_line(&tx, queue)?;
            {
                let mut insert = tx
                    .prepare("INSERT INTO queue_items (queue, pos, payload) VALUES (?1, ?2, ?3)")?;
                for (pos, item) in (first..).zip(&items) {
                    insert.execute(params![queue.key(), pos, item])?;
                }
            }
            tx.commit()
        })
        .await?;
        self.notify(queue).notify_waiters();
        Ok(())
    }

    async fn len(&self, queue: QueueName) -> Result<u64> {
        let count: i64 = self
            .run("len", queue.key(), move |conn| {
                conn.query_row(
                    "SELECT COUNT(*) FROM queue_items WHERE queue = ?1 AND consumer IS NULL",
                    [queue.key()],
                    |row| row.get(0),
                )
            })
            .await?;
        // COUNT(*) is never negative.
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn peek(&self, queue: QueueName, max: usize) -> Result<Vec<String>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        self.run("peek", queue.key(), move |conn| {
            conn.prepare(
                "SELECT payload FROM queue_items WHERE queue = ?1 AND consumer IS NULL
                 ORDER BY pos LIMIT ?2",
            )?
            .query_map(params![queue.key(), limit], |row| row.get(0))?
            .collect()
        })
        .await
    }

    async fn processing(&self, queue: QueueName) -> Result<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = self
            .run("processing", queue.key(), move |conn| {
                conn.prepare(
                    "SELECT consumer, payload FROM queue_items
                     WHERE queue = ?1 AND consumer IS NOT NULL
                     ORDER BY consumer, taken_seq",
                )?
                .query_map([queue.key()], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
            })
            .await?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (consumer, payload) in rows {
            match out.last_mut() {
                Some((name, items)) if *name == consumer => items.push(payload),
                _ => out.push((consumer, vec![payload])),
            }
        }
        Ok(out)
    }

    async fn consumer(&self, queue: QueueName, name: &str) -> Result<Box<dyn Consumer>> {
        validate_consumer_name(name)?;
        let consumer = name.to_owned();
        let ttl = self.heartbeat_ttl;
        // A consumer starting under this name means the previous one under it is gone.
        let reclaimed = self
            .run("consumer", queue.key(), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                refresh_heartbeat(&tx, queue, &consumer, ttl)?;
                let reclaimed = drain_back(&tx, queue, &consumer)?;
                tx.commit()?;
                Ok(reclaimed)
            })
            .await?;
        if reclaimed > 0 {
            tracing::info!(queue = %queue, consumer = name, reclaimed, "took back unfinished items of a previous run");
            self.notify(queue).notify_waiters();
        }
        let closed = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let this = self.clone();
            let name = name.to_owned();
            let closed = Arc::clone(&closed);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(this.heartbeat_ttl / 3).await;
                    if closed.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Err(e) = this.refresh_heartbeat(queue, &name).await {
                        tracing::warn!(queue = %queue, consumer = name, error = %e, "could not renew the consumer heartbeat");
                    }
                }
            })
        };
        Ok(Box::new(SqliteConsumer {
            queue: self.clone(),
            name: name.to_owned(),
            source: queue,
            closed,
            heartbeat,
        }))
    }

    async fn recover(&self, queue: QueueName) -> Result<usize> {
        let recovered: Vec<(String, usize)> = self
            .run("recover", queue.key(), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = now_ms();
                tx.execute(
                    "DELETE FROM queue_consumers WHERE queue = ?1 AND expires_at <= ?2",
                    params![queue.key(), now],
                )?;
                let dead: Vec<String> = tx
                    .prepare(
                        "SELECT DISTINCT consumer FROM queue_items
                         WHERE queue = ?1 AND consumer IS NOT NULL AND consumer NOT IN (
                             SELECT name FROM queue_consumers WHERE queue = ?1)
                         ORDER BY consumer",
                    )?
                    .query_map([queue.key()], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut recovered = Vec::new();
                for consumer in dead {
                    let n = drain_back(&tx, queue, &consumer)?;
                    recovered.push((consumer, n));
                }
                tx.commit()?;
                Ok(recovered)
            })
            .await?;
        let mut moved = 0;
        for (consumer, items) in recovered {
            tracing::warn!(queue = %queue, consumer, items, "recovered the items of a consumer that stopped without finishing them");
            moved += items;
        }
        if moved > 0 {
            self.notify(queue).notify_waiters();
        }
        Ok(moved)
    }

    async fn mark_started(&self, stage: Stage, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.run("mark", stage.set_key(StatusSet::InFlight), move |conn| {
            add_to_set(conn, stage, StatusSet::InFlight, &id)
        })
        .await
    }

    async fn mark_succeeded(&self, stage: Stage, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.run("mark", stage.set_key(StatusSet::Success), move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            remove_from_sets(&tx, stage, &[StatusSet::InFlight, StatusSet::Failure], &id)?;
            forget_failure(&tx, stage, &id)?;
            add_to_set(&tx, stage, StatusSet::Success, &id)?;
            tx.commit()
        })
        .await
    }

    async fn mark_failed(&self, stage: Stage, id: &str, reason: &str) -> Result<()> {
        let id = id.to_owned();
        let reason = reason.to_owned();
        self.run("mark", stage.set_key(StatusSet::Failure), move |conn| {
            record_failure(conn, stage, &id, &reason, None)
        })
        .await
    }

    async fn mark_failed_item(
        &self,
        stage: Stage,
        id: &str,
        reason: &str,
        queue: QueueName,
        payload: &str,
    ) -> Result<()> {
        let (id, reason, payload) = (id.to_owned(), reason.to_owned(), payload.to_owned());
        self.run("mark", stage.set_key(StatusSet::Failure), move |conn| {
            record_failure(conn, stage, &id, &reason, Some((queue, &payload)))
        })
        .await
    }

    async fn failed_item(&self, stage: Stage, id: &str) -> Result<Option<Taken>> {
        let id = id.to_owned();
        let kept: Option<(String, String)> = self
            .run("failed_item", stage.items_key(), move |conn| {
                conn.query_row(
                    "SELECT queue, payload FROM queue_failure_items
                     WHERE items_key = ?1 AND id = ?2",
                    params![stage.items_key(), id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
            })
            .await?;
        kept.map(|(queue, payload)| {
            Ok(Taken {
                queue: queue.parse()?,
                payload,
            })
        })
        .transpose()
    }

    async fn retry(&self, stage: Stage, id: &str) -> Result<Option<QueueName>> {
        let id = id.to_owned();
        let queued: Option<String> = self
            .run("retry", stage.items_key(), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let kept: Option<(String, String)> = tx
                    .query_row(
                        "SELECT queue, payload FROM queue_failure_items
                         WHERE items_key = ?1 AND id = ?2",
                        params![stage.items_key(), id],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                let Some((queue_key, payload)) = kept else {
                    return Ok(None);
                };
                remove_from_sets(&tx, stage, &[StatusSet::Failure], &id)?;
                forget_failure(&tx, stage, &id)?;
                let pos: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(pos), 0) + 1 FROM queue_items
                     WHERE queue = ?1 AND consumer IS NULL",
                    [&queue_key],
                    |row| row.get(0),
                )?;
                tx.execute(
                    "INSERT INTO queue_items (queue, pos, payload) VALUES (?1, ?2, ?3)",
                    params![queue_key, pos, payload],
                )?;
                tx.commit()?;
                Ok(Some(queue_key))
            })
            .await?;
        let Some(key) = queued else {
            return Ok(None);
        };
        let queue: QueueName = key.parse()?;
        self.notify(queue).notify_waiters();
        Ok(Some(queue))
    }

    async fn forget(&self, stage: Stage, id: &str) -> Result<()> {
        let key = id.to_owned();
        let id = id.to_owned();
        self.run("forget", &key, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            remove_from_sets(
                &tx,
                stage,
                &[StatusSet::InFlight, StatusSet::Success, StatusSet::Failure],
                &id,
            )?;
            forget_failure(&tx, stage, &id)?;
            tx.commit()
        })
        .await
    }

    async fn status(&self, stage: Stage, id: &str) -> Result<Status> {
        let key = id.to_owned();
        let id = id.to_owned();
        self.run("status", &key, move |conn| {
            // One read transaction: the sets and the reason as of one moment.
            let tx = conn.transaction()?;
            let status = if is_member(&tx, stage, StatusSet::InFlight, &id)? {
                Status::InFlight
            } else if is_member(&tx, stage, StatusSet::Failure, &id)? {
                let reason: Option<String> = tx
                    .query_row(
                        "SELECT reason FROM queue_failure_reasons
                         WHERE reasons_key = ?1 AND id = ?2",
                        params![stage.reasons_key(), id],
                        |row| row.get(0),
                    )
                    .optional()?;
                Status::Failed {
                    reason: reason.unwrap_or_default(),
                }
            } else if is_member(&tx, stage, StatusSet::Success, &id)? {
                Status::Succeeded
            } else {
                Status::Unknown
            };
            tx.commit()?;
            Ok(status)
        })
        .await
    }

    async fn report_open(&self, name: &str, expected: usize, info: &str) -> Result<()> {
        let key = format!("report {name}");
        let name = name.to_owned();
        let info = info.to_owned();
        let expected = i64::try_from(expected).unwrap_or(i64::MAX);
        self.run("report_open", &key, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM queue_report_outcomes WHERE name = ?1", [&name])?;
            tx.execute(
                "INSERT OR REPLACE INTO queue_reports (name, expected, info) VALUES (?1, ?2, ?3)",
                params![name, expected, info],
            )?;
            tx.commit()
        })
        .await
    }

    async fn report_result(
        &self,
        name: &str,
        id: &str,
        outcome: &str,
    ) -> Result<Option<CompletedReport>> {
        let key = format!("report {name}");
        let name = name.to_owned();
        let id = id.to_owned();
        let outcome = outcome.to_owned();
        // One write transaction: record, and if that completes the report, hand it over and
        // forget it, so that exactly one caller (of any process) sees it complete.
        self.run("report_result", &key, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let report: Option<(i64, String)> = tx
                .query_row(
                    "SELECT expected, info FROM queue_reports WHERE name = ?1",
                    [&name],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((expected, info)) = report else {
                return Ok(None);
            };
            tx.execute(
                "INSERT OR REPLACE INTO queue_report_outcomes (name, id, outcome)
                 VALUES (?1, ?2, ?3)",
                params![name, id, outcome],
            )?;
            let recorded: i64 = tx.query_row(
                "SELECT COUNT(*) FROM queue_report_outcomes WHERE name = ?1",
                [&name],
                |row| row.get(0),
            )?;
            if recorded < expected {
                tx.commit()?;
                return Ok(None);
            }
            let outcomes: Vec<(String, String)> = tx
                .prepare(
                    "SELECT id, outcome FROM queue_report_outcomes WHERE name = ?1 ORDER BY id",
                )?
                .query_map([&name], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            tx.execute("DELETE FROM queue_report_outcomes WHERE name = ?1", [&name])?;
            tx.execute("DELETE FROM queue_reports WHERE name = ?1", [&name])?;
            tx.commit()?;
            Ok(Some(CompletedReport {
                name,
                info,
                outcomes,
            }))
        })
        .await
    }

    async fn is_member(&self, stage: Stage, set: StatusSet, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.run("is_member", stage.set_key(set), move |conn| {
            is_member(conn, stage, set, &id)
        })
        .await
    }

    async fn members(&self, stage: Stage, set: StatusSet) -> Result<Vec<String>> {
        // BINARY order is byte order, which for UTF-8 is the order of `String`.
        self.run("members", stage.set_key(set), move |conn| {
            conn.prepare("SELECT id FROM queue_status WHERE set_key = ?1 ORDER BY id")?
                .query_map([stage.set_key(set)], |row| row.get(0))?
                .collect()
        })
        .await
    }

    async fn set_len(&self, stage: Stage, set: StatusSet) -> Result<u64> {
        let count: i64 = self
            .run("set_len", stage.set_key(set), move |conn| {
                conn.query_row(
                    "SELECT COUNT(*) FROM queue_status WHERE set_key = ?1",
                    [stage.set_key(set)],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn purge_queue(&self, queue: QueueName) -> Result<u64> {
        let removed = self
            .run("purge", queue.key(), move |conn| {
                conn.execute(
                    "DELETE FROM queue_items WHERE queue = ?1 AND consumer IS NULL",
                    [queue.key()],
                )
            })
            .await?;
        Ok(removed as u64)
    }

    async fn purge_set(&self, stage: Stage, set: StatusSet) -> Result<u64> {
        let removed = self
            .run("purge", stage.set_key(set), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let removed = tx.execute(
                    "DELETE FROM queue_status WHERE set_key = ?1",
                    [stage.set_key(set)],
                )?;
                if set == StatusSet::Failure {
                    tx.execute(
                        "DELETE FROM queue_failure_reasons WHERE reasons_key = ?1",
                        [stage.reasons_key()],
                    )?;
                    tx.execute(
                        "DELETE FROM queue_failure_items WHERE items_key = ?1",
                        [stage.items_key()],
                    )?;
                }
                tx.commit()?;
                Ok(removed)
            })
            .await?;
        Ok(removed as u64)
    }
}

/// A consumer of one queue of a [`SqliteQueue`], with a heartbeat renewed in the background
/// while it lives.
pub struct SqliteConsumer {
    queue: SqliteQueue,
    name: String,
    source: QueueName,
    /// Set by `close`: a take still queued for the connection then takes nothing (a take
    /// whose future was dropped, e.g. by `select!` on shutdown, still runs to its end).
    closed: Arc<AtomicBool>,
    heartbeat: JoinHandle<()>,
}

impl std::fmt::Debug for SqliteConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConsumer")
            .field("target", &self.queue.target)
            .field("queue", &self.source)
            .field("name", &self.name)
            .finish()
    }
}

impl Drop for SqliteConsumer {
    fn drop(&mut self) {
        // Unacknowledged items stay this consumer's; once the heartbeat expires, `recover`
        // hands them to another consumer.
        self.heartbeat.abort();
    }
}

impl SqliteConsumer {
    async fn try_take(&self) -> Result<Option<String>> {
        let queue = self.source;
        let name = self.name.clone();
        let closed = Arc::clone(&self.closed);
        self.queue
            .run("take", queue.key(), move |conn| {
                if closed.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                take_one(conn, queue, &name)
            })
            .await
    }
}

#[async_trait]
impl Consumer for SqliteConsumer {
    fn name(&self) -> &str {
        &self.name
    }

    async fn take(&mut self, timeout: Duration) -> Result<Option<Taken>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let pushed = self.queue.notify(self.source);
        loop {
            // Listen before looking, so that a push between the look and the wait wakes us.
            let notified = pushed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(payload) = self.try_take().await? {
                return Ok(Some(Taken {
                    queue: self.source,
                    payload,
                }));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            // Pushes by other processes are not notified: look again after a while.
            let wait = (deadline - now).min(POLL_INTERVAL);
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn ack(&mut self, taken: &Taken) -> Result<()> {
        let queue = self.source;
        let name = self.name.clone();
        let payload = taken.payload.clone();
        self.queue
            .run("ack", queue.key(), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                if let Some(id) = held_item(&tx, queue, &name, &payload)? {
                    tx.execute("DELETE FROM queue_items WHERE id = ?1", [id])?;
                }
                tx.commit()
            })
            .await
    }

    async fn release(&mut self, taken: &Taken) -> Result<()> {
        let source = self.source;
        let target = taken.queue;
        let name = self.name.clone();
        let payload = taken.payload.clone();
        self.queue
            .run("release", source.key(), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let end = end_of_line(&tx, target)?;
                match held_item(&tx, source, &name, &payload)? {
                    Some(id) => tx.execute(
                        "UPDATE queue_items
                         SET queue = ?2, pos = ?3, consumer = NULL, taken_seq = NULL
                         WHERE id = ?1",
                        params![id, target.key(), end],
                    )?,
                    // No longer held: recovered while the consumer's heartbeat had expired,
                    // it is queued or with another consumer already; queueing it again
                    // would have it done twice (as Redis does not either).
                    None => 0,
                };
                tx.commit()
            })
            .await?;
        self.queue.notify(target).notify_waiters();
        Ok(())
    }

    async fn close(self: Box<Self>) -> Result<()> {
        self.closed.store(true, Ordering::SeqCst);
        self.heartbeat.abort();
        let queue = self.source;
        let name = self.name.clone();
        let returned = self
            .queue
            .run("close", queue.key(), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let returned = drain_back(&tx, queue, &name)?;
                tx.execute(
                    "DELETE FROM queue_consumers WHERE queue = ?1 AND name = ?2",
                    params![queue.key(), name],
                )?;
                tx.commit()?;
                Ok(returned)
            })
            .await?;
        if returned > 0 {
            self.queue.notify(queue).notify_waiters();
        }
        Ok(())
    }
}
