//! What the binary's integration tests share: `pvs` with a clean environment, a pvs service
//! as a process on a free port, and reading its `/metrics`. Ports, process guards, waiting
//! and the test servers are `pvs_test_support`'s.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use pvs_queue::testing::redis_url;
use pvs_test_support::{Process, answers_ok, clean_command, free_address, wait_for};

pub mod nginx;

pub const PVS: &str = env!("CARGO_BIN_EXE_pvs");

/// Runs `command` to completion; fails the test with its stderr unless it succeeded.
pub fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the Python client checks `script` (next to the tests) with `config` written as JSON to
/// `work/config.json`, off the async runtime, and logs what it printed after "every check
/// passed". Fails the test with the script's output otherwise, keeping `work` (the fetched
/// documents and images) for a look.
pub async fn python_checks(
    script: &str,
    name: &str,
    config: &serde_json::Value,
    work: tempfile::TempDir,
) {
    let file = work.path().join("config.json");
    std::fs::write(&file, config.to_string()).unwrap();
    let started = std::time::Instant::now();
    let script = script.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(&file)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let Some(summary) = stdout
        .strip_prefix("every check passed")
        .filter(|_| output.status.success())
    else {
        let kept = work.keep();
        panic!(
            "{name}: the clients failed (their files are in {}):\n{stderr}\n{stdout}",
            kept.display()
        );
    };
    eprintln!(
        "{name}: the clients passed in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        summary.trim()
    );
}

/// `pvs` with only the given environment (nothing inherited).
pub fn pvs(args: &[&str], env: &[(&str, String)]) -> Command {
    clean_command(PVS, args, env.iter().map(|(k, v)| (k, v)))
}

/// `pvs args` with `env` and `RUST_LOG=warn`, its stdout dropped and its stderr the test's;
/// killed when the test ends however it ends.
pub fn spawn(args: &[&str], env: &[(&str, String)]) -> Process {
    Process::spawn(
        pvs(args, env)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    )
}

/// A running service, killed on drop; its stderr is kept in a file to read.
pub struct Service {
    _process: Process,
    pub base: String,
    pub log: tempfile::NamedTempFile,
}

impl Service {
    /// Starts `pvs <service> --listen ... args` and waits until `/ready` answers 200.
    pub async fn start(service: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        let listen = free_address();
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut all = vec![service, "--listen", &listen];
        all.extend_from_slice(args);
        let process = Process::spawn(
            pvs(&all, env)
                .stdout(Stdio::null())
                .stderr(log.reopen().unwrap()),
        );
        let service = Self {
            _process: process,
            base: format!("http://{listen}"),
            log,
        };
        let ready = format!("{}/ready", service.base);
        wait_for(Duration::from_secs(30), "pvs to become ready", async || {
            if answers_ok(&ready).await {
                Ok(())
            } else {
                Err(format!("its stderr:\n{}", service.stderr()))
            }
        })
        .await;
        service
    }

    /// An ingestor on the test Redis under `prefix` (whose keys `redis` deletes), with
    /// `extra` variables.
    pub async fn ingestor(prefix: &str, extra: &[(&str, String)]) -> Self {
        let mut env = vec![
            ("REDIS_URL", redis_url()),
            ("REDIS_KEY_PREFIX", prefix.to_owned()),
        ];
        env.extend_from_slice(extra);
        Self::start("ingestor", &[], &env).await
    }

    /// What the service wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Its metrics: each series (name with labels, as written) and value.
    pub async fn metrics(&self) -> BTreeMap<String, f64> {
        let response = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        parse_metrics(&response.text().await.unwrap())
    }
}

/// The series of a text exposition: `name{labels}` → value; every line checked for shape.
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut series = BTreeMap::new();
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary"].contains(&kind),
                "{line}"
            );
            assert!(typed.insert(name.to_owned()), "family {name} typed twice");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let name = key.split('{').next().unwrap();
        assert!(
            typed.iter().any(|t| name.starts_with(t.as_str())),
            "series {name} without a # TYPE line"
        );
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        assert!(
            series.insert(key.to_owned(), value).is_none(),
            "series {key} written twice"
        );
    }
    series
}

/// The value of `series`, failing with the whole list when it is missing.
pub fn value(metrics: &BTreeMap<String, f64>, series: &str) -> f64 {
    *metrics.get(series).unwrap_or_else(|| {
        panic!(
            "no series {series}; the series are:\n{}",
            metrics.keys().cloned().collect::<Vec<_>>().join("\n")
        )
    })
}
