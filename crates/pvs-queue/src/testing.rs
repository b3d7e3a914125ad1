//! Test support (feature `contract`): a Redis queue under a key prefix of its own.
//!
//! Tests of any crate that needs real queues use [`TestRedis`]: its keys live under
//! `pvs-test:<uuid>:` on the server at `PVS_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`) and are deleted when it is dropped, so tests run in parallel and
//! never see each other's items. Nothing else on the server is touched.

use std::ffi::OsStr;
use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use crate::RedisQueue;

/// The Redis server tests use.
pub fn redis_url() -> String {
    std::env::var("PVS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A fresh key prefix, `pvs-test:<uuid>:`.
pub fn unique_prefix() -> String {
    format!("pvs-test:{}:", uuid::Uuid::new_v4().simple())
}

/// A [`RedisQueue`] under a prefix of its own; its keys are deleted on drop.
pub struct TestRedis {
    /// The queue (shareable with the code under test).
    pub queue: Arc<RedisQueue>,
}

impl TestRedis {
    /// Connects under a new prefix; panics, saying how to start Redis, when it does not answer.
    pub async fn new() -> Self {
        Self::with_prefix(&unique_prefix()).await
    }

    /// Connects under `prefix` (which the caller must keep unique).
    pub async fn with_prefix(prefix: &str) -> Self {
        let queue = RedisQueue::connect(&redis_url(), prefix)
            .await
            .expect("Redis must run for these tests (scripts/setup.sh starts it)");
        Self {
            queue: Arc::new(queue),
        }
    }
}

impl Deref for TestRedis {
    type Target = RedisQueue;

    fn deref(&self) -> &RedisQueue {
        &self.queue
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        delete_keys(self.queue.prefix());
    }
}

/// Deletes every key under `prefix` (best effort; never panics).
pub fn delete_keys(prefix: &str) {
    let pattern = format!("{prefix}*");
    if let Ok(client) = redis::Client::open(redis_url())
        && let Ok(mut conn) = client.get_connection()
    {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

/// Starts this very test binary again, running only the ignored test `test_name`, with the
/// environment variable `var` set to `value` and its stdout piped: the child process of
/// [`killed_consumer_loses_nothing`](crate::contract::killed_consumer_loses_nothing).
pub fn spawn_child_test(test_name: &str, var: &str, value: impl AsRef<OsStr>) -> Child {
    Command::new(std::env::current_exe().expect("the path of this test binary"))
        .args([
            test_name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(var, value)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child test process")
}
