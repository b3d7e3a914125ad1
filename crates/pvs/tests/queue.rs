//! `pvs queue` against the real Redis and a running registrar: an item fails (its metadata
//! document is missing), `list` and `inspect` show it with its reason, the document arrives,
//! `pvs queue retry` queues the item again and the registrar registers it. `purge` asks
//! before deleting; bad arguments exit 2.

mod support;

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::Duration;

use pvs_catalog::Catalog;
use pvs_catalog::testing::TestDatabase;
use pvs_queue::testing::{redis_url, unique_prefix};
use pvs_queue::{QueueName, RedisQueue, Stage, Status, StatusSet, WorkQueue};
use pvs_test_support::{file_url, wait_until};
use support::{Service, pvs};

const METADATA: &str = r#"{
  "id": "q-1",
  "collection": "SAR",
  "footprint": {"type": "MultiPolygon", "coordinates": [[[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 11.0], [10.0, 10.0]]]]},
  "start": "2010-07-22T21:38:40Z",
  "end": "2010-07-22T21:39:38Z",
  "cog": {"key": "SAR/q-1/q-1.tif", "size_bytes": 10, "width": 10, "height": 10, "bands": 4, "alpha": true,
          "crs": "EPSG:4326", "bbox": [10.0, 10.0, 11.0, 11.0], "resolution": [0.1, 0.1]},
  "source": {"file": "q-1.jpg", "browse_identifier": "q-1",
             "report": {"name": "r.xml", "responsible_org_name": "ESA", "date_time": "2012-10-02T09:30:00Z", "browse_type": "SAR"}},
  "processed_at": "2026-11-23T04:00:00Z"
}"#;

/// `pvs queue ARGS` under `prefix`, with `input` on stdin.
fn queue_cli(prefix: &str, args: &[&str], input: &str) -> Output {
    let mut all = vec!["queue"];
    all.extend_from_slice(args);
    let mut child = pvs(
        &all,
        &[
            ("REDIS_URL", redis_url()),
            ("REDIS_KEY_PREFIX", prefix.to_owned()),
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_item_is_retried_and_processed() {
    let prefix = unique_prefix();
    let _redis = pvs_queue::testing::TestRedis::with_prefix(&prefix).await;
    let queue = RedisQueue::connect(&redis_url(), &prefix).await.unwrap();
    let database = TestDatabase::create().await;
    let data = tempfile::tempdir().unwrap();
    let registrar = Service::start(
        "registrar",
        &["--consumer-name", "registrar-test"],
        &[
            ("REDIS_URL", redis_url()),
            ("REDIS_KEY_PREFIX", prefix.clone()),
            ("DATABASE_URL", database.url.clone()),
            ("STORAGE_URL", file_url(data.path())),
        ],
    )
    .await;

    // The document is not there yet: registering fails.
    queue
        .push(QueueName::Register, "SAR/q-1/q-1.json")
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), "the failure", async || {
        matches!(
            queue.status(Stage::Register, "q-1").await.unwrap(),
            Status::Failed { .. }
        )
    })
    .await;

    let list = queue_cli(&prefix, &["list"], "");
    assert!(list.status.success(), "{}", text(&list.stderr));
    let list = text(&list.stdout);
    let register = list
        .lines()
        .find(|l| l.starts_with("register "))
        .expect("a register line");
    assert_eq!(
        register.split_whitespace().collect::<Vec<_>>(),
        ["register", "0", "0", "1"],
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["register_queue", "0", "0"]),
        "{list}"
    );

    let inspect = queue_cli(&prefix, &["inspect", "register", "q-1"], "");
    assert!(inspect.status.success());
    let inspect = text(&inspect.stdout);
    assert!(inspect.starts_with("register q-1: failed: "), "{inspect}");
    assert!(inspect.contains("SAR/q-1/q-1.json"), "{inspect}");
    assert!(
        inspect.contains("item (register_queue): SAR/q-1/q-1.json"),
        "{inspect}"
    );
    assert!(
        inspect.contains("retry with: pvs queue retry register q-1"),
        "{inspect}"
    );

    // The document arrives; the operator retries.
    std::fs::create_dir_all(data.path().join("SAR/q-1")).unwrap();
    std::fs::write(data.path().join("SAR/q-1/q-1.json"), METADATA).unwrap();
    let retry = queue_cli(&prefix, &["retry", "register", "q-1"], "");
    assert!(retry.status.success(), "{}", text(&retry.stdout));
    assert!(
        text(&retry.stdout).contains("requeued q-1 on register_queue"),
        "{}",
        text(&retry.stdout)
    );
    let catalog = database.catalog().await;
    wait_until(Duration::from_secs(30), "the registration", async || {
        catalog.get("SAR", "q-1").await.unwrap().is_some()
    })
    .await;
    wait_until(Duration::from_secs(30), "the success", async || {
        queue.status(Stage::Register, "q-1").await.unwrap() == Status::Succeeded
    })
    .await;
    assert!(
        queue
            .members(Stage::Register, StatusSet::Failure)
            .await
            .unwrap()
            .is_empty()
    );
    // The registrar counted both outcomes on its /metrics.
    let metrics = registrar.metrics().await;
    for (outcome, count) in [("failed", 1.0), ("succeeded", 1.0)] {
        let series = format!("pvs_items_total{{stage=\"register\",outcome=\"{outcome}\"}}");
        assert_eq!(support::value(&metrics, &series), count, "{series}");
    }
    assert_eq!(
        support::value(
            &metrics,
            "pvs_stage_items{stage=\"register\",set=\"success\"}"
        ),
        1.0
    );
    // Nothing left to retry: exit code 1, saying why.
    let again = queue_cli(&prefix, &["retry", "register", "q-1", "nobody"], "");
    assert_eq!(again.status.code(), Some(1));
    let again = text(&again.stdout);
    assert!(
        again.contains("not retried q-1: not failed (succeeded)"),
        "{again}"
    );
    assert!(
        again.contains("not retried nobody: not failed (unknown)"),
        "{again}"
    );
    drop(registrar);
}

