//! WCS 2.0.1 with the core of the Earth Observation Application Profile (EO-WCS, OGC
//! 10-140r1), KVP GET only: `GetCapabilities`, `DescribeCoverage`, `DescribeEOCoverageSet`
//! and `GetCoverage` (GeoTIFF). A collection is a dataset series, a product a rectified
//! dataset (a coverage) whose CoverageId is its id, escaped into an XML NCName where needed
//! ([`request::encode_id`]). See `docs/wcs.md`.

mod request;
mod xml;

use std::collections::HashSet;

use axum::http::{StatusCode, header};
use axum::response::Response;
use geo::{Contains, Intersects};
use pvs_catalog::{Bbox, CollectionInfo, Product, ProductQuery, TimeFilter, TimeRelation};
use pvs_raster::coverage::{self, Extract, ExtractError, Grid, Window};

use crate::Renderer;
use crate::layers::product_by_id;
use pvs_ogc::exception::clip as shown;
use pvs_ogc::limits::{MAX_QUERY_BYTES, check};
use pvs_ogc::{Exception, Params, Report};
use pvs_service::http::respond;
use pvs_service::public_url::BaseUrl;
pub use request::{Bound, Subset, decode_id, encode_id};
pub use xml::Sections;

use request::{Axis, axis_of};
use xml::Axes;

/// Why a request failed: the client's fault (an exception with the code's status) or the
/// server's (`NoApplicableCode`, 500).
#[derive(Debug)]
enum Failure {
    Client(Exception),
    Server(String),
}

impl From<Exception> for Failure {
    fn from(error: Exception) -> Self {
        Failure::Client(error)
    }
}

type Outcome = Result<Response, Failure>;

pub(crate) async fn dispatch(renderer: &Renderer, base: &BaseUrl, query: &str) -> Response {
    match handle(renderer, base, query).await {
        Ok(response) => response,
        Err(Failure::Client(error)) => exception(&error),
        Err(Failure::Server(message)) => {
            tracing::error!(error = message, "WCS request failed");
            exception(&Exception::server(message))
        }
    }
}

async fn handle(renderer: &Renderer, base: &BaseUrl, query: &str) -> Outcome {
    check("query string", query.len(), MAX_QUERY_BYTES)?;
    match WcsRequest::parse(&Params::parse(query))? {
        WcsRequest::GetCapabilities(sections) => get_capabilities(renderer, base, sections).await,
        WcsRequest::DescribeCoverage(ids) => describe_coverage(renderer, &ids).await,
        WcsRequest::DescribeEoCoverageSet(request) => {
            describe_eo_coverage_set(renderer, &request).await
        }
        WcsRequest::GetCoverage(request) => get_coverage(renderer, request).await,
    }
}

/// A checked WCS 2.0.1 KVP request: what [`WcsRequest::parse`] reads before the catalog or a
/// COG is looked at.
#[derive(Debug, Clone, PartialEq)]
pub enum WcsRequest {
    /// `GetCapabilities`, with the sections asked for (`SECTIONS`; default every one).
    GetCapabilities(Sections),
    /// `DescribeCoverage` of these coverage ids (`COVERAGEID`, decoded, each once, in order).
    DescribeCoverage(Vec<String>),
    /// `DescribeEOCoverageSet`.
    DescribeEoCoverageSet(EoCoverageSet),
    /// `GetCoverage`.
    GetCoverage(CoverageRequest),
}

/// A checked `DescribeEOCoverageSet`.
#[derive(Debug, Clone, PartialEq)]
pub struct EoCoverageSet {
    /// The dataset series (collections) and coverages (products) named (`EOID`, decoded).
    pub ids: Vec<String>,
    /// The subsets (`SUBSET`) and `CONTAINMENT`.
    pub filter: EoFilter,
    /// The most descriptions listed (`COUNT`, from 1); `None`: the service's default, which
    /// is also its maximum.
    pub count: Option<u32>,
    /// Whether coverage descriptions are listed (`SECTIONS`).
    pub coverages: bool,
    /// Whether dataset series descriptions are listed (`SECTIONS`).
    pub series: bool,
}

/// A checked `GetCoverage`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRequest {
    /// The coverage id (`COVERAGEID`, decoded).
    pub id: String,
    /// The trims (`SUBSET`), checked against the coverage's axes once its grid is read.
    pub subsets: Vec<Subset>,
    /// The CRS of the subsets (`SUBSETTINGCRS`), an EPSG code.
    pub subsetting_crs: Option<u32>,
    /// The CRS of the coverage returned (`OUTPUTCRS`), an EPSG code.
    pub output_crs: Option<u32>,
    /// How the coverage is scaled (`SCALESIZE` or `SCALEFACTOR`); `None`: not scaled.
    pub scale: Option<Scale>,
}

