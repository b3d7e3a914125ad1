//! The work queues of pvs and the status sets operators read.
//!
//! The key names are the original View Server's, so existing tooling (`redis-cli LLEN
//! register_queue`, `SMEMBERS preprocess-failure_set`) keeps working:
//!
//! | queue (list)           | status sets                                                         |
//! |------------------------|---------------------------------------------------------------------|
//! | `preprocess-md_queue`, `preprocess_queue` | `preprocessing_set`, `preprocess-success_set`, `preprocess-failure_set` |
//! | `register_queue`, `deregister_queue`      | `registering_set`, `register-success_set`, `register-failure_set`       |
//! | `seed_queue`                              | `seeding_set`, `seed-success_set`, `seed-failure_set`                   |
//! | `invalidate_queue` (pvs's own)            | (none: the cache drops the tiles)                                       |
//!
//! Failure reasons are kept in the hash `<stage>-failure_reasons` (id → reason), and the
//! item that failed (its queue and payload, so that it can be queued again with
//! [`WorkQueue::retry`], e.g. by `pvs queue retry`) in the hash `<stage>-failure_items`
//! (id → `<queue key>` LF `<payload>`).
//!
//! Producers LPUSH; consumers take from the other end. A consumer never loses an item when it
//! dies between taking and finishing it: [`Consumer::take`] moves the item atomically (BLMOVE)
//! into the consumer's own processing list `<queue>:processing:<consumer>`, and the item
//! leaves that list only when the consumer acknowledges it. While a consumer lives, a
//! heartbeat key `<queue>:consumer:<consumer>` with a short TTL says so; [`WorkQueue::recover`]
//! (run by every consumer at start-up and periodically) moves the items of consumers whose
//! heartbeat has expired back to the queue, and a consumer that restarts under the same name
//! takes its own unfinished items back at once. Delivery is therefore at least once: a
//! consumer that stalls for longer than the heartbeat TTL may see its item handed to another.
//!
//! Two backends implement [`WorkQueue`] and pass the same contract suite (`contract`, feature
//! `contract`):
//!
//! - [`RedisQueue`]: the services' queue, on Redis, with the key names above.
//! - [`SqliteQueue`]: the embedded twin for `pvs up` (no services): one SQLite file in WAL mode
//!   that several processes may open at once, with the same names stored as values (the
//!   `queue` column holds `register_queue`, the `set_key` column `preprocess-failure_set`...).
//!   Every change is one transaction, committed to the file's write-ahead log before the call
//!   returns, so a killed process loses nothing: its items come back by
//!   [`WorkQueue::recover`] once its heartbeat has expired (a power cut may lose the last
//!   commits, as with Redis snapshots; the file stays sound). A push wakes the
//!   takers waiting on the same [`SqliteQueue`] (or a clone) at once; pushes by other
//!   processes are seen within 100 ms. [`SqliteQueue::in_memory`] keeps everything in memory
//!   (tests).
//!
//! [`reports`] keeps the registration-report bookkeeping over either backend (the
//! `report:<name>` hashes: outcomes per product, the report written once complete), for the
//! registrar and the preprocessor alike.

#![forbid(unsafe_code)]

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

#[cfg(feature = "contract")]
pub mod contract;
mod redis_queue;
pub mod reports;
mod sqlite_queue;
#[cfg(feature = "contract")]
pub mod testing;
mod worker;

pub use redis_queue::{RedisConsumer, RedisQueue};
pub use sqlite_queue::{SqliteConsumer, SqliteQueue};
pub use worker::{SHUTDOWN_GRACE, TransientRetry, consume, join_workers};

/// A work queue, by its original key name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueName {
    /// `preprocess_queue`: object paths of products or packages to preprocess.
    Preprocess,
    /// `preprocess-md_queue`: browse items (JSON) from the ingestor.
    PreprocessMd,
    /// `register_queue`: preprocessed products to register.
    Register,
    /// `deregister_queue`: product ids to remove from the catalog.
    Deregister,
    /// `seed_queue`: time intervals (`start/end`) to pre-render into the tile cache.
    Seed,
    /// `invalidate_queue`: cached tiles to drop because a product was replaced or removed
    /// (JSON: collection, bbox, start, end, product, reason).
    Invalidate,
}

