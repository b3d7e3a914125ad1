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
    let url = format!("s3://{}/{prefix}", new_bucket().await);
    Storage::from_url(
        &url.parse()
            .unwrap_or_else(|e| panic!("test URL {url}: {e}")),
        Some(&s3_settings()),
    )
    .unwrap_or_else(|error| panic!("open {url}: {error}"))
}