/// How a coverage is scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// `SCALESIZE`: the size along x, y or both; an axis not given keeps the window's size.
    Size {
        /// Columns.
        x: Option<usize>,
        /// Rows.
        y: Option<usize>,
    },
    /// `SCALEFACTOR`: the window's size divided by this (finite, above 0).
    Factor(f64),
}

impl WcsRequest {
    /// Reads a WCS KVP request: `REQUEST`, `VERSION` (`ACCEPTVERSIONS` of GetCapabilities)
    /// and the parameters of the operation; the exception names the parameter at fault.
    pub fn parse(request: &Params) -> Result<Self, Exception> {
        let operation = request.require("REQUEST")?.to_ascii_lowercase();
        if operation == "getcapabilities" {
            check_accept_versions(request)?;
            if let Some(version) = request.get("version") {
                check_version(version)?;
            }
            return sections(request).map(Self::GetCapabilities);
        }
        check_version(request.require("VERSION")?)?;
        match operation.as_str() {
            "describecoverage" => {
                let ids = request::id_list(request.require("coverageId")?, "coverageId")?;
                // Each coverage once: gml:ids must be unique in the document.
                let mut seen = HashSet::new();
                Ok(Self::DescribeCoverage(
                    ids.into_iter()
                        .filter(|id| seen.insert(id.clone()))
                        .collect(),
                ))
            }
            "describeeocoverageset" => {
                EoCoverageSet::parse(request).map(Self::DescribeEoCoverageSet)
            }
            "getcoverage" => CoverageRequest::parse(request).map(Self::GetCoverage),
            _ => Err(Exception::new(
                "OperationNotSupported",
                request.get("request").unwrap_or_default(),
                format!(
                    "REQUEST {:?}: GetCapabilities, DescribeCoverage, DescribeEOCoverageSet and GetCoverage are served",
                    shown(&operation, 100)
                ),
            )),
        }
    }
}

fn check_version(version: &str) -> Result<(), Exception> {
    if matches!(version, "2.0.1" | "2.0.0") {
        Ok(())
    } else {
        Err(Exception::new(
            "InvalidParameterValue",
            "version",
            format!(
                "VERSION {:?}: this service serves WCS 2.0.1 (2.0.0 is answered as 2.0.1)",
                shown(version, 50)
            ),
        ))
    }
}

fn check_accept_versions(request: &Params) -> Result<(), Exception> {
    let Some(versions) = request.get("acceptversions") else {
        return Ok(());
    };
    if versions
        .split(',')
        .any(|v| matches!(v.trim(), "2.0.1" | "2.0.0"))
    {
        Ok(())
    } else {
        Err(Exception::unlocated(
            "VersionNegotiationFailed",
            format!(
                "ACCEPTVERSIONS {:?} does not include 2.0.1, the version served",
                shown(versions, 100)
            ),
        ))
    }
}

fn xml_response(xml: String) -> Response {
    respond(StatusCode::OK, "application/xml", xml.into_bytes())
}

/// An OWS 2.0 exception report with the status of its code.
fn exception(error: &Exception) -> Response {
    let report = Report::Ows20;
    respond(
        report.status(error),
        report.content_type(),
        report.document(error).into_bytes(),
    )
}

fn catalog_error(e: pvs_catalog::CatalogError) -> Failure {
    Failure::Server(format!("the catalog: {e}"))
}

/// The default and largest `COUNT` of DescribeEOCoverageSet.
fn count_default(renderer: &Renderer) -> u32 {
    renderer.shared.settings.max_products.clamp(1, 100)
}

/// `SECTIONS` of GetCapabilities (default: every section).
fn sections(request: &Params) -> Result<Sections, Exception> {
    let Some(list) = request.get("sections") else {
        return Ok(Sections::all());
    };
    let mut sections = Sections::default();
    for name in list.split(',').map(str::trim) {
        match name.to_ascii_lowercase().as_str() {
            "all" => sections = Sections::all(),
            "serviceidentification" => sections.identification = true,
            "serviceprovider" => sections.provider = true,
            "operationsmetadata" => sections.operations = true,
            "servicemetadata" => sections.metadata = true,
            "contents" => sections.contents = true,
            _ => {
                return Err(Exception::new(
                    "InvalidParameterValue",
                    "sections",
                    format!(
                        "SECTIONS: {:?} is not ServiceIdentification, ServiceProvider, OperationsMetadata, ServiceMetadata, Contents or All",
                        shown(name, 50)
                    ),
                ));
            }
        }
    }
    Ok(sections)
}

