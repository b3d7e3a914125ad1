//! The contract every [`WorkQueue`] backend must pass (feature `contract`).
//!
//! Each function takes a fresh, empty queue backend that no other test uses (its own Redis key
//! prefix, its own database...) and panics with a message when the backend breaks the
//! contract. Backends run every function from their own integration tests. Functions that
//! wait for a dead consumer's heartbeat to expire take the backend's heartbeat TTL; keep it
//! short (1 s) in tests.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::{QueueName, Stage, Status, StatusSet, WorkQueue};

const SHORT: Duration = Duration::from_millis(200);

/// Items come out in the order they went in, one push or many; `len` and `peek` agree.
pub async fn fifo_order(queue: &dyn WorkQueue) {
    let q = QueueName::PreprocessMd;
    assert_eq!(queue.len(q).await.unwrap(), 0, "a fresh queue is empty");
    queue.push(q, "a").await.unwrap();
    queue
        .push_many(q, &["b".to_owned(), "c".to_owned()])
        .await
        .unwrap();
    queue.push_many(q, &[]).await.unwrap();
    assert_eq!(queue.len(q).await.unwrap(), 3);
    assert_eq!(queue.peek(q, 2).await.unwrap(), ["a", "b"]);
    assert_eq!(queue.peek(q, 10).await.unwrap(), ["a", "b", "c"]);
    let mut consumer = queue.consumer(q, "fifo").await.unwrap();
    for expected in ["a", "b", "c"] {
        let taken = consumer.take(SHORT).await.unwrap().expect("an item");
        assert_eq!(taken.payload, expected);
        assert_eq!(taken.queue, q);
        consumer.ack(&taken).await.unwrap();
    }
    assert_eq!(consumer.take(SHORT).await.unwrap(), None);
    assert_eq!(queue.len(q).await.unwrap(), 0);
    assert!(queue.processing(q).await.unwrap().is_empty());
}

/// Queues are separate: an item pushed to one is never taken from another.
pub async fn queues_are_separate(queue: &dyn WorkQueue) {
    queue.push(QueueName::Register, "r1").await.unwrap();
    let mut seed = queue.consumer(QueueName::Seed, "seed").await.unwrap();
    assert_eq!(seed.take(SHORT).await.unwrap(), None);
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 1);
    assert_eq!(queue.len(QueueName::Seed).await.unwrap(), 0);
}

/// `take` waits for an item pushed while it waits, and gives up after its timeout.
pub async fn take_waits_and_times_out(queue: &dyn WorkQueue) {
    let q = QueueName::Seed;
    let mut consumer = queue.consumer(q, "waiter").await.unwrap();
    let started = Instant::now();
    assert_eq!(
        consumer.take(Duration::from_millis(300)).await.unwrap(),
        None
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "returned too early"
    );

    let waiting = async {
        let started = Instant::now();
        let taken = consumer.take(Duration::from_secs(10)).await.unwrap();
        (taken, started.elapsed())
    };
    let pushing = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        queue.push(q, "late").await.unwrap();
    };
    let ((taken, waited), ()) = tokio::join!(waiting, pushing);
    assert_eq!(taken.expect("the late item").payload, "late");
    assert!(
        waited < Duration::from_secs(5),
        "take did not wake up on push"
    );
}

/// A taken item is recorded as the consumer's until acknowledged; `release` puts it back at
/// the end of the line.
pub async fn ack_and_release(queue: &dyn WorkQueue) {
    let q = QueueName::Register;
    queue
        .push_many(q, &["x".to_owned(), "y".to_owned()])
        .await
        .unwrap();
    let mut consumer = queue.consumer(q, "worker-1").await.unwrap();
    let x = consumer.take(SHORT).await.unwrap().unwrap();
    assert_eq!(
        queue.processing(q).await.unwrap(),
        [("worker-1".to_owned(), vec!["x".to_owned()])]
    );
    consumer.release(&x).await.unwrap();
    assert!(queue.processing(q).await.unwrap().is_empty());
    assert_eq!(queue.peek(q, 10).await.unwrap(), ["y", "x"]);
    let y = consumer.take(SHORT).await.unwrap().unwrap();
    assert_eq!(y.payload, "y");
    consumer.ack(&y).await.unwrap();
    let x = consumer.take(SHORT).await.unwrap().unwrap();
    assert_eq!(x.payload, "x");
    consumer.ack(&x).await.unwrap();
    assert!(queue.processing(q).await.unwrap().is_empty());
    assert_eq!(queue.len(q).await.unwrap(), 0);
}

