//! Overview mosaics: each collection layer (its default look and each browse type) kept
//! drawn at low resolution, complete, in pieces of the WorldCRS84Quad pyramid, so that a map
//! of a wide area shows every product at once, fast, however many there are.
//!
//! A map coarser than the finest pieces (zoom [`OverviewSettings::zoom`], 0.011° per pixel at
//! zoom 6), of a collection layer drawn as configured (no `TIME`, filter, order or restyling),
//! is drawn from the pieces of the finest level at least as fine as the map, instead of from
//! the products. A piece of the finest level is the mosaic of **every** product it touches
//! (newest on top, each inside its footprint, as [`crate::Renderer::draw`] draws them); a
//! coarser piece is its four children shrunk. Pieces are GeoTIFFs in a folder of their own,
//! drawn like any product.
//!
//! Pieces are painted when a map first needs them, and painted again after a change: before
//! each such map the catalog's change feed ([`pvs_catalog::Catalog::changes`]) is read, and
//! every piece, at every level, that a changed footprint touches (before and after a
//! replacement, and removals) is dropped. A map never shows a piece painted before a change
//! the feed had when the map was asked for: a piece painted while a change comes in is not
//! kept.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pvs_catalog::{Bbox, ChangeCursor, MAX_LIMIT, ProductQuery};
use pvs_ogc::layer::{Look, split};
use pvs_raster::chunk;
use pvs_raster::render::{MosaicSource, Rgba, View, mosaic};
use pvs_raster::style::Style;

use crate::Renderer;
use crate::draw::{MapLayer, MapRequest, RenderError, wgs84_box};
use crate::layers::{Kind, Layer};

/// Pixels on a side of a piece (a WorldCRS84Quad tile).
const SIZE: usize = 256;

/// The finest zoom accepted for [`OverviewSettings::zoom`] (0.0014° per pixel).
pub const MAX_OVERVIEW_ZOOM: u8 = 9;

/// Pieces of the finest level painted at once (their products are held meanwhile).
const BATCH: usize = 32;

/// How overview mosaics are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewSettings {
    /// The finest level: zoom of the WorldCRS84Quad pyramid (2 × 1 pieces of 256 pixels at
    /// zoom 0); 6 is 0.011° (about 1.2 km) per pixel. At most [`MAX_OVERVIEW_ZOOM`].
    pub zoom: u8,
    /// The folder the pieces are written to; `None`: a temporary folder, removed on exit.
    pub dir: Option<PathBuf>,
}

/// Degrees per pixel at `zoom`.
fn resolution(zoom: u8) -> f64 {
    180.0 / (SIZE as f64 * f64::from(1u32 << zoom))
}

/// A piece of the pyramid: a WorldCRS84Quad tile (rows from the north).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Piece {
    zoom: u8,
    column: u32,
    row: u32,
}

impl Piece {
    /// Degrees on a side at `zoom`.
    fn span(zoom: u8) -> f64 {
        180.0 / f64::from(1u32 << zoom)
    }

    /// West, south, east, north.
    fn bbox(self) -> [f64; 4] {
        let span = Self::span(self.zoom);
        let west = -180.0 + span * f64::from(self.column);
        let north = 90.0 - span * f64::from(self.row);
        [west, north - span, west + span, north]
    }

    /// Its four children, `[[north-west, north-east], [south-west, south-east]]`.
    fn children(self) -> [[Piece; 2]; 2] {
        let child = |dy: u32, dx: u32| Piece {
            zoom: self.zoom + 1,
            column: 2 * self.column + dx,
            row: 2 * self.row + dy,
        };
        [[child(0, 0), child(0, 1)], [child(1, 0), child(1, 1)]]
    }

    /// The pieces at `zoom` that `[west, south, east, north]` reaches (a box ending on an edge
    /// between pieces reaches the piece past it; one starting on it, only that piece).
    fn covering(zoom: u8, [west, south, east, north]: [f64; 4]) -> Vec<Piece> {
        let span = Self::span(zoom);
        let (columns, rows) = (2u32 << zoom, 1u32 << zoom);
        let index =
            |value: f64, count: u32| (value / span).floor().clamp(0.0, f64::from(count - 1)) as u32;
        let (first_column, last_column) =
            (index(west + 180.0, columns), index(east + 180.0, columns));
        let (first_row, last_row) = (index(90.0 - north, rows), index(90.0 - south, rows));
        let mut pieces = Vec::new();
        for row in first_row..=last_row {
            for column in first_column..=last_column {
                pieces.push(Piece { zoom, column, row });
            }
        }
        pieces
    }
}

