//! `pvs renderer`: WMS and WCS on `/ows`, OpenSearch on `/opensearch`, the STAC API on
//! `/stac`, with `/health` and `/ready`. Collections are drawn as `COLLECTIONS_FILE` says.

use std::sync::Arc;

use pvs_catalog::{Catalog, PostgisCatalog};
use pvs_opensearch::{Conventions, IndexOffset, OpenSearch, RadiusUnit};
use pvs_renderer::{OverviewSettings, Renderer, Settings};
use pvs_service::config::{ConfigError, DatabaseUrl, Env, ListenAddr, RedisUrl, vars};
use pvs_service::http;
use pvs_service::public_url::PublicUrl;
use pvs_stac::{Stac, TilesUrl, Transactions};
use pvs_storage::Storage;

use crate::backends::{self, StartError};

/// The renderer's settings from `RENDER_MAX_SIZE`, `RENDER_CACHE_MB`, `RENDER_OVERVIEW_ZOOM`,
/// `RENDER_OVERVIEW_DIR` and `COLLECTIONS_FILE`
/// (also used by the cache when it draws tiles in its own process).
pub fn settings(env: &Env) -> Result<Settings, StartError> {
    let max_size: usize = env
        .get::<String>(&vars::RENDER_MAX_SIZE)?
        .parse()
        .ok()
        .filter(|v| (1..=pvs_raster::render::MAX_SIDE).contains(v))
        .ok_or_else(|| {
            ConfigError::new(
                &vars::RENDER_MAX_SIZE,
                format!(
                    "must be a whole number from 1 to {}",
                    pvs_raster::render::MAX_SIDE
                ),
            )
        })?;
    let block_cache_mib: usize = env
        .get::<String>(&vars::RENDER_CACHE_MB)?
        .parse()
        .ok()
        .filter(|v| (1..=65_536).contains(v))
        .ok_or_else(|| {
            ConfigError::new(
                &vars::RENDER_CACHE_MB,
                "must be a whole number from 1 to 65536",
            )
        })?;
    let overview_zoom = env.get::<String>(&vars::RENDER_OVERVIEW_ZOOM)?;
    let overviews = if overview_zoom.eq_ignore_ascii_case("off") {
        None
    } else {
        let zoom = overview_zoom
            .parse()
            .ok()
            .filter(|zoom| *zoom <= pvs_renderer::MAX_OVERVIEW_ZOOM)
            .ok_or_else(|| {
                ConfigError::new(
                    &vars::RENDER_OVERVIEW_ZOOM,
                    format!(
                        "must be a zoom from 0 to {}, or off",
                        pvs_renderer::MAX_OVERVIEW_ZOOM
                    ),
                )
            })?;
        let dir = env.get_opt::<String>(&vars::RENDER_OVERVIEW_DIR)?;
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                ConfigError::new(
                    &vars::RENDER_OVERVIEW_DIR,
                    format!("cannot make {dir}: {e}"),
                )
            })?;
        }
        Some(OverviewSettings {
            zoom,
            dir: dir.map(Into::into),
        })
    };
    let styles = pvs_renderer::styles(&crate::registrar::collections(env)?)
        .map_err(|e| ConfigError::new(&vars::COLLECTIONS_FILE, e))?;
    Ok(Settings {
        max_size,
        block_cache_mib,
        styles,
        public_url: PublicUrl::from_env(env)?,
        overviews,
        ..Settings::default()
    })
}

/// OpenSearch's conventions from `OPENSEARCH_INDEX_OFFSET` and `OPENSEARCH_RADIUS_UNIT`.
pub fn opensearch_conventions(env: &Env) -> Result<Conventions, ConfigError> {
    let index_offset = match env.get::<String>(&vars::OPENSEARCH_INDEX_OFFSET)?.as_str() {
        "1" => IndexOffset::One,
        "0" => IndexOffset::Zero,
        _ => {
            return Err(ConfigError::new(
                &vars::OPENSEARCH_INDEX_OFFSET,
                "must be 1 (OpenSearch) or 0 (EOxServer)",
            ));
        }
    };
    let radius = match env.get::<String>(&vars::OPENSEARCH_RADIUS_UNIT)?.as_str() {
        "m" => RadiusUnit::Metres,
        "deg" => RadiusUnit::Degrees,
        _ => {
            return Err(ConfigError::new(
                &vars::OPENSEARCH_RADIUS_UNIT,
                "must be m (metres) or deg (degrees of arc, as EOxServer's clients give r)",
            ));
        }
    };
    Ok(Conventions {
        index_offset,
        radius,
    })
}

