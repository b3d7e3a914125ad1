//! The pvs OpenSearch service: OpenSearch 1.1 with the Geo and Time extensions
//! (OGC 10-032r8) and the EO extension (OGC 13-026r9), as EOxServer serves it: a two-step
//! search over the product catalog. It never draws: its results link to the renderer's WMS
//! GetMap and WCS GetCoverage on `/ows` of the same public address.
//!
//! - `GET /opensearch`: the description document of the collection search;
//!   `GET /opensearch/{format}` searches the collections (`atom`, `geojson`, `json`, `rss`,
//!   `kml`, `html`).
//! - `GET /opensearch/collections/{collection}`: the description document of the search of
//!   that collection's products; `GET /opensearch/collections/{collection}/{format}`
//!   searches them.
//!
//! Parameters are parsed in `request` ([`SearchRequest::parse`]; the `geom` WKT with geozero
//! in `geometry`, [`parse_wkt`]; the EO parameters in `eo`), answers written by `atom`, `rss`, `kml`, `html` and `geojson`; see
//! `docs/opensearch.md`.

#![forbid(unsafe_code)]

mod atom;
mod description;
mod eo;
mod geojson;
mod geometry;
mod html;
mod kml;
mod request;
mod rss;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use geo::{BoundingRect, Intersects, Rect};
use pvs_access::http::Reader;
use pvs_catalog::{
    Bbox, Catalog, CatalogError, CollectionInfo, MAX_LIMIT, Product, ProductQuery, SpatialRelation,
};
use pvs_ogc::{Exception, Report};
use pvs_service::http::respond;
use pvs_service::public_url::PublicUrl;

pub use geometry::{MAX_WKT_POINTS, Wkt, parse_wkt};
pub use request::{Param, Region, SearchRequest, Target};

/// The most products a `LINESTRING` search may have to look at (those whose footprint meets
/// the line's box); the line is then tested against each footprint.
const MAX_LINE_CANDIDATES: u64 = MAX_LIMIT as u64;

/// What the OpenSearch endpoints need: the catalog they search and how their answers name
/// the service and its maps.
#[derive(Clone)]
pub struct OpenSearch {
    /// The catalog searched.
    pub catalog: Arc<dyn Catalog>,
    /// The service title (description documents and feeds).
    pub title: String,
    /// The renderer's largest WMS `WIDTH`/`HEIGHT`: the results' GetMap links ask for no
    /// more.
    pub wms_max_size: usize,
    /// How the answers name the service (`PUBLIC_URL`, else the request's proxy headers and
    /// `Host`).
    pub public_url: PublicUrl,
    /// How requests are read where OpenSearch and EOxServer differ.
    pub conventions: Conventions,
}

/// How requests are read where OpenSearch and EOxServer differ: EOxServer's clients page
/// from 0 and give `r` in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conventions {
    /// The `startIndex` of the first result: 1 (OpenSearch's default) or 0 (EOxServer's);
    /// advertised as the templates' `indexOffset`.
    pub index_offset: IndexOffset,
    /// The unit of `radius` (also `r`).
    pub radius: RadiusUnit,
}

impl Default for Conventions {
    /// OpenSearch's: `startIndex` from 1, `radius` in metres.
    fn default() -> Self {
        Self {
            index_offset: IndexOffset::One,
            radius: RadiusUnit::Metres,
        }
    }
}

/// The `startIndex` of the first result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOffset {
    /// 0, as EOxServer counts.
    Zero,
    /// 1, OpenSearch 1.1's default.
    One,
}

impl IndexOffset {
    /// 0 or 1.
    pub fn value(self) -> u64 {
        match self {
            IndexOffset::Zero => 0,
            IndexOffset::One => 1,
        }
    }
}

/// The unit of a search radius.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadiusUnit {
    /// Metres on the ground, as the Geo extension says.
    Metres,
    /// Degrees of arc of a great circle (111,195 m each), as EOxServer's clients give `r`.
    Degrees,
}

impl pvs_access::http::ReadView for OpenSearch {
    fn for_reader(&self, readable: &pvs_access::Readable) -> Self {
        Self {
            catalog: readable.view(&self.catalog),
            ..self.clone()
        }
    }
}