/// A piece's file, removed when no map or piece being painted uses it any more.
#[derive(Debug)]
struct PieceFile(PathBuf);

impl PieceFile {
    fn path(&self) -> &str {
        self.0.to_str().expect("piece paths are made of UTF-8")
    }
}

impl Drop for PieceFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A painted piece: its file, or `None` when no product shows there.
type Painted = Option<Arc<PieceFile>>;

/// The overview mosaics of every layer drawn so far.
pub(crate) struct Overviews {
    zoom: u8,
    dir: PathBuf,
    /// Keeps a temporary folder until the renderer goes.
    _temporary: Option<tempfile::TempDir>,
    layers: Mutex<HashMap<String, Arc<LayerOverview>>>,
    /// Numbers the files, so that a piece painted again never takes an open file's name.
    files: AtomicU64,
}

/// One layer's pyramid.
struct LayerOverview {
    collection: String,
    style: Style,
    dir: PathBuf,
    state: Mutex<State>,
    /// One painting at a time per layer (maps whose pieces are painted are not held up).
    painter: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// Where the change feed was read to; `None` before the first map.
    cursor: Option<ChangeCursor>,
    /// Counts the readings of the feed that dropped pieces.
    version: u64,
    /// The version at which each piece was last dropped.
    dropped: HashMap<Piece, u64>,
    /// The version at which every piece was dropped.
    all_dropped: u64,
    /// The pieces painted since they were last dropped.
    pieces: HashMap<Piece, Painted>,
}

impl State {
    /// Whether a piece painted from the catalog as of `version` may be kept.
    fn current(&self, piece: Piece, version: u64) -> bool {
        self.all_dropped <= version && self.dropped.get(&piece).is_none_or(|&at| at <= version)
    }
}

