//! Uncached tiles through the cache in process: the typed drawing call
//! (`Renderer::draw`, what `TileCache` does on a miss since issue 20) against the WMS
//! query-string path it replaced, in one run, on the same data and the same tiles.
//!
//! `cargo bench -p pvs-benches --bench miss [-- --rounds 3 --zoom 10]`
//!
//! A PostGIS database of its own (`PVS_TEST_DATABASE_URL`) holds 10 products of one
//! collection (1,024² RGB COGs, JPEG inside, 1° × 1°, in two rows) in a local directory.
//! Every WebMercatorQuad tile of the zoom over them is asked once per pass, one after the
//! other, each pass into a tile store of its own (so every tile is a miss):
//!
//! - `typed`: `TileCache::tile` with `TileRenderer::InProcess`: one catalog search, the
//!   drawing, PNG encoding, the store;
//! - `query`: the path before: the same store reads and writes, the cache's own check that
//!   the layer exists and has a product in the tile (a collection look-up and a search of one
//!   product), then the WMS 1.3.0 `GetMap` query of the tile (`pvs_cache::source::tile_query`)
//!   answered by `Renderer::ows` (parsed again, the layer looked up again, the products
//!   searched again) and its body read back. It is rebuilt here from the functions that path
//!   called, since the cache no longer takes it; `Renderer::ows` now searches before it looks
//!   the layer up, so the look-up it made before is made here.
//!
//! Passes alternate (typed, query, query, typed, ...); each round reports the median and p95
//! latency per tile and the catalog queries per tile. The run fails when a tile of one pass
//! differs from the other's, when no tile shows imagery, or when a pass errs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gdal::DriverManager;
use gdal::raster::Buffer;
use gdal::spatial_ref::SpatialRef;
use geo::{LineString, MultiPolygon, Polygon};
use pvs_cache::TileCache;
use pvs_cache::source::{TileRenderer, tile_query};
use pvs_catalog::testing::{Counted, TestDatabase};
use pvs_catalog::{Bbox, Catalog, Collection, Product, ProductQuery, TimeFilter, TimeRelation};
use pvs_renderer::Renderer;
use pvs_storage::{Storage, StorageKey};
use pvs_tiles::{TileFormat, TileKey, TileMatrixSet, TileStore, TileTime};

type Error = Box<dyn std::error::Error + Send + Sync>;

const COLLECTION: &str = "MISS";
const PRODUCTS: usize = 10;
const SIDE: usize = 1024;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let option = |name: &str, default: u32| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(Ok(default), |v| v.parse::<u32>())
    };
    let (Ok(rounds), Ok(zoom)) = (option("--rounds", 3), option("--zoom", 10)) else {
        eprintln!("usage: miss [--rounds N] [--zoom Z]");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    if let Err(e) = runtime.block_on(run(rounds, zoom as u8)) {
        eprintln!("miss: {e}");
        std::process::exit(1);
    }
}

/// The box of product `i`: two rows of five 1° squares from 10° E, 45° N.
fn product_box(i: usize) -> [f64; 4] {
    let west = 10.0 + (i % 5) as f64;
    let south = 45.0 + (i / 5) as f64;
    [west, south, west + 1.0, south + 1.0]
}

/// A COG of product `i`: gradients and waves, a tint of its own.
fn write_cog(i: usize, path: &Path) -> Result<(), Error> {
    let mem = DriverManager::get_driver_by_name("MEM")?;
    let mut dataset = mem.create_with_band_type::<u8, _>("", SIDE, SIDE, 3)?;
    let [west, _, _, north] = product_box(i);
    let pixel = 1.0 / SIDE as f64;
    dataset.set_geo_transform(&[west, pixel, 0.0, north, 0.0, -pixel])?;
    dataset.set_spatial_ref(&SpatialRef::from_epsg(4326)?)?;
    for band in 0..3 {
        let values: Vec<u8> = (0..SIDE * SIDE)
            .map(|at| {
                let (x, y) = ((at % SIDE) as f64, (at / SIDE) as f64);
                let wave = (x / 37.0 + i as f64).sin() * (y / 53.0).cos() * 40.0;
                (60.0 + (band * 50 + i * 13) as f64 % 120.0 + wave + x / 16.0) as u8
            })
            .collect();
        let mut buffer = Buffer::new((SIDE, SIDE), values);
        dataset
            .rasterband(band + 1)?
            .write((0, 0), (SIDE, SIDE), &mut buffer)?;
    }
    let cog = DriverManager::get_driver_by_name("COG")?;
    let options: gdal::cpl::CslStringList = ["COMPRESS=JPEG", "QUALITY=85", "OVERVIEWS=AUTO"]
        .into_iter()
        .collect();
    dataset.create_copy(&cog, path, &options)?;
    Ok(())
}

