//! Log lines as an operator's log shipper reads them: JSON lines naming the service, each
//! request's id (the client's, or a new one, echoed in the answer) and its duration; and no
//! secret anywhere in what a service writes, even at trace level with failing backends.

mod support;

use std::process::Stdio;
use std::time::Duration;

use pvs_queue::testing::{redis_url, unique_prefix};
use pvs_test_support::free_port;
use serde_json::Value;
use support::{Service, pvs};

/// The JSON lines of `text`; every line must be one.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_lines_carry_the_service_the_request_id_and_the_duration() {
    let prefix = unique_prefix();
    let _redis = pvs_queue::testing::TestRedis::with_prefix(&prefix).await;
    let ingestor = Service::ingestor(&prefix, &[("LOG_FORMAT", "json".to_owned())]).await;
    let client = reqwest::Client::new();
    let send = |id: Option<&str>| {
        let mut request = client
            .post(format!("{}/ingest", ingestor.base))
            .body("<not-a-report/>");
        if let Some(id) = id {
            request = request.header("X-Request-Id", id);
        }
        request.send()
    };
    // The client's id is kept and echoed.
    let answer = send(Some("proxy-1234.abc")).await.unwrap();
    assert_eq!(answer.headers()["x-request-id"], "proxy-1234.abc");
    // Without one, or with one that could forge log lines or is oversized, a new UUID.
    let mut generated = Vec::new();
    for hostile in [None, Some("a\"b}{x"), Some(&*"x".repeat(300)), Some("")] {
        let answer = send(hostile).await.unwrap();
        let id = answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 36, "{hostile:?} → {id}");
        assert!(uuid_shaped(&id), "{id}");
        generated.push(id);
    }
    generated.sort();
    generated.dedup();
    assert_eq!(generated.len(), 4, "each request gets its own id");
    // Probes answer with an id too.
    let health = reqwest::get(format!("{}/health", ingestor.base))
        .await
        .unwrap();
    assert!(health.headers().contains_key("x-request-id"));

    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = json_lines(&ingestor.stderr());
    assert!(
        lines.iter().all(|l| l["service"] == "ingestor"),
        "{lines:#?}"
    );
    let answered: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request answered")
        .collect();
    assert_eq!(answered.len(), 5, "one line per report request: {lines:#?}");
    let first = answered
        .iter()
        .find(|l| l["span"]["request_id"] == "proxy-1234.abc")
        .expect("the client's id in the line");
    assert_eq!(first["span"]["endpoint"], "/ingest");
    assert_eq!(first["span"]["method"], "POST");
    assert_eq!(first["level"], "INFO");
    assert!(first["status"].as_u64().is_some_and(|s| s >= 400));
    assert!(first["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
    for id in &generated {
        assert!(
            answered
                .iter()
                .any(|l| l["span"]["request_id"] == id.as_str()),
            "{id} not logged"
        );
    }
    assert!(
        !ingestor.stderr().contains("a\\\"b}{x"),
        "a refused id is not written"
    );
}

fn uuid_shaped(id: &str) -> bool {
    id.split('-').map(str::len).eq([8, 4, 4, 4, 12])
        && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

const SECRET: &str = "Hunter2-Sup3rS3cret";

/// Runs `pvs args` with `env` at trace level until it exits, `done` says so, or `wait` has
/// passed, then kills it: everything it wrote.
async fn output_until(
    args: &[&str],
    env: &[(&str, String)],
    wait: Duration,
    mut done: impl AsyncFnMut() -> bool,
) -> String {
    let mut all = env.to_vec();
    all.push(("RUST_LOG", "trace".to_owned()));
    let mut child = pvs(args, &all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + wait;
    while child.try_wait().unwrap().is_none()
        && std::time::Instant::now() < deadline
        && !done().await
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_what_a_service_writes() {
    let closed = free_port();
    let listen = format!("127.0.0.1:{}", free_port());
    let output_of = async |args: &[&str], env: &[(&str, String)], wait| {
        output_until(args, env, wait, async || false).await
    };
    // Redis with a password, unreachable: the ingestor cannot start.
    let out = output_of(
        &["ingestor", "--listen", &listen],
        &[(
            "REDIS_URL",
            format!("redis://pvs:{SECRET}@127.0.0.1:{closed}/0"),
        )],
        Duration::from_secs(20),
    )
    .await;
    assert!(out.contains("cannot connect"), "{out}");
    assert!(
        !out.contains(SECRET),
        "REDIS_URL's password written:\n{out}"
    );

    // PostGIS with a password, unreachable: the renderer cannot start.
    let out = output_of(
        &["renderer", "--listen", &listen],
        &[
            (
                "DATABASE_URL",
                format!("postgres://pvs:{SECRET}@127.0.0.1:{closed}/pvs"),
            ),
            ("STORAGE_URL", "memory://".to_owned()),
        ],
        Duration::from_secs(30),
    )
    .await;
    assert!(!out.is_empty());
    assert!(
        !out.contains(SECRET),
        "DATABASE_URL's password written:\n{out}"
    );

    // A malformed DATABASE_URL with a password: the configuration error names the variable.
    let out = output_of(
        &["renderer", "--listen", &listen],
        &[
            ("DATABASE_URL", format!("mysql://pvs:{SECRET}@host/pvs")),
            ("STORAGE_URL", "memory://".to_owned()),
        ],
        Duration::from_secs(10),
    )
    .await;
    assert!(out.contains("DATABASE_URL"), "{out}");
    assert!(
        !out.contains(SECRET),
        "DATABASE_URL's password written:\n{out}"
    );

    // An S3 secret with an unreachable S3 server: the preprocessor runs, and fails an item
    // it cannot download.
    let prefix = unique_prefix();
    let redis = pvs_queue::testing::TestRedis::with_prefix(&prefix).await;
    let queue = pvs_queue::RedisQueue::connect(&redis_url(), &prefix)
        .await
        .unwrap();
    use pvs_queue::WorkQueue;
    queue
        .push(pvs_queue::QueueName::Preprocess, "incoming/p1.tif")
        .await
        .unwrap();
    let failed = async || {
        queue
            .members(pvs_queue::Stage::Preprocess, pvs_queue::StatusSet::Failure)
            .await
            .unwrap()
            == ["p1"]
    };
    let out = output_until(
        &["preprocessor", "--listen", &listen, "--concurrency", "1"],
        &[
            ("REDIS_URL", redis_url()),
            ("REDIS_KEY_PREFIX", prefix.clone()),
            ("STORAGE_URL", "s3://pvs-secret-test/data".to_owned()),
            ("S3_ENDPOINT", format!("http://127.0.0.1:{closed}")),
            ("AWS_ACCESS_KEY_ID", "pvs-test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.to_owned()),
            // Fail at once rather than try again for minutes.
            ("RETRY_TRANSIENT_FOR", "0".to_owned()),
        ],
        Duration::from_secs(60),
        failed,
    )
    .await;
    let failed = queue
        .members(pvs_queue::Stage::Preprocess, pvs_queue::StatusSet::Failure)
        .await
        .unwrap();
    assert_eq!(failed, ["p1"], "the item failed on the storage:\n{out}");
    assert!(out.contains("preprocessing failed"), "{out}");
    assert!(
        !out.contains(SECRET),
        "AWS_SECRET_ACCESS_KEY written:\n{out}"
    );
    drop(redis);
}