/// A result is handed on (`push_if_held`) only by the consumer still holding its item: not
/// by another consumer, nor after the item was acknowledged (or recovered from it).
pub async fn hand_off_is_fenced(queue: &dyn WorkQueue) {
    let q = QueueName::PreprocessMd;
    let next = QueueName::Register;
    queue.push(q, "item").await.unwrap();
    let mut consumer = queue.consumer(q, "worker-a").await.unwrap();
    let taken = consumer.take(SHORT).await.unwrap().unwrap();
    assert!(
        !queue
            .push_if_held(q, "worker-b", "item", next, "result")
            .await
            .unwrap(),
        "handed on by a consumer that does not hold the item"
    );
    assert!(
        queue
            .push_if_held(q, "worker-a", "item", next, "result")
            .await
            .unwrap()
    );
    consumer.ack(&taken).await.unwrap();
    assert!(
        !queue
            .push_if_held(q, "worker-a", "item", next, "result")
            .await
            .unwrap(),
        "handed on after the item was finished"
    );
    assert_eq!(queue.peek(next, 10).await.unwrap(), ["result"]);
    assert_eq!(queue.len(q).await.unwrap(), 0);
}

/// Many consumers taking at once never get the same item, and together get every item.
pub async fn consumers_never_share_an_item(queue: &dyn WorkQueue) {
    let q = QueueName::Preprocess;
    let items: Vec<String> = (0..400).map(|i| format!("item-{i:03}")).collect();
    queue.push_many(q, &items).await.unwrap();
    let mut workers = Vec::new();
    for w in 0..4 {
        let mut consumer = queue.consumer(q, &format!("worker-{w}")).await.unwrap();
        workers.push(async move {
            let mut got = Vec::new();
            while let Some(taken) = consumer.take(SHORT).await.unwrap() {
                consumer.ack(&taken).await.unwrap();
                got.push(taken.payload);
            }
            got
        });
    }
    let results = futures::future::join_all(workers).await;
    let all: Vec<String> = results.into_iter().flatten().collect();
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), items.len(), "items lost or duplicated");
    assert_eq!(unique.len(), items.len(), "an item went to two consumers");
    assert_eq!(queue.len(q).await.unwrap(), 0);
}

/// A consumer that restarts under the same name takes back what its previous run left.
pub async fn restart_takes_back_unfinished_items(queue: &dyn WorkQueue) {
    let q = QueueName::PreprocessMd;
    queue.push(q, "unfinished").await.unwrap();
    let mut first = queue.consumer(q, "preprocessor-a").await.unwrap();
    let taken = first.take(SHORT).await.unwrap().unwrap();
    drop(first); // dies without ack
    assert_eq!(queue.len(q).await.unwrap(), 0, "the item is in processing");
    let mut second = queue.consumer(q, "preprocessor-a").await.unwrap();
    let again = second
        .take(SHORT)
        .await
        .unwrap()
        .expect("the unfinished item");
    assert_eq!(again, taken);
    second.ack(&again).await.unwrap();
    assert!(queue.processing(q).await.unwrap().is_empty());
}

/// `close` hands unfinished items back at once.
pub async fn close_returns_unfinished_items(queue: &dyn WorkQueue) {
    let q = QueueName::Register;
    queue.push(q, "half-done").await.unwrap();
    let mut consumer = queue.consumer(q, "closing").await.unwrap();
    consumer.take(SHORT).await.unwrap().unwrap();
    consumer.close().await.unwrap();
    assert_eq!(queue.peek(q, 10).await.unwrap(), ["half-done"]);
    assert!(queue.processing(q).await.unwrap().is_empty());
}

