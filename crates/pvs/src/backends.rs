//! Building the backends a service needs from its configuration.

use std::error::Error;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use pvs_cache::TileRenderer;
use pvs_catalog::CatalogError;
use pvs_queue::{QueueError, RedisQueue, TransientRetry, WorkQueue};
use pvs_registrar::RegisterError;
use pvs_seeder::PlanError;
use pvs_service::config::{ConfigError, Env, ListenAddr, Period, RedisUrl, Secret, vars};
use pvs_storage::{S3Settings, Storage, StorageError, StorageKey, StorageUrl, StorageUrlError};
use pvs_tiles::TileStore;
use url::Url;

/// Any error, boxed: the cause of a [`StartError`] that adds only context.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Why a service could not start, or stopped with an error. Every variant but
/// [`StartError::Config`] exits with code 1; each keeps its cause, printed by [`one_line`].
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is missing or malformed (exit code 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The work queues could not be opened or used.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The catalog could not be opened or used.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The object storage could not be opened or used (boxed: it is large).
    #[error(transparent)]
    Storage(Box<StorageError>),
    /// A registration or deregistration failed.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// A seed job could not be planned.
    #[error(transparent)]
    Seed(#[from] PlanError),
    /// The HTTP port could not be opened.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address asked for.
        address: ListenAddr,
        /// Why.
        source: io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("the HTTP server failed")]
    Serve(#[source] io::Error),
    /// A local file or folder could not be used.
    #[error("{what} {}", path.display())]
    Io {
        /// What pvs was doing with it, e.g. `--data-dir: cannot create`.
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `--data-dir` cannot be the root of a `file://` storage.
    #[error("--data-dir {}: not usable as local storage", path.display())]
    DataDir {
        /// The storage folder in the data directory.
        path: PathBuf,
        /// Why.
        source: StorageUrlError,
    },
    /// A part of the process could not be started.
    #[error("cannot start {what}")]
    Start {
        /// What, e.g. `the conversion pool`.
        what: &'static str,
        /// Why.
        source: BoxError,
    },
    /// A background worker stopped with an error (or panicked).
    #[error("{worker}")]
    Worker {
        /// Which, e.g. `register_queue` or `registrar worker`.
        worker: &'static str,
        /// Why.
        source: BoxError,
    },
    /// Several background workers stopped with errors.
    #[error("{}", .0.iter().map(|e| one_line(e)).collect::<Vec<_>>().join("; "))]
    Workers(Vec<StartError>),
    /// The answer could not be written to standard output.
    #[error("cannot write to standard output")]
    Stdout(#[source] io::Error),
    /// The confirmation could not be read from standard input.
    #[error("cannot read the confirmation from standard input")]
    Stdin(#[source] io::Error),
    /// The command line asks for something impossible that clap cannot check (e.g. an end
    /// before the begin), found before any backend is touched (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The command ran to its end without doing all it was asked (products or tiles failed,
    /// nothing to deregister, not confirmed); the message says what.
    #[error("{0}")]
    Unsuccessful(String),
}

impl From<StorageError> for StartError {
    fn from(e: StorageError) -> Self {
        Self::Storage(Box::new(e))
    }
}

impl StartError {
    /// The [`StartError::Bind`] of `address`, for `map_err`.
    pub fn bind(address: ListenAddr) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Bind { address, source }
    }

    /// The [`StartError::Worker`] named `worker`, for `map_err`.
    pub fn worker<E: Into<BoxError>>(worker: &'static str) -> impl FnOnce(E) -> Self {
        move |source| Self::Worker {
            worker,
            source: source.into(),
        }
    }
}

/// `error` and its causes on one line, `: `-separated (as `anyhow` prints `{:#}`). Many
/// errors here already print their source in their own message: a cause whose text the line
/// holds is not repeated, and a cause that restates the last part with more detail (an
/// `io::Error` made as `cannot listen on X: …` under "cannot listen on X") replaces it.
pub fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut last = 0;
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if text.starts_with(&line[last..]) {
            line.truncate(last);
            line.push_str(&text);
        } else if !line.contains(&text) {
            line.push_str(": ");
            last = line.len();
            line.push_str(&text);
        }
        cause = e.source();
    }
    line
}

/// The Redis work queues from `REDIS_URL` and `REDIS_KEY_PREFIX`.
pub async fn queue(env: &Env) -> Result<Arc<dyn WorkQueue>, StartError> {
    let url: RedisUrl = env.get(&vars::REDIS_URL)?;
    let prefix: String = env.get(&vars::REDIS_KEY_PREFIX)?;
    let queue = RedisQueue::connect(url.as_str(), &prefix).await?;
    // Counted: the items this process finishes show on /metrics (pvs_items_total).
    Ok(Arc::new(crate::metrics::CountedQueue(Arc::new(queue))))
}

/// The S3 settings from `S3_ENDPOINT`, `AWS_REGION` and the key pair.
pub fn s3_settings(env: &Env) -> Result<S3Settings, ConfigError> {
    let mut settings = match env.get_opt::<Url>(&vars::S3_ENDPOINT)? {
        Some(endpoint) => S3Settings::with_endpoint(endpoint),
        None => S3Settings::default(),
    };
    settings.region = env.get(&vars::AWS_REGION)?;
    let key_id: Option<String> = env.get_opt(&vars::AWS_ACCESS_KEY_ID)?;
    let secret: Option<Secret> = env.get_opt(&vars::AWS_SECRET_ACCESS_KEY)?;
    match (key_id, secret) {
        (Some(id), Some(secret)) => Ok(settings.with_credentials(id, secret.expose())),
        (None, None) => Ok(settings),
        (Some(_), None) => Err(ConfigError::new(
            &vars::AWS_SECRET_ACCESS_KEY,
            "is required when AWS_ACCESS_KEY_ID is set",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            &vars::AWS_ACCESS_KEY_ID,
            "is required when AWS_SECRET_ACCESS_KEY is set",
        )),
    }
}

/// The object storage from `STORAGE_URL` (and the S3 variables), if it is set.
pub fn storage(env: &Env) -> Result<Option<Storage>, StartError> {
    let Some(url) = env.get_opt::<StorageUrl>(&vars::STORAGE_URL)? else {
        return Ok(None);
    };
    let s3 = s3_settings(env)?;
    Ok(Some(Storage::from_url(&url, Some(&s3))?))
}

/// The object storage from `STORAGE_URL`, for a service that cannot run without it.
pub fn required_storage(env: &Env) -> Result<Storage, StartError> {
    storage(env)?.ok_or_else(|| {
        StartError::Config(ConfigError::new(
            &vars::STORAGE_URL,
            "is required but not set",
        ))
    })
}

/// How the preprocessor, the registrar and the seeder try again the work of an item that failed on a
/// transient fault: for `RETRY_TRANSIENT_FOR`, with the default pauses.
pub fn transient_retry(env: &Env) -> Result<TransientRetry, ConfigError> {
    let Period(give_up_after) = env.get(&vars::RETRY_TRANSIENT_FOR)?;
    Ok(TransientRetry {
        give_up_after,
        ..TransientRetry::default()
    })
}

/// The tile store: `TILES_STORAGE_URL` (else `STORAGE_URL`) under `TILES_PREFIX`; `None` when
/// neither storage variable is set.
pub fn tile_store(env: &Env) -> Result<Option<TileStore>, StartError> {
    let url = match env.get_opt::<StorageUrl>(&vars::TILES_STORAGE_URL)? {
        Some(url) => url,
        None => match env.get_opt::<StorageUrl>(&vars::STORAGE_URL)? {
            Some(url) => url,
            None => return Ok(None),
        },
    };
    let prefix: String = env.get(&vars::TILES_PREFIX)?;
    let root: StorageKey = prefix
        .parse()
        .map_err(|e| ConfigError::new(&vars::TILES_PREFIX, format!("{e}")))?;
    let s3 = s3_settings(env)?;
    let storage = Storage::from_url(&url, Some(&s3))?;
    Ok(Some(TileStore::new(storage, root)))
}

/// How the cache and the seeder draw tiles, read from the configuration before any backend
/// is touched: by the renderer service at `RENDERER_URL`, or in this process with the
/// renderer's settings (`RENDER_MAX_SIZE`, `COLLECTIONS_FILE`) over `STORAGE_URL`.
pub enum TileDrawing {
    /// `RENDERER_URL`, and the token sent with tile requests (`RENDERER_TOKEN`).
    Service(Url, Option<Secret>),
    /// The renderer library.
    InProcess(pvs_renderer::Settings, Storage),
}

impl TileDrawing {
    /// Reads `RENDERER_URL`, else the in-process renderer's configuration.
    pub fn from_env(env: &Env) -> Result<Self, StartError> {
        if let Some(url) = env.get_opt::<Url>(&vars::RENDERER_URL)? {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::new(
                    &vars::RENDERER_URL,
                    format!("{url}: must be an http:// or https:// URL"),
                )
                .into());
            }
            let token = env.get_opt::<Secret>(&vars::RENDERER_TOKEN)?;
            return Ok(Self::Service(url, token));
        }
        let settings = crate::renderer::settings(env)?;
        let storage = storage(env)?.ok_or_else(|| {
            ConfigError::new(
                &vars::STORAGE_URL,
                "is required but not set (to draw tiles in this process; or set RENDERER_URL)",
            )
        })?;
        Ok(Self::InProcess(settings, storage))
    }

    /// The tile renderer, finding products in `catalog` when drawing in this process.
    pub fn renderer(
        self,
        catalog: Arc<dyn pvs_catalog::Catalog>,
    ) -> Result<TileRenderer, StartError> {
        match self {
            Self::Service(url, token) => {
                TileRenderer::http(&url, token.as_ref().map(Secret::expose))
                    .map_err(|e| StartError::Config(ConfigError::new(&vars::RENDERER_URL, e)))
            }
            Self::InProcess(settings, storage) => {
                pvs_raster::init();
                Ok(TileRenderer::InProcess(Arc::new(
                    pvs_renderer::Renderer::new(catalog, storage, settings),
                )))
            }
        }
    }
}

