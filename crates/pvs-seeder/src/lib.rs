//! The pvs seeder: fills the tile cache ahead of requests.
//!
//! A seed job ([`SeedJob`]: collections, a time interval, zoom levels, optionally a box,
//! matrix sets and formats) is planned from the catalog ([`plan()`]: the tiles of the
//! footprints of the products in the interval, for each product's own interval and for the
//! default time) and run through the cache ([`run()`]: many tiles at a time, each drawn
//! once and stored, tiles already stored skipped so that a run continues where an
//! interrupted one stopped).
//!
//! Jobs come from `seed_queue` ([`Seeder`], the service; messages `start/end` that the
//! registrar pushes) or from the command line (`pvs seeder --collection C --time START/END
//! --zoom 0-8`, [`seed_job`]). See `docs/seeder.md`.

#![forbid(unsafe_code)]

pub mod job;
pub mod plan;
pub mod run;
pub mod worker;

use pvs_cache::TileCache;
use tokio::sync::watch;

pub use job::SeedJob;
pub use plan::{Plan, PlanError, plan};
pub use run::{Counts, Progress, ProgressBar, RunOptions, Summary, run};
pub use worker::{SeedError, Seeder, WorkerSettings};

/// Runs one job as the command line does: checks that its collections exist, plans it and
/// runs the plan. `progress` is told the plan before any tile is made, then the counts
/// after each tile; the run stops early when `stop` turns true.
pub async fn seed_job(
    cache: &TileCache,
    job: &SeedJob,
    options: RunOptions,
    progress: &mut dyn Progress,
    stop: Option<watch::Receiver<bool>>,
) -> Result<Summary, PlanError> {
    plan::check_collections(cache.catalog().as_ref(), job).await?;
    let plan = plan(cache.catalog().as_ref(), job).await?;
    progress.planned(&plan);
    Ok(run(cache, &plan, options, progress, stop).await)
}
