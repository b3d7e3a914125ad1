//! `pvs cache`: WMTS 1.0.0 (KVP on `/wmts`, RESTful under `/wmts/1.0.0/`), XYZ tiles and
//! TileJSON under `/tiles/`, tiled WMS on `/ows` (other WMS requests go to the renderer), the
//! web client at `/`, with `/health` and `/ready`. Tiles are drawn in this process, or by the renderer service at
//! `RENDERER_URL`. See `docs/cache.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pvs_cache::{CollectionLooks, Settings, TileCache};
use pvs_catalog::{Catalog, PostgisCatalog};
use pvs_service::config::{ConfigError, DatabaseUrl, Env, ListenAddr, vars};
use pvs_service::http;
use pvs_service::metrics::{Family, Kind, Sample};
use pvs_service::public_url::PublicUrl;

use crate::backends::{self, StartError};

/// The cache's settings from `CACHE_MAX_AGE`, `CACHE_MAX_ZOOM`, `PUBLIC_URL` and the browse
/// types of `COLLECTIONS_FILE`.
pub fn settings(env: &Env) -> Result<Settings, StartError> {
    let max_age: u32 = env.get(&vars::CACHE_MAX_AGE)?;
    let max_zoom: u8 = env.get(&vars::CACHE_MAX_ZOOM)?;
    if max_zoom > pvs_tiles::tms::MAX_ZOOM {
        return Err(ConfigError::new(
            &vars::CACHE_MAX_ZOOM,
            format!(
                "must be a zoom level from 0 to {}",
                pvs_tiles::tms::MAX_ZOOM
            ),
        )
        .into());
    }
    let looks = crate::registrar::collections(env)?
        .collections
        .into_iter()
        .filter(|(_, config)| !config.browses.is_empty() || !config.masks.is_empty())
        .map(|(name, config)| {
            let looks = CollectionLooks {
                browses: config.browses.into_keys().collect(),
                masks: config.masks.into_keys().collect(),
            };
            (name, looks)
        })
        .collect();
    Ok(Settings {
        max_age,
        max_zoom,
        public_url: PublicUrl::from_env(env)?,
        looks,
        ..Settings::default()
    })
}

/// Runs the cache until SIGINT/SIGTERM.
pub async fn run(env: &Env, listen: ListenAddr, limits: http::Limits) -> Result<(), StartError> {
    // Every configuration check comes before any backend is touched.
    let settings = settings(env)?;
    let verifier = crate::access::verifier(env).await?;
    let database: DatabaseUrl = env.get(&vars::DATABASE_URL)?;
    let drawing = backends::TileDrawing::from_env(env)?;
    let store = backends::tile_store(env)?.ok_or_else(|| {
        StartError::Config(ConfigError::new(
            &vars::STORAGE_URL,
            "is required but not set (the tile store: STORAGE_URL or TILES_STORAGE_URL)",
        ))
    })?;
    let catalog: Arc<dyn Catalog> = Arc::new(PostgisCatalog::connect(database.as_str()).await?);
    let renderer = drawing.renderer(catalog.clone())?;
    let readiness = backends::Probes {
        catalog: Some(catalog.clone()),
        storage: Some(store.storage().clone()),
        ..Default::default()
    }
    .readiness();
    let cache = Arc::new(TileCache::new(store, renderer, catalog));
    let metrics = crate::metrics::service_metrics("cache", None);
    let counted = cache.clone();
    metrics.collect(move || {
        let families = tile_families(counted.stats());
        async move { families }
    });
    // The web client too: the proxy of the compose stack sends `/` here.
    let router = http::service_router(
        "cache",
        crate::access::protect(
            pvs_cache::routes(cache, settings).merge(pvs_web::routes()),
            verifier.as_ref(),
        ),
        readiness,
        metrics,
    );
    // Tile hits are many short requests: one event loop per core, as nginx runs them.
    let threads = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
    let port = http::SharedPort::bind(listen, threads).map_err(StartError::bind(listen))?;
    tracing::info!(address = %listen, threads, "cache serving WMTS on /wmts, XYZ on /tiles, tiled WMS on /ows");
    http::serve_on_threads(port, router, limits, http::shutdown_signal())
        .await
        .map_err(StartError::Serve)
}

/// The cache's tile counters (`pvs_cache::Stats`) as metric families.
pub(crate) fn tile_families(stats: &pvs_cache::cache::Stats) -> Vec<Family> {
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
    let tiles = Family::new(
        "pvs_cache_tiles_total",
        "Tiles asked of the cache, by outcome: hit (from the store), miss (not stored), rendered (drawn), empty (no data, not drawn), unstored (drawn while its layer was invalidated).",
        Kind::Counter,
    );
    let tiles = [
        ("hit", &stats.hits),
        ("miss", &stats.misses),
        ("rendered", &stats.renders),
        ("empty", &stats.empty),
        ("unstored", &stats.unstored),
    ]
    .into_iter()
    .fold(tiles, |family, (outcome, counter)| {
        family.with(vec![("outcome", outcome.to_owned())], load(counter))
    });
    let mut render = Family::new(
        "pvs_cache_render_seconds",
        "Time spent drawing tiles (by the renderer service or in process), and how many were drawn.",
        Kind::Summary,
    );
    render.samples = vec![
        Sample {
            suffix: "_sum",
            labels: Vec::new(),
            value: load(&stats.render_nanos) / 1e9,
        },
        Sample {
            suffix: "_count",
            labels: Vec::new(),
            value: load(&stats.renders),
        },
    ];
    vec![tiles, render]
}