impl QueueName {
    /// Every queue.
    pub const ALL: [QueueName; 6] = [
        QueueName::Preprocess,
        QueueName::PreprocessMd,
        QueueName::Register,
        QueueName::Deregister,
        QueueName::Seed,
        QueueName::Invalidate,
    ];

    /// The Redis key (without any configured prefix).
    pub fn key(self) -> &'static str {
        match self {
            QueueName::Preprocess => "preprocess_queue",
            QueueName::PreprocessMd => "preprocess-md_queue",
            QueueName::Register => "register_queue",
            QueueName::Deregister => "deregister_queue",
            QueueName::Seed => "seed_queue",
            QueueName::Invalidate => "invalidate_queue",
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl std::str::FromStr for QueueName {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueueName::ALL
            .into_iter()
            .find(|q| q.key() == s)
            .ok_or_else(|| {
                QueueError::Invalid(format!(
                    "unknown queue {s:?}; the queues are {}",
                    QueueName::ALL.map(QueueName::key).join(", ")
                ))
            })
    }
}

/// A processing stage with its status sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The preprocessor.
    Preprocess,
    /// The registrar.
    Register,
    /// The seeder.
    Seed,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 3] = [Stage::Preprocess, Stage::Register, Stage::Seed];

    /// The key of one of the stage's status sets (without any configured prefix).
    pub fn set_key(self, set: StatusSet) -> &'static str {
        match (self, set) {
            (Stage::Preprocess, StatusSet::InFlight) => "preprocessing_set",
            (Stage::Preprocess, StatusSet::Success) => "preprocess-success_set",
            (Stage::Preprocess, StatusSet::Failure) => "preprocess-failure_set",
            (Stage::Register, StatusSet::InFlight) => "registering_set",
            (Stage::Register, StatusSet::Success) => "register-success_set",
            (Stage::Register, StatusSet::Failure) => "register-failure_set",
            (Stage::Seed, StatusSet::InFlight) => "seeding_set",
            (Stage::Seed, StatusSet::Success) => "seed-success_set",
            (Stage::Seed, StatusSet::Failure) => "seed-failure_set",
        }
    }

    /// The key of the hash of failure reasons (id → reason).
    pub fn reasons_key(self) -> &'static str {
        match self {
            Stage::Preprocess => "preprocess-failure_reasons",
            Stage::Register => "register-failure_reasons",
            Stage::Seed => "seed-failure_reasons",
        }
    }

    /// The key of the hash of the items that failed (id → queue and payload).
    pub fn items_key(self) -> &'static str {
        match self {
            Stage::Preprocess => "preprocess-failure_items",
            Stage::Register => "register-failure_items",
            Stage::Seed => "seed-failure_items",
        }
    }

    /// The stage's name as operators type it: `preprocess`, `register`, `seed`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Preprocess => "preprocess",
            Stage::Register => "register",
            Stage::Seed => "seed",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Stage {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name() == s)
            .ok_or_else(|| {
                QueueError::Invalid(format!(
                    "unknown stage {s:?}; the stages are {}",
                    Stage::ALL.map(Stage::name).join(", ")
                ))
            })
    }
}

/// One of a stage's three status sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusSet {
    /// Being processed now (`preprocessing_set`...).
    InFlight,
    /// Finished successfully (`*-success_set`).
    Success,
    /// Failed (`*-failure_set`), with a reason in `*-failure_reasons`.
    Failure,
}

impl StatusSet {
    /// Every status set.
    pub const ALL: [StatusSet; 3] = [StatusSet::InFlight, StatusSet::Success, StatusSet::Failure];

    /// A short name for labels and listings: `in_flight`, `success`, `failure`.
    pub fn name(self) -> &'static str {
        match self {
            StatusSet::InFlight => "in_flight",
            StatusSet::Success => "success",
            StatusSet::Failure => "failure",
        }
    }
}

/// Where an id stands in a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not seen by the stage (or purged).
    Unknown,
    /// Being processed.
    InFlight,
    /// Finished successfully.
    Succeeded,
    /// Failed, with the reason recorded.
    Failed {
        /// Why, as recorded by the worker.
        reason: String,
    },
}

/// A report whose products all have an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedReport {
    /// The report's name.
    pub name: String,
    /// What was stored with [`WorkQueue::report_open`].
    pub info: String,
    /// Outcome per product id, sorted by id.
    pub outcomes: Vec<(String, String)>,
}

