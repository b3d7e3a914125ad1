//! What the binary's integration tests share: a pvs service as a process on a free port, its
//! Redis key prefix, and reading its `/metrics`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PVS: &str = env!("CARGO_BIN_EXE_pvs");

pub fn redis_url() -> String {
    std::env::var("PVS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!(
        "pvs-test:ops-{}-{}:",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A loopback address with a port free at the time of the call (`127.0.0.1:PORT`).
pub fn free_address() -> String {
    format!("127.0.0.1:{}", free_port())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `pvs` with only the given environment (nothing inherited).
pub fn pvs(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(PVS);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// A running service, killed on drop; its stderr is kept in a file to read.
pub struct Service {
    child: Child,
    pub base: String,
    pub log: tempfile::NamedTempFile,
}

impl Service {
    /// Starts `pvs <service> --listen ... args` and waits until `/ready` answers 200.
    pub async fn start(service: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut all = vec![service, "--listen", &listen];
        all.extend_from_slice(args);
        let child = pvs(&all, env)
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let service = Self {
            child,
            base: format!("http://{listen}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/ready", service.base)).await
                && r.status() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "pvs did not become ready:\n{}",
                service.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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

    /// Stops it with SIGTERM and waits.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
