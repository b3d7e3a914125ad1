//! What each service shows on `/metrics` beyond its HTTP requests: the work queues (depths,
//! items being processed, status set sizes), the items this process finished per stage, and
//! GDAL's block cache. The cache adds its tile counters (`crate::cache`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pvs_queue::{
    CompletedReport, Consumer, QueueName, Result, Stage, Status, StatusSet, Taken, WorkQueue,
};
use pvs_service::metrics::{Family, Kind, Metrics};

/// How long the queue collector may take before a scrape goes on without it.
const QUEUE_SCRAPE_TIMEOUT: Duration = Duration::from_secs(3);

/// The metrics of `service`: its requests, GDAL's block cache and, when it uses the work
/// queues, their depths and this process's items per stage.
pub fn service_metrics(service: &'static str, queue: Option<Arc<dyn WorkQueue>>) -> Metrics {
    let metrics = Metrics::new(service);
    metrics.collect(|| async { gdal_cache() });
    if let Some(queue) = queue {
        metrics.collect(move || {
            let queue = queue.clone();
            async move {
                match tokio::time::timeout(QUEUE_SCRAPE_TIMEOUT, queue_families(queue.as_ref()))
                    .await
                {
                    Ok(Ok(families)) => families,
                    Ok(Err(e)) => queue_down(&e.to_string()),
                    Err(_) => queue_down("no answer in time"),
                }
            }
        });
        metrics.collect(|| async { ITEMS.families() });
    }
    metrics
}

/// GDAL's raster block cache: bytes used and the limit.
fn gdal_cache() -> Vec<Family> {
    // SAFETY: both functions only read GDAL's global cache counters.
    let (used, max) = unsafe {
        (
            gdal_sys::GDALGetCacheUsed64(),
            gdal_sys::GDALGetCacheMax64(),
        )
    };
    vec![
        Family::new(
            "pvs_gdal_block_cache_used_bytes",
            "Bytes of raster blocks in GDAL's block cache (GDALGetCacheUsed64).",
            Kind::Gauge,
        )
        .with(Vec::new(), used as f64),
        Family::new(
            "pvs_gdal_block_cache_max_bytes",
            "The size limit of GDAL's block cache (GDALGetCacheMax64; GDAL_CACHEMAX).",
            Kind::Gauge,
        )
        .with(Vec::new(), max as f64),
    ]
}

/// `pvs_queue_up 0` when the queue backend could not be read.
fn queue_down(reason: &str) -> Vec<Family> {
    tracing::warn!(error = reason, "metrics: cannot read the work queues");
    vec![up(false)]
}

fn up(ok: bool) -> Family {
    Family::new(
        "pvs_queue_up",
        "1 when the work queues answered this scrape, else 0.",
        Kind::Gauge,
    )
    .with(Vec::new(), if ok { 1.0 } else { 0.0 })
}

/// Every queue's depth and items being processed, and every status set's size.
async fn queue_families(queue: &dyn WorkQueue) -> Result<Vec<Family>> {
    let mut length = Family::new(
        "pvs_queue_length",
        "Items waiting in a work queue.",
        Kind::Gauge,
    );
    let mut processing = Family::new(
        "pvs_queue_processing",
        "Items of a work queue taken by consumers and not finished yet.",
        Kind::Gauge,
    );
    let mut consumers = Family::new(
        "pvs_queue_busy_consumers",
        "Consumers of a work queue holding at least one item.",
        Kind::Gauge,
    );
    for name in QueueName::ALL {
        let label = vec![("queue", name.key().to_owned())];
        length = length.with(label.clone(), queue.len(name).await? as f64);
        let held = queue.processing(name).await?;
        let items: usize = held.iter().map(|(_, items)| items.len()).sum();
        processing = processing.with(label.clone(), items as f64);
        consumers = consumers.with(label, held.len() as f64);
    }
    let mut sets = Family::new(
        "pvs_stage_items",
        "Ids in a stage's status set (in_flight, success, failure), as every service sees them.",
        Kind::Gauge,
    );
    for stage in Stage::ALL {
        for set in StatusSet::ALL {
            let labels = vec![
                ("stage", stage.name().to_owned()),
                ("set", set.name().to_owned()),
            ];
            sets = sets.with(labels, queue.set_len(stage, set).await? as f64);
        }
    }
    Ok(vec![up(true), length, processing, consumers, sets])
}

/// The items this process finished, per stage and outcome.
struct ItemCounters {
    /// `[stage][0 = succeeded, 1 = failed]`, stages in `Stage::ALL` order.
    counts: [[AtomicU64; 2]; 3],
}

static ITEMS: ItemCounters = ItemCounters {
    counts: [const { [const { AtomicU64::new(0) }; 2] }; 3],
};

