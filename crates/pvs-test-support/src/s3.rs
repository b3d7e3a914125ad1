//! The S3-compatible test server (`scripts/s3-server.sh`, `PVS_TEST_S3_ENDPOINT`): a new
//! bucket per test, as a [`Storage`](pvs_storage::Storage) or as the variables of a `pvs`
//! process. The storage side is `pvs_storage::testing`, re-exported here.

pub use pvs_storage::testing::{
    DEFAULT_S3_ENDPOINT, new_bucket, s3_bucket_storage, s3_endpoint, s3_settings, s3_storage,
};

/// The access key the tests sign with (the test server accepts any key pair).
pub const ACCESS_KEY_ID: &str = "pvs-test";
/// The secret key the tests sign with.
pub const SECRET_ACCESS_KEY: &str = "pvs-test-secret";

/// The variables that give a `pvs` process `s3://{bucket}/{prefix}` on the test server as
/// its `STORAGE_URL`.
pub fn env(bucket: &str, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("STORAGE_URL", format!("s3://{bucket}/{prefix}")),
        ("S3_ENDPOINT", s3_endpoint()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
    ]
}