async fn get_capabilities(renderer: &Renderer, base: &BaseUrl, sections: Sections) -> Outcome {
    let (products, total, collections) = if sections.contents {
        let query = ProductQuery::new().with_limit(renderer.shared.settings.max_products);
        let products = renderer
            .catalog
            .search(&query)
            .await
            .map_err(catalog_error)?;
        let total = renderer
            .catalog
            .count(&ProductQuery::new())
            .await
            .map_err(catalog_error)?;
        let collections = renderer
            .catalog
            .collections()
            .await
            .map_err(catalog_error)?;
        (products, total, collections)
    } else {
        (Vec::new(), 0, Vec::new())
    };
    let url = format!("{}?", base.join("/ows"));
    Ok(xml_response(xml::capabilities(
        &renderer.shared.settings.title,
        &url,
        sections,
        &xml::Contents {
            products: &products,
            total,
            collections: &collections,
            count_default: count_default(renderer),
        },
    )))
}

/// The GDAL path of a product's COG.
fn gdal_path(renderer: &Renderer, product: &Product) -> Result<String, Failure> {
    product
        .location
        .parse()
        .ok()
        .and_then(|key| renderer.shared.storage.gdal_path(&key))
        .ok_or_else(|| {
            Failure::Server(format!(
                "product {} has no readable location {:?}",
                product.id, product.location
            ))
        })
}

fn axes_of(epsg: u32) -> Result<Axes, Failure> {
    let (labels, units, swapped) = coverage::axes(epsg)
        .map_err(|e| Failure::Server(format!("the axes of EPSG:{epsg}: {e}")))?;
    Ok(Axes {
        labels,
        units,
        swapped,
    })
}

/// Reads the grids of `products` on a blocking thread and writes their descriptions.
async fn describe_products(
    renderer: &Renderer,
    products: Vec<Product>,
) -> Result<Vec<String>, Failure> {
    let paths = products
        .iter()
        .map(|p| gdal_path(renderer, p))
        .collect::<Result<Vec<_>, _>>()?;
    tokio::task::spawn_blocking(move || {
        products
            .iter()
            .zip(paths)
            .map(|(product, path)| {
                let grid = coverage::describe(&path).map_err(|e| {
                    Failure::Server(format!("reading the COG of product {}: {e}", product.id))
                })?;
                Ok(xml::coverage_description(
                    product,
                    &grid,
                    &axes_of(grid.epsg)?,
                ))
            })
            .collect::<Result<Vec<_>, Failure>>()
    })
    .await
    .map_err(|e| Failure::Server(format!("describing coverages stopped: {e}")))?
}

/// The product of a coverage id, or `NoSuchCoverage`.
async fn product_of(renderer: &Renderer, id: &str, locator: &str) -> Result<Product, Failure> {
    product_by_id(renderer, id)
        .await
        .map_err(catalog_error)?
        .ok_or_else(|| {
            Exception::new(
                "NoSuchCoverage",
                locator,
                format!("no coverage {:?}", shown(id, 100)),
            )
            .into()
        })
}

async fn describe_coverage(renderer: &Renderer, ids: &[String]) -> Outcome {
    let mut products = Vec::with_capacity(ids.len());
    for id in ids {
        products.push(product_of(renderer, id, &encode_id(id)).await?);
    }
    let descriptions = describe_products(renderer, products).await?;
    Ok(xml_response(xml::coverage_descriptions(&descriptions)))
}

/// The filters of DescribeEOCoverageSet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EoFilter {
    /// The `Lat` and `Long` (or `y`, `x`) trims: `[west, south, east, north]` in EPSG:4326,
    /// open sides at the world's edges; `None` without either.
    pub bbox: Option<[f64; 4]>,
    /// The `phenomenonTime` trim, open ends at the earliest and latest instants.
    pub time: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    /// Whether products must lie inside the trims (`CONTAINMENT=contains`) rather than
    /// overlap them.
    pub contains: bool,
}