/// The OpenSearch routes under `/opensearch` (see the crate documentation), each also with a
/// trailing slash as EOxServer serves them (`/opensearch/collections/S2/atom/`).
pub fn routes(state: Arc<OpenSearch>) -> Router {
    Router::new()
        .route("/opensearch", get(collections_description))
        .route("/opensearch/", get(collections_description))
        .route("/opensearch/{format}", get(collections_search))
        .route("/opensearch/{format}/", get(collections_search))
        .route(
            "/opensearch/collections/{collection}",
            get(products_description),
        )
        .route(
            "/opensearch/collections/{collection}/",
            get(products_description),
        )
        .route(
            "/opensearch/collections/{collection}/{format}",
            get(products_search),
        )
        .route(
            "/opensearch/collections/{collection}/{format}/",
            get(products_search),
        )
        .with_state(state)
}

/// The encodings of search results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `atom`: `application/atom+xml`.
    Atom,
    /// `geojson`: `application/geo+json`.
    GeoJson,
    /// `json`: the same GeoJSON as `application/json`.
    Json,
    /// `rss`: `application/rss+xml` (RSS 2.0).
    Rss,
    /// `kml`: `application/vnd.google-earth.kml+xml` (KML 2.2).
    Kml,
    /// `html`: `text/html` (HTML5).
    Html,
}

impl Format {
    pub(crate) const ALL: [Format; 6] = [
        Format::Atom,
        Format::GeoJson,
        Format::Json,
        Format::Rss,
        Format::Kml,
        Format::Html,
    ];

    /// The path segment.
    pub(crate) fn segment(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::GeoJson => "geojson",
            Format::Json => "json",
            Format::Rss => "rss",
            Format::Kml => "kml",
            Format::Html => "html",
        }
    }

    /// The media type.
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml",
            Format::GeoJson => "application/geo+json",
            Format::Json => "application/json",
            Format::Rss => "application/rss+xml",
            Format::Kml => "application/vnd.google-earth.kml+xml",
            Format::Html => "text/html",
        }
    }

    fn parse(segment: &str) -> Result<Self, Exception> {
        Self::ALL
            .into_iter()
            .find(|f| f.segment() == segment)
            .ok_or_else(|| {
                Exception::new(
                    "NotFound",
                    "format",
                    format!(
                        "no search format {segment:?}; use atom, geojson, json, rss, kml or html"
                    ),
                )
            })
    }
}

/// Where the answer is written from: the service's address, the search and its format.
pub(crate) struct Context {
    /// The public base URL (`pvs_service::public_url`), without a trailing slash.
    pub base: String,
    /// The service title.
    pub title: String,
    /// The collection searched for products, or `None` for the collection search.
    pub collection: Option<String>,
    pub format: Format,
    /// Largest WMS `WIDTH`/`HEIGHT` (for the GetMap links).
    pub max_size: usize,
    /// How requests are read (advertised in the description documents).
    pub conventions: Conventions,
}

impl Context {
    fn new(
        state: &OpenSearch,
        headers: &HeaderMap,
        collection: Option<String>,
        format: Format,
    ) -> Self {
        Self {
            base: state.public_url.resolve(headers).to_string(),
            title: state.title.clone(),
            collection,
            format,
            max_size: state.wms_max_size,
            conventions: state.conventions,
        }
    }

    /// The path of this search's description document.
    pub(crate) fn description_url(&self) -> String {
        match &self.collection {
            None => format!("{}/opensearch", self.base),
            Some(collection) => format!("{}/opensearch/collections/{collection}", self.base),
        }
    }

    /// The results URL of this search in `format`, without a query.
    pub(crate) fn results_url(&self, format: Format) -> String {
        format!("{}/{}", self.description_url(), format.segment())
    }

    /// The results URL in `format` with the request's parameters, the page starting after
    /// `offset` results when given (`startIndex` in the request's convention, `startPage`
    /// dropped).
    pub(crate) fn page_url(
        &self,
        format: Format,
        request: &SearchRequest,
        offset: Option<u64>,
    ) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (param, value) in &request.given {
            if offset.is_some() && matches!(param.name, "startIndex" | "startPage") {
                continue;
            }
            query.append_pair(param.name, value);
        }
        if let Some(offset) = offset {
            query.append_pair("startIndex", &request.start_index_of(offset).to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            self.results_url(format)
        } else {
            format!("{}?{query}", self.results_url(format))
        }
    }

