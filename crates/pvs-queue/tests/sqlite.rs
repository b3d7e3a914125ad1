//! The queue contract against the embedded SQLite queue, on a file (in a temporary directory
//! of its own per test) and in memory, plus what only the embedded queue has: a file that
//! outlives the process, several connections on one file, and paths that cannot be used.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pvs_queue::testing::spawn_child_test;
use pvs_queue::{
    QueueError, QueueName, SqliteQueue, Stage, Status, StatusSet, WorkQueue, contract,
};
use tempfile::TempDir;

const HEARTBEAT_TTL: Duration = Duration::from_secs(1);
const SHORT: Duration = Duration::from_millis(200);

/// A fresh queue with the short heartbeat of these tests: on a file in a directory of its
/// own (deleted on drop), or in memory.
struct Fixture {
    dir: Option<TempDir>,
    queue: SqliteQueue,
}

impl Fixture {
    async fn file() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let queue = SqliteQueue::open(dir.path().join("queue.sqlite"))
            .await
            .unwrap()
            .with_heartbeat_ttl(HEARTBEAT_TTL);
        Self {
            dir: Some(dir),
            queue,
        }
    }

    async fn memory() -> Self {
        Self {
            dir: None,
            queue: SqliteQueue::in_memory()
                .unwrap()
                .with_heartbeat_ttl(HEARTBEAT_TTL),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir
            .as_ref()
            .expect("a file fixture")
            .path()
            .join("queue.sqlite")
    }
}

/// A module running the whole contract on the queues `$fixture` makes (the killed consumer,
/// which needs a second process on the same file, is below).
macro_rules! contract_suite {
    ($module:ident, $fixture:path) => {
        mod $module {
            use super::*;

            contract_suite!(@plain $fixture;
                fifo_order,
                queues_are_separate,
                take_waits_and_times_out,
                ack_and_release,
                hand_off_is_fenced,
                consumers_never_share_an_item,
                restart_takes_back_unfinished_items,
                close_returns_unfinished_items,
                status_sets,
                payloads_round_trip,
                consumer_names_are_validated,
                reports_complete_once,
                registration_reports_are_kept,
                registration_report_written_once,
                failed_items_are_kept_and_retried,
                queues_and_sets_are_counted_and_purged,
            );
            contract_suite!(@ttl $fixture;
                abandoned_items_are_recovered,
                live_consumers_keep_their_items,
            );
        }
    };
    (@plain $fixture:path; $($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let fixture = $fixture().await;
            contract::$name(&fixture.queue).await;
        }
    )*};
    (@ttl $fixture:path; $($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let fixture = $fixture().await;
            contract::$name(&fixture.queue, HEARTBEAT_TTL).await;
        }
    )*};
}

contract_suite!(file, Fixture::file);
contract_suite!(in_memory, Fixture::memory);

const CHILD_DB_VAR: &str = "PVS_QUEUE_TEST_CHILD_DB";

#[tokio::test]
async fn killed_consumer_loses_nothing() {
    let fixture = Fixture::file().await;
    let path = fixture.path();
    contract::killed_consumer_loses_nothing(&fixture.queue, HEARTBEAT_TTL, || {
        spawn_child_test("child_consumer", CHILD_DB_VAR, path)
    })
    .await;
}

/// The consumer process that `killed_consumer_loses_nothing` kills; run only by it.
#[tokio::test]
#[ignore = "run as a child process by killed_consumer_loses_nothing"]
async fn child_consumer() {
    let path = std::env::var(CHILD_DB_VAR)
        .expect("child_consumer runs only as the child of killed_consumer_loses_nothing");
    let queue = SqliteQueue::open(path)
        .await
        .unwrap()
        .with_heartbeat_ttl(HEARTBEAT_TTL);
    contract::child_takes_one_item_and_hangs(&queue, "doomed").await;
}

async fn reopen(path: &Path) -> SqliteQueue {
    SqliteQueue::open(path)
        .await
        .unwrap()
        .with_heartbeat_ttl(HEARTBEAT_TTL)
}