impl EoFilter {
    fn parse(request: &Params) -> Result<Self, Exception> {
        let mut filter = EoFilter {
            contains: match request
                .get("containment")
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("overlaps") => false,
                Some("contains") => true,
                Some(other) => {
                    return Err(Exception::new(
                        "InvalidParameterValue",
                        "containment",
                        format!("CONTAINMENT {:?}: overlaps or contains", shown(other, 50)),
                    ));
                }
            },
            ..EoFilter::default()
        };
        let mut seen = HashSet::new();
        let mut bbox = [-180.0, -90.0, 180.0, 90.0];
        for text in request.all("subset") {
            let subset = Subset::parse(text)?;
            if request::is_time_axis(&subset.axis) {
                if !seen.insert("time") {
                    return Err(repeated_axis(&subset.axis));
                }
                filter.time = Some(time_trim(&subset)?);
                continue;
            }
            let lower = subset.axis.to_ascii_lowercase();
            let Some((axis, _)) = axis_of(&subset.axis)
                .filter(|(_, geographic)| *geographic || lower == "x" || lower == "y")
            else {
                return Err(Exception::new(
                    "InvalidAxisLabel",
                    &subset.axis,
                    format!(
                        "SUBSET axis {:?}: Lat, Long or phenomenonTime",
                        shown(&subset.axis, 50)
                    ),
                ));
            };
            if let Some(crs) = &subset.crs
                && request::crs(crs, "subset")? != 4326
            {
                return Err(Exception::new(
                    "InvalidSubsetting",
                    &subset.axis,
                    "DescribeEOCoverageSet subsets are in EPSG:4326",
                ));
            }
            let (low, high) = subset.numeric_trim()?;
            let (index, limit) = match axis {
                Axis::X => (0, 180.0),
                Axis::Y => (1, 90.0),
            };
            if !seen.insert(if index == 0 { "x" } else { "y" }) {
                return Err(repeated_axis(&subset.axis));
            }
            if low > limit || high < -limit {
                return Err(Exception::new(
                    "InvalidSubsetting",
                    &subset.axis,
                    format!(
                        "SUBSET on axis {}: ({low}, {high}) lies outside [-{limit}, {limit}]",
                        subset.axis
                    ),
                ));
            }
            bbox[index] = low.max(-limit);
            bbox[index + 2] = high.min(limit);
        }
        if seen.contains("x") || seen.contains("y") {
            filter.bbox = Some(bbox);
        }
        Ok(filter)
    }

    /// The catalog query of a collection's products.
    fn query(&self, collection: &str) -> Result<ProductQuery, Exception> {
        let mut query = ProductQuery::new().with_collection(collection);
        if let Some([w, s, e, n]) = self.bbox {
            let bbox = Bbox::new(w, s, e, n)
                .map_err(|e| Exception::new("InvalidSubsetting", "subset", e.to_string()))?;
            query = query.with_bbox(bbox);
        }
        if let Some((start, end)) = self.time {
            let relation = if self.contains {
                TimeRelation::During
            } else {
                TimeRelation::Intersects
            };
            let time = TimeFilter::new(start, end, relation).map_err(|e| {
                Exception::new("InvalidSubsetting", "phenomenonTime", e.to_string())
            })?;
            query = query.with_time(time);
        }
        Ok(query)
    }

    fn rect(&self) -> Option<geo::Rect<f64>> {
        self.bbox.map(|[w, s, e, n]| {
            geo::Rect::new(geo::coord! { x: w, y: s }, geo::coord! { x: e, y: n })
        })
    }

    /// Whether a product passes (the spatial part of `contains` is checked only here).
    fn matches(&self, product: &Product) -> bool {
        let time_ok = self.time.is_none_or(|(start, end)| {
            let relation = if self.contains {
                TimeRelation::During
            } else {
                TimeRelation::Intersects
            };
            TimeFilter::new(start, end, relation)
                .is_ok_and(|f| f.matches(product.begin, product.end))
        });
        let space_ok = self.rect().is_none_or(|rect| {
            if self.contains {
                rect.contains(&product.footprint)
            } else {
                rect.intersects(&product.footprint)
            }
        });
        time_ok && space_ok
    }

    /// Whether a collection's extent passes.
    fn matches_collection(&self, info: &CollectionInfo) -> bool {
        if self.bbox.is_none() && self.time.is_none() {
            return true;
        }
        let (Some(bbox), Some(begin), Some(end)) = (&info.bbox, info.begin, info.end) else {
            return false;
        };
        let extent = geo::Rect::new(
            geo::coord! { x: bbox.west().min(bbox.east()), y: bbox.south() },
            geo::coord! { x: bbox.west().max(bbox.east()), y: bbox.north() },
        );
        let space_ok = self.rect().is_none_or(|rect| {
            if self.contains {
                rect.contains(&extent)
            } else {
                rect.intersects(&extent)
            }
        });
        let time_ok = self.time.is_none_or(|(start, stop)| {
            if self.contains {
                begin >= start && end <= stop
            } else {
                begin <= stop && end >= start
            }
        });
        space_ok && time_ok
    }
}

fn repeated_axis(axis: &str) -> Exception {
    Exception::new(
        "InvalidAxisLabel",
        axis,
        format!("SUBSET axis {:?} is given more than once", shown(axis, 50)),
    )
}