/// The items of a consumer that stopped (without a restart under its name) go back to the
/// queue once its heartbeat has expired, and not before.
pub async fn abandoned_items_are_recovered(queue: &dyn WorkQueue, heartbeat_ttl: Duration) {
    let q = QueueName::Seed;
    queue
        .push(q, "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z")
        .await
        .unwrap();
    let mut gone = queue.consumer(q, "gone").await.unwrap();
    let taken = gone.take(SHORT).await.unwrap().unwrap();
    drop(gone);
    assert_eq!(
        queue.recover(q).await.unwrap(),
        0,
        "recovered from a consumer whose heartbeat is still fresh"
    );
    let recovered = wait_for_recovery(queue, q, heartbeat_ttl).await;
    assert_eq!(recovered, 1);
    let mut other = queue.consumer(q, "other").await.unwrap();
    assert_eq!(other.take(SHORT).await.unwrap(), Some(taken));
}

/// A live consumer keeps its items: recovery leaves them alone however long it works.
pub async fn live_consumers_keep_their_items(queue: &dyn WorkQueue, heartbeat_ttl: Duration) {
    let q = QueueName::Preprocess;
    queue.push(q, "long-job").await.unwrap();
    let mut busy = queue.consumer(q, "busy").await.unwrap();
    let taken = busy.take(SHORT).await.unwrap().unwrap();
    tokio::time::sleep(heartbeat_ttl * 2).await;
    assert_eq!(queue.recover(q).await.unwrap(), 0);
    busy.ack(&taken).await.unwrap();
    assert!(queue.processing(q).await.unwrap().is_empty());
}

/// A consumer process killed (SIGKILL) while it holds an item loses nothing: the item comes
/// back once the dead consumer's heartbeat expires.
///
/// `child` must be a process that creates a consumer of `preprocess-md_queue` on the same
/// backend, takes one item, prints `TAKEN <payload>` to stdout (piped) and then
/// waits to be killed; see [`child_takes_one_item_and_hangs`].
pub async fn killed_consumer_loses_nothing(
    queue: &dyn WorkQueue,
    heartbeat_ttl: Duration,
    spawn_child: impl FnOnce() -> Child,
) {
    let q = QueueName::PreprocessMd;
    queue.push(q, "precious").await.unwrap();
    let mut child = spawn_child();
    let stdout = child
        .stdout
        .take()
        .expect("the child's stdout must be piped");
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.split_once("TAKEN ").map(|(_, item)| item.to_owned()))
    })
    .await
    .unwrap();
    assert_eq!(
        line.as_deref(),
        Some("precious"),
        "the child did not take the item"
    );
    child.kill().expect("SIGKILL the child");
    child.wait().unwrap();
    assert_eq!(
        queue.len(q).await.unwrap(),
        0,
        "the item is held by the dead child"
    );
    let recovered = wait_for_recovery(queue, q, heartbeat_ttl).await;
    assert_eq!(recovered, 1);
    let mut survivor = queue.consumer(q, "survivor").await.unwrap();
    let taken = survivor
        .take(SHORT)
        .await
        .unwrap()
        .expect("the item survived");
    assert_eq!(taken.payload, "precious");
}

