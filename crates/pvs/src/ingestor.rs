//! `pvs ingestor`: the HTTP endpoint, and the watch folder with `--watch DIR`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use pvs_ingestor::{HttpSettings, Ingestor, WatchFolder};
use pvs_service::config::{ByteSize, Env, ListenAddr, vars};
use pvs_service::http;
use pvs_storage::StorageKey;

use crate::HttpArgs;
use crate::backends::{self, StartError};

/// Options of `pvs ingestor`.
#[derive(Debug, Args)]
pub struct IngestorArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Also watch this folder for reports (the SFTP `from/fepd` drop): images beside a report
    /// are uploaded to STORAGE_URL (required then), and each report is moved to `DIR/done/` or
    /// `DIR/failed/` with its response as `<name>.response.xml`.
    #[arg(long, value_name = "DIR")]
    pub watch: Option<PathBuf>,
    /// Seconds a report's size and time must stay unchanged before it is read (slow writers).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_seconds)]
    pub quiet: f64,
    /// Seconds between two looks at the watch folder.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_seconds)]
    pub poll: f64,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => Ok(s),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

/// The HTTP endpoint's settings (`INGEST_MAX_BYTES`) and the storage prefix of browse
/// images (`INGEST_PREFIX`). Who may post is the access policy's ([`crate::access`]).
pub fn settings(env: &Env) -> Result<(HttpSettings, Option<StorageKey>), StartError> {
    let max_bytes: ByteSize = env.get(&vars::INGEST_MAX_BYTES)?;
    let prefix: String = env.get(&vars::INGEST_PREFIX)?;
    let prefix = if prefix.is_empty() {
        None
    } else {
        Some(prefix.parse::<StorageKey>().map_err(|e| {
            pvs_service::config::ConfigError::new(&vars::INGEST_PREFIX, e.to_string())
        })?)
    };
    let settings = HttpSettings {
        max_bytes: max_bytes.0,
    };
    Ok((settings, prefix))
}

/// Checks the configuration and runs the ingestor until SIGINT/SIGTERM.
pub async fn run(
    env: &Env,
    args: IngestorArgs,
    listen: ListenAddr,
    limits: http::Limits,
) -> Result<(), StartError> {
    let (settings, prefix) = settings(env)?;
    let verifier = crate::access::verifier(env).await?;
    let collections = crate::registrar::collections(env)?;
    let max_bytes = settings.max_bytes;
    if args.watch.is_some() {
        env.get::<pvs_storage::StorageUrl>(&vars::STORAGE_URL)?;
    }
    let storage = backends::storage(env)?;
    let queue = backends::queue(env).await?;

    let ingestor = Arc::new(
        Ingestor::new(queue.clone(), storage.clone(), prefix).with_collections(collections),
    );
    let metrics = crate::metrics::service_metrics("ingestor", Some(queue.clone()));
    let readiness = backends::Probes {
        queue: Some(queue),
        storage,
        ..Default::default()
    }
    .readiness();
    let routes = pvs_ingestor::http::routes(ingestor.clone(), settings);
    let routes = crate::access::protect(routes, verifier.as_ref());
    let router = http::service_router("ingestor", routes, readiness, metrics);
    let listener = http::bind(listen).await.map_err(StartError::bind(listen))?;
    tracing::info!(address = %listen, "ingestor listening: POST browse reports to / or /ingest");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = match args.watch {
        Some(dir) => {
            let folder =
                WatchFolder::new(&dir, Duration::from_secs_f64(args.quiet)).map_err(|source| {
                    StartError::Io {
                        what: "--watch",
                        path: dir.clone(),
                        source,
                    }
                })?;
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(pvs_ingestor::watch::run(
                ingestor,
                folder,
                Duration::from_secs_f64(args.poll),
                max_bytes,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            )))
        }
        None => None,
    };
    let served = http::serve(listener, router, limits, async move {
        http::shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await;
    if let Some(watcher) = watcher {
        match watcher.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(StartError::worker("watch folder")(e)),
            Err(e) => return Err(StartError::worker("watch folder")(e)),
        }
    }
    served.map_err(StartError::Serve)
}
