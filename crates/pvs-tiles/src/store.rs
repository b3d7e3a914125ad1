//! The tile store: tiles on object storage under their own prefix, one object per tile at
//! `{layer}/{time}/{matrix set}/{z}/{x}/{y}.{ext}` (MapCache's `{tileset}/{grid}/{dim:time}/…`
//! layout with the time first, so that one time's tiles can be dropped together). A tile with
//! no data is stored as an empty object: it is remembered without being drawn again.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use pvs_ogc::layer::check_layer_name;
use pvs_storage::{ObjectInfo, Storage, StorageError, StorageKey};

use crate::time::TileTime;
use crate::tms::{Tile, TileMatrixSet, TileRange};

/// The image format of a stored tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileFormat {
    /// `image/png`, `.png` (with transparency).
    Png,
    /// `image/jpeg`, `.jpg` (opaque).
    Jpeg,
}

impl TileFormat {
    /// Both formats.
    pub const ALL: [TileFormat; 2] = [Self::Png, Self::Jpeg];

    /// The file extension of tile keys and paths.
    pub fn ext(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }

    /// Reads an extension (`png`, `jpg`, `jpeg`) or a MIME type, ignoring case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "png" | "image/png" => Some(Self::Png),
            "jpg" | "jpeg" | "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            _ => None,
        }
    }
}

/// Where one tile is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    layer: String,
    /// The time the tile shows.
    pub time: TileTime,
    /// The matrix set.
    pub tms: TileMatrixSet,
    /// The tile.
    pub tile: Tile,
    /// The image format.
    pub format: TileFormat,
}

impl TileKey {
    /// A key, with the layer name checked ([`check_layer_name`]) and the tile inside the
    /// matrix set.
    pub fn new(
        layer: &str,
        time: TileTime,
        tms: TileMatrixSet,
        tile: Tile,
        format: TileFormat,
    ) -> Result<Self, String> {
        check_layer_name(layer).map_err(|e| e.to_string())?;
        tms.check(tile).map_err(|e| e.to_string())?;
        Ok(Self {
            layer: layer.to_owned(),
            time,
            tms,
            tile,
            format,
        })
    }

    /// The layer name.
    pub fn layer(&self) -> &str {
        &self.layer
    }

    /// The key relative to the store's root.
    pub fn path(&self) -> String {
        let Tile { z, x, y } = self.tile;
        format!(
            "{}/{}/{}/{z}/{x}/{y}.{}",
            self.layer,
            self.time.key(),
            self.tms.id(),
            self.format.ext()
        )
    }
}

/// A tile read from or written to the store.
#[derive(Debug, Clone)]
pub struct StoredTile {
    /// The image; empty when the tile has no data.
    pub bytes: Bytes,
    /// An entity tag for HTTP validation (it changes when the tile is stored again).
    pub e_tag: String,
    /// When the tile was stored.
    pub last_modified: DateTime<Utc>,
}

impl StoredTile {
    /// A tile read or written with the object's metadata; backends without entity tags get
    /// one made of the size and the modification time.
    fn new(bytes: Bytes, info: ObjectInfo) -> Self {
        Self {
            bytes,
            e_tag: e_tag(&info),
            last_modified: info.last_modified,
        }
    }

    /// A tile drawn but not kept in the store (its layer was invalidated meanwhile): served
    /// once, with an entity tag of its own.
    pub fn unstored(bytes: Bytes) -> Self {
        let now = Utc::now();
        Self {
            bytes,
            e_tag: format!("unstored-{}", now.timestamp_nanos_opt().unwrap_or_default()),
            last_modified: now,
        }
    }