fn square([w, s, e, n]: [f64; 4]) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![Polygon::new(
        LineString::from(vec![(w, s), (e, s), (e, n), (w, n), (w, s)]),
        Vec::new(),
    )])
}

fn local_storage(dir: &Path) -> Result<Storage, Error> {
    Ok(Storage::from_url(
        &format!("file://{}", dir.display()).parse()?,
        None,
    )?)
}

/// A tile store of its own under `root`.
fn store(root: &Path, name: &str) -> Result<TileStore, Error> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir)?;
    Ok(TileStore::new(
        local_storage(&dir)?,
        "tiles".parse::<StorageKey>()?,
    ))
}

/// The path before the typed call, as the cache took it on a miss: store look-up, layer
/// generation, the layer and data check, the WMS query answered by the renderer, the store.
async fn query_path(
    renderer: &Renderer,
    catalog: &dyn Catalog,
    store: &TileStore,
    key: &TileKey,
) -> Result<Bytes, Error> {
    if store.get(key).await?.is_some() {
        return Err("a fresh store holds the tile".into());
    }
    let generation = store.generation(key.layer()).await?;
    if catalog.collection(COLLECTION).await?.is_none() {
        return Err("no collection".into());
    }
    let [west, south, east, north] = key.tms.wgs84_bounds(key.tile);
    let bbox = Bbox::new(
        west.clamp(-180.0, 180.0),
        south.clamp(-90.0, 90.0),
        east.clamp(-180.0, 180.0),
        north.clamp(-90.0, 90.0),
    )?;
    let mut query = ProductQuery::new()
        .with_collection(COLLECTION)
        .with_bbox(bbox)
        .with_limit(1);
    if let Some((start, end)) = key.time.closed() {
        query = query.with_time(TimeFilter::new(start, end, TimeRelation::Intersects)?);
    }
    let bytes = if catalog.search(&query).await?.is_empty() {
        Bytes::new()
    } else {
        // The renderer's own look-up of the layer, which `Renderer::ows` made before it
        // searched (it now searches first).
        catalog.collection(COLLECTION).await?;
        let response = renderer
            .ows(
                &pvs_service::public_url::BaseUrl::localhost(),
                &tile_query(key),
            )
            .await;
        if !response.status().is_success() {
            return Err(format!("the renderer answered {}", response.status()).into());
        }
        axum::body::to_bytes(response.into_body(), usize::MAX).await?
    };
    if store.generation(key.layer()).await? != generation {
        return Err("the layer changed".into());
    }
    let stored = store.put(key, bytes).await?;
    store.generation(key.layer()).await?;
    Ok(stored.bytes)
}

/// Latencies of one pass, sorted, and the tiles it made.
struct Pass {
    latencies: Vec<Duration>,
    tiles: Vec<Bytes>,
    searches: usize,
    lookups: usize,
}

impl Pass {
    fn percentile(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1e3
    }
}