impl ItemCounters {
    fn count(&self, stage: Stage, failed: bool) {
        let index = Stage::ALL
            .iter()
            .position(|s| *s == stage)
            .expect("every stage is in Stage::ALL");
        self.counts[index][usize::from(failed)].fetch_add(1, Ordering::Relaxed);
    }

    fn families(&self) -> Vec<Family> {
        let mut family = Family::new(
            "pvs_items_total",
            "Items this process finished, per stage and outcome (succeeded, failed).",
            Kind::Counter,
        );
        for (stage, counts) in Stage::ALL.iter().zip(&self.counts) {
            for (outcome, count) in ["succeeded", "failed"].iter().zip(counts) {
                family = family.with(
                    vec![
                        ("stage", stage.name().to_owned()),
                        ("outcome", (*outcome).to_owned()),
                    ],
                    count.load(Ordering::Relaxed) as f64,
                );
            }
        }
        vec![family]
    }
}

/// The work queues, counting the outcomes this process records (`pvs_items_total`); every
/// call goes to the backend unchanged.
pub struct CountedQueue(pub Arc<dyn WorkQueue>);

#[async_trait]
impl WorkQueue for CountedQueue {
    async fn ping(&self) -> Result<()> {
        self.0.ping().await
    }
    async fn push(&self, queue: QueueName, item: &str) -> Result<()> {
        self.0.push(queue, item).await
    }
    async fn push_many(&self, queue: QueueName, items: &[String]) -> Result<()> {
        self.0.push_many(queue, items).await
    }
    async fn push_if_held(
        &self,
        source: QueueName,
        consumer: &str,
        held: &str,
        target: QueueName,
        message: &str,
    ) -> Result<bool> {
        self.0
            .push_if_held(source, consumer, held, target, message)
            .await
    }
    async fn len(&self, queue: QueueName) -> Result<u64> {
        self.0.len(queue).await
    }
    async fn peek(&self, queue: QueueName, max: usize) -> Result<Vec<String>> {
        self.0.peek(queue, max).await
    }
    async fn processing(&self, queue: QueueName) -> Result<Vec<(String, Vec<String>)>> {
        self.0.processing(queue).await
    }
    async fn consumer(&self, queue: QueueName, name: &str) -> Result<Box<dyn Consumer>> {
        self.0.consumer(queue, name).await
    }
    async fn recover(&self, queue: QueueName) -> Result<usize> {
        self.0.recover(queue).await
    }
    async fn mark_started(&self, stage: Stage, id: &str) -> Result<()> {
        self.0.mark_started(stage, id).await
    }
    async fn mark_succeeded(&self, stage: Stage, id: &str) -> Result<()> {
        self.0.mark_succeeded(stage, id).await?;
        ITEMS.count(stage, false);
        Ok(())
    }
    async fn mark_failed(&self, stage: Stage, id: &str, reason: &str) -> Result<()> {
        self.0.mark_failed(stage, id, reason).await?;
        ITEMS.count(stage, true);
        Ok(())
    }
    async fn mark_failed_item(
        &self,
        stage: Stage,
        id: &str,
        reason: &str,
        queue: QueueName,
        payload: &str,
    ) -> Result<()> {
        self.0
            .mark_failed_item(stage, id, reason, queue, payload)
            .await?;
        ITEMS.count(stage, true);
        Ok(())
    }
    async fn failed_item(&self, stage: Stage, id: &str) -> Result<Option<Taken>> {
        self.0.failed_item(stage, id).await
    }
    async fn retry(&self, stage: Stage, id: &str) -> Result<Option<QueueName>> {
        self.0.retry(stage, id).await
    }
    async fn forget(&self, stage: Stage, id: &str) -> Result<()> {
        self.0.forget(stage, id).await
    }
    async fn status(&self, stage: Stage, id: &str) -> Result<Status> {
        self.0.status(stage, id).await
    }
    async fn report_open(&self, name: &str, expected: usize, info: &str) -> Result<()> {
        self.0.report_open(name, expected, info).await
    }
    async fn report_result(
        &self,
        name: &str,
        id: &str,
        outcome: &str,
    ) -> Result<Option<CompletedReport>> {
        self.0.report_result(name, id, outcome).await
    }
    async fn is_member(&self, stage: Stage, set: StatusSet, id: &str) -> Result<bool> {
        self.0.is_member(stage, set, id).await
    }
    async fn members(&self, stage: Stage, set: StatusSet) -> Result<Vec<String>> {
        self.0.members(stage, set).await
    }
    async fn set_len(&self, stage: Stage, set: StatusSet) -> Result<u64> {
        self.0.set_len(stage, set).await
    }
    async fn purge_queue(&self, queue: QueueName) -> Result<u64> {
        self.0.purge_queue(queue).await
    }
    async fn purge_set(&self, stage: Stage, set: StatusSet) -> Result<u64> {
        self.0.purge_set(stage, set).await
    }
}
