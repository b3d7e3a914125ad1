//! The cache itself: a tile is read from the tile store, or drawn once and stored. Tiles of
//! places and times with no product are stored as empty objects (no drawing, and none the
//! next time either); concurrent requests for a tile being drawn wait for that one drawing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use pvs_catalog::{Bbox, Catalog, CatalogError, ProductQuery, TimeFilter, TimeRelation};
use pvs_ogc::layer::collection_of;
use pvs_raster::render::{Format, Rgba, encode};
use pvs_storage::StorageError;
use pvs_tiles::{FoundTile, StoredTile, TileFormat, TileKey, TileStore};
use tokio::sync::OnceCell;

use crate::source::{DrawError, TileRenderer};

/// Why a tile could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// The layer is neither a collection nor a collection's outlines.
    #[error("layer {0:?} is not known: a collection, or a collection's `__outlines`")]
    UnknownLayer(String),
    /// The tile store failed (shared like [`CacheError::Render`]).
    #[error("the tile store: {0}")]
    Store(#[source] Arc<StorageError>),
    /// The catalog failed.
    #[error("the catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// The renderer failed (shared by every request waiting for the same tile).
    #[error("rendering: {0}")]
    Render(#[source] Arc<DrawError>),
}

impl CacheError {
    /// Whether the tile may be made when tried again later: the tile store, the catalog or
    /// the renderer service unavailable (unreachable, restarting, full), not the tile or
    /// its data at fault.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(error) => error.is_transient(),
            Self::Catalog(error) => error.is_transient(),
            Self::Render(error) => match error.as_ref() {
                DrawError::Render(error) => error.is_transient(),
                DrawError::Service { .. } => true,
                DrawError::Refused { status, .. } => status.is_server_error(),
                _ => false,
            },
            Self::UnknownLayer(_) => false,
        }
    }
}

impl From<StorageError> for CacheError {
    fn from(e: StorageError) -> Self {
        Self::Store(Arc::new(e))
    }
}

/// Counters of what the cache did since it started.
#[derive(Debug, Default)]
pub struct Stats {
    /// Tiles served from the store.
    pub hits: AtomicU64,
    /// Tiles not in the store when asked.
    pub misses: AtomicU64,
    /// Tiles drawn by the renderer.
    pub renders: AtomicU64,
    /// Time spent drawing them, in nanoseconds.
    pub render_nanos: AtomicU64,
    /// Tiles found to have no data (stored empty, not drawn).
    pub empty: AtomicU64,
    /// Tiles drawn but not stored, because their layer was invalidated while they were
    /// drawn.
    pub unstored: AtomicU64,
}

/// What seeding one tile did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    /// The tile was already stored.
    Present,
    /// The tile was drawn and stored.
    Rendered,
    /// The tile has no data; an empty tile was stored.
    Empty,
}

type Flight = Arc<OnceCell<Result<(StoredTile, Seeded), CacheError>>>;

/// The tile cache: the store, the renderer, the catalog (to find the layers and tell empty
/// tiles), and the tiles being drawn.
pub struct TileCache {
    store: TileStore,
    renderer: TileRenderer,
    catalog: Arc<dyn Catalog>,
    flights: Mutex<HashMap<TileKey, Flight>>,
    stats: Stats,
}

impl TileCache {
    /// A cache over `store`, drawing with `renderer`, finding products in `catalog`.
    pub fn new(store: TileStore, renderer: TileRenderer, catalog: Arc<dyn Catalog>) -> Self {
        Self {
            store,
            renderer,
            catalog,
            flights: Mutex::new(HashMap::new()),
            stats: Stats::default(),
        }
    }

    /// The tile store.
    pub fn store(&self) -> &TileStore {
        &self.store
    }

