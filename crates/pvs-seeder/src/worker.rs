//! The `seed_queue` worker: each message `start/end` (what the registrar pushes after
//! registering a product of a seeded collection) seeds every collection whose configuration
//! has `seed_zoom`, at that collection's zoom levels, with the products in the interval.
//! The message moves through `seeding_set` to `seed-success_set`, or to `seed-failure_set`
//! with the reason in `seed-failure_reasons` (a message that is not an interval, a catalog
//! that failed, tiles that could not be made).

use std::sync::Arc;

use pvs_cache::TileCache;
use pvs_model::Collections;
use pvs_queue::{QueueError, QueueName, Stage, TransientRetry, WorkQueue};
use pvs_tiles::{TileFormat, TileMatrixSet};
use tokio::sync::watch;

use crate::job::{SeedJob, parse_interval};
use crate::plan::{PlanError, plan};
use crate::run::{Counts, RunOptions, Summary, run};

/// The longest status-set id: longer messages are recorded cut.
const MAX_ID_CHARS: usize = 255;

/// What the worker seeds besides the collections' zoom levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// The tile matrix sets.
    pub matrix_sets: Vec<TileMatrixSet>,
    /// The formats.
    pub formats: Vec<TileFormat>,
    /// Whether the collections' `__outlines` layers are seeded too.
    pub outlines: bool,
    /// How tiles are made (`force` is ignored: the queue never redraws stored tiles, which
    /// the registrar has invalidated when their products changed).
    pub run: RunOptions,
}

impl Default for WorkerSettings {
    /// Both matrix sets, PNG, no outlines, two tiles per core at a time.
    fn default() -> Self {
        Self {
            matrix_sets: TileMatrixSet::ALL.to_vec(),
            formats: vec![TileFormat::Png],
            outlines: false,
            run: RunOptions::default(),
        }
    }
}

/// Why a message was not seeded (recorded as its failure reason).
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The message is not an interval.
    #[error("message {message:?} is not a time interval START/END: {reason}")]
    BadMessage {
        /// The message (cut).
        message: String,
        /// Why.
        reason: String,
    },
    /// A collection could not be planned.
    #[error("collection {collection}: {source}")]
    Plan {
        /// The collection.
        collection: String,
        /// Why.
        source: PlanError,
    },
    /// Tiles could not be made.
    #[error("collection {collection}: {failed} of {total} tiles failed, e.g. {first}")]
    Tiles {
        /// The collection.
        collection: String,
        /// How many failed.
        failed: u64,
        /// Tiles planned.
        total: u64,
        /// The first failure.
        first: String,
        /// Whether every failed tile failed on a fault that may pass.
        transient: bool,
    },
    /// The worker is stopping: the message goes back to the queue.
    #[error("interrupted by shutdown")]
    Interrupted,
    /// The queue could not be reached.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl SeedError {
    /// Whether seeding may succeed when tried again later: the catalog could not be
    /// reached while planning, or every failed tile failed on a fault that may pass (the
    /// tile store, the catalog or the renderer service unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Plan {
                source: PlanError::CatalogUnavailable(_),
                ..
            } => true,
            Self::Tiles { transient, .. } => *transient,
            _ => false,
        }
    }
}

/// The seeder: the queue, the cache it fills, and the collections configuration.
pub struct Seeder {
    queue: Arc<dyn WorkQueue>,
    cache: Arc<TileCache>,
    collections: Collections,
    settings: WorkerSettings,
    /// How a message whose seeding failed on a transient fault is tried again.
    retry: TransientRetry,
}

/// What one message seeded: per collection, the run's summary.
pub type Seeded = Vec<(String, Summary)>;

