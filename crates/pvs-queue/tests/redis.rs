//! The queue contract against a real Redis (`PVS_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`). Every test works under its own key prefix and deletes its keys
//! afterwards; nothing else in the server is touched.

use std::time::Duration;

use pvs_queue::testing::{TestRedis, redis_url, spawn_child_test};
use pvs_queue::{QueueName, RedisQueue, WorkQueue, contract};

const HEARTBEAT_TTL: Duration = Duration::from_secs(1);

/// A queue under a prefix no other test uses, with the short heartbeat of these tests.
struct Fixture {
    _redis: TestRedis,
    queue: RedisQueue,
}

impl Fixture {
    async fn new() -> Self {
        let redis = TestRedis::new().await;
        let queue = RedisQueue::connect(&redis_url(), redis.prefix())
            .await
            .unwrap()
            .with_heartbeat_ttl(HEARTBEAT_TTL);
        Self {
            _redis: redis,
            queue,
        }
    }
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let fixture = Fixture::new().await;
            contract::$name(&fixture.queue).await;
        }
    )*};
}

contract_tests!(
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

#[tokio::test]
async fn abandoned_items_are_recovered() {
    let fixture = Fixture::new().await;
    contract::abandoned_items_are_recovered(&fixture.queue, HEARTBEAT_TTL).await;
}

#[tokio::test]
async fn live_consumers_keep_their_items() {
    let fixture = Fixture::new().await;
    contract::live_consumers_keep_their_items(&fixture.queue, HEARTBEAT_TTL).await;
}

const CHILD_PREFIX_VAR: &str = "PVS_QUEUE_TEST_CHILD_PREFIX";

#[tokio::test]
async fn killed_consumer_loses_nothing() {
    let fixture = Fixture::new().await;
    let prefix = fixture.queue.prefix().to_owned();
    contract::killed_consumer_loses_nothing(&fixture.queue, HEARTBEAT_TTL, || {
        spawn_child_test("child_consumer", CHILD_PREFIX_VAR, prefix)
    })
    .await;
}

/// The consumer process that `killed_consumer_loses_nothing` kills; run only by it.
#[tokio::test]
#[ignore = "run as a child process by killed_consumer_loses_nothing"]
async fn child_consumer() {
    let prefix = std::env::var(CHILD_PREFIX_VAR)
        .expect("child_consumer runs only as the child of killed_consumer_loses_nothing");
    let queue = RedisQueue::connect(&redis_url(), &prefix)
        .await
        .unwrap()
        .with_heartbeat_ttl(HEARTBEAT_TTL);
    contract::child_takes_one_item_and_hangs(&queue, "doomed").await;
}

/// A consumer cut off from Redis past its heartbeat's TTL loses its item to `recover`, and
/// another consumer takes it. When the cut-off one comes back and gives the item back (its
/// handler failed on the unreachable queue), the item must not be queued a second time: it
/// would be done twice (found by the fault suite, benches/faults, row netns).
#[tokio::test]
async fn an_item_recovered_from_a_cut_off_consumer_is_not_queued_again_by_it() {
    let fixture = Fixture::new().await;
    let queue = &fixture.queue;
    let q = QueueName::PreprocessMd;
    queue.push(q, "item").await.unwrap();
    let mut cut_off = queue.consumer(q, "cut-off").await.unwrap();
    let taken = cut_off.take(Duration::from_secs(1)).await.unwrap().unwrap();
    // What `recover` does once the heartbeat has expired (the live heartbeat task of
    // `cut_off` would renew it: done here by hand).
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let p = queue.prefix();
    let moved: Option<String> = redis::cmd("LMOVE")
        .arg(format!("{p}preprocess-md_queue:processing:cut-off"))
        .arg(format!("{p}preprocess-md_queue"))
        .arg("RIGHT")
        .arg("RIGHT")
        .query(&mut conn)
        .unwrap();
    assert_eq!(moved.as_deref(), Some("item"));
    let mut other = queue.consumer(q, "other").await.unwrap();
    let again = other.take(Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(again, taken);
    cut_off.release(&taken).await.unwrap();
    assert_eq!(
        queue.len(q).await.unwrap(),
        0,
        "queued again by a consumer that lost it"
    );
    other.ack(&again).await.unwrap();
    assert!(queue.processing(q).await.unwrap().is_empty());
    // An item still held goes back as before.
    queue.push(q, "second").await.unwrap();
    let second = cut_off.take(Duration::from_secs(1)).await.unwrap().unwrap();
    cut_off.release(&second).await.unwrap();
    assert_eq!(queue.peek(q, 10).await.unwrap(), ["second"]);
}

#[tokio::test]
async fn keys_are_the_original_names_under_the_prefix() {
    let fixture = Fixture::new().await;
    let queue = &fixture.queue;
    queue.push(QueueName::PreprocessMd, "i").await.unwrap();
    queue
        .mark_failed(pvs_queue::Stage::Register, "p", "why")
        .await
        .unwrap();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", queue.prefix()))
        .query(&mut conn)
        .unwrap();
    keys.sort();
    let p = queue.prefix();
    assert_eq!(
        keys,
        [
            format!("{p}preprocess-md_queue"),
            format!("{p}register-failure_reasons"),
            format!("{p}register-failure_set"),
        ]
    );
}

#[tokio::test]
async fn unreachable_server_is_a_clear_error() {
    let err = RedisQueue::connect("redis://user:hunter2@127.0.0.1:1", "")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot connect to the queue at redis://***@127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "password leaked: {err}");
}

#[tokio::test]
async fn malformed_url_and_prefix_are_refused() {
    assert!(RedisQueue::connect("not a url", "").await.is_err());
    let err = RedisQueue::connect(&redis_url(), "bad prefix*")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid key prefix"), "{err}");
}
