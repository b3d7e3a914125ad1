//! The drawing API: a typed map request in, an image (or "nothing there") out, with one
//! catalog query for a map that shows something. WMS `GetMap` parses its parameters into a
//! [`MapRequest`]; the tile cache and the seeder build one from a tile key and call
//! [`Renderer::draw`] in their own process (a renderer service is reached through WMS).

use chrono::{DateTime, Utc};
use gdal::spatial_ref::CoordTransform;
use geo::{BooleanOps, MultiPolygon};
use pvs_catalog::{
    Bbox, CatalogError, Filter, Product, ProductQuery, Sort, TimeFilter, TimeRelation,
};
use pvs_model::GeoJsonGeometry;
use pvs_ogc::layer::{Look, split};
use pvs_raster::RasterError;
use pvs_raster::crs::srs;
use pvs_raster::render::{MosaicSource, Rgba, View, mosaic};
use pvs_raster::style::{Colormap, Style};
use pvs_storage::StorageError;

use crate::Renderer;
use crate::layers::{Kind, Layer};

/// The colour of footprint outlines (RGBA).
const OUTLINE_COLOUR: [u8; 4] = [255, 64, 0, 255];

/// The colour masks are filled in (RGBA: half transparent); `STYLES` may name another.
const MASK_COLOUR: [u8; 4] = [255, 64, 0, 128];

/// The colour validity masks are filled in.
const VALIDITY_COLOUR: [u8; 4] = [0, 160, 0, 128];

/// The colours outlines may be drawn in (WMS `STYLES` of an outlines layer), as EOxServer
/// names them.
pub const OUTLINE_COLOURS: [(&str, [u8; 3]); 11] = [
    ("red", [255, 0, 0]),
    ("green", [0, 128, 0]),
    ("blue", [0, 0, 255]),
    ("white", [255, 255, 255]),
    ("black", [0, 0, 0]),
    ("yellow", [255, 255, 0]),
    ("orange", [255, 165, 0]),
    ("magenta", [255, 0, 255]),
    ("cyan", [0, 255, 255]),
    ("brown", [165, 42, 42]),
    ("grey", [128, 128, 128]),
];

/// Which layer a map shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapLayer {
    /// A name as WMS clients give it: a collection, a collection or product with a look
    /// (`<name>__outlines`, `__outlined`, `__<browse type>`), or a product id, looked up in
    /// that order.
    Named(String),
    /// A collection's products with a look: the layers of the tile cache (a product alone is
    /// not one, since its cached tiles would not be invalidated with the collection's).
    Collection {
        /// The collection.
        name: String,
        /// How its products are shown.
        look: Look,
    },
}

impl MapLayer {
    /// The layer of a tile-cache layer name: `C` or `C__<suffix>` (split at the first `__`).
    pub fn of_cache_layer(layer: &str) -> Self {
        let (name, look) = split(layer);
        Self::Collection {
            name: name.to_owned(),
            look,
        }
    }

    /// The name a client would use for this layer.
    pub fn name(&self) -> String {
        match self {
            Self::Named(name) => name.clone(),
            Self::Collection { name, look } => look.layer_name(name),
        }
    }
}

/// Changes a request makes to how a layer is drawn (WMS `STYLES`, `dim_bands`, `dim_range`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Restyle {
    /// A style name: a colormap for products, a colour for outlines; `None`: the layer's own.
    pub style: Option<String>,
    /// The channels: bands or band expressions over the collection's band names (`B04`, or
    /// `b4` by number), one, three or four.
    pub bands: Option<Vec<String>>,
    /// The value ranges stretched to 0..255: one for every channel, or one per channel.
    pub ranges: Option<Vec<[f64; 2]>>,
}

impl Restyle {
    /// Whether the layer is drawn as it is.
    pub fn is_none(&self) -> bool {
        self == &Restyle::default()
    }
}