impl Overviews {
    /// Overviews as `settings` say, their folder made (or a temporary one).
    pub(crate) fn new(settings: &OverviewSettings) -> std::io::Result<Self> {
        let zoom = settings.zoom.min(MAX_OVERVIEW_ZOOM);
        let (dir, temporary) = match &settings.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                (dir.clone(), None)
            }
            None => {
                let temporary = tempfile::Builder::new()
                    .prefix("pvs-overviews-")
                    .tempdir()?;
                (temporary.path().to_owned(), Some(temporary))
            }
        };
        Ok(Self {
            zoom,
            dir,
            _temporary: temporary,
            layers: Mutex::new(HashMap::new()),
            files: AtomicU64::new(0),
        })
    }

    fn layer(
        &self,
        name: String,
        collection: &str,
        style: &Style,
    ) -> std::io::Result<Arc<LayerOverview>> {
        let mut layers = lock(&self.layers);
        if let Some(layer) = layers.get(&name) {
            return Ok(layer.clone());
        }
        // Layer names are not file names: each layer's folder is numbered.
        let dir = self
            .dir
            .join(format!("layer-{}-{}", std::process::id(), layers.len()));
        std::fs::create_dir_all(&dir)?;
        let layer = Arc::new(LayerOverview {
            collection: collection.to_owned(),
            style: style.clone(),
            dir,
            state: Mutex::new(State::default()),
            painter: tokio::sync::Mutex::new(()),
        });
        layers.insert(name, layer.clone());
        Ok(layer)
    }

    fn file(&self, layer: &LayerOverview, piece: Piece) -> PathBuf {
        let number = self.files.fetch_add(1, Ordering::Relaxed);
        layer.dir.join(format!(
            "{}-{}-{}-{number}.tif",
            piece.zoom, piece.column, piece.row
        ))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the map consistent (every update is one insert
    // or removal).
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn io_error(error: std::io::Error) -> RenderError {
    RenderError::Raster(pvs_raster::RasterError::Unsuitable(format!(
        "the overview folder: {error}"
    )))
}

impl Renderer {
    /// Draws `request` from the overview mosaic of its layer, when it is one such a map is
    /// drawn from (see the module's documentation): `Some` with the map (`None` inside when
    /// no product shows), or `None` when the map is to be drawn from the products.
    pub(crate) async fn draw_from_overview(
        &self,
        request: &MapRequest,
    ) -> Result<Option<Option<Rgba>>, RenderError> {
        let Some(overviews) = &self.shared.overviews else {
            return Ok(None);
        };
        if request.time.is_some()
            || request.filter.is_some()
            || !request.sort.is_empty()
            || !request.restyle.is_none()
        {
            return Ok(None);
        }
        let view = &request.view;
        let Some(bbox) = wgs84_box(view)? else {
            return Ok(None);
        };
        // Degrees per pixel of the map (across and up), at its finest.
        let [x0, y0, x1, y1] = if view.epsg == 4326 {
            view.bbox
        } else {
            [bbox.west(), bbox.south(), bbox.east(), bbox.north()]
        };
        let finest = ((x1 - x0) / view.width as f64).min((y1 - y0) / view.height as f64);
        // The coarsest level at least as fine as the map.
        let Some(zoom) =
            (0..=overviews.zoom).find(|&zoom| resolution(zoom) <= finest * (1.0 + 1e-9))
        else {
            return Ok(None);
        };
        let Some((collection, look, style)) = self.overview_layer(&request.layer).await? else {
            return Ok(None);
        };
        let layer = overviews
            .layer(look.layer_name(&collection), &collection, &style)
            .map_err(io_error)?;
        self.read_changes(overviews, &layer).await?;
        // A pixel's neighbours count in sampling: the pieces one finest pixel around too.
        let margin = resolution(zoom);
        let needed = Piece::covering(
            zoom,
            [
                bbox.west() - margin,
                bbox.south() - margin,
                bbox.east() + margin,
                bbox.north() + margin,
            ],
        );
        let Some(pieces) = self.paint(overviews, &layer, &needed).await? else {
            return Ok(None);
        };
        let sources: Vec<MosaicSource> = pieces
            .iter()
            .flatten()
            .map(|file| MosaicSource::unclipped(file.path()))
            .collect();
        if sources.is_empty() {
            return Ok(Some(None));
        }
        let _permit = self.render_permit().await;
        let view = view.clone();
        let drawn = tokio::task::spawn_blocking(move || {
            // `pieces` keeps the files until they are drawn.
            let image = mosaic(&sources, &view, &Style::default());
            drop(pieces);
            image
        })
        .await
        .map_err(RenderError::Stopped)?
        .map_err(RenderError::Raster)?;
        Ok(Some(Some(drawn)))
    }

    /// The collection, look and style of `layer` when it is a collection's products drawn
    /// with a style (its default look or a browse type), else `None`.
    async fn overview_layer(
        &self,
        layer: &MapLayer,
    ) -> Result<Option<(String, Look, Style)>, RenderError> {
        let exists = |name: String| async move {
            self.catalog
                .collection(&name)
                .await
                .map(|found| found.is_some())
                .map_err(RenderError::Catalog)
        };
        let (collection, look) = match layer {
            MapLayer::Collection { name, look } => (name.clone(), look.clone()),
            MapLayer::Named(name) => {
                let (collection, look) = split(name);
                // A collection whose own name holds `__` comes first (as names resolve).
                if look != Look::Default && exists(name.clone()).await? {
                    return Ok(None);
                }
                (collection.to_owned(), look)
            }
        };
        if !matches!(look, Look::Default | Look::Named(_)) || !exists(collection.clone()).await? {
            return Ok(None);
        }
        let layer = Layer::Collection {
            name: collection.clone(),
            look: look.clone(),
        };
        match layer.kind(self) {
            Ok(Kind::Products(style)) => Ok(Some((collection, look, style.clone()))),
            _ => Ok(None),
        }
    }

    /// Reads the layer's collection's changes and drops the pieces they touch.
    async fn read_changes(
        &self,
        overviews: &Overviews,
        layer: &LayerOverview,
    ) -> Result<(), RenderError> {
        let cursor = lock(&layer.state).cursor.clone();
        let changes = self
            .catalog
            .changes(&layer.collection, cursor.as_ref())
            .await
            .map_err(RenderError::Catalog)?;
        let mut state = lock(&layer.state);
        if cursor.is_some() && changes.areas.is_empty() && !changes.lost {
            state.cursor = Some(changes.cursor);
            return Ok(());
        }
        state.version += 1;
        let version = state.version;
        if cursor.is_none() || changes.lost {
            state.all_dropped = version;
            state.pieces.clear();
        }
        for area in &changes.areas {
            let area = [area.west(), area.south(), area.east(), area.north()];
            for zoom in 0..=overviews.zoom {
                for piece in Piece::covering(zoom, area) {
                    state.dropped.insert(piece, version);
                    state.pieces.remove(&piece);
                }
            }
        }
        // Concurrent readers may set an older cursor back: the changes after it are read
        // again, and dropping a piece twice is harmless.
        state.cursor = Some(changes.cursor);
        Ok(())
    }

    /// The painted pieces `needed` (all of one level), painting those that are not; `None`
    /// when changes keep coming while they are painted (the map is then drawn from the
    /// products).
    async fn paint(
        &self,
        overviews: &Overviews,
        layer: &LayerOverview,
        needed: &[Piece],
    ) -> Result<Option<Vec<Painted>>, RenderError> {
        for _attempt in 0..3 {
            {
                let state = lock(&layer.state);
                if let Some(pieces) = needed
                    .iter()
                    .map(|piece| state.pieces.get(piece).cloned())
                    .collect::<Option<Vec<_>>>()
                {
                    return Ok(Some(pieces));
                }
            }
            let _painter = layer.painter.lock().await;
            // What is missing at each level down to the finest, and the pieces there are.
            let (version, mut present, levels) = {
                let state = lock(&layer.state);
                let mut levels: Vec<Vec<Piece>> = Vec::new();
                let mut missing: Vec<Piece> = needed
                    .iter()
                    .filter(|piece| !state.pieces.contains_key(piece))
                    .copied()
                    .collect();
                let mut present: HashMap<Piece, Painted> = HashMap::new();
                while !missing.is_empty() {
                    let zoom = missing[0].zoom;
                    let next = if zoom < overviews.zoom {
                        let mut children = Vec::new();
                        for child in missing
                            .iter()
                            .flat_map(|p| p.children().into_iter().flatten())
                        {
                            match state.pieces.get(&child) {
                                Some(painted) => {
                                    present.insert(child, painted.clone());
                                }
                                None => children.push(child),
                            }
                        }
                        children
                    } else {
                        Vec::new()
                    };
                    levels.push(missing);
                    missing = next;
                }
                (state.version, present, levels)
            };
            if levels.is_empty() {
                continue;
            }
            // Finest first: each level is painted from the one below.
            for pieces in levels.iter().rev() {
                let painted = if pieces[0].zoom == overviews.zoom {
                    self.paint_finest(overviews, layer, pieces).await?
                } else {
                    self.paint_coarser(overviews, layer, pieces, &present)
                        .await?
                };
                present.extend(painted);
            }
            let mut state = lock(&layer.state);
            for (piece, painted) in present {
                if state.current(piece, version) {
                    state.pieces.entry(piece).or_insert(painted);
                }
            }
        }
        Ok(None)
    }

    /// Paints pieces of the finest level from every product each touches.
    async fn paint_finest(
        &self,
        overviews: &Overviews,
        layer: &LayerOverview,
        pieces: &[Piece],
    ) -> Result<Vec<(Piece, Painted)>, RenderError> {
        let mut painted = Vec::with_capacity(pieces.len());
        for batch in pieces.chunks(BATCH) {
            let mut work = Vec::with_capacity(batch.len());
            for &piece in batch {
                let [west, south, east, north] = piece.bbox();
                let bbox = Bbox::new(west, south, east, north)
                    .expect("a piece of the pyramid is a box on the Earth");
                let mut products = Vec::new();
                loop {
                    let mut query = ProductQuery::new()
                        .with_collection(layer.collection.clone())
                        .with_bbox(bbox);
                    query.limit = MAX_LIMIT;
                    query.offset = products.len() as u64;
                    let page = self
                        .catalog
                        .search(&query)
                        .await
                        .map_err(RenderError::Catalog)?;
                    let full = page.len() == MAX_LIMIT as usize;
                    products.extend(page);
                    if !full {
                        break;
                    }
                }
                let sources = self.sources(&products, None)?;
                work.push((piece, sources, overviews.file(layer, piece)));
            }
            let style = layer.style.clone();
            let _permit = self.render_permit().await;
            let done = tokio::task::spawn_blocking(move || {
                paint_each(work, |(piece, sources, path)| {
                    let view = View {
                        epsg: 4326,
                        bbox: piece.bbox(),
                        width: SIZE,
                        height: SIZE,
                    };
                    let image = mosaic(&sources, &view, &style)?;
                    Ok((piece, keep(&image, piece, path)?))
                })
            })
            .await
            .map_err(RenderError::Stopped)?
            .map_err(RenderError::Raster)?;
            painted.extend(done);
        }
        Ok(painted)
    }

    /// Paints pieces of a coarser level from their children (`present`).
    async fn paint_coarser(
        &self,
        overviews: &Overviews,
        layer: &LayerOverview,
        pieces: &[Piece],
        present: &HashMap<Piece, Painted>,
    ) -> Result<Vec<(Piece, Painted)>, RenderError> {
        let work: Vec<_> = pieces
            .iter()
            .map(|&piece| {
                let children = piece
                    .children()
                    .map(|row| row.map(|child| present.get(&child).cloned().flatten()));
                (piece, children, overviews.file(layer, piece))
            })
            .collect();
        let _permit = self.render_permit().await;
        tokio::task::spawn_blocking(move || {
            paint_each(work, |(piece, children, path)| {
                let read = |file: &Option<Arc<PieceFile>>| {
                    file.as_ref()
                        .map(|file| chunk::read(file.path()))
                        .transpose()
                };
                let [[nw, ne], [sw, se]] = &children;
                let images = [[read(nw)?, read(ne)?], [read(sw)?, read(se)?]];
                let image = chunk::shrink(
                    &images
                        .each_ref()
                        .map(|row| row.each_ref().map(Option::as_ref)),
                    SIZE,
                )?;
                Ok((piece, keep(&image, piece, path)?))
            })
        })
        .await
        .map_err(RenderError::Stopped)?
        .map_err(RenderError::Raster)
    }
}

/// Runs `paint` over `work` on every core.
fn paint_each<W: Send, T: Send>(
    work: Vec<W>,
    paint: impl Fn(W) -> Result<T, pvs_raster::RasterError> + Sync,
) -> Result<Vec<T>, pvs_raster::RasterError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = work.len().div_ceil(threads).max(1);
    let mut work = work;
    let mut shares = Vec::new();
    while !work.is_empty() {
        let rest = work.split_off(per_thread.min(work.len()));
        shares.push(std::mem::replace(&mut work, rest));
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(|| share.into_iter().map(&paint).collect::<Result<Vec<_>, _>>())
            })
            .collect();
        let mut done = Vec::new();
        for handle in handles {
            done.extend(handle.join().expect("painting a piece does not panic")?);
        }
        Ok(done)
    })
}