    /// Whether the tile was stored as having no data.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The object's entity tag; backends without entity tags get one made of the size and the
/// modification time.
fn e_tag(info: &ObjectInfo) -> String {
    info.e_tag.clone().unwrap_or_else(|| {
        format!(
            "{:x}-{:x}",
            info.size,
            info.last_modified.timestamp_micros()
        )
    })
}

/// A tile of a local-directory store, opened on the request's thread (without
/// `object_store`'s hops to blocking threads) and read by the server that answers with it.
#[derive(Debug)]
pub struct OpenedTile {
    /// The tile's file.
    pub file: std::fs::File,
    /// Its length when it was opened; 0 when the tile has no data.
    pub len: u64,
    /// An entity tag for HTTP validation (the same [`TileStore::get`] gives).
    pub e_tag: String,
    /// When the tile was stored.
    pub last_modified: DateTime<Utc>,
}

impl OpenedTile {
    /// Whether the tile was stored as having no data.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A stored tile found to be served: opened (local-directory stores) or read.
#[derive(Debug)]
pub enum FoundTile {
    /// Opened, not read.
    Opened(OpenedTile),
    /// Read into memory.
    Read(StoredTile),
}

/// The tiles of all layers, on a storage under a root key (e.g. `tiles`).
#[derive(Debug, Clone)]
pub struct TileStore {
    storage: Storage,
    root: StorageKey,
}

/// What the cache may hold for one product that changed: its layers, where it is and when.
#[derive(Debug, Clone)]
pub struct Change {
    /// The cache layers that draw the product (its collection and the collection's outlines).
    pub layers: Vec<String>,
    /// The bounding boxes `[west, south, east, north]` of the footprint's parts (one per
    /// polygon, so a footprint split at the antimeridian gives two).
    pub boxes: Vec<[f64; 4]>,
    /// Start of the product's time.
    pub begin: DateTime<Utc>,
    /// End of the product's time.
    pub end: DateTime<Utc>,
}

/// Above this many tiles in a zoom level's range, the level is listed and the tiles in the
/// range deleted, rather than every tile of the range being deleted blindly.
const BLIND_DELETE_LIMIT: u64 = 64;

/// How many tiles [`TileStore::delete_layer`] deletes at a time (one request each on S3).
const DELETE_CONCURRENCY: usize = 16;

impl TileStore {
    /// The store of tiles under `root` on `storage`.
    pub fn new(storage: Storage, root: StorageKey) -> Self {
        Self { storage, root }
    }

    /// The storage the tiles are on.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn storage_key(&self, relative: &str) -> StorageKey {
        format!("{}/{relative}", self.root)
            .parse()
            .expect("tile keys are built from checked segments")
    }

