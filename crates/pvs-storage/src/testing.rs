//! Storages for tests against the S3-compatible test server (`scripts/s3-server.sh`):
//! a new bucket per test, so that tests run in parallel. Feature `contract`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{S3Settings, Storage};

/// The S3-compatible server the tests use when `PVS_TEST_S3_ENDPOINT` is not set.
pub const DEFAULT_S3_ENDPOINT: &str = "http://127.0.0.1:9000";

/// The endpoint of the S3-compatible test server (`PVS_TEST_S3_ENDPOINT`).
pub fn s3_endpoint() -> String {
    std::env::var("PVS_TEST_S3_ENDPOINT").unwrap_or_else(|_| DEFAULT_S3_ENDPOINT.to_owned())
}

/// Signed, path-style settings for the test server (moto accepts any key pair).
pub fn s3_settings() -> S3Settings {
    let endpoint = s3_endpoint();
    let endpoint = endpoint
        .parse()
        .unwrap_or_else(|error| panic!("PVS_TEST_S3_ENDPOINT {endpoint:?} is not a URL: {error}"));
    S3Settings::with_endpoint(endpoint).with_credentials("pvs-test", "pvs-test-secret")
}

/// Creates a new bucket on the test server and returns its name. Panics, saying how to
/// start the server, when the server does not answer.
pub async fn new_bucket() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let bucket = format!(
        "pvs-test-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let endpoint = s3_endpoint();
    // moto creates a bucket on an unsigned PUT of its path.
    let response = reqwest::Client::new()
        .put(format!("{}/{bucket}", endpoint.trim_end_matches('/')))
        .send()
        .await
        .unwrap_or_else(|error| {
            panic!(
                "the S3 test server at {endpoint} does not answer ({error}); \
                 run `scripts/s3-server.sh start` (or set PVS_TEST_S3_ENDPOINT)"
            )
        });
    assert!(
        response.status().is_success(),
        "creating bucket {bucket} at {endpoint} answered {}",
        response.status()
    );
    bucket
}

/// A storage under `prefix` in a new bucket of the test server.
pub async fn s3_storage(prefix: &str) -> Storage {
    s3_bucket_storage(prefix).await.1
}

/// A new bucket on the test server and the storage `s3://{bucket}/{prefix}` in it: the
/// bucket's name is what a `pvs` process started by the test is given.
pub async fn s3_bucket_storage(prefix: &str) -> (String, Storage) {
    let bucket = new_bucket().await;
    let url = format!("s3://{bucket}/{prefix}");
    let storage = Storage::from_url(
        &url.parse()
            .unwrap_or_else(|e| panic!("test URL {url}: {e}")),
        Some(&s3_settings()),
    )
    .unwrap_or_else(|error| panic!("open {url}: {error}"));
    (bucket, storage)
}

/// Retries of the S3 client for tests: `max_retries`, each after 100 ms.
pub fn quick_retry(max_retries: usize) -> crate::S3Retry {
    crate::S3Retry {
        max_retries,
        init_backoff: std::time::Duration::from_millis(100),
        max_backoff: std::time::Duration::from_millis(100),
        retry_timeout: std::time::Duration::from_secs(10),
    }
}

/// An endpoint of the test server that is unreachable at first: a port of 127.0.0.1 where
/// nothing listens (every connection refused) until `after`, then forwards each connection
/// to the server. Stops forwarding when dropped.
pub struct LateEndpoint {
    port: u16,
    forwarder: tokio::task::JoinHandle<()>,
    open: tokio::sync::watch::Receiver<bool>,
}

impl LateEndpoint {
    /// Starts the clock: the endpoint answers `after` from now at the earliest (from when its
    /// task first runs; [`LateEndpoint::opened`] tells when it does).
    pub fn new(after: std::time::Duration) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap_or_else(|error| panic!("no free port: {error}"));
        let upstream = s3_endpoint()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let (opened, open) = tokio::sync::watch::channel(false);
        let forwarder = tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap_or_else(|error| panic!("cannot listen on port {port}: {error}"));
            let _ = opened.send(true);
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            port,
            forwarder,
            open,
        }
    }

    /// Waits until the endpoint listens.
    pub async fn opened(&self) {
        let mut open = self.open.clone();
        open.wait_for(|open| *open)
            .await
            .expect("the endpoint's task ended before it listened");
    }

    /// `storage` (of the test server) reached through this endpoint, its client retrying
    /// with `retry`.
    pub fn storage(&self, storage: &Storage, retry: crate::S3Retry) -> Storage {
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        let settings = S3Settings {
            retry,
            ..S3Settings::with_endpoint(endpoint.parse().expect("a URL"))
                .with_credentials("pvs-test", "pvs-test-secret")
        };
        Storage::from_url(storage.url(), Some(&settings))
            .unwrap_or_else(|error| panic!("open {} through {endpoint}: {error}", storage.url()))
    }
}

impl Drop for LateEndpoint {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}
