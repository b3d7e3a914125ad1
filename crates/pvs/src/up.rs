//! `pvs up`: the whole pipeline in one process, on one port, with embedded backends unless
//! `REDIS_URL`, `DATABASE_URL` or `STORAGE_URL` say otherwise (docs/up.md).
//!
//! The data directory holds everything that lasts: `queue.sqlite` (work queues and status
//! sets), `catalog.sqlite` (the products), `storage/` (images, COGs, metadata documents and
//! cached tiles), `from-fepd/` (the watched drop folder) and `to-panda/` (registration
//! reports). Stopping (Ctrl-C, SIGTERM) lets every worker finish or give back its item, so a
//! restart resumes where it stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pvs_cache::{TileCache, TileRenderer};
use pvs_catalog::{Catalog, PostgisCatalog, SqliteCatalog};
use pvs_ingestor::{Ingestor, WatchFolder};
use pvs_preprocessor::Preprocessor;
use pvs_queue::{SqliteQueue, WorkQueue};
use pvs_registrar::Registrar;
use pvs_renderer::Renderer;
use pvs_seeder::{Seeder, WorkerSettings};
use pvs_service::config::{ConfigError, DatabaseUrl, Env, ListenAddr, RedisUrl, vars};
use pvs_service::http;
use pvs_storage::{Storage, StorageKey, StorageUrl};
use pvs_tiles::{TileFormat, TileMatrixSet, TileStore};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backends::{self, BoxError, StartError};

/// Where `pvs up` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Options of `pvs up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Address of the one HTTP port of every service: the web client on `/`, `POST /ingest`,
    /// WMS and WCS on `/ows`, WMTS on `/wmts`, XYZ on `/tiles`, OpenSearch on `/opensearch`,
    /// the STAC API on `/stac`, the ingest status on `/api/status` [env: LISTEN_ADDR]
    /// [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<ListenAddr>,
    /// Folder of the embedded queue and catalog, the local object storage, the drop folder
    /// `from-fepd/` and the reports folder `to-panda/`; created if missing.
    #[arg(long, value_name = "DIR", default_value = "pvs-data")]
    pub data_dir: PathBuf,
    /// Drop the demo browse reports bundled with pvs (real ngEO reports with their images)
    /// into the drop folder, so the map shows imagery at once.
    #[arg(long)]
    pub demo: bool,
}

/// The folders of a data directory.
struct DataDir {
    root: PathBuf,
    drop: PathBuf,
    reports: PathBuf,
    storage: PathBuf,
}

impl DataDir {
    fn create(root: &Path) -> Result<Self, StartError> {
        let root = absolute(root)?;
        let dir = Self {
            drop: root.join("from-fepd"),
            reports: root.join("to-panda"),
            storage: root.join("storage"),
            root,
        };
        for folder in [&dir.root, &dir.drop, &dir.reports, &dir.storage] {
            std::fs::create_dir_all(folder).map_err(|source| StartError::Io {
                what: "--data-dir: cannot create",
                path: folder.clone(),
                source,
            })?;
        }
        Ok(dir)
    }
}

fn absolute(path: &Path) -> Result<PathBuf, StartError> {
    std::path::absolute(path).map_err(|source| StartError::Io {
        what: "--data-dir",
        path: path.to_owned(),
        source,
    })
}

/// The backends: the real ones the environment names, the embedded ones otherwise.
struct Backends {
    queue: Arc<dyn WorkQueue>,
    catalog: Arc<dyn Catalog>,
    storage: Storage,
    tiles: TileStore,
    /// One line per backend for the start-up message.
    described: Vec<String>,
}

