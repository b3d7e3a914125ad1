//! `pvs seeder`: one seed job from the command line (`--collection C --time START/END --zoom
//! 0-8`), with a progress bar, or without job flags the worker on `seed_queue` with
//! `/health` and `/ready`. Tiles are drawn by the renderer library in this process, or by a
//! renderer service when `RENDERER_URL` is set.

use std::io::IsTerminal;
use std::sync::Arc;

use pvs_cache::TileCache;
use pvs_catalog::{Catalog, PostgisCatalog};
use pvs_seeder::job::{
    parse_bbox, parse_collections, parse_formats, parse_interval, parse_matrix_sets, parse_zoom,
};
use pvs_seeder::{
    Counts, Plan, PlanError, Progress, ProgressBar, RunOptions, SeedJob, Seeder, WorkerSettings,
};
use pvs_service::config::{ConfigError, DatabaseUrl, Env, ListenAddr, vars};
use pvs_service::http;
use pvs_tiles::{TileFormat, TileMatrixSet};

use crate::HttpArgs;
use crate::backends::{self, StartError};
use crate::worker::QueueWorker;

/// Options of `pvs seeder`.
#[derive(Debug, clap::Args)]
pub struct SeederArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Seed these collections (comma-separated or repeated) once and exit, instead of
    /// consuming seed_queue; needs --time and --zoom.
    #[arg(long, value_name = "NAME", value_parser = one(parse_collections), value_delimiter = ',', requires_all = ["time", "zoom"])]
    pub collection: Vec<String>,
    /// The products' time interval: START/END in RFC 3339, or a tile TIME value
    /// (`2018-05` is all of May, `2018-05-01/2018-05-03` three days).
    #[arg(long, value_name = "START/END", value_parser = parse_interval, requires = "collection")]
    pub time: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    /// Zoom levels FROM-TO (0 to 24), or one level.
    #[arg(long, value_name = "FROM-TO", value_parser = parse_zoom, requires = "collection")]
    pub zoom: Option<[u8; 2]>,
    /// Only the tiles overlapping this box (degrees; WEST > EAST crosses the antimeridian).
    #[arg(long, value_name = "W,S,E,N", value_parser = parse_bbox, allow_hyphen_values = true, requires = "collection")]
    pub bbox: Option<[f64; 4]>,
    /// Tile matrix sets (comma-separated; also MapCache's grid names WGS84 and
    /// GoogleMapsCompatible) [default: WebMercatorQuad,WorldCRS84Quad].
    #[arg(long, value_name = "TMS", value_parser = one(parse_matrix_sets), value_delimiter = ',')]
    pub tms: Vec<TileMatrixSet>,
    /// Tile formats (comma-separated: png, jpg) [default: png].
    #[arg(long, value_name = "FORMAT", value_parser = one(parse_formats), value_delimiter = ',')]
    pub format: Vec<TileFormat>,
    /// Seed each collection's `__outlines` layer too.
    #[arg(long)]
    pub outlines: bool,
    /// Draw every tile again, even those already stored (by default stored tiles are
    /// skipped, so a rerun continues an interrupted job).
    #[arg(long, requires = "collection")]
    pub force: bool,
    /// How many tiles are made at a time [default: 2 × cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: Option<u16>,
    /// Name of this seeder's queue consumer (letters, digits, `_.-`), e.g. the pod name.
    #[arg(long, value_name = "NAME", value_parser = crate::registrar::parse_consumer_name)]
    pub consumer_name: Option<String>,
}

/// A reader of one list item made from a reader of comma-separated lists (clap splits the
/// lists at commas).
fn one<T: Clone + Send + Sync + 'static>(
    parse: fn(&str) -> Result<Vec<T>, String>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |value| {
        parse(value)?
            .into_iter()
            .next()
            .ok_or_else(|| format!("{value:?}: empty"))
    }
}

/// `items` without repeats, or `default` when empty.
fn distinct<T: PartialEq + Clone>(items: &[T], default: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    if out.is_empty() { default } else { out }
}

impl SeederArgs {
    /// Whether a job is given on the command line (otherwise: the queue worker).
    pub fn is_job(&self) -> bool {
        !self.collection.is_empty()
    }

    fn run_options(&self) -> RunOptions {
        RunOptions {
            force: self.force,
            concurrency: self
                .concurrency
                .map_or_else(pvs_seeder::run::default_concurrency, usize::from),
        }
    }
}