/// The child side of [`killed_consumer_loses_nothing`]: takes one item and waits forever.
pub async fn child_takes_one_item_and_hangs(queue: &dyn WorkQueue, consumer_name: &str) {
    let mut consumer = queue
        .consumer(QueueName::PreprocessMd, consumer_name)
        .await
        .unwrap();
    let taken = consumer
        .take(Duration::from_secs(10))
        .await
        .unwrap()
        .expect("an item to take");
    // On a line of its own: a test harness may have printed part of a line before.
    println!("\nTAKEN {}", taken.payload);
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

/// The status sets move an id through in-flight, failure (with its reason) and success.
pub async fn status_sets(queue: &dyn WorkQueue) {
    let stage = Stage::Preprocess;
    assert_eq!(queue.status(stage, "p1").await.unwrap(), Status::Unknown);
    queue.mark_started(stage, "p1").await.unwrap();
    queue.mark_started(stage, "p2").await.unwrap();
    assert_eq!(queue.status(stage, "p1").await.unwrap(), Status::InFlight);
    assert_eq!(
        queue.members(stage, StatusSet::InFlight).await.unwrap(),
        ["p1", "p2"]
    );
    queue
        .mark_failed(stage, "p1", "input not found: a/b.tif")
        .await
        .unwrap();
    assert_eq!(
        queue.status(stage, "p1").await.unwrap(),
        Status::Failed {
            reason: "input not found: a/b.tif".to_owned()
        }
    );
    assert!(
        queue
            .is_member(stage, StatusSet::Failure, "p1")
            .await
            .unwrap()
    );
    assert!(
        !queue
            .is_member(stage, StatusSet::InFlight, "p1")
            .await
            .unwrap()
    );
    queue.mark_succeeded(stage, "p2").await.unwrap();
    assert_eq!(queue.status(stage, "p2").await.unwrap(), Status::Succeeded);
    // A retry that succeeds clears the failure.
    queue.mark_started(stage, "p1").await.unwrap();
    assert_eq!(queue.status(stage, "p1").await.unwrap(), Status::InFlight);
    queue.mark_succeeded(stage, "p1").await.unwrap();
    assert_eq!(queue.status(stage, "p1").await.unwrap(), Status::Succeeded);
    assert!(
        queue
            .members(stage, StatusSet::Failure)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        queue.members(stage, StatusSet::Success).await.unwrap(),
        ["p1", "p2"]
    );
    // Stages are separate.
    assert_eq!(
        queue.status(Stage::Register, "p1").await.unwrap(),
        Status::Unknown
    );
    // Forgetting removes an id from every set of its stage, reason included.
    queue.mark_failed(stage, "p3", "broken").await.unwrap();
    queue.forget(stage, "p3").await.unwrap();
    queue.forget(stage, "p1").await.unwrap();
    assert_eq!(queue.status(stage, "p3").await.unwrap(), Status::Unknown);
    assert_eq!(queue.status(stage, "p1").await.unwrap(), Status::Unknown);
    assert!(
        queue
            .members(stage, StatusSet::Failure)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        queue.members(stage, StatusSet::Success).await.unwrap(),
        ["p2"]
    );
}

/// A failure recorded with its item keeps the item; `retry` queues it again once, behind
/// the waiting items, and clears the failure; success, `forget` and a failure without an
/// item drop the kept item.
pub async fn failed_items_are_kept_and_retried(queue: &dyn WorkQueue) {
    let stage = Stage::Register;
    let q = QueueName::Register;
    let payload = "products/P1/P1.json \u{e9}\n second line";
    queue.push(q, "waiting").await.unwrap();
    queue.mark_started(stage, "P1").await.unwrap();
    queue
        .mark_failed_item(stage, "P1", "catalog unreachable", q, payload)
        .await
        .unwrap();
    assert_eq!(
        queue.status(stage, "P1").await.unwrap(),
        Status::Failed {
            reason: "catalog unreachable".to_owned()
        }
    );
    let kept = queue.failed_item(stage, "P1").await.unwrap().expect("kept");
    assert_eq!((kept.queue, kept.payload.as_str()), (q, payload));
    // The deregistration queue of the same stage is remembered as such.
    queue
        .mark_failed_item(stage, "P2", "no such product", QueueName::Deregister, "P2")
        .await
        .unwrap();

    let retried = futures::future::join_all((0..4).map(|_| queue.retry(stage, "P1"))).await;
    let queued: Vec<_> = retried.into_iter().filter_map(Result::unwrap).collect();
    assert_eq!(
        queued,
        [q],
        "concurrent retries queue the item exactly once"
    );
    assert_eq!(queue.peek(q, 10).await.unwrap(), ["waiting", payload]);
    assert_eq!(queue.status(stage, "P1").await.unwrap(), Status::Unknown);
    assert_eq!(queue.failed_item(stage, "P1").await.unwrap(), None);
    assert_eq!(queue.retry(stage, "P1").await.unwrap(), None);
    assert_eq!(
        queue.retry(stage, "P2").await.unwrap(),
        Some(QueueName::Deregister)
    );
    assert_eq!(queue.peek(QueueName::Deregister, 10).await.unwrap(), ["P2"]);

    // Ids that are not failed, or failed without an item, have nothing to retry.
    assert_eq!(queue.retry(stage, "never-seen").await.unwrap(), None);
    queue
        .mark_failed_item(stage, "P3", "first", q, "p3.json")
        .await
        .unwrap();
    queue.mark_failed(stage, "P3", "second").await.unwrap();
    assert_eq!(queue.failed_item(stage, "P3").await.unwrap(), None);
    assert_eq!(queue.retry(stage, "P3").await.unwrap(), None);
    assert!(
        queue
            .is_member(stage, StatusSet::Failure, "P3")
            .await
            .unwrap()
    );
    for (id, settle) in [("P4", true), ("P5", false)] {
        queue
            .mark_failed_item(stage, id, "why", q, "x")
            .await
            .unwrap();
        if settle {
            queue.mark_succeeded(stage, id).await.unwrap();
        } else {
            queue.forget(stage, id).await.unwrap();
        }
        assert_eq!(queue.failed_item(stage, id).await.unwrap(), None, "{id}");
    }
}

/// Status sets are counted without listing them; purging empties a queue's waiting items or
/// one status set (with the failures' reasons and items), and nothing else.
pub async fn queues_and_sets_are_counted_and_purged(queue: &dyn WorkQueue) {
    let stage = Stage::Seed;
    for set in StatusSet::ALL {
        assert_eq!(queue.set_len(stage, set).await.unwrap(), 0);
    }
    for id in ["a", "b", "c"] {
        queue.mark_started(stage, id).await.unwrap();
    }
    queue.mark_succeeded(stage, "a").await.unwrap();
    queue
        .mark_failed_item(stage, "b", "why", QueueName::Seed, "b-payload")
        .await
        .unwrap();
    assert_eq!(queue.set_len(stage, StatusSet::InFlight).await.unwrap(), 1);
    assert_eq!(queue.set_len(stage, StatusSet::Success).await.unwrap(), 1);
    assert_eq!(queue.set_len(stage, StatusSet::Failure).await.unwrap(), 1);

    assert_eq!(queue.purge_set(stage, StatusSet::Failure).await.unwrap(), 1);
    assert_eq!(queue.set_len(stage, StatusSet::Failure).await.unwrap(), 0);
    assert_eq!(queue.status(stage, "b").await.unwrap(), Status::Unknown);
    assert_eq!(queue.failed_item(stage, "b").await.unwrap(), None);
    assert_eq!(queue.set_len(stage, StatusSet::Success).await.unwrap(), 1);
    assert_eq!(queue.purge_set(stage, StatusSet::Failure).await.unwrap(), 0);

    let q = QueueName::Seed;
    queue
        .push_many(q, &["1".to_owned(), "2".to_owned(), "3".to_owned()])
        .await
        .unwrap();
    queue.push(QueueName::Register, "other").await.unwrap();
    let mut consumer = queue.consumer(q, "purger").await.unwrap();
    let taken = consumer.take(SHORT).await.unwrap().expect("an item");
    assert_eq!(queue.purge_queue(q).await.unwrap(), 2);
    assert_eq!(queue.len(q).await.unwrap(), 0);
    assert_eq!(
        queue.processing(q).await.unwrap(),
        [("purger".to_owned(), vec![taken.payload.clone()])],
        "items being processed stay with their consumer"
    );
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 1);
    consumer.ack(&taken).await.unwrap();
    assert_eq!(queue.purge_queue(q).await.unwrap(), 0);
}

