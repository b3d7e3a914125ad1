//! A cache on an ephemeral port over a real PostGIS catalog holding one SAR product (an ngEO
//! fixture browse converted to a COG) and an empty collection, drawing with the real
//! renderer (in this process, or a renderer service on its own port), storing tiles in a
//! local folder or an S3 bucket of the test server.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use pvs_cache::{Settings, TileCache, TileRenderer};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_model::{BrowseReport, Footprint};
use pvs_raster::convert::{CogOptions, Placement, to_cog};
use pvs_renderer::Renderer;
use pvs_storage::StorageKey;
use pvs_test_support::{fixtures, local_storage, serve};
use pvs_tiles::TileStore;
use reqwest::header::HeaderMap;

/// Where tiles are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tiles {
    /// A temporary local folder.
    Local,
    /// A new bucket of the S3 test server.
    S3,
}

/// Where tiles are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    /// The renderer library in the cache's process.
    InProcess,
    /// A renderer service (`pvs_renderer::routes`) on its own port, over HTTP.
    Http,
}

pub struct Stack {
    _database: TestDatabase,
    _data_dir: tempfile::TempDir,
    _tiles_dir: tempfile::TempDir,
    /// The cache's base URL.
    pub base: String,
    /// The renderer service's base URL (also started in `Draw::InProcess` mode, to compare).
    pub renderer_base: String,
    pub cache: Arc<TileCache>,
    /// The SAR product: footprint, its box centre (lon, lat), id, time.
    pub footprint: geo::MultiPolygon<f64>,
    pub centre: (f64, f64),
    pub product_id: String,
    pub begin: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Stack {
    /// Local tiles, in-process renderer, default settings.
    pub async fn start() -> Self {
        Self::start_with(Tiles::Local, Draw::InProcess, Settings::default()).await
    }

    pub async fn start_with(tiles: Tiles, draw: Draw, settings: Settings) -> Self {
        Self::start_configured(tiles, draw, settings, &Default::default()).await
    }

    /// A stack whose renderer draws the collections as `collections` says, and whose cache
    /// advertises their browse and mask types.
    pub async fn start_configured(
        tiles: Tiles,
        draw: Draw,
        mut settings: Settings,
        collections: &pvs_model::Collections,
    ) -> Self {
        pvs_raster::init();
        for (name, config) in &collections.collections {
            let looks = pvs_cache::CollectionLooks {
                browses: config.browses.keys().cloned().collect(),
                masks: config.masks.keys().cloned().collect(),
            };
            settings.looks.insert(name.clone(), looks);
        }
        let database = TestDatabase::create().await;
        let catalog: Arc<dyn Catalog> = Arc::new(database.catalog().await);
        for name in ["SAR", "EMPTY"] {
            catalog
                .upsert_collection(&Collection::new(name).unwrap())
                .await
                .unwrap();
        }
        let data_dir = tempfile::tempdir().unwrap();
        let product = add_product(
            catalog.as_ref(),
            data_dir.path(),
            "reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml",
            "reference_test_data/ASA_IM__0P_20100722_213840.jpg",
        )
        .await;
        let storage = local_storage(data_dir.path());
        let renderer = Arc::new(Renderer::new(
            catalog.clone(),
            storage,
            pvs_renderer::Settings {
                styles: pvs_renderer::styles(collections).unwrap(),
                ..pvs_renderer::Settings::default()
            },
        ));
        let renderer_base = serve(pvs_renderer::routes(renderer.clone())).await;
        let tiles_dir = tempfile::tempdir().unwrap();
        let tile_storage = match tiles {
            Tiles::Local => local_storage(tiles_dir.path()),
            Tiles::S3 => pvs_storage::testing::s3_storage("cache").await,
        };
        let store = TileStore::new(tile_storage, "tiles".parse::<StorageKey>().unwrap());
        let tile_renderer = match draw {
            Draw::InProcess => TileRenderer::InProcess(renderer),
            Draw::Http => TileRenderer::http(&renderer_base.parse().unwrap(), None).unwrap(),
        };
        let cache = Arc::new(TileCache::new(store, tile_renderer, catalog));
        let base = serve(pvs_cache::routes(cache.clone(), settings)).await;
        Self {
            _database: database,
            _data_dir: data_dir,
            _tiles_dir: tiles_dir,
            base,
            renderer_base,
            cache,
            footprint: product.footprint,
            centre: product.centre,
            product_id: product.id,
            begin: product.begin,
            end: product.end,
        }
    }

    /// `GET {base}{path}` with `headers`: status, headers, body.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// `GET {base}{path}`.
    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    /// `GET {renderer}/ows?{query}`: the renderer's own answer.
    pub async fn renderer_get(&self, query: &str) -> Answer {
        let response = reqwest::get(format!("{}/ows?{query}", self.renderer_base))
            .await
            .unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// Sends `GET {target}` as written (no URL normalisation: `..` stays) and returns the
    /// status and the body.
    pub async fn raw_get(&self, target: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(
                format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Stored tile keys of `layer`.
    pub async fn stored(&self, layer: &str) -> Vec<String> {
        self.cache.store().list(layer).await.unwrap()
    }

    pub fn renders(&self) -> u64 {
        self.cache
            .stats()
            .renders
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn empty(&self) -> u64 {
        self.cache
            .stats()
            .empty
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The product a test stack holds.
struct Added {
    footprint: geo::MultiPolygon<f64>,
    centre: (f64, f64),
    id: String,
    begin: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Converts the first browse of a fixture report into `<storage>/SAR/<id>.tif` and
/// registers it in SAR.
async fn add_product(
    catalog: &dyn Catalog,
    storage_dir: &Path,
    report: &str,
    image: &str,
) -> Added {
    let report =
        BrowseReport::parse(&std::fs::read(fixtures::ngeo().join(report)).unwrap()).unwrap();
    let browse = report.valid_browses().next().unwrap();
    let Footprint::Wgs84(footprint) = &browse.footprint else {
        panic!("an EPSG:4326 footprint");
    };
    let id = browse.identifier.as_ref().unwrap().to_string();
    let key = format!("SAR/{id}.tif");
    let output = storage_dir.join(&key);
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    to_cog(
        fixtures::ngeo().join(image).to_str().unwrap(),
        &Placement {
            geolocation: &browse.geolocation,
            reference_system: browse.reference_system,
            footprint: Some(footprint.clone()),
        },
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    catalog
        .register(&Product {
            properties: Default::default(),
            id: id.clone(),
            collection: "SAR".into(),
            product_type: None,
            footprint: footprint.clone(),
            begin: browse.start,
            end: browse.end,
            location: key,
            metadata: serde_json::json!({}),
        })
        .await
        .unwrap();
    let rect = geo::BoundingRect::bounding_rect(footprint).unwrap();
    Added {
        footprint: footprint.clone(),
        centre: (rect.center().x, rect.center().y),
        id,
        begin: browse.start,
        end: browse.end,
    }
}

/// The tile of `tms` at zoom `z` holding the point (lon, lat).
pub fn tile_at(tms: pvs_tiles::TileMatrixSet, lon: f64, lat: f64, z: u8) -> pvs_tiles::Tile {
    let eps = 1e-9;
    let range = tms.tiles([lon - eps, lat - eps, lon + eps, lat + eps], z);
    pvs_tiles::Tile {
        z,
        x: *range[0].x.start(),
        y: *range[0].y.start(),
    }
}