fn time_trim(
    subset: &Subset,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), Exception> {
    let Some(high) = &subset.high else {
        return Err(Exception::new(
            "InvalidSubsetting",
            &subset.axis,
            "a phenomenonTime subset needs two values (\"start\",\"end\"); * for an open end",
        ));
    };
    let bound = |b: &request::Bound, open: chrono::DateTime<chrono::Utc>| match b {
        request::Bound::Open => Ok(open),
        request::Bound::Value(text) => request::time(text, &subset.axis),
    };
    let start = bound(&subset.low, chrono::DateTime::<chrono::Utc>::MIN_UTC)?;
    let end = bound(high, chrono::DateTime::<chrono::Utc>::MAX_UTC)?;
    if start > end {
        return Err(Exception::new(
            "InvalidSubsetting",
            &subset.axis,
            format!(
                "SUBSET on axis {}: the start {} is after the end {}",
                subset.axis,
                xml::iso(start),
                xml::iso(end)
            ),
        ));
    }
    Ok((start, end))
}

impl EoCoverageSet {
    fn parse(request: &Params) -> Result<Self, Exception> {
        let ids = request::id_list(request.require("eoId")?, "eoId")?;
        let filter = EoFilter::parse(request)?;
        let count = request
            .get("count")
            .map(|text| {
                text.parse::<u32>().ok().filter(|c| *c >= 1).ok_or_else(|| {
                    Exception::new(
                        "InvalidParameterValue",
                        "count",
                        format!("COUNT {:?}: a whole number from 1", shown(text, 50)),
                    )
                })
            })
            .transpose()?;
        let Some(list) = request.get("sections") else {
            return Ok(Self {
                ids,
                filter,
                count,
                coverages: true,
                series: true,
            });
        };
        let (mut coverages, mut series) = (false, false);
        for name in list.split(',').map(str::trim) {
            match name.to_ascii_lowercase().as_str() {
                "all" => (coverages, series) = (true, true),
                "coveragedescriptions" => coverages = true,
                "datasetseriesdescriptions" => series = true,
                _ => {
                    return Err(Exception::new(
                        "InvalidParameterValue",
                        "sections",
                        format!(
                            "SECTIONS: {:?} is not CoverageDescriptions, DatasetSeriesDescriptions or All",
                            shown(name, 50)
                        ),
                    ));
                }
            }
        }
        Ok(Self {
            ids,
            filter,
            count,
            coverages,
            series,
        })
    }
}

async fn describe_eo_coverage_set(renderer: &Renderer, request: &EoCoverageSet) -> Outcome {
    let EoCoverageSet {
        ids,
        filter,
        count,
        coverages: want_coverages,
        series: want_series,
    } = request;
    let (want_coverages, want_series) = (*want_coverages, *want_series);
    let max = count_default(renderer);
    let count = count.map_or(max, |count| count.min(max));
    let collections = renderer
        .catalog
        .collections()
        .await
        .map_err(catalog_error)?;
    let mut series: Vec<&CollectionInfo> = Vec::new();
    let mut direct: Vec<Product> = Vec::new();
    for id in ids {
        if let Some(info) = collections.iter().find(|c| &c.collection.name == id) {
            series.push(info);
            continue;
        }
        match product_by_id(renderer, id).await.map_err(catalog_error)? {
            Some(product) => direct.push(product),
            None => {
                return Err(Exception::new(
                    "NoSuchDatasetSeriesOrCoverage",
                    &encode_id(id),
                    format!("no dataset series or coverage {:?}", shown(id, 100)),
                )
                .into());
            }
        }
    }
    // Coverages: the matching products of each series (newest first), then the matching
    // products named directly; each once.
    let mut coverages_matched: u64 = 0;
    let mut chosen: Vec<Product> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for info in &series {
        let query = filter.query(&info.collection.name)?;
        if filter.contains && filter.bbox.is_some() {
            // The catalog finds intersecting footprints: keep the contained ones.
            let found = renderer
                .catalog
                .search(&query.with_limit(pvs_catalog::MAX_LIMIT))
                .await
                .map_err(catalog_error)?;
            for product in found.into_iter().filter(|p| filter.matches(p)) {
                if seen.insert(product.id.clone()) {
                    coverages_matched += 1;
                    chosen.push(product);
                }
            }
        } else {
            coverages_matched += renderer
                .catalog
                .count(&query)
                .await
                .map_err(catalog_error)?;
            let found = renderer
                .catalog
                .search(&query.with_limit(count))
                .await
                .map_err(catalog_error)?;
            for product in found {
                if seen.insert(product.id.clone()) {
                    chosen.push(product);
                } else {
                    // Named twice (two series cannot share a product): counted once.
                    coverages_matched = coverages_matched.saturating_sub(1);
                }
            }
        }
    }
    for product in direct {
        if filter.matches(&product) && seen.insert(product.id.clone()) {
            coverages_matched += 1;
            chosen.push(product);
        }
    }
    let series: Vec<&CollectionInfo> = series
        .into_iter()
        .filter(|info| filter.matches_collection(info))
        .collect();
    let mut matched = 0;
    let mut budget = count as usize;
    let series_xml: Vec<String> = if want_series {
        matched += series.len() as u64;
        let written: Vec<String> = series
            .iter()
            .take(budget)
            .map(|info| xml::dataset_series_description(info))
            .collect();
        budget -= written.len();
        written
    } else {
        Vec::new()
    };
    let coverages_xml = if want_coverages {
        matched += coverages_matched;
        chosen.truncate(budget);
        describe_products(renderer, chosen).await?
    } else {
        Vec::new()
    };
    Ok(xml_response(xml::eo_coverage_set(
        matched,
        want_coverages.then_some(&coverages_xml[..]),
        want_series.then_some(&series_xml[..]),
    )))
}