/// Writes `image` of `piece` to `path` unless nothing shows in it.
fn keep(image: &Rgba, piece: Piece, path: PathBuf) -> Result<Painted, pvs_raster::RasterError> {
    if image.pixels.chunks_exact(4).all(|pixel| pixel[3] == 0) {
        return Ok(None);
    }
    let file = PieceFile(path);
    chunk::write(image, piece.bbox(), file.path())?;
    Ok(Some(Arc::new(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_tile_the_world() {
        assert_eq!(resolution(0), 0.703125);
        assert_eq!(
            Piece {
                zoom: 0,
                column: 1,
                row: 0
            }
            .bbox(),
            [0.0, -90.0, 180.0, 90.0]
        );
        let piece = Piece {
            zoom: 2,
            column: 5,
            row: 1,
        };
        assert_eq!(piece.bbox(), [45.0, 0.0, 90.0, 45.0]);
        for child in piece.children().into_iter().flatten() {
            let [w, s, e, n] = child.bbox();
            assert!(w >= 45.0 && e <= 90.0 && s >= 0.0 && n <= 45.0);
        }
        assert_eq!(piece.children()[1][0].bbox(), [45.0, 0.0, 67.5, 22.5]);
        assert_eq!(Piece::covering(0, [-180.0, -90.0, 180.0, 90.0]).len(), 2);
        // A point on the corner of four pieces reaches the one east and south of it; a box
        // ending on an edge, the piece past that edge; outside the world is clamped to it.
        assert_eq!(
            Piece::covering(2, [45.0, 0.0, 45.0, 0.0]),
            vec![Piece {
                zoom: 2,
                column: 5,
                row: 2
            }]
        );
        assert_eq!(Piece::covering(2, [0.0, 10.0, 45.0, 20.0]).len(), 2);
        assert_eq!(
            Piece::covering(1, [170.0, 80.0, 200.0, 100.0]),
            vec![Piece {
                zoom: 1,
                column: 3,
                row: 0
            }]
        );
    }
}