/// A map to draw: a layer in a view (CRS, box, size), optionally at a time, of the products
/// passing a filter, in an order, restyled.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRequest {
    /// What the map shows.
    pub layer: MapLayer,
    /// Where, and how large.
    pub view: View,
    /// The products whose time intersects `[start, end]`; `None`: every product.
    pub time: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Only the products passing this filter (WMS `cql`).
    pub filter: Option<Filter>,
    /// The order of the products, the first drawn on top; empty: the newest on top (WMS
    /// `sortBy`).
    pub sort: Vec<Sort>,
    /// How the drawing differs from the layer's own.
    pub restyle: Restyle,
}

impl MapRequest {
    /// A map of `layer` in `view` at `time`, of every product, newest on top, as the layer
    /// draws them.
    pub fn new(layer: MapLayer, view: View, time: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Self {
        Self {
            layer,
            view,
            time,
            filter: None,
            sort: Vec::new(),
            restyle: Restyle::default(),
        }
    }
}

/// Why a map could not be drawn. The first three are the request's fault.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No such layer.
    #[error("no layer {0:?}: neither a collection, its outlines nor a product")]
    UnknownLayer(String),
    /// A time the catalog cannot search (start after end...).
    #[error("TIME: {0}")]
    Time(#[source] CatalogError),
    /// A style, band or range the layer cannot be drawn with (`parameter` names the WMS
    /// parameter).
    #[error("{parameter}: {message}")]
    Style {
        /// `styles`, `dim_bands` or `dim_range`.
        parameter: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A CRS GDAL cannot transform from.
    #[error("EPSG:{epsg}: {source}")]
    Crs {
        /// The view's EPSG code.
        epsg: u32,
        /// What GDAL said.
        #[source]
        source: RasterError,
    },
    /// The catalog failed.
    #[error("the catalog: {0}")]
    Catalog(#[source] CatalogError),
    /// A product's COG has no location GDAL can read.
    #[error("product {id} has no readable location {location:?}")]
    Location {
        /// The product.
        id: String,
        /// Its stored location.
        location: String,
    },
    /// Reading or drawing the rasters failed.
    #[error("rendering: {0}")]
    Raster(#[source] RasterError),
    /// A product could not be opened or read while object storage did not answer: the
    /// product is not at fault, and the same map may be drawn when storage is back.
    #[error("rendering: {raster}; object storage does not answer: {source}")]
    Storage {
        /// What GDAL said of the product it could not open or read.
        raster: RasterError,
        /// Why object storage did not answer a probe made then.
        #[source]
        source: Box<StorageError>,
    },
    /// The drawing thread stopped (a panic).
    #[error("rendering stopped: {0}")]
    Stopped(#[source] tokio::task::JoinError),
}

impl RenderError {
    /// Whether the request is at fault (an unknown layer, a bad time or CRS), not the
    /// service.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::UnknownLayer(_) | Self::Time(_) | Self::Crs { .. } | Self::Style { .. }
        )
    }

    /// Whether the same map may be drawn when tried again later: the catalog or object
    /// storage unavailable, not the request or the products at fault.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Catalog(error) => error.is_transient(),
            Self::Storage { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}

impl Renderer {
    /// Draws `request`: the layer's products in the view, the first of its order on top
    /// (each only inside its footprint), or their outlines, or both. `None` when no product of
    /// the layer is in the view at that time (an empty, transparent map).
    ///
    /// A map that shows something costs one catalog query (the products), an empty one two
    /// (the layer's existence is then checked). A map of a wide area is drawn from the
    /// layer's overview mosaic, complete (see [`crate::OverviewSettings`]): it costs a look-up
    /// of the collection and a read of the catalog's change feed. At most
    /// [`crate::Settings::concurrent_renders`] maps are drawn at once.
    ///
    /// A product GDAL cannot open or read while object storage does not answer a probe is
    /// [`RenderError::Storage`] (GDAL says only that the file does not exist, or that a
    /// block could not be read).
    pub async fn draw(&self, request: &MapRequest) -> Result<Option<Rgba>, RenderError> {
        match self.draw_unprobed(request).await {
            Err(RenderError::Raster(raster)) => Err(match self.shared.storage.ping().await {
                Ok(()) => RenderError::Raster(raster),
                Err(source) => RenderError::Storage {
                    raster,
                    source: Box::new(source),
                },
            }),
            drawn => drawn,
        }
    }

    async fn draw_unprobed(&self, request: &MapRequest) -> Result<Option<Rgba>, RenderError> {
        if let Some(drawn) = self.draw_from_overview(request).await? {
            return Ok(drawn);
        }
        let view = &request.view;
        let Some(bbox) = wgs84_box(view)? else {
            // The view does not reach the Earth (e.g. far outside a projection's area); the
            // layer must still exist, and the request must suit it.
            let layer = self.layer(&request.layer).await?;
            self.drawing(&layer, &request.restyle)?;
            return Ok(None);
        };
        let time = request
            .time
            .map(|(start, end)| TimeFilter::new(start, end, TimeRelation::Intersects))
            .transpose()
            .map_err(RenderError::Time)?;
        let query = |base: ProductQuery| {
            let mut query = base.with_bbox(bbox);
            query.limit = self.shared.settings.max_products;
            query.filter = request.filter.clone();
            query.sort = request.sort.clone();
            match time {
                Some(time) => query.with_time(time),
                None => query,
            }
        };
        // Most maps are of a collection: its products are asked for at once, and only when
        // there are none is it found out what the name stands for.
        let (collection, look) = match &request.layer {
            MapLayer::Named(name) => split(name),
            MapLayer::Collection { name, look } => (name.as_str(), look.clone()),
        };
        let mut products = self
            .search(query(ProductQuery::new().with_collection(collection)))
            .await?;
        let fast = Layer::Collection {
            name: collection.to_owned(),
            look,
        };
        let layer = if !products.is_empty() && fast.kind(self).is_ok() {
            fast
        } else {
            // No product there, or the collection has no such look: what the whole name
            // stands for is looked up (a collection of that name first, then a look, then a
            // product).
            let layer = self.layer(&request.layer).await?;
            let searched = matches!(
                &layer,
                Layer::Collection { name, .. } if name == collection
            );
            if !searched {
                products = self.search(query(layer.query())).await?;
            }
            layer
        };
        let drawing = self.drawing(&layer, &request.restyle)?;
        if products.is_empty() {
            return Ok(None);
        }
        let _permit = self.render_permit().await;
        let view = view.clone();
        let sources = match drawing.style {
            Some(_) => self.sources(&products, drawing.clip.as_ref())?,
            None => Vec::new(),
        };
        let masks: Vec<_> = match &drawing.masks {
            Some((mask, _)) => products.iter().filter_map(|p| mask_of(p, mask)).collect(),
            None => Vec::new(),
        };
        let footprints: Vec<_> = match drawing.outlines {
            Some(_) => products.into_iter().map(|p| p.footprint).collect(),
            None => Vec::new(),
        };
        let drawn = tokio::task::spawn_blocking(move || {
            let mut image = match &drawing.style {
                Some(style) => mosaic(&sources, &view, style).map_err(RenderError::Raster)?,
                None => Rgba::transparent(view.width, view.height),
            };
            if let Some((_, colour)) = drawing.masks {
                let areas =
                    pvs_raster::draw::areas(&masks, &view, colour).map_err(RenderError::Raster)?;
                image.overlay(&areas);
            }
            if let Some(colour) = drawing.outlines {
                let outlines = pvs_raster::draw::outlines(&footprints, &view, colour, 2)
                    .map_err(RenderError::Raster)?;
                image.overlay(&outlines);
            }
            Ok(image)
        })
        .await;
        drawn.map_err(RenderError::Stopped)?.map(Some)
    }

    /// What `layer` stands for, or [`RenderError::UnknownLayer`].
    async fn layer(&self, layer: &MapLayer) -> Result<Layer, RenderError> {
        match layer {
            MapLayer::Named(name) => Layer::resolve(self, name).await,
            MapLayer::Collection { name, look } => match self.catalog.collection(name).await {
                Ok(Some(_)) => {
                    let layer = Layer::Collection {
                        name: name.clone(),
                        look: look.clone(),
                    };
                    layer.kind(self).map(|_| layer)
                }
                Ok(None) | Err(CatalogError::Invalid { .. }) => {
                    Err(RenderError::UnknownLayer(layer.name()))
                }
                Err(e) => Err(RenderError::Catalog(e)),
            },
        }
    }

    /// How `layer` is drawn with the request's changes: the products' style (none for
    /// outlines or masks alone), the outlines' colour (for outlines and outlined layers), the
    /// masks drawn and the mask the products are cut by.
    pub(crate) fn drawing(&self, layer: &Layer, restyle: &Restyle) -> Result<Drawing, RenderError> {
        let style_error =
            |parameter: &'static str, message: String| RenderError::Style { parameter, message };
        let requested = restyle
            .style
            .as_deref()
            .filter(|name| !name.is_empty() && !name.eq_ignore_ascii_case("default"));
        // Outlines and masks are shapes: a colour, no bands.
        let shape_colour = |what: &str, default: [u8; 4]| {
            if restyle.bands.is_some() || restyle.ranges.is_some() {
                let parameter = if restyle.bands.is_some() {
                    "dim_bands"
                } else {
                    "dim_range"
                };
                return Err(style_error(
                    parameter,
                    format!("the layer {} draws {what}, not bands", layer_name(layer)),
                ));
            }
            match requested {
                None => Ok(default),
                Some(name) => OUTLINE_COLOURS
                    .iter()
                    .find(|(known, _)| known.eq_ignore_ascii_case(name))
                    .map(|(_, [r, g, b])| [*r, *g, *b, default[3]])
                    .ok_or_else(|| {
                        style_error(
                            "styles",
                            format!(
                                "{name:?} is not a style of the layer {} of {what}: one of {}",
                                layer_name(layer),
                                OUTLINE_COLOURS.map(|(n, _)| n).join(", ")
                            ),
                        )
                    }),
            }
        };
        let (style, outlines, clip) = match layer.kind(self)? {
            Kind::Outlines => {
                let colour = shape_colour("outlines", OUTLINE_COLOUR)?;
                return Ok(Drawing {
                    outlines: Some(colour),
                    ..Drawing::default()
                });
            }
            Kind::Masks(mask, kind) => {
                let default = if kind.validity {
                    VALIDITY_COLOUR
                } else {
                    MASK_COLOUR
                };
                let colour = shape_colour("masks", default)?;
                return Ok(Drawing {
                    masks: Some((mask, colour)),
                    ..Drawing::default()
                });
            }
            Kind::Products(style) => (style, None, None),
            Kind::Outlined(style) => (style, Some(OUTLINE_COLOUR), None),
            Kind::Masked(style, mask, kind) => (style, None, Some((mask, kind.validity))),
        };
        let mut style = style.clone();
        if let Some(bands) = &restyle.bands {
            let looks = self.looks(layer.collection());
            let channels = bands
                .iter()
                .map(|band| match looks {
                    Some(looks) => looks.expression(band),
                    None => crate::Looks::default().expression(band),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| style_error("dim_bands", e))?;
            style = style
                .with_channels(channels)
                .map_err(|e| style_error("dim_bands", e))?;
        }
        if let Some(ranges) = &restyle.ranges {
            style = style
                .with_ranges(ranges.clone())
                .map_err(|e| style_error("dim_range", e))?;
        }
        if let Some(name) = requested {
            let colormap: Colormap = name.parse().map_err(|e| {
                style_error(
                    "styles",
                    format!("{e} (the styles of the layer {})", layer_name(layer)),
                )
            })?;
            style = style
                .with_colormap(colormap)
                .map_err(|e| style_error("styles", format!("{name:?}: {e}")))?;
        }
        Ok(Drawing {
            style: Some(style),
            outlines,
            masks: None,
            clip,
        })
    }

    async fn search(&self, query: ProductQuery) -> Result<Vec<Product>, RenderError> {
        self.catalog
            .search(&query)
            .await
            .map_err(RenderError::Catalog)
    }

    /// The products' COGs (GDAL paths), each to be drawn only inside its footprint, cut by
    /// its mask of the type `clip` names (kept inside a validity mask, cut out of others);
    /// a product its mask leaves nothing of is left out.
    pub(crate) fn sources(
        &self,
        products: &[Product],
        clip: Option<&(String, bool)>,
    ) -> Result<Vec<MosaicSource>, RenderError> {
        let mut sources = Vec::with_capacity(products.len());
        for product in products {
            let path = product
                .location
                .parse()
                .ok()
                .and_then(|key| self.shared.storage.gdal_path(&key))
                .ok_or_else(|| RenderError::Location {
                    id: product.id.clone(),
                    location: product.location.clone(),
                })?;
            let area =
                match clip.and_then(|(mask, validity)| Some((mask_of(product, mask)?, validity))) {
                    None => product.footprint.clone(),
                    Some((mask, true)) => product.footprint.intersection(&mask),
                    Some((mask, false)) => product.footprint.difference(&mask),
                };
            if !area.0.is_empty() {
                // A product registered again is usually written under the same key: its
                // record tells the versions apart (GDAL's cache of a remote file does not).
                sources.push(MosaicSource::new(path, area).with_version(record_digest(product)));
            }
        }
        Ok(sources)
    }
}

/// The mask of type `mask` registered with `product` (its metadata's `masks`), if any.
fn mask_of(product: &Product, mask: &str) -> Option<MultiPolygon<f64>> {
    let value = product.metadata.get("masks")?.get(mask)?;
    let geometry: GeoJsonGeometry = serde_json::from_value(value.clone()).ok()?;
    Some(MultiPolygon::from(&geometry))
}

/// How a layer's products are drawn: their style (none: not drawn), their outlines' colour
/// (none: not drawn), their masks of a type and the colour they are filled in, and the mask
/// type (and whether it marks the valid area) they are cut by.
#[derive(Default)]
pub(crate) struct Drawing {
    pub(crate) style: Option<Style>,
    pub(crate) outlines: Option<[u8; 4]>,
    pub(crate) masks: Option<(String, [u8; 4])>,
    pub(crate) clip: Option<(String, bool)>,
}

/// The name of a layer for messages.
fn layer_name(layer: &Layer) -> String {
    match layer {
        Layer::Collection { name, look } => look.layer_name(name),
        Layer::Product { product, look } => look.layer_name(&product.id),
    }
}

/// The view's box in EPSG:4326 (clamped to the world) for the catalog query; `None` when
/// the box does not project onto the Earth.
pub(crate) fn wgs84_box(view: &View) -> Result<Option<Bbox>, RenderError> {
    let [x0, y0, x1, y1] = if view.epsg == 4326 {
        view.bbox
    } else {
        let crs_error = |source| RenderError::Crs {
            epsg: view.epsg,
            source,
        };
        let (from, to) = (
            srs(view.epsg).map_err(crs_error)?,
            srs(4326).map_err(crs_error)?,
        );
        let transform = CoordTransform::new(&from, &to)
            .map_err(|e| crs_error(RasterError::Georef(e.to_string())))?;
        match transform.transform_bounds(&view.bbox, 21) {
            Ok(bounds) => bounds,
            Err(_) => return Ok(None),
        }
    };
    let (west, east) = (x0.clamp(-180.0, 180.0), x1.clamp(-180.0, 180.0));
    let (south, north) = (y0.clamp(-90.0, 90.0), y1.clamp(-90.0, 90.0));
    if !(west.is_finite() && east.is_finite() && south.is_finite() && north.is_finite()) {
        return Ok(None);
    }
    // Clamped to the world, a degenerate box touches nothing.
    Ok(Bbox::new(west, south, east, north).ok())
}

/// A digest of a product's catalog record as the registrar wrote it (its metadata document,
/// which names the browse report and the COG): another version of the product gives another
/// digest.
fn record_digest(product: &Product) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    product.location.hash(&mut hasher);
    product.metadata.to_string().hash(&mut hasher);
    product.begin.hash(&mut hasher);
    product.end.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
