//! The pvs renderer: WMS 1.1.1 and 1.3.0 (`GetCapabilities`, `GetMap`, `GetFeatureInfo`;
//! collection, outlines and product layers, mosaicking the COGs newest on top with GDAL) and
//! WCS 2.0.1 / EO-WCS on `/ows`. See `docs/renderer.md` and `docs/wcs.md`; OpenSearch, served
//! beside it, is `pvs-opensearch`.
//!
//! Each request is read into a typed value before the catalog or a COG is looked at:
//! [`GetMap`], [`FeatureInfoRequest`], [`LegendRequest`] and [`WcsRequest`] (their `parse`
//! answers the OGC exception naming the parameter at fault).

#![forbid(unsafe_code)]

pub mod draw;
mod info;
mod layers;
mod legend;
mod overview;
pub mod params;
mod wcs;
mod wms;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::RawQuery;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use pvs_access::http::{ReadView, Reader};
use pvs_catalog::Catalog;
use pvs_raster::expression::Expression;
use pvs_raster::style::Style;
use pvs_service::public_url::{BaseUrl, PublicUrl};
use pvs_storage::Storage;

pub use draw::{MapLayer, MapRequest, RenderError};
pub use info::FeatureInfoRequest;
pub use legend::LegendRequest;
pub use overview::{MAX_OVERVIEW_ZOOM, OverviewSettings};
pub use wcs::{
    Bound, CoverageRequest, EoCoverageSet, EoFilter, Scale, Sections, Subset, WcsRequest,
    decode_id, encode_id,
};
pub use wms::{Exceptions, GetMap, capabilities};

/// Limits and defaults of the renderer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest `WIDTH` and `HEIGHT`.
    pub max_size: usize,
    /// Most products drawn into one image (the newest ones).
    pub max_products: u32,
    /// Title of the service in the capabilities.
    pub title: String,
    /// How each collection is drawn (by collection name): its default style and browse
    /// types; others are drawn as stored, without browse types.
    pub styles: BTreeMap<String, Looks>,
    /// Products listed as layers of their own in the capabilities, per collection (the
    /// newest); any product can be asked for by its id.
    pub listed_products: u32,
    /// Most maps and coverages rendered at once (each holds its warp's buffers); further
    /// requests wait their turn. Default: twice the number of cores.
    pub concurrent_renders: usize,
    /// Size of GDAL's block cache in MiB (process-wide, set by [`Renderer::new`]): decoded
    /// tiles of the COGs, kept between requests while their datasets stay open.
    pub block_cache_mib: usize,
    /// How documents name the service (`PUBLIC_URL`, else the request's proxy headers and
    /// `Host`).
    pub public_url: PublicUrl,
    /// Overview mosaics for maps of wide areas (see `docs/renderer.md`); `None`: every map
    /// is drawn from the products (at most [`Settings::max_products`] of them).
    pub overviews: Option<OverviewSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_size: 4096,
            max_products: 200,
            title: "pvs View Server".to_owned(),
            styles: BTreeMap::new(),
            listed_products: 100,
            concurrent_renders: 2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            block_cache_mib: 32,
            public_url: PublicUrl::default(),
            overviews: None,
        }
    }
}

/// How one collection is drawn: its default style, its browse types (each the layer
/// `<collection>__<name>`), the names of its bands (for `dim_bands`) and its mask types.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Looks {
    /// The collection's own layer.
    pub default: Style,
    /// Browse types by name.
    pub browses: BTreeMap<String, Style>,
    /// The stored bands' names, in order (bands are also `b1`, `b2`...).
    pub band_names: Vec<String>,
    /// Mask types by name.
    pub masks: BTreeMap<String, pvs_model::MaskType>,
}

impl Looks {
    /// The band number (1-based) of a band name.
    pub fn band_number(&self, name: &str) -> Option<usize> {
        pvs_model::band_number(&self.band_names, name)
    }

    /// A band expression over this collection's bands.
    pub fn expression(&self, text: &str) -> Result<Expression, String> {
        Expression::parse(text, &|name| self.band_number(name)).map_err(|e| e.to_string())
    }
}