/// An item taken from a queue and not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The queue it came from.
    pub queue: QueueName,
    /// The item as it was pushed.
    pub payload: String,
}

/// What went wrong talking to the queue backend.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The backend could not be reached.
    #[error("cannot connect to the queue at {target}: {reason}")]
    Connect {
        /// The address (without password).
        target: String,
        /// Why.
        reason: String,
    },
    /// A command failed.
    #[error("queue {operation} on {key} failed: {reason}")]
    Backend {
        /// What pvs was doing (`push`, `take`...).
        operation: &'static str,
        /// The key involved.
        key: String,
        /// The backend's message.
        reason: String,
    },
    /// An argument was not acceptable (a consumer name with spaces, an unknown queue...).
    #[error("{0}")]
    Invalid(String),
}

/// Result of queue operations.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// The work queues and status sets, as every service sees them.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Checks that the backend answers (readiness).
    async fn ping(&self) -> Result<()>;

    /// Appends one item (LPUSH).
    async fn push(&self, queue: QueueName, item: &str) -> Result<()>;

    /// Appends several items atomically and in one round trip: all or none are queued, and
    /// they are taken in the given order.
    async fn push_many(&self, queue: QueueName, items: &[String]) -> Result<()>;

    /// Appends `message` to `target` only if consumer `consumer` of `source` still holds
    /// the item `held` (it took it and has neither acknowledged nor released it), in one
    /// atomic step; returns whether it was appended. This fences the hand-off of an item's
    /// result: a consumer cut off from the backend past its heartbeat loses its items to
    /// [`WorkQueue::recover`], and another consumer does them; when the first comes back
    /// with its result, that result is not handed on a second time.
    async fn push_if_held(
        &self,
        source: QueueName,
        consumer: &str,
        held: &str,
        target: QueueName,
        message: &str,
    ) -> Result<bool>;

    /// The number of items waiting (not counting items being processed).
    async fn len(&self, queue: QueueName) -> Result<u64>;

    /// Up to `max` waiting items, the next to be taken first.
    async fn peek(&self, queue: QueueName, max: usize) -> Result<Vec<String>>;

    /// The items being processed, per consumer (`(consumer, items)`), live or abandoned.
    async fn processing(&self, queue: QueueName) -> Result<Vec<(String, Vec<String>)>>;

    /// A consumer of `queue` named `name` (letters, digits, `_`, `.`, `-`). A consumer that
    /// starts under the name of one that died takes that one's unfinished items back first.
    async fn consumer(&self, queue: QueueName, name: &str) -> Result<Box<dyn Consumer>>;

    /// Moves the items of consumers of `queue` that are no longer alive back to the queue;
    /// returns how many were moved.
    async fn recover(&self, queue: QueueName) -> Result<usize>;

    /// Records that `id` entered `stage` (adds it to the in-flight set).
    async fn mark_started(&self, stage: Stage, id: &str) -> Result<()>;

    /// Records that `id` finished `stage`: out of in-flight and failure, into success.
    async fn mark_succeeded(&self, stage: Stage, id: &str) -> Result<()>;

    /// Records that `id` failed `stage` and why: out of in-flight and success, into failure.
    /// No item is kept for it (one kept by an earlier failure is dropped).
    async fn mark_failed(&self, stage: Stage, id: &str, reason: &str) -> Result<()>;

    /// Records that `id` failed `stage` and why, as [`WorkQueue::mark_failed`], and keeps the
    /// item that failed (`payload`, taken from `queue`) so that [`WorkQueue::retry`] can queue
    /// it again.
    async fn mark_failed_item(
        &self,
        stage: Stage,
        id: &str,
        reason: &str,
        queue: QueueName,
        payload: &str,
    ) -> Result<()>;

    /// The item kept for failed `id` of `stage`, if any.
    async fn failed_item(&self, stage: Stage, id: &str) -> Result<Option<Taken>>;

    /// Queues the item kept for failed `id` of `stage` again (behind the items waiting) and
    /// removes `id` from the failure set with its reason and item, all at once. Returns the
    /// queue, or `None` when no item is kept for `id` (it did not fail, failed without an
    /// item, or was retried already: two retries at the same time queue it once).
    async fn retry(&self, stage: Stage, id: &str) -> Result<Option<QueueName>>;

    /// Forgets `id` in `stage`: out of all three sets, its failure reason removed (a product
    /// that was deregistered).
    async fn forget(&self, stage: Stage, id: &str) -> Result<()>;

    /// Where `id` stands in `stage`.
    async fn status(&self, stage: Stage, id: &str) -> Result<Status>;

    /// Starts tracking report `name`: `expected` products were queued from it; `info` is kept
    /// for whoever writes the report's result (e.g. JSON with the report's details).
    async fn report_open(&self, name: &str, expected: usize, info: &str) -> Result<()>;

    /// Records the final outcome of product `id` of report `name`. When this completes the
    /// report (every expected product has an outcome), returns the report: its `info` and the
    /// outcomes by id, and stops tracking it; otherwise `None`. Exactly one caller gets the
    /// completed report, even when the last outcomes arrive at the same time. Unknown reports
    /// give `None`.
    async fn report_result(
        &self,
        name: &str,
        id: &str,
        outcome: &str,
    ) -> Result<Option<CompletedReport>>;

    /// Whether `id` is in one of `stage`'s sets.
    async fn is_member(&self, stage: Stage, set: StatusSet, id: &str) -> Result<bool>;

    /// The members of one status set (sorted).
    async fn members(&self, stage: Stage, set: StatusSet) -> Result<Vec<String>>;

    /// The number of members of one status set.
    async fn set_len(&self, stage: Stage, set: StatusSet) -> Result<u64>;

    /// Removes every waiting item of `queue` (items being processed stay with their
    /// consumers); returns how many were removed.
    async fn purge_queue(&self, queue: QueueName) -> Result<u64>;

    /// Empties one status set (the failure set with its reasons and kept items); returns how
    /// many members it had.
    async fn purge_set(&self, stage: Stage, set: StatusSet) -> Result<u64>;
}