/// Payloads of any content (JSON, UTF-8, large) come out byte for byte.
pub async fn payloads_round_trip(queue: &dyn WorkQueue) {
    let q = QueueName::PreprocessMd;
    let big = "x".repeat(1 << 20);
    let items = vec![
        r#"{"id":"a b","footprint":[[1.5,-2.25]]}"#.to_owned(),
        "Ünïcödé ✓ \"quotes\" \n newline".to_owned(),
        big.clone(),
    ];
    queue.push_many(q, &items).await.unwrap();
    let mut consumer = queue.consumer(q, "bytes").await.unwrap();
    for expected in &items {
        let taken = consumer.take(SHORT).await.unwrap().unwrap();
        assert_eq!(&taken.payload, expected);
        consumer.ack(&taken).await.unwrap();
    }
}

/// Consumer names are validated.
pub async fn consumer_names_are_validated(queue: &dyn WorkQueue) {
    for bad in ["", "has space", "star*", "a:b"] {
        assert!(
            queue.consumer(QueueName::Seed, bad).await.is_err(),
            "consumer name {bad:?} accepted"
        );
    }
}

async fn wait_for_recovery(queue: &dyn WorkQueue, q: QueueName, heartbeat_ttl: Duration) -> usize {
    let deadline = Instant::now() + heartbeat_ttl * 4 + Duration::from_secs(2);
    loop {
        let n = queue.recover(q).await.unwrap();
        if n > 0 {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "abandoned items were not recovered within {:?}",
            heartbeat_ttl * 4
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A report is complete when every product queued from it has an outcome; exactly one of
/// several concurrent last outcomes gets it; unknown reports are ignored.
pub async fn reports_complete_once(queue: &dyn WorkQueue) {
    assert_eq!(
        queue.report_result("unknown", "a", "x").await.unwrap(),
        None
    );
    queue
        .report_open("r1.xml", 3, "{\"org\":\"ESA\"}")
        .await
        .unwrap();
    assert_eq!(
        queue.report_result("r1.xml", "a", "success").await.unwrap(),
        None
    );
    // The same product again (a retry) does not count twice.
    assert_eq!(
        queue.report_result("r1.xml", "a", "success").await.unwrap(),
        None
    );
    assert_eq!(
        queue
            .report_result("r1.xml", "b", "failure: x")
            .await
            .unwrap(),
        None
    );
    let done = queue
        .report_result("r1.xml", "c", "success")
        .await
        .unwrap()
        .expect("complete");
    assert_eq!(done.name, "r1.xml");
    assert_eq!(done.info, "{\"org\":\"ESA\"}");
    assert_eq!(
        done.outcomes,
        [
            ("a".to_owned(), "success".to_owned()),
            ("b".to_owned(), "failure: x".to_owned()),
            ("c".to_owned(), "success".to_owned())
        ]
    );
    // Forgotten once complete.
    assert_eq!(
        queue.report_result("r1.xml", "c", "success").await.unwrap(),
        None
    );

    // Concurrent last outcomes: one winner.
    queue.report_open("r2.xml", 20, "{}").await.unwrap();
    let results = futures::future::join_all((0..20).map(|i| async move {
        queue
            .report_result("r2.xml", &format!("p{i:02}"), "success")
            .await
            .unwrap()
    }))
    .await;
    let winners: Vec<_> = results.into_iter().flatten().collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(winners[0].outcomes.len(), 20);
}

/// The report details a registration report is written from.
fn report_info(name: &str) -> pvs_model::ReportInfo {
    pvs_model::ReportInfo {
        name: name.to_owned(),
        responsible_org_name: "ESA <EO>".to_owned(),
        date_time: "2024-05-01T10:00:00Z".parse().expect("a time"),
        browse_type: "SAR".to_owned(),
    }
}

/// Registration-report bookkeeping ([`crate::reports`]): the outcomes recorded for an opened
/// report give, once every product has one, the registration report with the report's
/// details and the outcome of each product by id; a product recorded twice counts once (the
/// last outcome stands); nothing is given for an unknown or already completed report.
pub async fn registration_reports_are_kept(queue: &dyn WorkQueue) {
    use pvs_model::RegistrationOutcome::{Failure, Success};

    use crate::reports;

    let success = Success {
        collection: "SAR".to_owned(),
        replaced: false,
    };
    let failure = |reason: &str| Failure {
        reason: reason.to_owned(),
    };
    assert_eq!(
        reports::record(queue, "unknown.xml", "a", &success)
            .await
            .unwrap(),
        None
    );
    let info = report_info("BrowseReport_1.xml");
    reports::open(queue, &info, 3).await.unwrap();
    for (id, outcome) in [
        ("p3", failure("preprocessing failed: not a raster")),
        ("p1", failure("first attempt")),
        ("p1", success.clone()),
    ] {
        assert_eq!(
            reports::record(queue, &info.name, id, &outcome)
                .await
                .unwrap(),
            None,
            "complete before its third product"
        );
    }
    let done = reports::record(queue, &info.name, "p2", &success)
        .await
        .unwrap()
        .expect("complete with its third product");
    assert_eq!(done.report, info);
    assert_eq!(
        done.products,
        [
            ("p1".to_owned(), success.clone()),
            ("p2".to_owned(), success.clone()),
            (
                "p3".to_owned(),
                failure("preprocessing failed: not a raster")
            ),
        ]
    );
    assert_eq!(done.status(), "partial");
    assert_eq!(
        reports::record(queue, &info.name, "p2", &success)
            .await
            .unwrap(),
        None,
        "a completed report is no longer tracked"
    );
}

/// The registration report is written into the report folder once, by whichever outcome
/// completes it (also when the last outcomes arrive at the same time), under a name of its
/// own, with no temporary file left; without a folder nothing is written.
pub async fn registration_report_written_once(queue: &dyn WorkQueue) {
    use pvs_model::RegistrationOutcome;

    use crate::reports;

    const PRODUCTS: usize = 12;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = || -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("readable")
            .map(|e| e.expect("an entry").path())
            .collect();
        files.sort();
        files
    };
    let info = report_info("reports/BrowseReport 2.xml");
    reports::open(queue, &info, PRODUCTS).await.unwrap();
    futures::future::join_all((0..PRODUCTS).map(|i| {
        let (name, dir) = (&info.name, dir.path());
        async move {
            let outcome = RegistrationOutcome::Success {
                collection: "SAR".to_owned(),
                replaced: false,
            };
            reports::record_outcome(queue, Some(dir), name, &format!("p{i:02}"), &outcome)
                .await
                .unwrap();
        }
    }))
    .await;
    let written = files();
    assert_eq!(written.len(), 1, "{written:?}");
    let file_name = written[0].file_name().unwrap().to_str().unwrap();
    assert!(
        file_name.starts_with("reports_BrowseReport_2_registration_")
            && file_name.ends_with(".xml"),
        "{file_name}"
    );
    let xml = std::fs::read_to_string(&written[0]).unwrap();
    assert!(xml.contains("<reg:status>success</reg:status>"), "{xml}");
    assert!(xml.contains("ESA &lt;EO&gt;"), "{xml}");
    for i in 0..PRODUCTS {
        assert!(
            xml.contains(&format!(">p{i:02}<")),
            "p{i:02} missing: {xml}"
        );
    }

    let alone = report_info("alone.xml");
    reports::open(queue, &alone, 1).await.unwrap();
    let outcome = RegistrationOutcome::Failure {
        reason: "x".to_owned(),
    };
    reports::record_outcome(queue, None, &alone.name, "q", &outcome)
        .await
        .unwrap();
    assert_eq!(files(), written, "written without a report folder");
}