/// The box `[min x, min y, max x, max y]` of `grid`'s CRS that the subsets select, and the
/// EPSG code of the subsetting CRS.
fn subset_box(
    grid: &Grid,
    subsets: &[Subset],
    subsetting_crs: Option<u32>,
) -> Result<[f64; 4], Failure> {
    let mut trims: [Option<(f64, f64)>; 2] = [None, None];
    let mut geographic_labels = false;
    let mut crs = subsetting_crs;
    for subset in subsets {
        let Some((axis, geographic)) = axis_of(&subset.axis) else {
            return Err(Exception::new(
                "InvalidAxisLabel",
                &subset.axis,
                format!(
                    "SUBSET axis {:?}: the coverage's axes are Lat/Long (or x/y, E/N in its own CRS)",
                    shown(&subset.axis, 50)
                ),
            )
            .into());
        };
        geographic_labels |= geographic;
        if let Some(text) = &subset.crs {
            let epsg = request::crs(text, "subset")?;
            if crs.is_some_and(|c| c != epsg) {
                return Err(Exception::new(
                    "InvalidSubsetting",
                    &subset.axis,
                    "subsets are given in different CRSs",
                )
                .into());
            }
            crs = Some(epsg);
        }
        let index = match axis {
            Axis::X => 0,
            Axis::Y => 1,
        };
        if trims[index].is_some() {
            return Err(repeated_axis(&subset.axis).into());
        }
        trims[index] = Some(subset.numeric_trim()?);
    }
    // Lat/Long without a subsetting CRS on a projected coverage: EPSG:4326 (as EOxServer).
    let crs = crs.unwrap_or(
        if geographic_labels && !coverage::is_geographic(grid.epsg) {
            4326
        } else {
            grid.epsg
        },
    );
    let native = grid.bounds();
    let extent = coverage::transform_bounds(grid.epsg, crs, native).map_err(|e| {
        Exception::new(
            "InvalidSubsetting",
            "subsettingCrs",
            format!("the coverage has no extent in EPSG:{crs}: {e}"),
        )
    })?;
    let mut bbox = extent;
    for (index, trim) in trims.iter().enumerate() {
        let Some((low, high)) = *trim else { continue };
        let (min, max) = (extent[index], extent[index + 2]);
        if high < min || low > max {
            let label = subsets
                .iter()
                .find(|s| axis_of(&s.axis).is_some_and(|(a, _)| (a == Axis::X) == (index == 0)))
                .map_or("subset", |s| s.axis.as_str());
            return Err(Exception::new(
                "InvalidSubsetting",
                label,
                format!(
                    "SUBSET on axis {label}: ({low}, {high}) lies outside the coverage's extent ({min}, {max}) in EPSG:{crs}"
                ),
            )
            .into());
        }
        bbox[index] = low.max(min);
        bbox[index + 2] = high.min(max);
    }
    if crs == grid.epsg {
        return Ok(bbox);
    }
    coverage::transform_bounds(crs, grid.epsg, bbox).map_err(|e| {
        Exception::new(
            "InvalidSubsetting",
            "subset",
            format!("the subset has no extent in the coverage's CRS: {e}"),
        )
        .into()
    })
}