impl Seeder {
    /// A seeder over these backends.
    pub fn new(
        queue: Arc<dyn WorkQueue>,
        cache: Arc<TileCache>,
        collections: Collections,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            queue,
            cache,
            collections,
            settings,
            retry: TransientRetry::default(),
        }
    }

    /// Sets how a message whose seeding failed on a transient fault is tried again before
    /// it fails (by default for up to 5 minutes: [`TransientRetry::default`]).
    pub fn with_transient_retry(mut self, retry: TransientRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The collections seeded from the queue, with their zoom levels.
    pub fn seeded_collections(&self) -> Vec<(String, [u8; 2])> {
        self.collections
            .collections
            .iter()
            .filter_map(|(name, c)| c.seed_zoom.map(|zoom| (name.clone(), zoom)))
            .collect()
    }

    /// Seeds the interval `message` for every seeded collection (without touching the
    /// status sets). Stops early, with [`SeedError::Interrupted`], when `stop` turns true.
    pub async fn seed_message(
        &self,
        message: &str,
        stop: Option<watch::Receiver<bool>>,
    ) -> Result<Seeded, SeedError> {
        let (start, end) = parse_interval(message).map_err(|reason| SeedError::BadMessage {
            message: message.chars().take(100).collect(),
            reason,
        })?;
        let mut seeded = Vec::new();
        for (collection, zoom) in self.seeded_collections() {
            // The collection's own layer and one per browse type.
            let browses = self
                .collections
                .collections
                .get(&collection)
                .into_iter()
                .flat_map(|c| c.browses.keys());
            let layers = std::iter::once(collection.clone())
                .chain(browses.map(|browse| {
                    pvs_ogc::layer::Look::Named(browse.clone()).layer_name(&collection)
                }))
                .collect();
            let job = SeedJob {
                collections: layers,
                start,
                end,
                zoom,
                bbox: None,
                matrix_sets: self.settings.matrix_sets.clone(),
                formats: self.settings.formats.clone(),
                outlines: self.settings.outlines,
            };
            let plan = plan(self.cache.catalog().as_ref(), &job)
                .await
                .map_err(|source| SeedError::Plan {
                    collection: collection.clone(),
                    source,
                })?;
            let options = RunOptions {
                force: false,
                ..self.settings.run
            };
            let summary = run(
                &self.cache,
                &plan,
                options,
                &mut |_: &Counts| {},
                stop.clone(),
            )
            .await;
            tracing::info!(interval = message, %collection, summary = %summary.line(), "seeded");
            if summary.interrupted {
                return Err(SeedError::Interrupted);
            }
            if summary.counts.failed > 0 {
                return Err(SeedError::Tiles {
                    collection,
                    failed: summary.counts.failed,
                    total: summary.total,
                    first: summary.failures.first().cloned().unwrap_or_default(),
                    transient: summary.transient_failures == summary.counts.failed,
                });
            }
            seeded.push((collection, summary));
        }
        Ok(seeded)
    }

    /// Handles one `seed_queue` message, recording the outcome in the status sets under the
    /// message itself (cut to 255 characters). Only queue errors and interruptions are
    /// returned (the message then goes back to the queue).
    pub async fn handle(
        &self,
        message: &str,
        stop: Option<watch::Receiver<bool>>,
    ) -> Result<Option<Seeded>, SeedError> {
        let id = status_id(message);
        self.queue.mark_started(Stage::Seed, &id).await?;
        // Seeding again skips the tiles stored already: a retry makes only what failed.
        let seeded = self
            .retry
            .run(
                &format!("seeding {id}"),
                || self.seed_message(message, stop.clone()),
                SeedError::is_transient,
            )
            .await;
        match seeded {
            Ok(seeded) => {
                self.queue.mark_succeeded(Stage::Seed, &id).await?;
                Ok(Some(seeded))
            }
            Err(e @ (SeedError::Queue(_) | SeedError::Interrupted)) => Err(e),
            Err(e) => {
                tracing::warn!(interval = %id, error = %e, "seeding failed");
                self.queue
                    .mark_failed_item(Stage::Seed, &id, &e.to_string(), QueueName::Seed, message)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Consumes `seed_queue` as `name` until `shutdown` is set (reliably: an item being
    /// seeded when the worker stops or dies goes back to the queue; seeding it again skips
    /// the tiles already stored).
    pub async fn run(
        self: Arc<Self>,
        name: &str,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), QueueError> {
        let stop = shutdown.clone();
        pvs_queue::consume(
            self.queue.as_ref(),
            QueueName::Seed,
            name,
            shutdown,
            |payload| {
                let this = self.clone();
                let stop = stop.clone();
                async move {
                    match this.handle(&payload, Some(stop)).await {
                        Ok(_) => Ok(()),
                        Err(SeedError::Queue(e)) => Err(e),
                        Err(e) => Err(QueueError::Invalid(format!(
                            "seeding {payload:?} {e}; the interval goes back to the queue"
                        ))),
                    }
                }
            },
        )
        .await
    }
}

/// The id a message is recorded under: the message, trimmed and cut.
fn status_id(message: &str) -> String {
    let id: String = message.trim().chars().take(MAX_ID_CHARS).collect();
    if id.is_empty() {
        "(empty message)".to_owned()
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ids() {
        assert_eq!(status_id(" 2020/2021 "), "2020/2021");
        assert_eq!(status_id(""), "(empty message)");
        assert_eq!(status_id(&"x".repeat(1000)).len(), 255);
    }
}
