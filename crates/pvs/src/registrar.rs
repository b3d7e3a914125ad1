//! `pvs registrar`: the worker on `register_queue`, with `/health` and `/ready`. It deletes
//! the cached tiles that products it registers, replaces or removes make stale (the tile
//! store of `TILES_STORAGE_URL`, else `STORAGE_URL`, under `TILES_PREFIX`).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use pvs_catalog::CollectionInfo;
use pvs_catalog::{Catalog, PostgisCatalog};
use pvs_model::Collections;
use pvs_registrar::{PrefixOptions, PrefixOutcome, RegisterError, Registrar, Removal, TimeRange};
use pvs_service::config::{ConfigError, DatabaseUrl, Env, ListenAddr, vars};
use pvs_service::http;

use crate::HttpArgs;
use crate::backends::{self, StartError};
use crate::worker::QueueWorker;

/// Options of `pvs registrar`.
#[derive(Debug, clap::Args)]
pub struct RegistrarArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Remove product ID from the catalog (its cached tiles are invalidated), then exit;
    /// repeat for many ids. Ids are unique per collection: the id goes from every collection
    /// that has it, or with --collection from that one only. One line per product removed
    /// or id not found; exit code 1 when any is missing or failed.
    #[arg(long, value_name = "ID", conflicts_with_all = ["objects_prefix", "deregister_collection", "delete_collection"])]
    pub deregister: Vec<String>,
    /// Like --deregister, for the ids in this file, one per line (`-`: standard input);
    /// blank lines and lines starting with `#` are skipped.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["objects_prefix", "deregister_collection", "delete_collection"])]
    pub deregister_file: Option<PathBuf>,
    /// Remove the products of collection NAME whose time intersects --begin..--end, page by
    /// page, each as by --deregister, then exit (exit code 1 when any failed).
    #[arg(long, value_name = "NAME", requires_all = ["begin", "end"], conflicts_with_all = ["objects_prefix", "delete_collection"])]
    pub deregister_collection: Option<String>,
    /// With --deregister-collection: the start of the time range (RFC 3339, e.g.
    /// 2020-01-01T00:00:00Z).
    #[arg(long, value_name = "TIME", requires = "deregister_collection", value_parser = parse_time)]
    pub begin: Option<DateTime<Utc>>,
    /// With --deregister-collection: the end of the time range (RFC 3339; not before --begin).
    #[arg(long, value_name = "TIME", requires = "deregister_collection", value_parser = parse_time)]
    pub end: Option<DateTime<Utc>>,
    /// Delete collection NAME: its products, the collection itself, every cached tile of its
    /// layers (NAME, NAME__outlines, NAME__*), then exit. Needs --yes; without it, says what
    /// would be deleted and exits with code 1.
    #[arg(long, value_name = "NAME", conflicts_with = "objects_prefix")]
    pub delete_collection: Option<String>,
    /// With --delete-collection: do delete.
    #[arg(long, requires = "delete_collection")]
    pub yes: bool,
    /// Register the products whose metadata documents (`*.json`) lie under this storage
    /// prefix, without the queue, then exit; repeat for many prefixes (bulk mode). Exit code 1
    /// when any product failed.
    #[arg(long, value_name = "PREFIX")]
    pub objects_prefix: Vec<String>,
    /// With --objects-prefix: register into this collection whatever the browse type. With
    /// --deregister or --deregister-file: remove the ids from this collection only.
    #[arg(long, value_name = "NAME")]
    pub collection: Option<String>,
    /// With --objects-prefix: replace products that are already registered (otherwise they
    /// are skipped).
    #[arg(long, requires = "objects_prefix")]
    pub replace: bool,
    /// With --objects-prefix, --deregister-collection or --delete-collection: only say what
    /// would be done.
    #[arg(long)]
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

/// An RFC 3339 time with its zone, e.g. `2020-01-01T00:00:00Z`.
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time with a zone (e.g. 2020-01-01T00:00:00Z): {e}"))
}

