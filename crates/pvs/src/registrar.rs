//! `pvs registrar`: the worker on `register_queue`, with `/health` and `/ready`. It deletes
//! the cached tiles that products it registers, replaces or removes make stale (the tile
//! store of `TILES_STORAGE_URL`, else `STORAGE_URL`, under `TILES_PREFIX`).

use std::sync::Arc;

use pvs_catalog::{Catalog, PostgisCatalog};
use pvs_model::Collections;
use pvs_registrar::{PrefixOptions, PrefixOutcome, Registrar};
use pvs_service::config::{ConfigError, DatabaseUrl, Env, ListenAddr, vars};

use crate::HttpArgs;
use crate::backends::{self, StartError};
use crate::worker::QueueWorker;

/// Options of `pvs registrar`.
#[derive(Debug, clap::Args)]
pub struct RegistrarArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Remove product ID from the catalog (its cached tiles are invalidated), then exit;
    /// exit code 1 when there is no such product.
    #[arg(long, value_name = "ID")]
    pub deregister: Option<String>,
    /// Register the products whose metadata documents (`*.json`) lie under this storage
    /// prefix, without the queue, then exit; repeat for many prefixes (bulk mode). Exit code 1
    /// when any product failed.
    #[arg(long, value_name = "PREFIX")]
    pub objects_prefix: Vec<String>,
    /// With --objects-prefix: register into this collection whatever the browse type.
    #[arg(long, value_name = "NAME", requires = "objects_prefix")]
    pub collection: Option<String>,
    /// With --objects-prefix: replace products that are already registered (otherwise they
    /// are skipped).
    #[arg(long, requires = "objects_prefix")]
    pub replace: bool,
    /// With --objects-prefix: only say what would be done.
    #[arg(long, requires = "objects_prefix")]
    pub dry_run: bool,
    /// How many register_queue messages are handled at a time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Name of this registrar's queue consumers (letters, digits, `_.-`), e.g. the pod name.
    /// A registrar restarted under the same name takes its unfinished items back at once;
    /// by default each start gets a unique name and a dead one's items return to the queue
    /// when its heartbeat expires (30 s).
    #[arg(long, value_name = "NAME", value_parser = parse_consumer_name)]
    pub consumer_name: Option<String>,
}

pub(crate) fn parse_consumer_name(text: &str) -> Result<String, String> {
    pvs_queue::validate_consumer_name(text)
        .map(|()| text.to_owned())
        .map_err(|e| e.to_string())
}

/// Reads `COLLECTIONS_FILE`, if set.
pub fn collections(env: &Env) -> Result<Collections, StartError> {
    let Some(path) = env.get_opt::<String>(&vars::COLLECTIONS_FILE)? else {
        return Ok(Collections::default());
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError::new(&vars::COLLECTIONS_FILE, format!("cannot read {path}: {e}"))
    })?;
    Collections::from_toml(&text)
        .map_err(|e| ConfigError::new(&vars::COLLECTIONS_FILE, format!("{path}: {e}")).into())
}

/// Reads `REPORT_DIR`, if set: it must be a directory.
pub fn report_dir(env: &Env) -> Result<Option<std::path::PathBuf>, StartError> {
    match env.get_opt::<String>(&vars::REPORT_DIR)? {
        Some(dir) if !std::path::Path::new(&dir).is_dir() => {
            Err(ConfigError::new(&vars::REPORT_DIR, format!("{dir} is not a directory")).into())
        }
        dir => Ok(dir.map(std::path::PathBuf::from)),
    }
}