    /// The URL of the product `id` alone (a search by `uid`) in `format`.
    pub(crate) fn product_url(&self, collection: &str, id: &str, format: Format) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("uid", id)
            .finish();
        format!(
            "{}/opensearch/collections/{collection}/{}?{query}",
            self.base,
            format.segment()
        )
    }

    /// A WMS 1.3.0 GetMap of `collection` over `rect` (CRS:84), PNG, at most 512 pixels on
    /// its long side, for the interval `begin/end` when given.
    pub(crate) fn get_map_url(
        &self,
        collection: &str,
        rect: Rect<f64>,
        time: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> String {
        let time = time.map(|(begin, end)| format!("{}/{}", iso(begin), iso(end)));
        pvs_ogc::getmap::url(
            &format!("{}/ows", self.base),
            collection,
            [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
            512.min(self.max_size),
            time.as_deref(),
        )
    }

    /// A WCS 2.0.1 GetCoverage of the product `id`.
    pub(crate) fn get_coverage_url(&self, id: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("service", "WCS")
            .append_pair("version", "2.0.1")
            .append_pair("request", "GetCoverage")
            .append_pair("coverageId", id)
            .finish();
        format!("{}/ows?{query}", self.base)
    }
}

/// The paging of a page of results: the offsets (results skipped) of the pages around it.
pub(crate) struct Paging {
    pub total: u64,
    pub first: u64,
    pub previous: Option<u64>,
    pub next: Option<u64>,
    pub last: u64,
}

impl Paging {
    fn new(request: &SearchRequest, total: u64) -> Self {
        let count = u64::from(request.count);
        let offset = request.offset;
        Paging {
            total,
            first: 0,
            previous: (offset > 0).then(|| offset.saturating_sub(count)),
            next: (offset + count < total).then(|| offset + count),
            last: if total == 0 {
                0
            } else {
                (total - 1) / count * count
            },
        }
    }
}

/// What a search found: one page of products or of collections.
pub(crate) enum Items {
    Products(Vec<Product>),
    Collections(Vec<CollectionInfo>),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::Products(items) => items.len(),
            Items::Collections(items) => items.len(),
        }
    }

    /// The items written one after the other, each by `product` or `collection` (an XML
    /// entry or item).
    pub(crate) fn render(
        &self,
        product: impl Fn(&Product) -> String,
        collection: impl Fn(&CollectionInfo) -> String,
    ) -> String {
        match self {
            Items::Products(items) => items.iter().map(product).collect(),
            Items::Collections(items) => items.iter().map(collection).collect(),
        }
    }
}

/// An instant as RFC 3339 in UTC with `Z` (fraction digits only when needed).
pub(crate) fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The error as an OWS 2.0 `ExceptionReport` (XML answers) or a JSON object (JSON answers),
/// with the parameter as locator.
fn error_response(error: &Exception, json: bool) -> Response {
    if json {
        let body = serde_json::json!({
            "error": {
                "code": error.code,
                "parameter": error.locator,
                "message": error.message,
            }
        });
        return respond(
            error.status,
            "application/json",
            body.to_string().into_bytes(),
        );
    }
    let report = Report::Ows20;
    respond(
        report.status(error),
        report.content_type(),
        report.document(error).into_bytes(),
    )
}

fn catalog_error(error: CatalogError) -> Exception {
    match error {
        CatalogError::Invalid { what, reason } => Exception::invalid(
            "geom",
            format!("the catalog refused the search ({what}): {reason}"),
        ),
        other => Exception::server(format!("the catalog: {other}")),
    }
}

/// Checks that `collection` exists.
async fn check_collection(state: &OpenSearch, collection: &str) -> Result<(), Exception> {
    match state.catalog.collection(collection).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Exception::new(
            "NotFound",
            "collection",
            format!("no collection {collection:?}"),
        )),
        Err(e) => Err(Exception::server(format!("the catalog: {e}"))),
    }
}

async fn collections_description(
    Reader(state): Reader<OpenSearch>,
    headers: HeaderMap,
) -> Response {
    let context = Context::new(&state, &headers, None, Format::Atom);
    description_response(&context, Target::Collections)
}

async fn products_description(
    Reader(state): Reader<OpenSearch>,
    headers: HeaderMap,
    Path(collection): Path<String>,
) -> Response {
    if let Err(error) = check_collection(&state, &collection).await {
        return error_response(&error, false);
    }
    let context = Context::new(&state, &headers, Some(collection), Format::Atom);
    description_response(&context, Target::Products)
}