/// The looks of the configured collections (`[collections.NAME.render]`,
/// `[collections.NAME.browses.*]`), for [`Settings::styles`]; collections drawn as stored
/// without browse types are left out. Every band expression is parsed here: a bad one is an
/// error naming the collection and browse type.
pub fn styles(collections: &pvs_model::Collections) -> Result<BTreeMap<String, Looks>, String> {
    let mut styles = BTreeMap::new();
    for (name, config) in &collections.collections {
        let render = &config.render;
        let colormap = |name: Option<&str>| {
            name.map(str::parse::<pvs_raster::style::Colormap>)
                .transpose()
        };
        let rendered = colormap(render.colormap.as_deref())
            .and_then(|colormap| Style::new(render.bands.clone(), render.rescale, colormap))
            .map_err(|e| format!("[collections.{name}.render] {e}"))?;
        let mut looks = Looks {
            default: rendered,
            browses: BTreeMap::new(),
            band_names: config.band_names.clone(),
            masks: config.masks.clone(),
        };
        for (browse_name, browse) in &config.browses {
            let at = |e: String| format!("[collections.{name}.browses.{browse_name}] {e}");
            let channels = browse
                .channels()?
                .into_iter()
                .map(|text| looks.expression(text))
                .collect::<Result<Vec<_>, _>>()
                .map_err(at)?;
            let style = colormap(browse.colormap.as_deref())
                .and_then(|colormap| {
                    Style::of_channels(
                        Some(channels),
                        browse.ranges.clone(),
                        browse.nodata,
                        colormap,
                    )
                })
                .map_err(at)?;
            looks.browses.insert(browse_name.clone(), style);
        }
        if let Some(default) = &config.default_browse {
            looks.default = looks.browses[default].clone();
        }
        if looks != Looks::default() {
            styles.insert(name.clone(), looks);
        }
    }
    Ok(styles)
}

/// The renderer: the catalog to find products, the storage their COGs are on.
pub struct Renderer {
    catalog: Arc<dyn Catalog>,
    shared: Arc<Shared>,
}

/// What every view of a renderer shares ([`ReadView`]): all but the catalog.
struct Shared {
    storage: Storage,
    settings: Settings,
    renders: tokio::sync::Semaphore,
    overviews: Option<overview::Overviews>,
}

/// A renderer that finds products through what one reader may see of the catalog, sharing
/// everything else (GDAL's datasets, the overview mosaics, the turns to render) with the
/// renderer it comes from. The overview mosaics are painted from every product of a
/// collection; a reader who may read the collection sees all of them, and one who may not
/// never reaches its layers.
impl ReadView for Renderer {
    fn for_reader(&self, readable: &pvs_access::Readable) -> Self {
        Self {
            catalog: readable.view(&self.catalog),
            shared: self.shared.clone(),
        }
    }
}

impl Renderer {
    /// A renderer reading COGs from `storage`: GDAL is configured with the storage's
    /// endpoint and credentials, and its block cache with [`Settings::block_cache_mib`]
    /// (process-wide GDAL configuration).
    pub fn new(catalog: Arc<dyn Catalog>, storage: Storage, settings: Settings) -> Self {
        for (key, value) in storage.gdal_config() {
            let _ = gdal::config::set_config_option(&key, &value);
        }
        pvs_raster::set_block_cache(settings.block_cache_mib << 20);
        let overviews = settings.overviews.as_ref().and_then(|overviews| {
            overview::Overviews::new(overviews)
                .inspect_err(|error| {
                    tracing::error!(
                        %error,
                        dir = ?overviews.dir,
                        "cannot make the overview folder: wide maps are drawn from the products"
                    )
                })
                .ok()
        });
        Self {
            catalog,
            shared: Arc::new(Shared {
                overviews,
                storage,
                renders: tokio::sync::Semaphore::new(settings.concurrent_renders.max(1)),
                settings,
            }),
        }
    }

    /// Answers `GET /ows?{query}` (WMS, or WCS when `SERVICE=WCS`) in this process, as the
    /// HTTP endpoint would; `base` is the public base URL the capabilities documents name.
    pub async fn ows(&self, base: &BaseUrl, query: &str) -> Response {
        if is_wcs(query) {
            wcs::dispatch(self, base, query).await
        } else {
            wms::dispatch(self, base, query).await
        }
    }

    /// A turn to render (see [`Settings::concurrent_renders`]).
    pub(crate) async fn render_permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.shared
            .renders
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }
}

/// `GET /ows` (WMS, and WCS when `SERVICE=WCS`).
pub fn routes(renderer: Arc<Renderer>) -> Router {
    Router::new().route("/ows", get(ows)).with_state(renderer)
}

/// Whether the query string asks for `SERVICE=WCS` (read as every KVP parameter is,
/// [`pvs_ogc::Params`]).
fn is_wcs(query: &str) -> bool {
    pvs_ogc::Params::parse(query)
        .get("service")
        .is_some_and(|service| service.eq_ignore_ascii_case("WCS"))
}

async fn ows(
    Reader(renderer): Reader<Renderer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let base = renderer.shared.settings.public_url.resolve(&headers);
    renderer.ows(&base, query.as_deref().unwrap_or("")).await
}