/// `SCALESIZE=axis(n)[,axis(n)]` or `SCALEFACTOR=f` (the size divided by `f`); not both.
fn parse_scale(
    scale_size: Option<&str>,
    scale_factor: Option<&str>,
) -> Result<Option<Scale>, Exception> {
    match (scale_size, scale_factor) {
        (Some(_), Some(_)) => Err(Exception::new(
            "InvalidParameterValue",
            "scaleFactor",
            "SCALESIZE and SCALEFACTOR exclude each other",
        )),
        (None, None) => Ok(None),
        (None, Some(text)) => {
            let factor = text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f > 0.0)
                .ok_or_else(|| {
                    Exception::new(
                        "InvalidScaleFactor",
                        "scaleFactor",
                        format!("SCALEFACTOR {:?}: a number above 0", shown(text, 50)),
                    )
                })?;
            Ok(Some(Scale::Factor(factor)))
        }
        (Some(text), None) => {
            let (mut x, mut y) = (None, None);
            for part in text.split(',') {
                let invalid = |why: &str| {
                    Exception::new(
                        "InvalidParameterValue",
                        "scaleSize",
                        format!(
                            "SCALESIZE {:?}: {why}; axis(size),axis(size) expected",
                            shown(text, 100)
                        ),
                    )
                };
                let (label, rest) = part
                    .trim()
                    .split_once('(')
                    .ok_or_else(|| invalid("no '('"))?;
                let n = rest
                    .strip_suffix(')')
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| invalid("sizes are whole numbers from 1"))?;
                // Axis URIs such as http://www.opengis.net/def/axis/OGC/1/i end with the label.
                let label = label.trim().rsplit('/').next().unwrap_or_default();
                let Some((axis, _)) = axis_of(label) else {
                    return Err(Exception::new(
                        "ScaleAxisUndefined",
                        "scaleSize",
                        format!(
                            "SCALESIZE axis {:?} is not an axis of the coverage",
                            shown(label, 50)
                        ),
                    ));
                };
                let size = match axis {
                    Axis::X => &mut x,
                    Axis::Y => &mut y,
                };
                if size.replace(n).is_some() {
                    return Err(invalid("an axis is given twice"));
                }
            }
            Ok(Some(Scale::Size { x, y }))
        }
    }
}

/// The size a window of `width` × `height` pixels is scaled to; `None`: not scaled.
fn scaled_size(scale: Option<Scale>, width: usize, height: usize) -> Option<(usize, usize)> {
    match scale? {
        Scale::Factor(factor) => {
            let scale = |n: usize| ((n as f64 / factor).round() as usize).max(1);
            Some((scale(width), scale(height)))
        }
        Scale::Size { x, y } => Some((x.unwrap_or(width), y.unwrap_or(height))),
    }
}

