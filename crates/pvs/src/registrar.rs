//! `pvs registrar`: the worker on `register_queue`, with `/health` and `/ready`.

use std::sync::Arc;

use pvs_catalog::{Catalog, PostgisCatalog};
use pvs_model::Collections;
use pvs_registrar::Registrar;
use pvs_service::config::{ConfigError, DatabaseUrl, Env, ListenAddr, vars};
use pvs_service::http::{self, Readiness};

use crate::HttpArgs;
use crate::backends::{self, StartError};

/// Options of `pvs registrar`.
#[derive(Debug, clap::Args)]
pub struct RegistrarArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Remove product ID from the catalog (its cached tiles are invalidated), then exit;
    /// exit code 1 when there is no such product.
    #[arg(long, value_name = "ID")]
    pub deregister: Option<String>,
    /// How many register_queue messages are handled at a time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
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

/// Runs the registrar until SIGINT/SIGTERM, or performs its one-shot command.
pub async fn run(env: &Env, args: RegistrarArgs, listen: ListenAddr) -> Result<(), StartError> {
    let collections = collections(env)?;
    let database: DatabaseUrl = env.get(&vars::DATABASE_URL)?;
    let storage = backends::storage(env)?.ok_or_else(|| {
        StartError::Config(ConfigError::new(
            &vars::STORAGE_URL,
            "is required but not set",
        ))
    })?;
    let queue = backends::queue(env).await?;
    let catalog: Arc<dyn Catalog> = Arc::new(
        PostgisCatalog::connect(database.as_str())
            .await
            .map_err(|e| StartError::Runtime(e.to_string()))?,
    );
    let registrar = Arc::new(Registrar::new(
        queue.clone(),
        catalog.clone(),
        storage.clone(),
        collections,
    ));
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
            Ok(None) => Err(StartError::Runtime(format!(
                "no product {id:?} in the catalog"
            ))),
            Err(e) => Err(StartError::Runtime(e.to_string())),
        };
    }
    let readiness = Readiness::new()
        .with("redis", move || {
            let queue = queue.clone();
            async move { queue.ping().await.map_err(|e| e.to_string()) }
        })
        .with("postgis", move || {
            let catalog = catalog.clone();
            async move { catalog.ping().await.map_err(|e| e.to_string()) }
        })
        .with("storage", move || {
            let storage = storage.clone();
            async move { storage.ping().await.map_err(|e| e.to_string()) }
        });
    let router = http::with_probes("registrar", axum::Router::new(), readiness);
    let listener = http::bind(listen)
        .await
        .map_err(|e| StartError::Runtime(e.to_string()))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let name = pvs_queue::unique_consumer_name("registrar");
    tracing::info!(address = %listen, consumer = %name, "registrar consuming register_queue");
    let worker = tokio::spawn(async move {
        registrar
            .run(&name, usize::from(args.concurrency), stop_rx)
            .await
    });
    let served = http::serve(listener, router, async move {
        http::shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await;
    match worker.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(StartError::Runtime(format!("register_queue: {e}"))),
        Err(e) => return Err(StartError::Runtime(format!("registrar worker: {e}"))),
    }
    served.map_err(|e| StartError::Runtime(e.to_string()))
}