/// Readiness checks of the backends a service uses: `redis`, `postgis`, `storage`, each a
/// ping.
#[derive(Default)]
pub struct Probes {
    /// The work queues.
    pub queue: Option<Arc<dyn WorkQueue>>,
    /// The catalog.
    pub catalog: Option<Arc<dyn pvs_catalog::Catalog>>,
    /// The object storage.
    pub storage: Option<Storage>,
}

impl Probes {
    /// The `/ready` checks.
    pub fn readiness(self) -> pvs_service::http::Readiness {
        let mut readiness = pvs_service::http::Readiness::new();
        if let Some(queue) = self.queue {
            readiness = readiness.with("redis", move || {
                let queue = queue.clone();
                async move { queue.ping().await.map_err(|e| e.to_string()) }
            });
        }
        if let Some(catalog) = self.catalog {
            readiness = readiness.with("postgis", move || {
                let catalog = catalog.clone();
                async move { catalog.ping().await.map_err(|e| e.to_string()) }
            });
        }
        if let Some(storage) = self.storage {
            readiness = readiness.with("storage", move || {
                let storage = storage.clone();
                async move { storage.ping().await.map_err(|e| e.to_string()) }
            });
        }
        readiness
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_prints_every_cause_once() {
        let error = StartError::Start {
            what: "the conversion pool",
            source: Box::new(StartError::Serve(io::Error::other("no threads left"))),
        };
        assert_eq!(
            one_line(&error),
            "cannot start the conversion pool: the HTTP server failed: no threads left"
        );
        // A cause already in its parent's message (`…: {source}`) is not repeated.
        let error = StartError::from(StorageError::CreateRoot {
            path: PathBuf::from("/data/storage"),
            source: io::Error::other("read-only file system"),
        });
        assert_eq!(
            one_line(&error),
            "cannot create the storage directory /data/storage: read-only file system"
        );
        // Several workers: each on its own chain.
        let error = StartError::Worker {
            worker: "seed_queue",
            source: Box::new(StartError::Serve(io::Error::other("reset"))),
        };
        let worker = StartError::Workers(vec![error]);
        assert_eq!(
            one_line(&worker),
            "seed_queue: the HTTP server failed: reset"
        );
        let error = StartError::Worker {
            worker: "registrar",
            source: Box::new(worker),
        };
        assert_eq!(
            one_line(&error),
            "registrar: seed_queue: the HTTP server failed: reset"
        );
    }

    #[test]
    fn a_cause_restating_its_parent_replaces_it() {
        let address: ListenAddr = "127.0.0.1:80".parse().unwrap();
        let error = StartError::bind(address)(io::Error::other(
            "cannot listen on 127.0.0.1:80: Permission denied",
        ));
        assert_eq!(
            one_line(&error),
            "cannot listen on 127.0.0.1:80: Permission denied"
        );
    }
}