impl CoverageRequest {
    fn parse(request: &Params) -> Result<Self, Exception> {
        let ids = request::id_list(request.require("coverageId")?, "coverageId")?;
        let [id] = &ids[..] else {
            return Err(Exception::new(
                "InvalidParameterValue",
                "coverageId",
                "GetCoverage takes one COVERAGEID",
            ));
        };
        if let Some(format) = request.get("format")
            && !format.eq_ignore_ascii_case("image/tiff")
        {
            return Err(Exception::new(
                "InvalidParameterValue",
                "format",
                format!(
                    "FORMAT {:?}: image/tiff is the format served",
                    shown(format, 50)
                ),
            ));
        }
        if let Some(media) = request.get("mediatype") {
            return Err(Exception::new(
                "OptionNotSupported",
                "mediaType",
                format!(
                    "MEDIATYPE {:?}: multipart responses are not served",
                    shown(media, 50)
                ),
            ));
        }
        for option in ["rangesubset", "interpolation", "scaleaxes", "scaleextent"] {
            if request.get(option).is_some() {
                return Err(Exception::new(
                    "OptionNotSupported",
                    option,
                    format!("{} is not supported", option.to_ascii_uppercase()),
                ));
            }
        }
        let subsets = request
            .all("subset")
            .map(Subset::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let subsetting_crs = request
            .get("subsettingcrs")
            .map(|c| request::crs(c, "subsettingCrs"))
            .transpose()?;
        let output_crs = request
            .get("outputcrs")
            .map(|c| request::crs(c, "outputCrs"))
            .transpose()?;
        let scale = parse_scale(request.get("scalesize"), request.get("scalefactor"))?;
        Ok(Self {
            id: id.clone(),
            subsets,
            subsetting_crs,
            output_crs,
            scale,
        })
    }
}

async fn get_coverage(renderer: &Renderer, request: CoverageRequest) -> Outcome {
    let CoverageRequest {
        id,
        subsets,
        subsetting_crs,
        output_crs,
        scale,
    } = request;
    let id = id.as_str();
    let product = product_of(renderer, id, &encode_id(id)).await?;
    let path = gdal_path(renderer, &product)?;
    let max_side = renderer.shared.settings.max_size;
    let gdal_path = path.clone();
    let _permit = renderer.render_permit().await;
    let result = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, Failure> {
        let grid = coverage::describe(&gdal_path)
            .map_err(|e| Failure::Server(format!("reading the COG of the coverage: {e}")))?;
        let window = if subsets.is_empty() {
            Window::all(&grid)
        } else {
            let bbox = subset_box(&grid, &subsets, subsetting_crs)?;
            Window::covering(&grid, bbox).ok_or_else(|| {
                Exception::new(
                    "InvalidSubsetting",
                    "subset",
                    "the subset selects no pixel of the coverage",
                )
            })?
        };
        let size = scaled_size(scale, window.width, window.height);
        if let Some((w, h)) = size
            && (w > max_side || h > max_side)
        {
            return Err(too_large(w, h, max_side).into());
        }
        let extract = Extract {
            window,
            size,
            epsg: output_crs,
        };
        coverage::extract(&gdal_path, &extract, max_side).map_err(|e| match e {
            ExtractError::TooLarge { width, height } => too_large(width, height, max_side).into(),
            ExtractError::Raster(e) => Failure::Server(format!("extracting the coverage: {e}")),
        })
    })
    .await
    .map_err(|e| Failure::Server(format!("extracting the coverage stopped: {e}")))??;
    let mut response = respond(StatusCode::OK, "image/tiff", result);
    if let Ok(value) = format!("inline; filename=\"{}.tif\"", encode_id(id)).parse() {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn too_large(width: usize, height: usize, max: usize) -> Exception {
    Exception::new(
        "InvalidParameterValue",
        "subset",
        format!(
            "the coverage would be {width} × {height} pixels; at most {max} per side are served: trim it with SUBSET or scale it down with SCALESIZE or SCALEFACTOR"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(epsg: u32) -> Grid {
        Grid {
            width: 100,
            height: 100,
            transform: [500_000.0, 10.0, 0.0, 5_000_000.0, 0.0, -10.0],
            epsg,
            bands: vec![],
        }
    }

    #[test]
    fn subsets_in_native_and_geographic_crs() {
        let g = grid(32633);
        let parse = |list: &[&str]| {
            list.iter()
                .map(|s| Subset::parse(s).unwrap())
                .collect::<Vec<_>>()
        };
        let bbox = subset_box(&g, &parse(&["E(500100,500200)", "N(*,4999900)"]), None).unwrap();
        assert_eq!(bbox, [500_100.0, 4_999_000.0, 500_200.0, 4_999_900.0]);
        // Lat/Long on a UTM coverage are EPSG:4326.
        let bbox = subset_box(&g, &parse(&["Lat(45.1,45.15)"]), None).unwrap();
        // 45.1° N lies inside the grid (about 4 999 600 m), 45.15° N north of it (cut).
        assert!(
            (bbox[3] - 4_999_614.0).abs() < 5.0 && bbox[1] < 4_999_001.0,
            "{bbox:?}"
        );
        for (subsets, code) in [
            (&["E(0,1)"][..], "InvalidSubsetting"),
            (&["E(1,2)", "x(1,2)"][..], "InvalidAxisLabel"),
            (&["height(1,2)"][..], "InvalidAxisLabel"),
            (&["E(2,1)"][..], "InvalidSubsetting"),
        ] {
            let Err(Failure::Client(error)) = subset_box(&g, &parse(subsets), None) else {
                panic!("{subsets:?} accepted");
            };
            assert_eq!(error.code, code, "{subsets:?}");
        }
    }

    #[test]
    fn scaling() {
        let scaled = |size, factor| scaled_size(parse_scale(size, factor).unwrap(), 100, 50);
        assert_eq!(scaled(None, None), None);
        assert_eq!(scaled(None, Some("2")), Some((50, 25)));
        assert_eq!(scaled(None, Some("1e300")), Some((1, 1)));
        assert_eq!(
            scaled(
                Some("http://www.opengis.net/def/axis/OGC/1/i(10),Lat(5)"),
                None
            ),
            Some((10, 5))
        );
        assert_eq!(scaled(Some("N(7)"), None), Some((100, 7)));
        for (size, factor, code) in [
            (None, Some("0"), "InvalidScaleFactor"),
            (None, Some("nan"), "InvalidScaleFactor"),
            (Some("x(0)"), None, "InvalidParameterValue"),
            (Some("q(3)"), None, "ScaleAxisUndefined"),
            (Some("x(3),x(4)"), None, "InvalidParameterValue"),
            (Some("x(3)"), Some("2"), "InvalidParameterValue"),
        ] {
            assert_eq!(
                parse_scale(size, factor).unwrap_err().code,
                code,
                "{size:?} {factor:?}"
            );
        }
    }
}