/// Runs the registrar until SIGINT/SIGTERM, or performs its one-shot command.
pub async fn run(env: &Env, args: RegistrarArgs, listen: ListenAddr) -> Result<(), StartError> {
    // Every configuration check comes before any backend is touched.
    let collections = collections(env)?;
    let report_dir = report_dir(env)?;
    let invalidation_records = env
        .get_opt::<bool>(&vars::INVALIDATION_RECORDS)?
        .unwrap_or(true);
    let database: DatabaseUrl = env.get(&vars::DATABASE_URL)?;
    let storage = backends::required_storage(env)?;
    let tiles = backends::tile_store(env)?;
    let queue = backends::queue(env).await?;
    let catalog: Arc<dyn Catalog> = Arc::new(PostgisCatalog::connect(database.as_str()).await?);
    let mut registrar =
        Registrar::new(queue.clone(), catalog.clone(), storage.clone(), collections)
            .with_invalidation_records(invalidation_records);
    if let Some(dir) = report_dir {
        registrar = registrar.with_report_dir(dir);
    }
    if let Some(tiles) = tiles {
        registrar = registrar.with_tile_store(tiles);
    }
    let registrar = Arc::new(registrar);
    if let Some(id) = args.deregister {
        return match registrar.deregister(&id).await {
            Ok(Some(product)) => {
                println!(
                    "deregistered {id} (collection {}, {}/{}); its cached tiles are invalidated",
                    product.collection,
                    product.begin.to_rfc3339(),
                    product.end.to_rfc3339()
                );
                Ok(())
            }
            Ok(None) => Err(StartError::Unsuccessful(format!(
                "no product {id:?} in the catalog"
            ))),
            Err(e) => Err(e.into()),
        };
    }
    if !args.objects_prefix.is_empty() {
        let options = PrefixOptions {
            collection: args.collection.clone(),
            replace: args.replace,
            dry_run: args.dry_run,
        };
        return register_prefixes(&registrar, &args.objects_prefix, &options).await;
    }
    let concurrency = usize::from(args.concurrency);
    let worker = QueueWorker {
        service: "registrar",
        queues: "register_queue",
        task: "registrar worker",
        consumer_name: args.consumer_name,
        queue,
        probes: backends::Probes {
            catalog: Some(catalog),
            storage: Some(storage),
            ..Default::default()
        },
    };
    worker
        .serve(listen, |name, stop| {
            tracing::info!(address = %listen, consumer = %name, "registrar consuming register_queue");
            async move { registrar.run(&name, concurrency, stop).await }
        })
        .await
}

/// `--objects-prefix`: registers prefix after prefix, one line per product, a progress line
/// per prefix on stderr and a summary at the end.
async fn register_prefixes(
    registrar: &Registrar,
    prefixes: &[String],
    options: &PrefixOptions,
) -> Result<(), StartError> {
    let (mut registered, mut replaced, mut would, mut skipped, mut failed) = (0, 0, 0, 0, 0);
    let started = std::time::Instant::now();
    for (i, prefix) in prefixes.iter().enumerate() {
        eprintln!("[{}/{}] {prefix}", i + 1, prefixes.len());
        let outcomes = match registrar.register_prefix(prefix, options).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                println!("failed   {prefix}: {e}");
                failed += 1;
                continue;
            }
        };
        for outcome in outcomes {
            match outcome {
                PrefixOutcome::Registered(r) => {
                    let verb = if r.replaced { "replaced" } else { "inserted" };
                    let derived = r
                        .derived
                        .as_deref()
                        .map(|what| format!("; no metadata document, derived: {what}"))
                        .unwrap_or_default();
                    println!(
                        "{verb} {} ({}){derived}",
                        r.product.id, r.product.collection
                    );
                    if r.replaced {
                        replaced += 1;
                    } else {
                        registered += 1;
                    }
                }
                PrefixOutcome::WouldRegister {
                    id,
                    collection,
                    replaces,
                } => {
                    let verb = if replaces { "replace" } else { "insert" };
                    println!("would {verb} {id} ({collection})");
                    would += 1;
                }
                PrefixOutcome::Skipped { id, reason } => {
                    println!("skipped  {id}: {reason}");
                    skipped += 1;
                }
                PrefixOutcome::Failed { key, reason } => {
                    println!("failed   {key}: {reason}");
                    failed += 1;
                }
            }
        }
    }
    eprintln!(
        "{} prefixes in {:.1} s: {registered} inserted, {replaced} replaced, {would} would be registered (dry run), {skipped} skipped, {failed} failed",
        prefixes.len(),
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        Err(StartError::Unsuccessful(format!("{failed} failed")))
    } else {
        Ok(())
    }
}