#[tokio::test]
async fn retry_all_and_purge_with_confirmation() {
    let prefix = unique_prefix();
    let _redis = pvs_queue::testing::TestRedis::with_prefix(&prefix).await;
    let queue = RedisQueue::connect(&redis_url(), &prefix).await.unwrap();
    for id in ["s1", "s2"] {
        queue
            .mark_failed_item(
                Stage::Seed,
                id,
                "renderer down",
                QueueName::Seed,
                &format!("{id}/x"),
            )
            .await
            .unwrap();
    }
    queue
        .mark_failed(Stage::Seed, "s3", "no item kept")
        .await
        .unwrap();
    let all = queue_cli(&prefix, &["retry", "seed", "--all"], "");
    assert_eq!(all.status.code(), Some(1), "s3 cannot be retried");
    let out = text(&all.stdout);
    assert!(out.contains("requeued s1 on seed_queue"), "{out}");
    assert!(out.contains("requeued s2 on seed_queue"), "{out}");
    assert!(
        out.contains("not retried s3: failed without a kept item"),
        "{out}"
    );
    assert!(out.contains("2 requeued, 1 not retried"), "{out}");
    assert_eq!(
        queue.peek(QueueName::Seed, 10).await.unwrap(),
        ["s1/x", "s2/x"]
    );

    // Purge asks first: anything but `yes` keeps the queue.
    for answer in ["no\n", "", "YES please\n"] {
        let purge = queue_cli(&prefix, &["purge", "seed_queue"], answer);
        assert_eq!(purge.status.code(), Some(1), "{answer:?}");
        assert!(text(&purge.stderr).contains("2 entries will be deleted"));
        assert!(text(&purge.stderr).contains("not confirmed"));
        assert_eq!(queue.len(QueueName::Seed).await.unwrap(), 2);
    }
    let purge = queue_cli(&prefix, &["purge", "seed_queue"], "yes\n");
    assert!(purge.status.success(), "{}", text(&purge.stderr));
    assert_eq!(text(&purge.stdout), "purged seed_queue: 2 removed\n");
    assert_eq!(queue.len(QueueName::Seed).await.unwrap(), 0);
    // --yes skips the question; a failure set goes with its reasons.
    let purge = queue_cli(&prefix, &["purge", "seed-failure_set", "--yes"], "");
    assert!(purge.status.success());
    assert_eq!(text(&purge.stdout), "purged seed-failure_set: 1 removed\n");
    assert_eq!(
        queue.status(Stage::Seed, "s3").await.unwrap(),
        Status::Unknown
    );
}

#[test]
fn bad_arguments_exit_2_naming_them() {
    let prefix = unique_prefix();
    for (args, says) in [
        (&["purge", "everything"][..], "neither a queue"),
        (&["retry", "publish", "x"][..], "unknown stage \"publish\""),
        (&["retry", "seed"][..], "<IDS>"),
        (&["retry", "seed", "x", "--all"][..], "cannot be used with"),
        (&["inspect", "seed"][..], "<ID>"),
    ] {
        let out = queue_cli(&prefix, args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // No REDIS_URL: exit 2 naming it.
    let out = pvs(&["queue", "list"], &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("REDIS_URL: is required"));
}
