//! `pvs ingestor` as a process: it serves reports over HTTP against the real Redis, answers
//! `/health` and `/ready`, stops cleanly on SIGTERM, and refuses bad configuration.

use std::process::Stdio;
use std::time::Duration;

use pvs_queue::testing::{delete_keys, redis_url, unique_prefix};
use pvs_test_support::{Process, Signal, clean_command, fixtures, free_address, wait_ok};

mod support;

use support::{PVS, pvs};

/// The ingestor process; killed on drop if still running, its Redis keys deleted.
struct Ingestor {
    process: Process,
    base: String,
    prefix: String,
}

impl Ingestor {
    async fn start(extra_env: &[(&str, &str)]) -> Self {
        let address = free_address();
        let prefix = unique_prefix();
        let mut env = vec![
            ("REDIS_URL", redis_url()),
            ("REDIS_KEY_PREFIX", prefix.clone()),
            ("LOG_FORMAT", "json".to_owned()),
        ];
        env.extend(extra_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let process = Process::spawn(
            pvs(&["ingestor", "--listen", &address], &env)
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        );
        let base = format!("http://{address}");
        wait_ok(&format!("{base}/health"), Duration::from_secs(20)).await;
        Self {
            process,
            base,
            prefix,
        }
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(redis_url())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for Ingestor {
    fn drop(&mut self) {
        self.process.kill();
        delete_keys(&self.prefix);
    }
}

#[tokio::test]
async fn serves_reports_and_stops_on_sigterm() {
    let mut ingestor = Ingestor::start(&[("INGEST_TOKEN", "t0ken")]).await;
    let report = std::fs::read(
        fixtures::ngeo().join("reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml"),
    )
    .unwrap();
    let client = reqwest::Client::new();
    let refused = client
        .post(format!("{}/ingest", ingestor.base))
        .body(report.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let accepted = client
        .post(format!("{}/ingest", ingestor.base))
        .bearer_auth("t0ken")
        .header("content-type", "application/xml")
        .body(report)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let body = accepted.text().await.unwrap();
    assert!(body.contains("<bsi:status>success</bsi:status>"), "{body}");

    let mut conn = ingestor.redis();
    let queued: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{}preprocess-md_queue", ingestor.prefix))
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].contains("\"id\":\"b_id_1\""), "{}", queued[0]);

    let ready = reqwest::get(format!("{}/ready", ingestor.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert!(ready.text().await.unwrap().contains("\"redis\":\"ok\""));

    // SIGTERM: a clean stop with exit code 0, and JSON log lines without the token.
    let status = ingestor
        .process
        .stop(Signal::Term, Duration::from_secs(10))
        .await;
    assert!(status.success(), "{status}");
    let mut logs = String::new();
    std::io::Read::read_to_string(ingestor.process.child().stderr.as_mut().unwrap(), &mut logs)
        .unwrap();
    assert!(logs.contains("\"report ingested\""), "{logs}");
    assert!(
        !logs.contains("t0ken"),
        "the token leaked into the logs: {logs}"
    );
    for line in logs.lines() {
        assert!(line.starts_with('{'), "not a JSON log line: {line}");
    }
}

/// Environment, arguments, and the variable the error must name.
type ConfigCase = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
    &'static str,
);

#[test]
fn bad_configuration_stops_start_up_with_exit_code_2() {
    let cases: [ConfigCase; 5] = [
        (&[("REDIS_URL", "not-a-url")], &[], "REDIS_URL"),
        (
            &[
                ("REDIS_URL", "redis://127.0.0.1:6379"),
                ("INGEST_MAX_BYTES", "lots"),
            ],
            &[],
            "INGEST_MAX_BYTES",
        ),
        (
            &[
                ("REDIS_URL", "redis://127.0.0.1:6379"),
                ("INGEST_BASIC_AUTH", "nocolon"),
            ],
            &[],
            "INGEST_BASIC_AUTH",
        ),
        (
            &[
                ("REDIS_URL", "redis://127.0.0.1:6379"),
                ("INGEST_PREFIX", "/abs"),
            ],
            &[],
            "INGEST_PREFIX",
        ),
        (
            &[("REDIS_URL", "redis://127.0.0.1:6379")],
            &["--watch", "/tmp"],
            "STORAGE_URL",
        ),
    ];
    for (env, args, var) in cases {
        let out = clean_command(PVS, ["ingestor"].iter().chain(args), env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("pvs ingestor: {var}: ")),
            "{stderr}"
        );
    }
}

#[test]
fn an_unreachable_redis_is_a_runtime_error() {
    let out = clean_command(
        PVS,
        ["ingestor", "--listen", "127.0.0.1:0"],
        [("REDIS_URL", "redis://127.0.0.1:1")],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the queue at redis://127.0.0.1:1"),
        "{stderr}"
    );
}