    /// The renderer.
    pub fn renderer(&self) -> &TileRenderer {
        &self.renderer
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// What the cache did since it started.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The tile at `key`: from the store, or drawn (once, however many ask at the same
    /// time) and stored. An empty [`StoredTile::bytes`] means the tile has no data (serve
    /// [`blank`]).
    pub async fn tile(&self, key: &TileKey) -> Result<StoredTile, CacheError> {
        if let Some(tile) = self.stored(key).await? {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(tile);
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        self.fly(key).await.map(|(tile, _)| tile)
    }

    /// The tile at `key` to be served: on a local-directory store a stored tile is opened,
    /// not read (see [`TileStore::find`]); a tile not stored is drawn as by
    /// [`TileCache::tile`].
    pub async fn find(&self, key: &TileKey) -> Result<FoundTile, CacheError> {
        let found = self.store.find(key).await?;
        if let Some(found) = found {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        self.fly(key).await.map(|(tile, _)| FoundTile::Read(tile))
    }

    /// Makes sure the tile at `key` is stored: draws it unless it is there already (or
    /// `force`).
    pub async fn seed(&self, key: &TileKey, force: bool) -> Result<Seeded, CacheError> {
        if !force && self.store.contains(key).await? {
            return Ok(Seeded::Present);
        }
        if force {
            return self.draw_and_store(key).await.map(|(_, seeded)| seeded);
        }
        self.fly(key).await.map(|(_, seeded)| seeded)
    }

    async fn stored(&self, key: &TileKey) -> Result<Option<StoredTile>, CacheError> {
        Ok(self.store.get(key).await?)
    }

    /// Draws the tile once for everyone asking for it now.
    async fn fly(&self, key: &TileKey) -> Result<(StoredTile, Seeded), CacheError> {
        let flight = {
            let mut flights = self
                .flights
                .lock()
                .expect("the flights lock is never poisoned");
            flights.entry(key.clone()).or_default().clone()
        };
        let result = flight
            .get_or_init(|| async {
                // A flight that ended just before this one began has stored the tile.
                match self.stored(key).await? {
                    Some(tile) => Ok((tile, Seeded::Present)),
                    None => self.draw_and_store(key).await,
                }
            })
            .await
            .clone();
        let mut flights = self
            .flights
            .lock()
            .expect("the flights lock is never poisoned");
        if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(key);
        }
        result
    }

    /// Draws the tile (or finds it has no data) and stores it, unless the layer was
    /// invalidated meanwhile (its generation changed): then the tile is served but not
    /// stored, since it may show the catalog as it was before the change. The generation is
    /// read before the catalog is asked, before storing, and after storing (an invalidation
    /// whose deletions ran just before the store would otherwise miss the tile).
    async fn draw_and_store(&self, key: &TileKey) -> Result<(StoredTile, Seeded), CacheError> {
        let generation = self.store.generation(key.layer()).await?;
        let changed = || async {
            self.store
                .generation(key.layer())
                .await
                .map(|now| now != generation)
        };
        let started = std::time::Instant::now();
        let (bytes, seeded) = match self.renderer.tile(key, || self.has_data(key)).await? {
            Some(bytes) => {
                self.stats.renders.fetch_add(1, Ordering::Relaxed);
                let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.stats.render_nanos.fetch_add(nanos, Ordering::Relaxed);
                (bytes, Seeded::Rendered)
            }
            None => {
                self.stats.empty.fetch_add(1, Ordering::Relaxed);
                (Bytes::new(), Seeded::Empty)
            }
        };
        if changed().await? {
            self.stats.unstored.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(tile = %key.path(), "layer invalidated while drawing: tile not stored");
            return Ok((StoredTile::unstored(bytes), seeded));
        }
        let tile = self.store.put(key, bytes).await?;
        if changed().await? {
            self.store.delete(key).await?;
            self.stats.unstored.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(tile = %key.path(), "layer invalidated while storing: tile removed");
        }
        Ok((tile, seeded))
    }

    /// Whether any product of the key's layer is in the tile at its time (asked before a
    /// renderer service draws it; the renderer in this process finds out itself).
    async fn has_data(&self, key: &TileKey) -> Result<bool, CacheError> {
        let layer = key.layer();
        let collection = collection_of(layer);
        if self.catalog.collection(collection).await?.is_none() {
            return Err(CacheError::UnknownLayer(layer.to_owned()));
        }
        let [west, south, east, north] = key.tms.wgs84_bounds(key.tile);
        let bbox = Bbox::new(
            west.clamp(-180.0, 180.0),
            south.clamp(-90.0, 90.0),
            east.clamp(-180.0, 180.0),
            north.clamp(-90.0, 90.0),
        )?;
        let mut query = ProductQuery::new()
            .with_collection(collection)
            .with_bbox(bbox)
            .with_limit(1);
        if let Some((start, end)) = key.time.closed() {
            query = query.with_time(TimeFilter::new(start, end, TimeRelation::Intersects)?);
        }
        Ok(!self.catalog.search(&query).await?.is_empty())
    }
}

/// The image served for a tile with no data: transparent PNG, or white JPEG.
pub fn blank(format: TileFormat) -> Bytes {
    static PNG: OnceLock<Bytes> = OnceLock::new();
    static JPEG: OnceLock<Bytes> = OnceLock::new();
    let size = pvs_tiles::tms::TILE_SIZE as usize;
    let (cell, encoding) = match format {
        TileFormat::Png => (&PNG, Format::Png),
        TileFormat::Jpeg => (&JPEG, Format::Jpeg),
    };
    cell.get_or_init(|| {
        let mut image = Rgba::transparent(size, size);
        if format == TileFormat::Jpeg {
            image.flatten([255, 255, 255]);
        }
        Bytes::from(encode(&image, encoding, [255, 255, 255]).expect("a blank tile encodes"))
    })
    .clone()
}

impl From<DrawError> for CacheError {
    fn from(error: DrawError) -> Self {
        Self::Render(Arc::new(error))
    }
}