/// The ids of `--deregister-file` (`-`: standard input): one per line, trimmed, without blank
/// lines and `#` comments.
fn read_ids(path: &Path) -> Result<Vec<String>, StartError> {
    let io_error = |source| StartError::Io {
        what: "--deregister-file: cannot read",
        path: path.to_owned(),
        source,
    };
    let lines: Vec<String> = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(io_error)?
    } else {
        std::fs::read_to_string(path)
            .map_err(io_error)?
            .lines()
            .map(str::to_owned)
            .collect()
    };
    Ok(lines
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
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
pub async fn run(
    env: &Env,
    args: RegistrarArgs,
    listen: ListenAddr,
    limits: http::Limits,
) -> Result<(), StartError> {
    // Every configuration check comes before any backend is touched.
    if args.dry_run
        && args.objects_prefix.is_empty()
        && args.deregister_collection.is_none()
        && args.delete_collection.is_none()
    {
        return Err(StartError::Usage(
            "--dry-run goes with --objects-prefix, --deregister-collection or --delete-collection"
                .to_owned(),
        ));
    }
    if args.collection.is_some()
        && args.objects_prefix.is_empty()
        && args.deregister.is_empty()
        && args.deregister_file.is_none()
    {
        return Err(StartError::Usage(
            "--collection goes with --objects-prefix, --deregister or --deregister-file".to_owned(),
        ));
    }
    let range = match (&args.deregister_collection, args.begin, args.end) {
        (Some(name), Some(begin), Some(end)) => Some(
            TimeRange::new(name.clone(), begin, end)
                .map_err(|e| StartError::Usage(format!("--begin/--end: {e}")))?,
        ),
        _ => None,
    };
    let mut ids = args.deregister.clone();
    if let Some(path) = &args.deregister_file {
        ids.extend(read_ids(path)?);
    }
    let collections = collections(env)?;
    let report_dir = report_dir(env)?;
    let invalidation_records = env
        .get_opt::<bool>(&vars::INVALIDATION_RECORDS)?
        .unwrap_or(true);
    let retry = backends::transient_retry(env)?;
    let database: DatabaseUrl = env.get(&vars::DATABASE_URL)?;
    let storage = backends::required_storage(env)?;
    let tiles = backends::tile_store(env)?;
    let queue = backends::queue(env).await?;
    let catalog: Arc<dyn Catalog> = Arc::new(PostgisCatalog::connect(database.as_str()).await?);
    let mut registrar =
        Registrar::new(queue.clone(), catalog.clone(), storage.clone(), collections)
            .with_invalidation_records(invalidation_records)
            .with_transient_retry(retry);
    if let Some(dir) = report_dir {
        registrar = registrar.with_report_dir(dir);
    }
    if let Some(tiles) = tiles {
        registrar = registrar.with_tile_store(tiles);
    }
    let registrar = Arc::new(registrar);
    if !ids.is_empty() {
        return deregister_ids(&registrar, args.collection.as_deref(), &ids).await;
    }
    if let Some(range) = range {
        return deregister_range(&registrar, &range, args.dry_run).await;
    }
    if let Some(name) = &args.delete_collection {
        return delete_collection(&registrar, name, args.yes, args.dry_run).await;
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
        .serve(listen, limits, |name, stop| {
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
                    // As ngEO, a merge counts as inserted.
                    let verb = match (&r.merged_with, r.replaced) {
                        (Some(_), _) => "merged",
                        (None, true) => "replaced",
                        (None, false) => "inserted",
                    };
                    let derived = r
                        .derived
                        .as_deref()
                        .map(|what| format!("; no metadata document, derived: {what}"))
                        .unwrap_or_default();
                    println!(
                        "{verb} {} ({}){derived}",
                        r.product.id, r.product.collection
                    );
                    if verb == "replaced" {
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

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A collection's summary as one line: count, extent and time span.
fn summary(info: &CollectionInfo) -> String {
    let name = &info.collection.name;
    match (info.bbox, info.begin, info.end) {
        (Some(b), Some(begin), Some(end)) => format!(
            "collection {name}: {} products, bbox {},{},{},{}, time {}/{}",
            info.product_count,
            b.west(),
            b.south(),
            b.east(),
            b.north(),
            rfc3339(begin),
            rfc3339(end)
        ),
        _ => format!("collection {name}: no products"),
    }
}

/// `--deregister` and `--deregister-file` (with `--collection`: in that collection only):
/// each id removed as by the queue, one line per product removed or id not found, a summary
/// on stderr.
async fn deregister_ids(
    registrar: &Registrar,
    collection: Option<&str>,
    ids: &[String],
) -> Result<(), StartError> {
    let (mut removed, mut missing, mut failed) = (0, 0, 0);
    for id in ids {
        match registrar.deregister(collection, id).await {
            Ok(products) if products.is_empty() => {
                match collection {
                    Some(name) => println!("not found    {id}: no such product in {name}"),
                    None => println!("not found    {id}: no such product"),
                }
                missing += 1;
            }
            Ok(products) => {
                for product in products {
                    println!(
                        "deregistered {id} (collection {}, {}/{}); its cached tiles are \
                         invalidated",
                        product.collection,
                        rfc3339(product.begin),
                        rfc3339(product.end)
                    );
                    removed += 1;
                }
            }
            // The queue is the registrar's own: without it nothing else would work either.
            Err(RegisterError::Queue(e)) => return Err(e.into()),
            Err(e) => {
                println!("failed       {id}: {e}");
                failed += 1;
            }
        }
    }
    eprintln!(
        "{} ids: {removed} deregistered, {missing} not found, {failed} failed",
        ids.len()
    );
    if missing + failed > 0 {
        Err(StartError::Unsuccessful(format!(
            "{missing} not found, {failed} failed"
        )))
    } else {
        Ok(())
    }
}

/// `--deregister-collection NAME --begin --end [--dry-run]`.
async fn deregister_range(
    registrar: &Registrar,
    range: &TimeRange,
    dry_run: bool,
) -> Result<(), StartError> {
    let (mut removed, mut would, mut failed) = (0, 0, 0);
    let interval = |product: &pvs_catalog::Product| {
        format!("{}/{}", rfc3339(product.begin), rfc3339(product.end))
    };
    let after = registrar
        .deregister_range(range, dry_run, |removal| match removal {
            Removal::Removed(product) => {
                println!("deregistered {} ({})", product.id, interval(&product));
                removed += 1;
            }
            Removal::WouldRemove(product) => {
                println!("would deregister {} ({})", product.id, interval(&product));
                would += 1;
            }
            Removal::Failed { product, error } => {
                println!("failed       {}: {error}", product.id);
                failed += 1;
            }
        })
        .await?;
    if dry_run {
        eprintln!("{would} would be deregistered (dry run)");
    } else {
        eprintln!("{removed} deregistered, {failed} failed");
    }
    eprintln!("{}", summary(&after));
    if failed > 0 {
        Err(StartError::Unsuccessful(format!("{failed} failed")))
    } else {
        Ok(())
    }
}

/// `--delete-collection NAME`: with `--dry-run`, says what would go; without `--yes`, says
/// so too and refuses; with it, deletes.
async fn delete_collection(
    registrar: &Registrar,
    name: &str,
    yes: bool,
    dry_run: bool,
) -> Result<(), StartError> {
    let plan = registrar.collection_deletion(name).await?;
    if dry_run || !yes {
        println!("would delete {}", summary(&plan.info));
        println!(
            "would delete the tiles of layers: {}",
            plan.layers.join(" ")
        );
    }
    if dry_run {
        return Ok(());
    }
    if !yes {
        return Err(StartError::Unsuccessful(format!(
            "collection {name:?} not deleted: add --yes to delete it"
        )));
    }
    let deleted = registrar
        .delete_collection(name, |product| println!("deregistered {}", product.id))
        .await?;
    println!(
        "deleted collection {name}: {} products, {} tiles of layers {}",
        deleted.products,
        deleted.tiles,
        deleted.layers.join(" ")
    );
    Ok(())
}