/// Runs the command-line job, or the queue worker until SIGINT/SIGTERM.
pub async fn run(
    env: &Env,
    args: SeederArgs,
    listen: ListenAddr,
    limits: http::Limits,
) -> Result<(), StartError> {
    // Every configuration check comes before any backend is touched.
    let collections = crate::registrar::collections(env)?;
    let database: DatabaseUrl = env.get(&vars::DATABASE_URL)?;
    let drawing = backends::TileDrawing::from_env(env)?;
    let tiles = backends::tile_store(env)?.ok_or_else(|| {
        StartError::Config(ConfigError::new(
            &vars::STORAGE_URL,
            "is required but not set",
        ))
    })?;
    let catalog: Arc<dyn Catalog> = Arc::new(PostgisCatalog::connect(database.as_str()).await?);
    let renderer = drawing.renderer(catalog.clone())?;
    let tile_storage = tiles.storage().clone();
    let cache = Arc::new(TileCache::new(tiles, renderer, catalog.clone()));
    let matrix_sets = distinct(&args.tms, TileMatrixSet::ALL.to_vec());
    let formats = distinct(&args.format, vec![TileFormat::Png]);
    if args.is_job() {
        let job = SeedJob {
            collections: distinct(&args.collection, Vec::new()),
            start: args.time.expect("clap requires --time with --collection").0,
            end: args.time.expect("clap requires --time with --collection").1,
            zoom: args.zoom.expect("clap requires --zoom with --collection"),
            bbox: args.bbox,
            matrix_sets,
            formats,
            outlines: args.outlines,
        };
        return run_job(&cache, &job, args.run_options()).await;
    }
    let retry = backends::transient_retry(env)?;
    let queue = backends::queue(env).await?;
    let settings = WorkerSettings {
        matrix_sets,
        formats,
        outlines: args.outlines,
        run: args.run_options(),
    };
    let seeder = Arc::new(
        Seeder::new(queue.clone(), cache, collections, settings).with_transient_retry(retry),
    );
    if seeder.seeded_collections().is_empty() {
        tracing::warn!(
            "no collection has seed_zoom in COLLECTIONS_FILE: seed_queue messages seed nothing"
        );
    }
    let worker = QueueWorker {
        service: "seeder",
        queues: "seed_queue",
        task: "seeder worker",
        consumer_name: args.consumer_name,
        queue,
        probes: backends::Probes {
            catalog: Some(catalog),
            storage: Some(tile_storage),
            ..Default::default()
        },
    };
    worker
        .serve(listen, limits, |name, stop| {
            tracing::info!(address = %listen, consumer = %name, collections = ?seeder.seeded_collections(), "seeder consuming seed_queue");
            async move { seeder.run(&name, stop).await }
        })
        .await
}

/// The command line's progress: what the plan holds, then a bar on stderr.
struct CliProgress {
    bar: Option<ProgressBar<std::io::Stderr>>,
    force: bool,
}

impl Progress for CliProgress {
    fn planned(&mut self, plan: &Plan) {
        eprintln!(
            "{} products, {} tiles to make{}",
            plan.products,
            plan.len(),
            if self.force {
                " (--force: stored tiles are drawn again)"
            } else {
                " (tiles already stored are skipped)"
            }
        );
        let terminal = std::io::stderr().is_terminal();
        self.bar = Some(ProgressBar::new(std::io::stderr(), plan.len(), terminal));
    }

    fn tile(&mut self, counts: &Counts) {
        if let Some(bar) = self.bar.as_mut() {
            bar.update(counts);
        }
    }
}

/// The command-line job: a progress bar on stderr, the summary on stdout; Ctrl-C stops
/// it (a rerun continues). Exit code 1 when tiles failed or the job was interrupted.
async fn run_job(cache: &TileCache, job: &SeedJob, options: RunOptions) -> Result<(), StartError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    let mut progress = CliProgress {
        bar: None,
        force: options.force,
    };
    let result = pvs_seeder::seed_job(cache, job, options, &mut progress, Some(stop_rx)).await;
    if let Some(bar) = progress.bar.as_mut() {
        bar.finish();
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(PlanError::UnknownCollection { name, known }) => {
            return Err(StartError::Config(ConfigError {
                var: "--collection",
                problem: format!(
                    "no collection {name:?} in the catalog (the collections are: {known})"
                ),
                example: "SAR",
            }));
        }
        Err(PlanError::TooLarge) => {
            return Err(StartError::Config(ConfigError {
                var: "--zoom",
                problem: PlanError::TooLarge.to_string(),
                example: "0-8",
            }));
        }
        Err(e) => return Err(e.into()),
    };
    println!("{}", summary.line());
    for failure in &summary.failures {
        println!("failed   {failure}");
    }
    if summary.interrupted {
        Err(StartError::Unsuccessful(
            "interrupted; run the same command again to continue".to_owned(),
        ))
    } else if summary.counts.failed > 0 {
        Err(StartError::Unsuccessful(format!(
            "{} tiles failed",
            summary.counts.failed
        )))
    } else {
        Ok(())
    }
}