/// One consumer of one queue: takes items one at a time and acknowledges each.
#[async_trait]
pub trait Consumer: Send {
    /// The consumer's name.
    fn name(&self) -> &str;

    /// Takes the next item, waiting up to `timeout` for one; `None` when none came. The item
    /// stays recorded as this consumer's until [`Consumer::ack`] or [`Consumer::release`].
    async fn take(&mut self, timeout: Duration) -> Result<Option<Taken>>;

    /// Forgets a finished item (whatever its outcome: record failures with
    /// [`WorkQueue::mark_failed`]).
    async fn ack(&mut self, taken: &Taken) -> Result<()>;

    /// Gives an unfinished item back: it goes to the end of the line, to be taken again later.
    /// An item this consumer no longer holds (recovered by [`WorkQueue::recover`] while the
    /// consumer's heartbeat had expired, e.g. while it was cut off from the backend) is not
    /// queued again: it is queued or with another consumer already.
    async fn release(&mut self, taken: &Taken) -> Result<()>;

    /// Stops consuming: unacknowledged items go back to the queue, and the consumer's
    /// heartbeat is removed.
    async fn close(self: Box<Self>) -> Result<()>;
}

/// Checks a consumer name: 1–128 of letters, digits, `_`, `.`, `-`.
pub fn validate_consumer_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(QueueError::Invalid(format!(
            "invalid consumer name {name:?}: use 1 to 128 letters, digits, '_', '.' or '-'"
        )))
    }
}

/// A consumer name unique to this process and call: `<prefix>-<pid>-<random>`.
pub fn unique_consumer_name(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}-{}", std::process::id(), &random[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_key_names() {
        assert_eq!(QueueName::PreprocessMd.key(), "preprocess-md_queue");
        assert_eq!(
            Stage::Register.set_key(StatusSet::Success),
            "register-success_set"
        );
        assert_eq!(
            Stage::Preprocess.set_key(StatusSet::InFlight),
            "preprocessing_set"
        );
        assert_eq!("seed_queue".parse::<QueueName>().unwrap(), QueueName::Seed);
        let err = "seed".parse::<QueueName>().unwrap_err().to_string();
        assert!(err.contains("unknown queue \"seed\""), "{err}");
    }

    #[test]
    fn consumer_names() {
        assert!(validate_consumer_name("preprocessor-1.host_a").is_ok());
        for bad in ["", "a b", "a*", "a:b", &"x".repeat(129)] {
            assert!(validate_consumer_name(bad).is_err(), "{bad:?} accepted");
        }
        let a = unique_consumer_name("w");
        assert!(validate_consumer_name(&a).is_ok());
        assert_ne!(a, unique_consumer_name("w"));
    }
}