async fn open_backends(env: &Env, data: &DataDir) -> Result<Backends, StartError> {
    let mut described = Vec::new();
    let queue: Arc<dyn WorkQueue> = match env.get_opt::<RedisUrl>(&vars::REDIS_URL)? {
        Some(_) => {
            described.push("queue: Redis (REDIS_URL)".to_owned());
            backends::queue(env).await?
        }
        None => {
            let path = data.root.join("queue.sqlite");
            described.push(format!("queue: {}", path.display()));
            let queue = SqliteQueue::open(&path).await?;
            // Counted: the items this process finishes show on /metrics (pvs_items_total).
            Arc::new(crate::metrics::CountedQueue(Arc::new(queue)))
        }
    };
    let catalog: Arc<dyn Catalog> = match env.get_opt::<DatabaseUrl>(&vars::DATABASE_URL)? {
        Some(url) => {
            described.push("catalog: PostGIS (DATABASE_URL)".to_owned());
            Arc::new(PostgisCatalog::connect(url.as_str()).await?)
        }
        None => {
            let path = data.root.join("catalog.sqlite");
            described.push(format!("catalog: {}", path.display()));
            Arc::new(SqliteCatalog::open(&path).await?)
        }
    };
    let storage = match backends::storage(env)? {
        Some(storage) => {
            described.push("storage: STORAGE_URL".to_owned());
            storage
        }
        None => {
            described.push(format!("storage: {}", data.storage.display()));
            let url: StorageUrl = format!("file://{}", data.storage.display())
                .parse()
                .map_err(|source| StartError::DataDir {
                    path: data.storage.clone(),
                    source,
                })?;
            Storage::from_url(&url, None)?
        }
    };
    let tiles = match backends::tile_store(env)? {
        Some(tiles) => tiles,
        None => {
            let prefix: String = env.get(&vars::TILES_PREFIX)?;
            let root: StorageKey = prefix
                .parse()
                .map_err(|e| ConfigError::new(&vars::TILES_PREFIX, format!("{e}")))?;
            TileStore::new(storage.clone(), root)
        }
    };
    Ok(Backends {
        queue,
        catalog,
        storage,
        tiles,
        described,
    })
}