#[tokio::test]
async fn everything_survives_closing_and_reopening_the_file() {
    let fixture = Fixture::file().await;
    let path = fixture.path();
    let q = QueueName::Register;
    {
        let queue = reopen(&path).await;
        queue
            .push_many(q, &["a".to_owned(), "b".to_owned(), "c".to_owned()])
            .await
            .unwrap();
        let mut worker = queue.consumer(q, "worker").await.unwrap();
        let taken = worker.take(SHORT).await.unwrap().unwrap();
        assert_eq!(taken.payload, "a");
        drop(worker); // dies holding "a"
        queue
            .mark_failed(Stage::Preprocess, "p1", "no such file: x.tif")
            .await
            .unwrap();
        queue.mark_succeeded(Stage::Register, "p2").await.unwrap();
        queue.report_open("r.xml", 2, "{\"n\":2}").await.unwrap();
        assert_eq!(
            queue.report_result("r.xml", "x", "success").await.unwrap(),
            None
        );
    }
    drop(fixture.queue);

    let queue = reopen(&path).await;
    assert_eq!(queue.peek(q, 10).await.unwrap(), ["b", "c"]);
    assert_eq!(
        queue.processing(q).await.unwrap(),
        [("worker".to_owned(), vec!["a".to_owned()])]
    );
    assert_eq!(
        queue.status(Stage::Preprocess, "p1").await.unwrap(),
        Status::Failed {
            reason: "no such file: x.tif".to_owned()
        }
    );
    assert_eq!(
        queue.status(Stage::Register, "p2").await.unwrap(),
        Status::Succeeded
    );
    let done = queue
        .report_result("r.xml", "y", "failure: broken")
        .await
        .unwrap()
        .expect("the report opened before reopening completes");
    assert_eq!(done.info, "{\"n\":2}");
    assert_eq!(
        done.outcomes,
        [
            ("x".to_owned(), "success".to_owned()),
            ("y".to_owned(), "failure: broken".to_owned())
        ]
    );
    // The worker restarting under its name takes its unfinished item first, then the rest.
    let mut worker = queue.consumer(q, "worker").await.unwrap();
    for expected in ["a", "b", "c"] {
        let taken = worker.take(SHORT).await.unwrap().unwrap();
        assert_eq!(taken.payload, expected);
        worker.ack(&taken).await.unwrap();
    }
    assert_eq!(worker.take(SHORT).await.unwrap(), None);
}

#[tokio::test]
async fn take_sees_pushes_of_another_connection() {
    let fixture = Fixture::file().await;
    // A second connection to the file: what another process would have.
    let other = reopen(&fixture.path()).await;
    let q = QueueName::Seed;
    let mut consumer = fixture.queue.consumer(q, "waiter").await.unwrap();
    let waiting = async {
        let started = Instant::now();
        let taken = consumer.take(Duration::from_secs(10)).await.unwrap();
        (taken, started.elapsed())
    };
    let pushing = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        other.push(q, "from elsewhere").await.unwrap();
    };
    let ((taken, waited), ()) = tokio::join!(waiting, pushing);
    assert_eq!(taken.expect("the item").payload, "from elsewhere");
    assert!(
        waited < Duration::from_secs(2),
        "the push of another connection was seen only after {waited:?}"
    );
}