/// The OpenSearch description document of the `target` search.
fn description_response(context: &Context, target: Target) -> Response {
    let xml = description::document(context, target);
    respond(
        StatusCode::OK,
        "application/opensearchdescription+xml",
        xml.into_bytes(),
    )
}

async fn collections_search(
    Reader(state): Reader<OpenSearch>,
    headers: HeaderMap,
    Path(format): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let format = match Format::parse(&format) {
        Ok(format) => format,
        Err(error) => return error_response(&error, false),
    };
    let context = Context::new(&state, &headers, None, format);
    let outcome = async {
        let request = SearchRequest::parse(
            query.as_deref().unwrap_or(""),
            Target::Collections,
            state.conventions,
        )?;
        let (total, items) = search_collections(&state, &request).await?;
        Ok::<_, Exception>((request, total, items))
    }
    .await;
    answer(&context, outcome)
}

async fn products_search(
    Reader(state): Reader<OpenSearch>,
    headers: HeaderMap,
    Path((collection, format)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let format = match Format::parse(&format) {
        Ok(format) => format,
        Err(error) => return error_response(&error, false),
    };
    let context = Context::new(&state, &headers, Some(collection.clone()), format);
    let outcome = async {
        let request = SearchRequest::parse(
            query.as_deref().unwrap_or(""),
            Target::Products,
            state.conventions,
        )?;
        check_collection(&state, &collection).await?;
        let (total, items) = search_products(&state, &collection, &request).await?;
        Ok::<_, Exception>((request, total, Items::Products(items)))
    }
    .await;
    answer(&context, outcome)
}

/// Writes the page of results in the context's format, or the error.
fn answer(context: &Context, outcome: Result<(SearchRequest, u64, Items), Exception>) -> Response {
    let json = matches!(context.format, Format::GeoJson | Format::Json);
    match outcome {
        Ok((request, total, items)) => {
            let paging = Paging::new(&request, total);
            let body = match context.format {
                Format::Atom => atom::feed(context, &request, &paging, &items).into_bytes(),
                Format::Rss => rss::channel(context, &request, &paging, &items).into_bytes(),
                Format::Kml => kml::document(context, &request, &paging, &items).into_bytes(),
                Format::Html => html::page(context, &request, &paging, &items).into_bytes(),
                Format::GeoJson | Format::Json => {
                    geojson::feature_collection(context, &request, &paging, &items)
                        .to_string()
                        .into_bytes()
                }
            };
            respond(StatusCode::OK, context.format.media_type(), body)
        }
        Err(error) => error_response(&error, json),
    }
}

/// The page of products of `collection` the request asks for, and how many match.
async fn search_products(
    state: &OpenSearch,
    collection: &str,
    request: &SearchRequest,
) -> Result<(u64, Vec<Product>), Exception> {
    let mut query = ProductQuery::new()
        .with_collection(collection)
        .with_spatial_relation(request.georel);
    if let Some(time) = request.time {
        query = query.with_time(time);
    }
    if let Some(uid) = &request.uid {
        query = query.with_ids([uid.clone()]);
    }
    if let Some(filter) = &request.filter {
        query = query.with_filter(filter.clone());
    }
    let point_box = |x: f64, y: f64, x2: f64, y2: f64| {
        Bbox::new(x, y, x2, y2).map_err(|e| Exception::invalid("geom", e.to_string()))
    };
    let line = match &request.region {
        None => None,
        Some(Region::Box(bbox)) => {
            query = query.with_bbox(*bbox);
            None
        }
        Some(Region::Point(point)) => {
            query = query.with_bbox(point_box(point.x(), point.y(), point.x(), point.y())?);
            None
        }
        Some(Region::Area(area)) => {
            query = query.with_geometry(area.clone());
            None
        }
        Some(Region::Line(line)) => {
            let rect = line
                .bounding_rect()
                .ok_or_else(|| Exception::invalid("geom", "geom: the line is empty"))?;
            query = query.with_bbox(point_box(
                rect.min().x,
                rect.min().y,
                rect.max().x,
                rect.max().y,
            )?);
            Some(line)
        }
    };
    let count = request.count;
    let offset = request.offset;
    let Some(line) = line else {
        let page = query.with_limit(count).with_offset(offset);
        let (items, total) = state
            .catalog
            .search_counted(&page)
            .await
            .map_err(catalog_error)?;
        return Ok((total, items));
    };
    // The catalog finds footprints by box or polygon; a line is tested here against the
    // footprints that meet its box.
    let candidates = state.catalog.count(&query).await.map_err(catalog_error)?;
    if candidates > MAX_LINE_CANDIDATES {
        return Err(Exception::invalid(
            "geom",
            format!(
                "geom: {candidates} products meet the LINESTRING's box, more than the \
                 {MAX_LINE_CANDIDATES} a line search looks at; narrow the search"
            ),
        ));
    }
    let all = state
        .catalog
        .search(&query.with_limit(MAX_LIMIT))
        .await
        .map_err(catalog_error)?;
    let matching: Vec<Product> = all
        .into_iter()
        .filter(|product| line.intersects(&product.footprint))
        .collect();
    let total = matching.len() as u64;
    let items = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(count as usize)
        .collect();
    Ok((total, items))
}

/// The page of collections the request asks for, and how many match. Collections without
/// products have no extent and no times: a spatial or time filter leaves them out.
async fn search_collections(
    state: &OpenSearch,
    request: &SearchRequest,
) -> Result<(u64, Items), Exception> {
    let all = state
        .catalog
        .collections()
        .await
        .map_err(|e| Exception::server(format!("the catalog: {e}")))?;
    let terms = request.terms.as_ref().map(|t| t.to_lowercase());
    let matching: Vec<CollectionInfo> = all
        .into_iter()
        .filter(|info| {
            let name = &info.collection.name;
            if let Some(terms) = &terms
                && !name.to_lowercase().contains(terms.as_str())
            {
                return false;
            }
            if let Some(uid) = &request.uid
                && uid != name
            {
                return false;
            }
            if let Some(product_type) = &request.product_type
                && info.collection.product_type.as_deref() != Some(product_type.as_str())
            {
                return false;
            }
            if let Some(region) = &request.region {
                let Some(bbox) = info.bbox else {
                    return false;
                };
                if !region_relates(region, request.georel, &bbox) {
                    return false;
                }
            }
            if let Some(time) = &request.time {
                let (Some(begin), Some(end)) = (info.begin, info.end) else {
                    return false;
                };
                if !time.matches(begin, end) {
                    return false;
                }
            }
            true
        })
        .collect();
    let total = matching.len() as u64;
    let items = matching
        .into_iter()
        .skip(usize::try_from(request.offset).unwrap_or(usize::MAX))
        .take(request.count as usize)
        .collect();
    Ok((total, Items::Collections(items)))
}

/// Whether a collection's extent `extent` has the relation `georel` with the search region.
fn region_relates(region: &Region, georel: SpatialRelation, extent: &Bbox) -> bool {
    let meets = || {
        extent.parts().iter().any(|rect| match region {
            Region::Box(bbox) => bbox.parts().iter().any(|part| part.intersects(rect)),
            Region::Area(area) => area.intersects(rect),
            Region::Point(point) => rect.intersects(point),
            Region::Line(line) => line.intersects(rect),
        })
    };
    match georel {
        SpatialRelation::Intersects => meets(),
        SpatialRelation::Disjoint => !meets(),
        SpatialRelation::Within => match region {
            Region::Box(bbox) => bbox.relates(georel, &extent.area()),
            Region::Area(area) => georel.matches(&extent.area(), area),
            // An extent with an area is not within a point or a line.
            Region::Point(_) | Region::Line(_) => false,
        },
    }
}

/// The box of a product's footprint: a footprint split at the antimeridian spans every
/// longitude here (WMS boxes cannot cross it).
pub(crate) fn product_rect(product: &Product) -> Rect<f64> {
    product
        .footprint
        .bounding_rect()
        .unwrap_or_else(|| Rect::new((-180.0, -90.0), (180.0, 90.0)))
}

/// The box of a collection's extent, if it has products.
pub(crate) fn collection_rect(info: &CollectionInfo) -> Option<Rect<f64>> {
    info.bbox.map(|b| {
        let (west, east) = if b.crosses_antimeridian() {
            (-180.0, 180.0)
        } else {
            (b.west(), b.east())
        };
        Rect::new((west, b.south()), (east, b.north()))
    })
}