/// A background worker of the pipeline, by name.
type Worker = (&'static str, JoinHandle<Result<(), BoxError>>);

/// Runs `work` on the runtime as the worker `name`.
fn spawn<E: Into<BoxError>>(
    name: &'static str,
    work: impl Future<Output = Result<(), E>> + Send + 'static,
) -> Worker {
    (
        name,
        tokio::spawn(async move { work.await.map_err(Into::into) }),
    )
}

/// Runs every service until SIGINT/SIGTERM.
pub async fn run(
    env: &Env,
    args: UpArgs,
    listen: ListenAddr,
    limits: http::Limits,
) -> Result<(), StartError> {
    // Every configuration check comes before any backend is touched.
    let collections = crate::registrar::collections(env)?;
    let renderer_settings = crate::renderer::settings(env)?;
    let conventions = crate::renderer::opensearch_conventions(env)?;
    let cache_settings = crate::cache::settings(env)?;
    let (ingest_settings, ingest_prefix) = crate::ingestor::settings(env)?;
    let verifier = crate::access::verifier(env).await?;
    let max_bytes = ingest_settings.max_bytes;
    let work_dir = crate::preprocessor::work_dir(env)?;
    let report_dir = crate::registrar::report_dir(env)?;
    // Nothing in this process reads invalidate_queue: records only when asked for.
    let invalidation_records = env
        .get_opt::<bool>(&vars::INVALIDATION_RECORDS)?
        .unwrap_or(false);
    let retry = backends::transient_retry(env)?;
    let data = DataDir::create(&args.data_dir)?;
    let report_dir = report_dir.unwrap_or_else(|| data.reports.clone());

    pvs_raster::init();
    let backends = open_backends(env, &data).await?;
    let Backends {
        queue,
        catalog,
        storage,
        tiles,
        ..
    } = &backends;

    let ingestor = Arc::new(
        Ingestor::new(queue.clone(), Some(storage.clone()), ingest_prefix)
            .with_collections(collections.clone()),
    );
    let opensearch = Arc::new(crate::renderer::opensearch(
        &renderer_settings,
        catalog.clone(),
        conventions,
    ));
    // The STAC API: the tiles are on this same origin, Items are written onto the embedded
    // queue behind the ingest credentials.
    let stac = Arc::new(crate::renderer::stac(
        &renderer_settings,
        catalog.clone(),
        storage.clone(),
        Some(pvs_stac::TilesUrl::same_origin()),
        Some(pvs_stac::Transactions {
            queue: queue.clone(),
        }),
    ));
    let renderer = Arc::new(Renderer::new(
        catalog.clone(),
        storage.clone(),
        renderer_settings,
    ));
    let cache = Arc::new(TileCache::new(
        tiles.clone(),
        TileRenderer::InProcess(renderer),
        catalog.clone(),
    ));
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let preprocessor = Preprocessor::new(
        queue.clone(),
        storage.clone(),
        collections.clone(),
        pvs_preprocessor::Settings {
            threads: cores,
            work_dir,
            ..Default::default()
        },
    )
    .map_err(|e| StartError::Start {
        what: "the conversion pool",
        source: e.into(),
    })?
    .with_report_dir(report_dir.clone())
    .with_transient_retry(retry);
    let registrar = Registrar::new(
        queue.clone(),
        catalog.clone(),
        storage.clone(),
        collections.clone(),
    )
    .with_report_dir(report_dir)
    .with_tile_store(tiles.clone())
    .with_invalidation_records(invalidation_records)
    .with_transient_retry(retry);
    let seeder = Seeder::new(
        queue.clone(),
        cache.clone(),
        collections,
        WorkerSettings {
            matrix_sets: TileMatrixSet::ALL.to_vec(),
            formats: vec![TileFormat::Png],
            outlines: false,
            run: pvs_seeder::RunOptions {
                force: false,
                concurrency: pvs_seeder::run::default_concurrency(),
            },
        },
    )
    .with_transient_retry(retry);

    let router = axum::Router::new()
        .merge(pvs_web::routes())
        .merge(pvs_ingestor::http::routes(
            ingestor.clone(),
            ingest_settings,
        ))
        .merge(pvs_cache::routes(cache.clone(), cache_settings))
        .merge(pvs_opensearch::routes(opensearch))
        .merge(pvs_stac::routes(stac))
        .merge(crate::status::routes(queue.clone()));
    let router = crate::access::protect(router, verifier.as_ref());
    let readiness = backends::Probes {
        queue: Some(queue.clone()),
        catalog: Some(catalog.clone()),
        storage: Some(storage.clone()),
    }
    .readiness();
    let metrics = crate::metrics::service_metrics("up", Some(queue.clone()));
    let counted = cache.clone();
    metrics.collect(move || {
        let families = crate::cache::tile_families(counted.stats());
        async move { families }
    });
    let router = http::service_router("up", router, readiness, metrics);
    let listener = http::bind(listen).await.map_err(StartError::bind(listen))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let folder = WatchFolder::new(&data.drop, Duration::from_millis(500)).map_err(|source| {
        StartError::Io {
            what: "the drop folder",
            path: data.drop.clone(),
            source,
        }
    })?;
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let workers = vec![
        spawn(
            "watch folder",
            pvs_ingestor::watch::run(
                ingestor.clone(),
                folder,
                Duration::from_millis(250),
                max_bytes,
                stopped(stop_rx.clone()),
            ),
        ),
        spawn("preprocessor", {
            let stop = stop_rx.clone();
            async move {
                Arc::new(preprocessor)
                    .run("up-preprocessor", cores, stop)
                    .await
            }
        }),
        spawn("registrar", {
            let stop = stop_rx.clone();
            async move { Arc::new(registrar).run("up-registrar", 4, stop).await }
        }),
        spawn("seeder", async move {
            Arc::new(seeder).run("up-seeder", stop_rx).await
        }),
    ];

    let address = listener.local_addr().map_err(StartError::bind(listen))?;
    eprintln!(
        "pvs up: every service on http://{address}/ (data in {})",
        data.root.display()
    );
    for line in &backends.described {
        eprintln!("  {line}");
    }
    eprintln!(
        "  drop browse reports with their images into {}, or POST them to http://{address}/ingest",
        data.drop.display()
    );
    if args.demo {
        let dropped = crate::demo::drop_reports(&data.drop).map_err(|source| StartError::Io {
            what: "--demo: cannot drop the demo reports into",
            path: data.drop.clone(),
            source,
        })?;
        eprintln!("  --demo: dropped {dropped} bundled browse reports into the drop folder");
    }

    let served = http::serve(listener, router, limits, async move {
        http::shutdown_signal().await;
        eprintln!("pvs up: stopping (workers finish or give back their items)");
        let _ = stop_tx.send(true);
    })
    .await;
    let mut failures = Vec::new();
    for (name, worker) in workers {
        match worker.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(StartError::worker(name)(e)),
            Err(e) => failures.push(StartError::worker(name)(e)),
        }
    }
    served.map_err(StartError::Serve)?;
    if failures.is_empty() {
        eprintln!("pvs up: stopped");
        Ok(())
    } else {
        Err(StartError::Workers(failures))
    }
}
