//! `pvs preprocessor`: the workers on `preprocess-md_queue` and `preprocess_queue`, with
//! `/health` and `/ready`.

use std::sync::Arc;

use pvs_preprocessor::{Preprocessor, Settings};
use pvs_service::config::{ConfigError, Env, ListenAddr, vars};
use pvs_service::http;

use crate::HttpArgs;
use crate::backends::{self, StartError};
use crate::registrar::{collections, report_dir};
use crate::worker::QueueWorker;

/// Options of `pvs preprocessor`.
#[derive(Debug, clap::Args)]
pub struct PreprocessorArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// How many items are preprocessed at a time (per queue). Default: one per core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
    /// Threads of the conversion (GDAL) pool. Default: one per core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Name of this preprocessor's queue consumers (letters, digits, `_.-`), e.g. the pod
    /// name; see `pvs registrar --help`.
    #[arg(long, value_name = "NAME", value_parser = crate::registrar::parse_consumer_name)]
    pub consumer_name: Option<String>,
}

/// Reads `PREPROCESS_WORK_DIR`, if set: it must be a directory.
pub fn work_dir(env: &Env) -> Result<Option<std::path::PathBuf>, StartError> {
    match env.get_opt::<String>(&vars::PREPROCESS_WORK_DIR)? {
        Some(dir) if !std::path::Path::new(&dir).is_dir() => Err(ConfigError::new(
            &vars::PREPROCESS_WORK_DIR,
            format!("{dir} is not a directory"),
        )
        .into()),
        dir => Ok(dir.map(std::path::PathBuf::from)),
    }
}

/// Runs the preprocessor until SIGINT/SIGTERM.
pub async fn run(
    env: &Env,
    args: PreprocessorArgs,
    listen: ListenAddr,
    limits: http::Limits,
) -> Result<(), StartError> {
    // Every configuration check comes before any backend is touched.
    let collections = collections(env)?;
    let report_dir = report_dir(env)?;
    let work_dir = work_dir(env)?;
    let retry = backends::transient_retry(env)?;
    let storage = backends::required_storage(env)?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let settings = Settings {
        threads: args.threads.map_or(cores, usize::from),
        work_dir,
        ..Settings::default()
    };
    let concurrency = args.concurrency.map_or(cores, usize::from);
    pvs_raster::init();
    let queue = backends::queue(env).await?;
    let mut preprocessor = Preprocessor::new(queue.clone(), storage.clone(), collections, settings)
        .map_err(|e| StartError::Start {
            what: "the conversion pool",
            source: e.into(),
        })?;
    preprocessor = preprocessor.with_transient_retry(retry);
    if let Some(dir) = report_dir {
        preprocessor = preprocessor.with_report_dir(dir);
    }
    let preprocessor = Arc::new(preprocessor);
    let worker = QueueWorker {
        service: "preprocessor",
        queues: "preprocessing queues",
        task: "preprocessor worker",
        consumer_name: args.consumer_name,
        queue,
        probes: backends::Probes {
            storage: Some(storage),
            ..Default::default()
        },
    };
    worker
        .serve(listen, limits, |name, stop| {
            tracing::info!(
                address = %listen,
                consumer = %name,
                concurrency,
                threads = preprocessor.threads(),
                "preprocessor consuming preprocess-md_queue and preprocess_queue"
            );
            async move { preprocessor.run(&name, concurrency, stop).await }
        })
        .await
}
