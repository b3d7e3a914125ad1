//! The drawing API: a typed map request in, an image (or "nothing there") out, with one
//! catalog query for a map that shows something. WMS `GetMap` parses its parameters into a
//! [`MapRequest`]; the tile cache and the seeder build one from a tile key and call
//! [`Renderer::draw`] in their own process (a renderer service is reached through WMS).

use chrono::{DateTime, Utc};
use gdal::spatial_ref::CoordTransform;
use pvs_catalog::{Bbox, CatalogError, Product, ProductQuery, TimeFilter, TimeRelation};
use pvs_ogc::layer::{outlined_collection, outlines_layer};
use pvs_raster::RasterError;
use pvs_raster::crs::srs;
use pvs_raster::render::{MosaicSource, Rgba, View, mosaic};

use crate::Renderer;
use crate::layers::Layer;

/// The colour of footprint outlines (RGBA).
const OUTLINE_COLOUR: [u8; 4] = [255, 64, 0, 255];

/// Which layer a map shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapLayer {
    /// A name as WMS clients give it: a collection, `<collection>__outlines`, or a product
    /// id, looked up in that order.
    Named(String),
    /// A collection's products, or their outlines: the layers of the tile cache (a product
    /// alone is not one, since its cached tiles would not be invalidated with the
    /// collection's).
    Collection {
        /// The collection.
        name: String,
        /// Its products' footprints instead of their images.
        outlines: bool,
    },
}

impl MapLayer {
    /// The layer of a tile-cache layer name: `C` or `C__outlines`.
    pub fn of_cache_layer(layer: &str) -> Self {
        match outlined_collection(layer) {
            Some(name) => Self::Collection {
                name: name.to_owned(),
                outlines: true,
            },
            None => Self::Collection {
                name: layer.to_owned(),
                outlines: false,
            },
        }
    }

    /// The name a client would use for this layer.
    pub fn name(&self) -> String {
        match self {
            Self::Named(name) => name.clone(),
            Self::Collection {
                name,
                outlines: false,
            } => name.clone(),
            Self::Collection {
                name,
                outlines: true,
            } => outlines_layer(name),
        }
    }
}

/// A map to draw: a layer in a view (CRS, box, size), optionally at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRequest {
    /// What the map shows.
    pub layer: MapLayer,
    /// Where, and how large.
    pub view: View,
    /// The products whose time intersects `[start, end]`; `None`: every product.
    pub time: Option<(DateTime<Utc>, DateTime<Utc>)>,
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
            Self::UnknownLayer(_) | Self::Time(_) | Self::Crs { .. }
        )
    }
}

impl Renderer {
    /// Draws `request`: the layer's products in the view, newest on top (each only inside
    /// its footprint), or their outlines. `None` when no product of the layer is in the view
    /// at that time (an empty, transparent map).
    ///
    /// A map that shows something costs one catalog query (the products), an empty one two
    /// (the layer's existence is then checked). At most
    /// [`crate::Settings::concurrent_renders`] maps are drawn at once.
    pub async fn draw(&self, request: &MapRequest) -> Result<Option<Rgba>, RenderError> {
        let view = &request.view;
        let Some(bbox) = wgs84_box(view)? else {
            // The view does not reach the Earth (e.g. far outside a projection's area); the
            // layer must still exist.
            self.layer(&request.layer).await?;
            return Ok(None);
        };
        let time = request
            .time
            .map(|(start, end)| TimeFilter::new(start, end, TimeRelation::Intersects))
            .transpose()
            .map_err(RenderError::Time)?;
        let query = |base: ProductQuery| {
            let mut query = base.with_bbox(bbox);
            query.limit = self.settings.max_products;
            match time {
                Some(time) => query.with_time(time),
                None => query,
            }
        };
        // Most maps are of a collection: its products are asked for at once, and only when
        // there are none is it found out what the name stands for.
        let (collection, outlines) = match &request.layer {
            MapLayer::Named(name) => (name.as_str(), false),
            MapLayer::Collection { name, outlines } => (name.as_str(), *outlines),
        };
        let mut products = self
            .search(query(ProductQuery::new().with_collection(collection)))
            .await?;
        let layer = if products.is_empty() {
            let layer = self.layer(&request.layer).await?;
            let searched = matches!(
                &layer,
                Layer::Collection(name) | Layer::Outlines(name) if name == collection
            );
            if !searched {
                products = self.search(query(layer.query())).await?;
            }
            layer
        } else if outlines {
            Layer::Outlines(collection.to_owned())
        } else {
            Layer::Collection(collection.to_owned())
        };
        if products.is_empty() {
            return Ok(None);
        }
        let _permit = self.render_permit().await;
        let view = view.clone();
        let drawn = if let Layer::Outlines(_) = layer {
            let footprints: Vec<_> = products.into_iter().map(|p| p.footprint).collect();
            tokio::task::spawn_blocking(move || {
                pvs_raster::draw::outlines(&footprints, &view, OUTLINE_COLOUR, 2)
                    .map_err(RenderError::Raster)
            })
            .await
        } else {
            let sources = self.sources(&products)?;
            let style = layer.style(self).clone();
            tokio::task::spawn_blocking(move || {
                mosaic(&sources, &view, &style).map_err(RenderError::Raster)
            })
            .await
        };
        drawn.map_err(RenderError::Stopped)?.map(Some)
    }

    /// What `layer` stands for, or [`RenderError::UnknownLayer`].
    async fn layer(&self, layer: &MapLayer) -> Result<Layer, RenderError> {
        match layer {
            MapLayer::Named(name) => Layer::resolve(self, name).await,
            MapLayer::Collection { name, outlines } => match self.catalog.collection(name).await {
                Ok(Some(_)) if *outlines => Ok(Layer::Outlines(name.clone())),
                Ok(Some(_)) => Ok(Layer::Collection(name.clone())),
                Ok(None) | Err(CatalogError::Invalid { .. }) => {
                    Err(RenderError::UnknownLayer(layer.name()))
                }
                Err(e) => Err(RenderError::Catalog(e)),
            },
        }
    }

    async fn search(&self, query: ProductQuery) -> Result<Vec<Product>, RenderError> {
        self.catalog
            .search(&query)
            .await
            .map_err(RenderError::Catalog)
    }

    /// The products' COGs (GDAL paths), each to be drawn only inside its footprint.
    fn sources(&self, products: &[Product]) -> Result<Vec<MosaicSource>, RenderError> {
        products
            .iter()
            .map(|product| {
                product
                    .location
                    .parse()
                    .ok()
                    .and_then(|key| self.storage.gdal_path(&key))
                    .map(|path| MosaicSource::new(path, product.footprint.clone()))
                    .ok_or_else(|| RenderError::Location {
                        id: product.id.clone(),
                        location: product.location.clone(),
                    })
            })
            .collect()
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