/// The OpenSearch service beside a renderer of `settings`: the same title, public URL rule
/// and largest map (for its GetMap links), reading requests with `conventions`.
pub fn opensearch(
    settings: &Settings,
    catalog: Arc<dyn Catalog>,
    conventions: Conventions,
) -> OpenSearch {
    OpenSearch {
        catalog,
        title: settings.title.clone(),
        wms_max_size: settings.max_size,
        public_url: settings.public_url.clone(),
        conventions,
    }
}

/// The STAC API beside a renderer of `settings`: its title, public URL rule and largest map;
/// WMTS and XYZ links where the cache is reached at `tiles`, writes where `transactions` go.
pub fn stac(
    settings: &Settings,
    catalog: Arc<dyn Catalog>,
    storage: Storage,
    tiles: Option<TilesUrl>,
    transactions: Option<Transactions>,
) -> Stac {
    Stac {
        catalog,
        storage,
        title: settings.title.clone(),
        public_url: settings.public_url.clone(),
        wms_max_size: settings.max_size,
        tiles,
        transactions,
    }
}

/// Runs the renderer until SIGINT/SIGTERM.
pub async fn run(env: &Env, listen: ListenAddr, limits: http::Limits) -> Result<(), StartError> {
    // Every configuration check comes before any backend is touched.
    let settings = settings(env)?;
    let conventions = opensearch_conventions(env)?;
    let database: DatabaseUrl = env.get(&vars::DATABASE_URL)?;
    let storage = backends::required_storage(env)?;
    let tiles = env.get_opt::<TilesUrl>(&vars::CACHE_PUBLIC_URL)?;
    let verifier = crate::access::verifier(env).await?;
    // STAC transactions: only with a queue to put Items on and credentials that may write;
    // a renderer given REDIS_URL alone stays read-only.
    let writes = env.get_opt::<RedisUrl>(&vars::REDIS_URL)?.is_some()
        && verifier.as_ref().is_some_and(|v| v.grants_write());
    pvs_raster::init();
    let catalog: Arc<dyn Catalog> = Arc::new(PostgisCatalog::connect(database.as_str()).await?);
    let queue = if writes {
        Some(backends::queue(env).await?)
    } else {
        None
    };
    let transactions = queue.clone().map(|queue| Transactions { queue });
    let stac = Arc::new(stac(
        &settings,
        catalog.clone(),
        storage.clone(),
        tiles,
        transactions,
    ));
    let opensearch = Arc::new(opensearch(&settings, catalog.clone(), conventions));
    let renderer = Arc::new(Renderer::new(catalog.clone(), storage.clone(), settings));
    let readiness = backends::Probes {
        queue,
        catalog: Some(catalog),
        storage: Some(storage),
    }
    .readiness();
    let metrics = crate::metrics::service_metrics("renderer", None);
    let router = http::service_router(
        "renderer",
        crate::access::protect(
            pvs_renderer::routes(renderer)
                .merge(pvs_opensearch::routes(opensearch))
                .merge(pvs_stac::routes(stac)),
            verifier.as_ref(),
        ),
        readiness,
        metrics,
    );
    let listener = http::bind(listen).await.map_err(StartError::bind(listen))?;
    tracing::info!(address = %listen, transactions = writes, "renderer serving WMS and WCS on /ows, OpenSearch on /opensearch, STAC on /stac");
    http::serve(listener, router, limits, http::shutdown_signal())
        .await
        .map_err(StartError::Serve)
}