    /// The tile at `key`, or `None` if it is not stored.
    pub async fn get(&self, key: &TileKey) -> Result<Option<StoredTile>, StorageError> {
        match self
            .storage
            .get_object(&self.storage_key(&key.path()))
            .await
        {
            Ok((bytes, info)) => Ok(Some(StoredTile::new(bytes, info))),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The tile at `key` to be served, or `None` if it is not stored: on a local-directory
    /// store, opened without being read (on the calling thread); on others, read.
    pub async fn find(&self, key: &TileKey) -> Result<Option<FoundTile>, StorageError> {
        match self.storage.open_local(&self.storage_key(&key.path())) {
            Some(Ok((file, info))) => Ok(Some(FoundTile::Opened(OpenedTile {
                file,
                len: info.size,
                e_tag: e_tag(&info),
                last_modified: info.last_modified,
            }))),
            Some(Err(StorageError::NotFound { .. })) => Ok(None),
            Some(Err(error)) => Err(error),
            None => Ok(self.get(key).await?.map(FoundTile::Read)),
        }
    }

    /// Whether a tile is stored at `key`.
    pub async fn contains(&self, key: &TileKey) -> Result<bool, StorageError> {
        self.storage.exists(&self.storage_key(&key.path())).await
    }

    /// Stores a tile (empty `bytes`: a tile with no data) and returns it as the store
    /// will serve it.
    pub async fn put(&self, key: &TileKey, bytes: Bytes) -> Result<StoredTile, StorageError> {
        let storage_key = self.storage_key(&key.path());
        self.storage.put(&storage_key, bytes.clone()).await?;
        match self.storage.head(&storage_key).await {
            Ok(info) => Ok(StoredTile::new(bytes, info)),
            // Deleted between the two calls: an invalidation of its layer ran meanwhile (the
            // caller finds the layer's generation changed). The tile is not kept.
            Err(error) if error.is_not_found() => Ok(StoredTile::unstored(bytes)),
            Err(error) => Err(error),
        }
    }

    /// Deletes one stored tile (a missing tile is no error).
    pub async fn delete(&self, key: &TileKey) -> Result<(), StorageError> {
        self.storage.delete(&self.storage_key(&key.path())).await
    }

    /// Every stored tile key of `layer` (for tests and tools; lists the whole layer).
    pub async fn list(&self, layer: &str) -> Result<Vec<String>, StorageError> {
        let Ok(prefix) = format!("{}/{layer}", self.root).parse::<StorageKey>() else {
            return Ok(Vec::new());
        };
        let root = format!("{}/", self.root);
        Ok(self
            .storage
            .list(Some(&prefix))
            .await?
            .into_iter()
            .map(|key| key.as_str().trim_start_matches(&root).to_owned())
            .collect())
    }

    /// Deletes every stored tile that may show the product `change` describes: in each of
    /// its layers, at each time whose interval overlaps the product's (and the default
    /// time), in both matrix sets and every stored zoom level, the tiles the footprint's
    /// boxes overlap (grown by a pixel, for resampling at the edges). Returns how many
    /// objects were deleted or found absent.
    ///
    /// Each layer's generation is bumped first ([`TileStore::generation`]), so that a tile
    /// drawn from the catalog as it was before the change, and stored after these deletions,
    /// is not stored at all.
    pub async fn invalidate(&self, change: &Change) -> Result<u64, StorageError> {
        let mut removed = 0;
        for layer in &change.layers {
            if check_layer_name(layer).is_err() {
                continue;
            }
            self.bump_generation(layer).await?;
            let layer_key = self.storage_key(layer);
            for time_key in self.storage.list_children(&layer_key).await? {
                let Some(time) = TileTime::from_key(&time_key) else {
                    continue;
                };
                if !time.overlaps(change.begin, change.end) {
                    continue;
                }
                let time_prefix = self.storage_key(&format!("{layer}/{time_key}"));
                for tms_name in self.storage.list_children(&time_prefix).await? {
                    // Tiles are stored under the identifiers only, never an alias.
                    let Some(tms) = TileMatrixSet::ALL.into_iter().find(|t| t.id() == tms_name)
                    else {
                        continue;
                    };
                    let tms_prefix = self.storage_key(&format!("{layer}/{time_key}/{}", tms.id()));
                    for z_name in self.storage.list_children(&tms_prefix).await? {
                        let Ok(z) = z_name.parse::<u8>() else {
                            continue;
                        };
                        let ranges = ranges_of(tms, &change.boxes, z);
                        let prefix = format!("{layer}/{time_key}/{}/{z}", tms.id());
                        removed += self.delete_ranges(&prefix, &ranges).await?;
                    }
                }
            }
        }
        Ok(removed)
    }

    /// The names of the layers that have stored tiles, sorted (on a local directory, also
    /// those whose tiles were all deleted: their emptied folders remain).
    pub async fn layers(&self) -> Result<Vec<String>, StorageError> {
        Ok(self
            .storage
            .list_children(&self.root)
            .await?
            .into_iter()
            .filter(|layer| check_layer_name(layer).is_ok())
            .collect())
    }

    /// Deletes every stored tile of `layer` (all times, matrix sets and zoom levels) and
    /// returns how many objects were deleted; a layer name that cannot name tiles has none.
    /// The layer's generation is bumped first, as by [`TileStore::invalidate`], so that a
    /// tile being drawn meanwhile is not stored. Other layers are untouched, also those whose
    /// names start with this one (`S2_L1C` for `S2`).
    pub async fn delete_layer(&self, layer: &str) -> Result<u64, StorageError> {
        if check_layer_name(layer).is_err() {
            return Ok(0);
        }
        self.bump_generation(layer).await?;
        // The listing matches whole segments: `{root}/S2` lists nothing of `{root}/S2_L1C`.
        let keys = self.storage.list(Some(&self.storage_key(layer))).await?;
        let count = keys.len() as u64;
        futures::stream::iter(keys)
            .map(|key| async move { self.storage.delete(&key).await })
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_collect::<()>()
            .await?;
        Ok(count)
    }

    /// The generation of `layer`: a value that changes whenever [`TileStore::invalidate`]
    /// touches the layer (`None` if it never did). A cache reads it before drawing a tile
    /// and again before storing it, and stores the tile only if it did not change: the
    /// catalog may have changed while the tile was drawn.
    pub async fn generation(&self, layer: &str) -> Result<Option<Bytes>, StorageError> {
        match self.storage.get(&self.generation_key(layer)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Gives `layer` a new generation.
    async fn bump_generation(&self, layer: &str) -> Result<(), StorageError> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let value = format!(
            "{}-{}-{}",
            Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.storage
            .put(&self.generation_key(layer), Bytes::from(value))
            .await
    }

    /// Where a layer's generation is kept: `.generations/{layer}` under the root (a layer
    /// name cannot start with `.`, so this is no layer's key).
    fn generation_key(&self, layer: &str) -> StorageKey {
        self.storage_key(&format!(".generations/{layer}"))
    }

    /// Deletes the tiles of `ranges` under `prefix` (`{layer}/{time}/{tms}/{z}`).
    async fn delete_ranges(&self, prefix: &str, ranges: &[TileRange]) -> Result<u64, StorageError> {
        let total: u64 = ranges.iter().map(TileRange::len).sum();
        let mut removed = 0;
        if total <= BLIND_DELETE_LIMIT {
            for range in ranges {
                for Tile { x, y, .. } in range.tiles() {
                    for format in TileFormat::ALL {
                        let key = self.storage_key(&format!("{prefix}/{x}/{y}.{}", format.ext()));
                        self.storage.delete(&key).await?;
                        removed += 1;
                    }
                }
            }
            return Ok(removed);
        }
        let root = format!("{}/{prefix}/", self.root);
        for key in self.storage.list(Some(&self.storage_key(prefix))).await? {
            let Some(rest) = key.as_str().strip_prefix(&root) else {
                continue;
            };
            let Some((x, file)) = rest.split_once('/') else {
                continue;
            };
            let y = file.split('.').next().unwrap_or_default();
            let (Ok(x), Ok(y)) = (x.parse::<u32>(), y.parse::<u32>()) else {
                continue;
            };
            let z = ranges.first().map_or(0, |r| r.z);
            if ranges.iter().any(|r| r.contains(Tile { z, x, y })) {
                self.storage.delete(&key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The tiles at zoom `z` of `tms` overlapping any of `boxes`, each grown by one pixel.
pub fn ranges_of(tms: TileMatrixSet, boxes: &[[f64; 4]], z: u8) -> Vec<TileRange> {
    // A pixel in degrees of longitude; in Web Mercator a pixel spans no more latitude.
    let (columns, _) = tms.matrix_size(z);
    let pixel = 360.0 / f64::from(columns) / f64::from(crate::tms::TILE_SIZE);
    boxes
        .iter()
        .flat_map(|&[w, s, e, n]| {
            let grown = [
                (w - pixel).max(-180.0),
                (s - pixel).max(-90.0),
                (e + pixel).min(180.0),
                (n + pixel).min(90.0),
            ];
            tms.tiles(grown, z)
        })
        .collect()
}