/// In paused time (which stands still while SQLite works on the blocking pool), a push through
/// the same queue wakes the waiting take at once, not at its next look after 100 ms.
#[tokio::test(start_paused = true)]
async fn take_wakes_at_once_on_a_push_of_this_process() {
    let fixture = Fixture::file().await;
    let q = QueueName::Invalidate;
    let mut consumer = fixture.queue.consumer(q, "waiter").await.unwrap();
    let waiting = async {
        let started = tokio::time::Instant::now();
        let taken = consumer.take(Duration::from_secs(10)).await.unwrap();
        (taken, started.elapsed())
    };
    let pushing = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        fixture.queue.push(q, "now").await.unwrap();
    };
    let ((taken, waited), ()) = tokio::join!(waiting, pushing);
    assert_eq!(taken.expect("the item").payload, "now");
    assert!(
        waited < Duration::from_millis(60),
        "the take woke only after {waited:?} of (paused) time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushers_and_consumers_lose_and_duplicate_nothing() {
    const PUSHERS: usize = 4;
    const PER_PUSHER: usize = 150;
    let fixture = Fixture::file().await;
    let other = reopen(&fixture.path()).await;
    let connections = [fixture.queue.clone(), other];
    let q = QueueName::Preprocess;
    let pushers_done = Arc::new(AtomicUsize::new(0));

    let mut pushers = Vec::new();
    for p in 0..PUSHERS {
        let queue = connections[p % 2].clone();
        let done = Arc::clone(&pushers_done);
        pushers.push(tokio::spawn(async move {
            let items: Vec<String> = (0..PER_PUSHER).map(|i| format!("{p}:{i:04}")).collect();
            // Batches of 1 to 4 items: single pushes and atomic batches interleave.
            let mut rest = &items[..];
            let mut size = 1;
            while !rest.is_empty() {
                let (batch, tail) = rest.split_at(size.min(rest.len()));
                if batch.len() == 1 {
                    queue.push(q, &batch[0]).await.unwrap();
                } else {
                    queue.push_many(q, batch).await.unwrap();
                }
                rest = tail;
                size = size % 4 + 1;
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let mut consumers = Vec::new();
    for c in 0..4 {
        let queue = connections[c % 2].clone();
        let done = Arc::clone(&pushers_done);
        consumers.push(tokio::spawn(async move {
            let mut consumer = queue.consumer(q, &format!("worker-{c}")).await.unwrap();
            let mut got = Vec::new();
            loop {
                match consumer.take(Duration::from_millis(50)).await.unwrap() {
                    Some(taken) => {
                        consumer.ack(&taken).await.unwrap();
                        got.push(taken.payload);
                    }
                    None if done.load(Ordering::SeqCst) == PUSHERS
                        && queue.len(q).await.unwrap() == 0 =>
                    {
                        break;
                    }
                    None => {}
                }
            }
            consumer.close().await.unwrap();
            got
        }));
    }
    for pusher in pushers {
        pusher.await.unwrap();
    }
    let mut all = Vec::new();
    for consumer in consumers {
        let got = consumer.await.unwrap();
        // FIFO: what one consumer got from one pusher came in the order it was pushed.
        for p in 0..PUSHERS {
            let mine: Vec<&String> = got
                .iter()
                .filter(|item| item.starts_with(&format!("{p}:")))
                .collect();
            assert!(
                mine.windows(2).all(|pair| pair[0] < pair[1]),
                "items of pusher {p} out of order: {mine:?}"
            );
        }
        all.extend(got);
    }
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "an item was taken twice");
    assert_eq!(all.len(), PUSHERS * PER_PUSHER, "items were lost");
    assert_eq!(fixture.queue.len(q).await.unwrap(), 0);
    assert!(fixture.queue.processing(q).await.unwrap().is_empty());
}

#[tokio::test]
async fn hostile_payloads_and_ids_round_trip() {
    let fixture = Fixture::file().await;
    let queue = &fixture.queue;
    let q = QueueName::PreprocessMd;
    let items: Vec<String> = vec![
        "'); DROP TABLE queue_items; --".to_owned(),
        "\"double\" 'single' `back` \\ %_".to_owned(),
        String::new(),
        "\0".to_owned(),
        "a".to_owned(),
        "a\0b".to_owned(),
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🚀 \u{202e}desrever\u{202c} \u{feff}".to_owned(),
        "\r\n\t\u{7f}".to_owned(),
        "é\0".repeat(1 << 19),
    ];
    queue.push_many(q, &items).await.unwrap();
    assert_eq!(queue.peek(q, items.len()).await.unwrap(), items);
    let mut consumer = queue.consumer(q, "hostile").await.unwrap();
    let mut taken = Vec::new();
    for expected in &items {
        let item = consumer.take(SHORT).await.unwrap().unwrap();
        assert_eq!(&item.payload, expected);
        taken.push(item);
    }
    // Items are matched whole, NULs included: releasing "a\0b" leaves "a" held.
    let a_nul_b = taken.iter().find(|t| t.payload == "a\0b").unwrap();
    consumer.release(a_nul_b).await.unwrap();
    assert_eq!(queue.peek(q, 10).await.unwrap(), ["a\0b"]);
    let held = queue.processing(q).await.unwrap();
    assert_eq!(held.len(), 1);
    assert!(held[0].1.contains(&"a".to_owned()));
    assert!(!held[0].1.contains(&"a\0b".to_owned()));
    for item in &taken {
        if item.payload != "a\0b" {
            consumer.ack(item).await.unwrap();
        }
    }
    assert!(queue.processing(q).await.unwrap().is_empty());

    let stage = Stage::Register;
    let id = "id'\0\"; DELETE FROM queue_status; --";
    let reason = "reason with \0 and ünïcödé and \n lines";
    queue.mark_failed(stage, id, reason).await.unwrap();
    queue.mark_started(stage, "id'").await.unwrap();
    assert_eq!(
        queue.status(stage, id).await.unwrap(),
        Status::Failed {
            reason: reason.to_owned()
        }
    );
    assert_eq!(
        queue.members(stage, StatusSet::Failure).await.unwrap(),
        [id]
    );
    assert_eq!(
        queue.members(stage, StatusSet::InFlight).await.unwrap(),
        ["id'"]
    );
    let name = "report '\0 ✓.xml";
    queue.report_open(name, 1, "info\0'").await.unwrap();
    let done = queue
        .report_result(name, id, reason)
        .await
        .unwrap()
        .expect("complete");
    assert_eq!(done.name, name);
    assert_eq!(done.info, "info\0'");
    assert_eq!(done.outcomes, [(id.to_owned(), reason.to_owned())]);
}

#[tokio::test]
async fn tables_hold_the_original_names() {
    let fixture = Fixture::file().await;
    let queue = &fixture.queue;
    queue.ping().await.unwrap();
    queue.push(QueueName::PreprocessMd, "i").await.unwrap();
    queue
        .mark_failed(Stage::Register, "p", "why")
        .await
        .unwrap();
    // Read the file as an operator would, with a connection of its own.
    let conn = rusqlite::Connection::open(fixture.path()).unwrap();
    let queues: Vec<String> = conn
        .prepare("SELECT queue FROM queue_items")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(queues, ["preprocess-md_queue"]);
    let set: (String, String) = conn
        .query_row("SELECT set_key, id FROM queue_status", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(set, ("register-failure_set".to_owned(), "p".to_owned()));
    let reason: (String, String) = conn
        .query_row(
            "SELECT reasons_key, reason FROM queue_failure_reasons",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        reason,
        ("register-failure_reasons".to_owned(), "why".to_owned())
    );
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// Opens `path`, expecting a connection error that names it and says `why`.
async fn assert_open_fails(path: &Path, why: &str) {
    let err = SqliteQueue::open(path).await.unwrap_err();
    assert!(matches!(err, QueueError::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "cannot connect to the queue at {}",
            path.display()
        )),
        "the error does not name the path: {message}"
    );
    assert!(message.contains(why), "expected {why:?} in: {message}");
}

#[tokio::test]
async fn unusable_paths_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_open_fails(
        &dir.path().join("missing").join("queue.sqlite"),
        "cannot open or create the SQLite file",
    )
    .await;
    // A directory is not a file.
    assert_open_fails(dir.path(), "cannot open or create the SQLite file").await;
    // Nor is a path under a regular file.
    let regular = dir.path().join("regular.txt");
    std::fs::write(&regular, "text").unwrap();
    assert_open_fails(
        &regular.join("queue.sqlite"),
        "cannot open or create the SQLite file",
    )
    .await;
}

#[tokio::test]
async fn corrupt_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    std::fs::write(&path, "this is not a database\n".repeat(400)).unwrap();
    assert_open_fails(&path, "file is not a database").await;
    // Nothing was written to it.
    assert_eq!(
        std::fs::read(&path).unwrap(),
        "this is not a database\n".repeat(400).as_bytes()
    );

    // A real SQLite database with a damaged header page.
    let damaged = dir.path().join("damaged.sqlite");
    let queue = SqliteQueue::open(&damaged).await.unwrap();
    queue.push(QueueName::Seed, "x").await.unwrap();
    drop(queue);
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[..16].copy_from_slice(b"NOT SQLITE AT AL");
    std::fs::write(&damaged, bytes).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", damaged.display()));
    }
    assert_open_fails(&damaged, "file is not a database").await;
}

#[tokio::test]
async fn tables_of_another_application_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE queue_items (name TEXT, value BLOB);")
        .unwrap();
    drop(conn);
    assert_open_fails(
        &path,
        "holds a table queue_items that is not that of a pvs queue",
    )
    .await;
}

#[tokio::test]
async fn the_path_is_taken_literally() {
    let dir = tempfile::tempdir().unwrap();
    // Looks like an SQLite URI for an in-memory database; must be a file of that name.
    let path = dir
        .path()
        .join("file:queue.sqlite?mode=memory&cache=shared");
    let queue = SqliteQueue::open(&path).await.unwrap();
    queue.push(QueueName::Seed, "kept").await.unwrap();
    assert!(path.is_file(), "no file at {}", path.display());
    assert_eq!(queue.target(), path.display().to_string());
    let again = SqliteQueue::open(&path).await.unwrap();
    assert_eq!(again.peek(QueueName::Seed, 1).await.unwrap(), ["kept"]);
}

#[tokio::test]
async fn close_removes_the_heartbeat() {
    let fixture = Fixture::file().await;
    let q = QueueName::Deregister;
    fixture.queue.push(q, "p1").await.unwrap();
    let mut consumer = fixture.queue.consumer(q, "leaving").await.unwrap();
    let taken = consumer.take(SHORT).await.unwrap().unwrap();
    consumer.close().await.unwrap();
    // Its heartbeat is gone and its item is back at the front, for anyone.
    assert_eq!(fixture.queue.peek(q, 10).await.unwrap(), [taken.payload]);
    assert_eq!(fixture.queue.recover(q).await.unwrap(), 0);
    let conn = rusqlite::Connection::open(fixture.path()).unwrap();
    let heartbeats: i64 = conn
        .query_row("SELECT COUNT(*) FROM queue_consumers", [], |row| row.get(0))
        .unwrap();
    assert_eq!(heartbeats, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reports_complete_once_across_connections() {
    const PRODUCTS: usize = 40;
    let fixture = Fixture::file().await;
    let other = reopen(&fixture.path()).await;
    fixture
        .queue
        .report_open("shared.xml", PRODUCTS, "{}")
        .await
        .unwrap();
    let results: Vec<_> = (0..PRODUCTS)
        .map(|i| {
            let queue = if i % 2 == 0 {
                fixture.queue.clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move {
                queue
                    .report_result("shared.xml", &format!("p{i:02}"), "success")
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for result in results {
        winners.extend(result.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "the completed report went to {winners:?}");
    assert_eq!(winners[0].outcomes.len(), PRODUCTS);
}

/// A worker asked to stop while its handler is still busy (waiting out a transient fault,
/// say) gives the item back after `SHUTDOWN_GRACE` instead of holding the process; an item
/// that finishes within the grace is acknowledged.
#[tokio::test]
async fn a_stopping_worker_gives_back_an_item_that_does_not_finish() {
    let fixture = Fixture::memory().await;
    let q = QueueName::Register;
    fixture.queue.push(q, "stuck").await.unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let started = Arc::new(tokio::sync::Notify::new());
    let worker = {
        let queue = fixture.queue.clone();
        let started = started.clone();
        tokio::spawn(async move {
            pvs_queue::consume(&queue, q, "busy", shutdown, |_| {
                let started = started.clone();
                async move {
                    started.notify_one();
                    std::future::pending::<()>().await;
                    Ok(())
                }
            })
            .await
        })
    };
    started.notified().await;
    let stopping = Instant::now();
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    let took = stopping.elapsed();
    assert!(
        took >= pvs_queue::SHUTDOWN_GRACE && took < pvs_queue::SHUTDOWN_GRACE * 2,
        "{took:?}"
    );
    assert_eq!(fixture.queue.peek(q, 10).await.unwrap(), ["stuck"]);
    assert!(fixture.queue.processing(q).await.unwrap().is_empty());

    // A quick item is finished, not given back.
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let worker = {
        let queue = fixture.queue.clone();
        let started = started.clone();
        tokio::spawn(async move {
            pvs_queue::consume(&queue, q, "quick", shutdown, |_| {
                let started = started.clone();
                async move {
                    started.notify_one();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok(())
                }
            })
            .await
        })
    };
    started.notified().await;
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    assert_eq!(fixture.queue.len(q).await.unwrap(), 0);
    assert!(fixture.queue.processing(q).await.unwrap().is_empty());
}
