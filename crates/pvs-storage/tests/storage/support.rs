//! Opening a fresh storage of each kind for one test.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use pvs_storage::{S3Settings, Storage, StorageUrl};
use tempfile::TempDir;

/// The S3-compatible server the tests use when `PVS_TEST_S3_ENDPOINT` is not set.
const DEFAULT_S3_ENDPOINT: &str = "http://127.0.0.1:9000";

/// A storage for one test, with whatever must live as long as it.
pub struct TestStorage {
    pub storage: Storage,
    /// The directory of a `file://` storage, removed when the test ends.
    pub _dir: Option<TempDir>,
}

/// A new, empty in-memory storage.
pub fn memory() -> TestStorage {
    TestStorage {
        storage: open(&"memory://".parse().unwrap(), None),
        _dir: None,
    }
}

/// A storage in a new temporary directory (created by `Storage::from_url` itself).
pub fn file() -> TestStorage {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = format!("file://{}", dir.path().join("storage").display());
    TestStorage {
        storage: open(&url.parse().unwrap(), None),
        _dir: Some(dir),
    }
}

/// The endpoint of the S3-compatible test server.
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

/// Creates a new bucket on the test server and returns its name. Fails, saying how to start
/// the server, when the server does not answer.
pub async fn new_bucket() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
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
pub async fn s3(prefix: &str) -> TestStorage {
    let bucket = new_bucket().await;
    let url = format!("s3://{bucket}/{prefix}");
    TestStorage {
        storage: open(&url.parse().unwrap(), Some(&s3_settings())),
        _dir: None,
    }
}

fn open(url: &StorageUrl, settings: Option<&S3Settings>) -> Storage {
    Storage::from_url(url, settings).unwrap_or_else(|error| panic!("open {url}: {error}"))
}