async fn run(rounds: u32, zoom: u8) -> Result<(), Error> {
    pvs_raster::init();
    let database = TestDatabase::create().await;
    let catalog = Arc::new(Counted::new(database.catalog().await));
    catalog
        .upsert_collection(&Collection::new(COLLECTION)?)
        .await?;
    let data = tempfile::tempdir()?;
    std::fs::create_dir_all(data.path().join(COLLECTION))?;
    let time = "2024-05-01T10:00:00Z".parse()?;
    for i in 0..PRODUCTS {
        let location = format!("{COLLECTION}/p{i}.tif");
        write_cog(i, &data.path().join(&location))?;
        catalog
            .register(&Product {
                properties: Default::default(),
                id: format!("p{i}"),
                collection: COLLECTION.into(),
                product_type: None,
                footprint: square(product_box(i)),
                begin: time,
                end: time,
                location,
                metadata: serde_json::json!({}),
            })
            .await?;
    }
    let renderer = Arc::new(Renderer::new(
        catalog.clone(),
        local_storage(data.path())?,
        pvs_renderer::Settings::default(),
    ));
    let tms = TileMatrixSet::WebMercatorQuad;
    let keys: Vec<TileKey> = tms
        .tiles([10.0, 45.0, 15.0, 47.0], zoom)
        .iter()
        .flat_map(|range| range.tiles())
        .map(|tile| TileKey::new(COLLECTION, TileTime::Default, tms, tile, TileFormat::Png))
        .collect::<Result<_, _>>()?;
    println!(
        "{} WebMercatorQuad tiles at zoom {zoom} over {PRODUCTS} products, {rounds} rounds",
        keys.len()
    );

    let stores = tempfile::tempdir()?;
    let mut results: Vec<(&str, Pass)> = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            ["typed", "query"]
        } else {
            ["query", "typed"]
        };
        for path in order {
            let store = store(stores.path(), &format!("{path}-{round}"))?;
            let cache = TileCache::new(
                store.clone(),
                TileRenderer::InProcess(renderer.clone()),
                catalog.clone() as Arc<dyn Catalog>,
            );
            catalog.take();
            let mut latencies = Vec::with_capacity(keys.len());
            let mut tiles = Vec::with_capacity(keys.len());
            for key in &keys {
                let started = Instant::now();
                let bytes = match path {
                    "typed" => cache.tile(key).await?.bytes,
                    _ => query_path(&renderer, catalog.as_ref(), &store, key).await?,
                };
                latencies.push(started.elapsed());
                tiles.push(bytes);
            }
            latencies.sort();
            let (searches, lookups) = catalog.take();
            results.push((
                path,
                Pass {
                    latencies,
                    tiles,
                    searches,
                    lookups,
                },
            ));
        }
    }

    // Both paths must make the same tiles, and some must show imagery.
    let (_, first) = &results[0];
    let drawn = first.tiles.iter().filter(|t| !t.is_empty()).count();
    if drawn == 0 {
        return Err("no tile shows imagery".into());
    }
    for (path, pass) in &results {
        for (i, (a, b)) in pass.tiles.iter().zip(&first.tiles).enumerate() {
            if a != b {
                return Err(format!("{path}: tile {} differs", keys[i].path()).into());
            }
        }
    }

    println!("| round | path | median ms | p95 ms | searches/tile | look-ups/tile |");
    println!("|---|---|---|---|---|---|");
    let n = keys.len() as f64;
    for (i, (path, pass)) in results.iter().enumerate() {
        println!(
            "| {} | {path} | {:.2} | {:.2} | {:.2} | {:.2} |",
            i / 2 + 1,
            pass.percentile(0.5),
            pass.percentile(0.95),
            pass.searches as f64 / n,
            pass.lookups as f64 / n,
        );
    }
    let median_of = |name: &str| {
        let mut medians: Vec<f64> = results
            .iter()
            .filter(|(p, _)| *p == name)
            .map(|(_, pass)| pass.percentile(0.5))
            .collect();
        medians.sort_by(f64::total_cmp);
        medians[medians.len() / 2]
    };
    let (typed, query) = (median_of("typed"), median_of("query"));
    println!(
        "{drawn} of {} tiles drawn; median of the rounds' medians: typed {typed:.2} ms, query {query:.2} ms, typed / query = {:.2}",
        keys.len(),
        typed / query
    );
    Ok(())
}
