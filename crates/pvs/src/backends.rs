//! Building the backends a service needs from its configuration.

use std::sync::Arc;

use pvs_cache::TileRenderer;
use pvs_queue::{RedisQueue, WorkQueue};
use pvs_service::config::{ConfigError, Env, RedisUrl, Secret, vars};
use pvs_storage::{S3Settings, Storage, StorageKey, StorageUrl};
use pvs_tiles::TileStore;
use url::Url;

/// Why a service could not start.
#[derive(Debug)]
pub enum StartError {
    /// A configuration value is missing or malformed (exit code 2).
    Config(ConfigError),
    /// Something could not be reached or opened (exit code 1).
    Runtime(String),
}

impl From<ConfigError> for StartError {
    fn from(e: ConfigError) -> Self {
        StartError::Config(e)
    }
}

/// The Redis work queues from `REDIS_URL` and `REDIS_KEY_PREFIX`.
pub async fn queue(env: &Env) -> Result<Arc<dyn WorkQueue>, StartError> {
    let url: RedisUrl = env.get(&vars::REDIS_URL)?;
    let prefix: String = env.get(&vars::REDIS_KEY_PREFIX)?;
    let queue = RedisQueue::connect(url.as_str(), &prefix)
        .await
        .map_err(|e| StartError::Runtime(e.to_string()))?;
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
    Storage::from_url(&url, Some(&s3))
        .map(Some)
        .map_err(|e| StartError::Runtime(e.to_string()))
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
    let storage =
        Storage::from_url(&url, Some(&s3)).map_err(|e| StartError::Runtime(e.to_string()))?;
    Ok(Some(TileStore::new(storage, root)))
}

/// How the cache and the seeder draw tiles, read from the configuration before any backend
/// is touched: by the renderer service at `RENDERER_URL`, or in this process with the
/// renderer's settings (`RENDER_MAX_SIZE`, `COLLECTIONS_FILE`) over `STORAGE_URL`.
pub enum TileDrawing {
    /// `RENDERER_URL`.
    Service(Url),
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
            return Ok(Self::Service(url));
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
            Self::Service(url) => TileRenderer::http(&url)
                .map_err(|e| StartError::Config(ConfigError::new(&vars::RENDERER_URL, e))),
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
