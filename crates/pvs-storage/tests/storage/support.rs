//! Opening a fresh storage of each kind for one test.

pub use pvs_storage::testing::{new_bucket, s3_endpoint, s3_settings};
use pvs_storage::{S3Settings, Storage, StorageUrl};
use tempfile::TempDir;

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
