//! A queue worker whose Redis goes away stops the process (exit status non-zero), so that
//! its restart policy starts it again; before, the worker loops ended but the process went
//! on serving `/health` with no worker behind it, for ever, even once Redis was back (found
//! by the fault suite, benches/faults, row redis-restart).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pvs_test_support::{free_address, free_port};

mod support;

/// A redis-server of the test's own (the shared one must never be stopped).
struct OwnRedis {
    child: std::process::Child,
    port: String,
    _dir: tempfile::TempDir,
}

impl OwnRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port().to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_worker_whose_redis_goes_away_exits() {
    // The preprocessor (the registrar and the seeder run their queue loops the same way,
    // `pvs_queue::consume` under `QueueWorker::serve`, with a catalog besides).
    for service in ["preprocessor"] {
        let mut redis = OwnRedis::start();
        let listen = free_address();
        let env = vec![
            ("REDIS_URL", format!("redis://127.0.0.1:{}/0", redis.port)),
            ("STORAGE_URL", "memory://".to_owned()),
            ("LISTEN_ADDR", listen.clone()),
        ];
        let mut pvs = support::pvs(&[service], &env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&listen).is_err() {
            assert!(
                Instant::now() < deadline,
                "pvs {service} did not start: {:?}",
                pvs.try_wait()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        redis.child.kill().unwrap();
        redis.child.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = pvs.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = pvs.kill();
                panic!("pvs {service} still runs 60 s after its Redis went away");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(!status.success(), "pvs {service}: {status}");
    }
}
