//! S3-specific behaviour against a real S3-compatible server (`scripts/s3-server.sh start`).

use crate::support;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::{Attribute, GetOptions, ObjectStore};
use pvs_storage::{S3Settings, Storage, StorageError, StorageKey, StorageUrl};

fn key(key: &str) -> StorageKey {
    StorageKey::parse(key).unwrap()
}

fn open(url: &str, settings: &S3Settings) -> Storage {
    Storage::from_url(&url.parse::<StorageUrl>().unwrap(), Some(settings)).unwrap()
}

#[tokio::test]
async fn prefixes_in_one_bucket_do_not_see_each_other() {
    let bucket = support::new_bucket().await;
    let settings = support::s3_settings();
    let first = open(&format!("s3://{bucket}/tenant/one"), &settings);
    let second = open(&format!("s3://{bucket}/tenant/one-more"), &settings);
    let whole = open(&format!("s3://{bucket}"), &settings);
    first
        .put(&key("x.tif"), Bytes::from_static(b"1"))
        .await
        .unwrap();
    second
        .put(&key("x.tif"), Bytes::from_static(b"2"))
        .await
        .unwrap();

    assert_eq!(first.list(None).await.unwrap(), [key("x.tif")]);
    assert_eq!(
        first.get(&key("x.tif")).await.unwrap(),
        Bytes::from_static(b"1")
    );
    assert_eq!(
        second.get(&key("x.tif")).await.unwrap(),
        Bytes::from_static(b"2")
    );
    assert_eq!(
        whole.list(None).await.unwrap(),
        [key("tenant/one-more/x.tif"), key("tenant/one/x.tif")]
    );
    first.delete(&key("x.tif")).await.unwrap();
    assert!(second.exists(&key("x.tif")).await.unwrap());
}

#[tokio::test]
async fn unsigned_requests_are_refused_on_a_private_bucket() {
    let test = support::s3("unsigned").await;
    let StorageUrl::S3 { bucket, .. } = test.storage.url() else {
        panic!("an s3 storage has an s3 URL");
    };
    let name = key("a.bin");
    test.storage
        .put(&name, Bytes::from_static(b"abc"))
        .await
        .unwrap();
    // Without keys, requests go out unsigned (not with keys from the environment or an
    // instance profile): the server's private bucket refuses them.
    let unsigned_settings = S3Settings::with_endpoint(support::s3_endpoint().parse().unwrap());
    let unsigned = open(&format!("s3://{bucket}/unsigned"), &unsigned_settings);
    let error = unsigned.get(&name).await.unwrap_err();
    assert!(
        matches!(
            error,
            StorageError::Backend {
                source: object_store::Error::PermissionDenied { .. },
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn uploads_are_sent_as_binary() {
    let test = support::s3("content-type").await;
    let StorageUrl::S3 { bucket, .. } = test.storage.url() else {
        panic!("an s3 storage has an s3 URL");
    };
    let small = key("tile.png");
    let large = key("large.tif");
    test.storage
        .put(&small, Bytes::from_static(b"\x00\x01"))
        .await
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file()
        .set_len(pvs_storage::MULTIPART_PART_SIZE as u64 + 1)
        .unwrap();
    test.storage.put_file(&large, file.path()).await.unwrap();

    // An independent client reads the Content-Type the server stored.
    let settings = support::s3_settings();
    let reader = AmazonS3Builder::new()
        .with_endpoint(support::s3_endpoint())
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .with_region(settings.region)
        .with_access_key_id(settings.access_key_id.unwrap())
        .with_secret_access_key(settings.secret_access_key.unwrap())
        .build()
        .unwrap();
    for name in [small, large] {
        let location = object_store::path::Path::parse(format!("content-type/{name}")).unwrap();
        let result = reader
            .get_opts(&location, GetOptions::new().with_head(true))
            .await
            .unwrap();
        assert_eq!(
            result
                .attributes
                .get(&Attribute::ContentType)
                .map(|v| v.as_ref()),
            Some("application/octet-stream"),
            "Content-Type of {name}"
        );
    }
}

#[tokio::test]
async fn a_missing_bucket_fails_ping_naming_the_storage() {
    // Creating a bucket first proves the server answers, so the failure below is the bucket's.
    let missing = format!("{}-missing", support::new_bucket().await);
    let storage = open(&format!("s3://{missing}/x"), &support::s3_settings());
    let error = storage.ping().await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StorageError::Backend { .. }), "{error:?}");
    assert!(
        message.contains(&format!("s3://{missing}/x")) && message.contains("NoSuchBucket"),
        "{message}"
    );
}

/// A request to a server that does not answer is retried as `S3Retry` says, by
/// `object_store` alone: with 3 retries after 100 ms each it fails after 300 ms of waiting,
/// the error says how many retries were made; with none it fails at once.
#[tokio::test]
async fn an_unreachable_server_fails_after_the_configured_retries() {
    use std::time::{Duration, Instant};

    use pvs_storage::S3Retry;

    // Nothing listens on port 1: every attempt is refused at once.
    let closed = |max_retries| S3Settings {
        retry: S3Retry {
            max_retries,
            // Equal bounds: the jittered waits are exactly 100 ms.
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(100),
            retry_timeout: Duration::from_secs(10),
        },
        ..S3Settings::with_endpoint("http://127.0.0.1:1".parse().unwrap())
            .with_credentials("pvs-test", "pvs-test-secret")
    };
    let storage = open("s3://nowhere/data", &closed(3));
    let started = Instant::now();
    let error = storage.get(&key("a.tif")).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, StorageError::Backend { .. }), "{error:?}");
    assert!(error.to_string().contains("after 3 retries"), "{error}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(700),
        "{elapsed:?}"
    );

    let storage = open("s3://nowhere/data", &closed(0));
    let started = Instant::now();
    let error = storage
        .put(&key("a.tif"), Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(!error.to_string().contains("retries"), "{error}");
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
}
