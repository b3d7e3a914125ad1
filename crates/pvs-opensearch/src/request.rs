//! Search parameters: names, values, limits, and the error naming the parameter at fault.

use chrono::{DateTime, TimeZone, Utc};
use geo::{LineString, MultiPolygon, Point};
use pvs_catalog::{Bbox, Filter, SpatialRelation, TimeFilter, TimeRelation};
use pvs_ogc::limits::{self, MAX_QUERY_BYTES};
use pvs_ogc::{Exception, Params};

use super::eo::{self, EO_PARAMS};
use super::geometry::{self, MAX_RADIUS_M, METRES_PER_DEGREE, Wkt};
use super::{Conventions, RadiusUnit};

/// How many results a page has when `count` is not given.
pub(crate) const DEFAULT_COUNT: u32 = 10;

/// The largest `count`.
pub(crate) const MAX_COUNT: u32 = 100;

/// The largest `startIndex` (and `startPage`).
pub(crate) const MAX_START_INDEX: u64 = 1_000_000_000;

/// The longest `uid`, `q`, `productType` or other EO parameter, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 255;

/// EOxServer's names of parameters, each with the name pvs gives it.
const ALIASES: [(&str, &str); 2] = [("timerel", "relation"), ("r", "radius")];

/// What is being searched: the collections, or the products of one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The collections (`/opensearch/{format}`).
    Collections,
    /// The products of one collection (`/opensearch/collections/{collection}/{format}`).
    Products,
}

/// A search parameter: its name in URLs and its OpenSearch template variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The name in URLs (`startIndex`).
    pub name: &'static str,
    /// The template variable (`startIndex`, `geo:box`, `eo:cloudCover`...).
    pub variable: &'static str,
}

const fn param(name: &'static str, variable: &'static str) -> Param {
    Param { name, variable }
}

/// The parameters of both searches: paging, place, time and identifier.
const COMMON_PARAMS: &[Param] = &[
    param("count", "count"),
    param("startIndex", "startIndex"),
    param("startPage", "startPage"),
    param("bbox", "geo:box"),
    param("geom", "geo:geometry"),
    param("lat", "geo:lat"),
    param("lon", "geo:lon"),
    param("radius", "geo:radius"),
    param("georel", "geo:relation"),
    param("uid", "geo:uid"),
    param("start", "time:start"),
    param("end", "time:end"),
    param("relation", "time:relation"),
];

/// The parameters of a product search, in template order: the common ones, the EO
/// parameters ([`EO_PARAMS`]), then `cql`.
pub(crate) const PRODUCT_PARAMS: &[Param] = &{
    let mut params = [param("cql", "cql:cql"); COMMON_PARAMS.len() + EO_PARAMS.len() + 1];
    let mut index = 0;
    while index < COMMON_PARAMS.len() {
        params[index] = COMMON_PARAMS[index];
        index += 1;
    }
    let mut eo = 0;
    while eo < EO_PARAMS.len() {
        params[index + eo] = EO_PARAMS[eo].param;
        eo += 1;
    }
    params
};

/// The parameters of a collection search, in template order: free text, the common ones,
/// then the collection's product type.
pub(crate) const COLLECTION_PARAMS: &[Param] = &{
    let mut params = [param("q", "searchTerms"); COMMON_PARAMS.len() + 2];
    let mut index = 0;
    while index < COMMON_PARAMS.len() {
        params[index + 1] = COMMON_PARAMS[index];
        index += 1;
    }
    params[index + 1] = param("productType", "eo:productType");
    params
};

impl Target {
    /// The parameters this search takes.
    pub(crate) fn params(self) -> &'static [Param] {
        match self {
            Target::Collections => COLLECTION_PARAMS,
            Target::Products => PRODUCT_PARAMS,
        }
    }
}

/// Where to look.
#[derive(Debug, Clone, PartialEq)]
pub enum Region {
    /// `bbox`.
    Box(Bbox),
    /// `geom` polygons, or the `lat`/`lon`/`radius` circle.
    Area(MultiPolygon<f64>),
    /// `geom=POINT(...)`, or `lat`/`lon` without `radius`.
    Point(Point<f64>),
    /// `geom=LINESTRING(...)`.
    Line(LineString<f64>),
}

/// A parsed search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// Where to look (`bbox`, `geom`, `lat`/`lon`/`radius`).
    pub region: Option<Region>,
    /// When (`start`, `end`, `relation`).
    pub time: Option<TimeFilter>,
    /// The identifier searched for (`uid`).
    pub uid: Option<String>,
    /// Free text (`q`, collection searches).
    pub terms: Option<String>,
    /// The collection's product type (collection searches).
    pub product_type: Option<String>,
    /// How results relate to `region` (`georel`).
    pub georel: SpatialRelation,
    /// The conditions of the EO parameters (product searches), all of which must hold.
    pub filter: Option<Filter>,
    /// Results per page.
    pub count: u32,
    /// Results skipped (0-based).
    pub offset: u64,
    /// The `startIndex` of the first result (0 or 1).
    pub index_offset: u64,
    /// The unit of `radius`.
    pub radius_unit: RadiusUnit,
    /// The parameters given (not empty), in request order, with their canonical names.
    pub given: Vec<(Param, String)>,
}

/// The earliest instant an open `start` stands for.
fn open_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest instant an open `end` stands for.
fn open_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl SearchRequest {
    /// Parses a query string for a search of `target`, read with `conventions`. Parameters
    /// are read as every KVP request is ([`pvs_ogc::Params`]: names ignoring case, values
    /// trimmed, an empty value absent, as an OpenSearch client fills optional template
    /// parameters it has no value for); EOxServer's names `timerel` and `r` are read as
    /// `relation` and `radius`; parameters this search does not take are ignored, as
    /// EOxServer ignores them (they are not echoed); repeated parameters are refused.
    pub fn parse(query: &str, target: Target, conventions: Conventions) -> Result<Self, Exception> {
        limits::check("query string", query.len(), MAX_QUERY_BYTES)
            .map_err(|error| error.located("query"))?;
        let known = target.params();
        let mut given: Vec<(Param, String)> = Vec::new();
        for (key, value) in Params::parse(query).pairs() {
            // EOxServer's names, which its clients send.
            let alias = ALIASES
                .iter()
                .find(|(alias, _)| key.eq_ignore_ascii_case(alias));
            let name = alias.map_or(key, |(_, name)| name);
            let Some(param) = known.iter().find(|p| p.name.eq_ignore_ascii_case(name)) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            if given.iter().any(|(p, _)| p == param) {
                let alias = ALIASES
                    .iter()
                    .find(|(_, name)| *name == param.name)
                    .map(|(alias, name)| format!(" ({alias} is another name of {name})"))
                    .unwrap_or_default();
                return Err(Exception::invalid(
                    param.name,
                    format!("parameter {} is given more than once{alias}", param.name),
                ));
            }
            given.push((*param, value.to_owned()));
        }
        let values = Given(&given);
        let get = &values;

        let count = match get.get("count") {
            None => DEFAULT_COUNT,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|c| (1..=MAX_COUNT).contains(c))
                .ok_or_else(|| {
                    Exception::invalid(
                        "count",
                        format!("count {text:?}: a whole number from 1 to {MAX_COUNT}"),
                    )
                })?,
        };
        let index = |name: &str, first: u64| -> Result<u64, Exception> {
            match get.get(name) {
                None => Ok(first),
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|i| (first..=MAX_START_INDEX).contains(i))
                    .ok_or_else(|| {
                        Exception::invalid(
                            name,
                            format!(
                                "{name} {text:?}: a whole number from {first} to {MAX_START_INDEX} (the first is {first})"
                            ),
                        )
                    }),
            }
        };
        let index_offset = conventions.index_offset.value();
        let start_index = index("startIndex", index_offset)?;
        // Pages count from 1 in both conventions (`pageOffset`).
        let start_page = index("startPage", 1)?;
        let offset = (start_index - index_offset) + (start_page - 1) * u64::from(count);

        let uid = text_param(get.get("uid"), "uid")?;
        let terms = text_param(get.get("q"), "q")?;
        let (product_type, filter) = match target {
            Target::Collections => (text_param(get.get("productType"), "productType")?, None),
            Target::Products => {
                let cql = get
                    .get("cql")
                    .map(|text| {
                        pvs_catalog::cql::eo_filter(text)
                            .map_err(|why| Exception::invalid("cql", format!("cql: {why}")))
                    })
                    .transpose()?;
                let filter = match (eo_filter(&given)?, cql) {
                    (Some(eo), Some(cql)) => Some(Filter::And(vec![eo, cql])),
                    (eo, cql) => eo.or(cql),
                };
                (None, filter)
            }
        };

        let region = region(&values, conventions.radius)?;
        let georel = georel(get, region.as_ref())?;
        let time = time(&values)?;
        Ok(Self {
            region,
            georel,
            time,
            uid,
            terms,
            product_type,
            filter,
            count,
            offset,
            index_offset,
            radius_unit: conventions.radius,
            given,
        })
    }

    /// The `startIndex` of the first result of this page, in the request's convention.
    pub(crate) fn start_index(&self) -> u64 {
        self.start_index_of(self.offset)
    }

    /// The `startIndex` of the page after `offset` results, in the request's convention.
    pub(crate) fn start_index_of(&self, offset: u64) -> u64 {
        offset + self.index_offset
    }
}

/// The parameters given, by canonical name.
struct Given<'a>(&'a [(Param, String)]);

impl<'a> Given<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(p, _)| p.name == name)
            .map(|(_, v)| v.as_str())
    }
}

fn text_param(value: Option<&str>, name: &str) -> Result<Option<String>, Exception> {
    let Some(value) = value else {
        return Ok(None);
    };
    let chars = value.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(Exception::invalid(
            name,
            format!("{name} has {chars} characters; at most {MAX_TEXT_CHARS} are accepted"),
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Exception::invalid(
            name,
            format!("{name} contains the control character {c:?}"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// The conditions of the EO parameters among `given`, in request order; `None` without any.
fn eo_filter(given: &[(Param, String)]) -> Result<Option<Filter>, Exception> {
    let mut conditions = Vec::new();
    for (param, value) in given {
        if let Some(eo) = eo::find(param.name) {
            text_param(Some(value), param.name)?;
            conditions.push(eo.filter(value)?);
        }
    }
    Ok(match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(Filter::And(conditions)),
    })
}

fn number(given: &Given<'_>, name: &str, limit: f64) -> Result<Option<f64>, Exception> {
    let Some(text) = given.get(name) else {
        return Ok(None);
    };
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && (-limit..=limit).contains(v))
        .map(Some)
        .ok_or_else(|| {
            Exception::invalid(
                name,
                format!("{name} {text:?}: a number from -{limit} to {limit} (decimal degrees)"),
            )
        })
}

/// `georel` (the Geo extension's relation, EOxServer's name): `intersects` (default),
/// `contains` (the area contains the result) or `disjoint`; it needs a region, and a
/// `LINESTRING` takes intersection only.
fn georel(get: &Given<'_>, region: Option<&Region>) -> Result<SpatialRelation, Exception> {
    let Some(text) = get.get("georel") else {
        return Ok(SpatialRelation::Intersects);
    };
    let relation = match text.to_ascii_lowercase().as_str() {
        "intersects" => SpatialRelation::Intersects,
        "contains" => SpatialRelation::Within,
        "disjoint" => SpatialRelation::Disjoint,
        _ => {
            return Err(Exception::invalid(
                "georel",
                format!("georel {text:?}: intersects, contains or disjoint"),
            ));
        }
    };
    match region {
        None => Err(Exception::invalid(
            "georel",
            "georel needs bbox, geom or lat/lon(/radius)",
        )),
        Some(Region::Line(_)) if relation != SpatialRelation::Intersects => Err(
            Exception::invalid("georel", "a LINESTRING geom takes georel=intersects only"),
        ),
        Some(_) => Ok(relation),
    }
}

/// `bbox`, `geom` or `lat`/`lon`(/`radius`, in `unit`): at most one of them.
fn region(get: &Given<'_>, unit: RadiusUnit) -> Result<Option<Region>, Exception> {
    let circle_given = ["lat", "lon", "radius"]
        .iter()
        .any(|n| get.get(n).is_some());
    let spatial: Vec<&str> = [
        ("bbox", get.get("bbox").is_some()),
        ("geom", get.get("geom").is_some()),
        ("lat", circle_given),
    ]
    .iter()
    .filter(|(_, given)| *given)
    .map(|(name, _)| *name)
    .collect();
    if spatial.len() > 1 {
        return Err(Exception::invalid(
            spatial[1],
            format!(
                "{} and {} cannot be combined: give one of bbox, geom or lat/lon(/radius)",
                spatial[0], spatial[1]
            ),
        ));
    }
    if let Some(text) = get.get("bbox") {
        return parse_bbox(text).map(|b| Some(Region::Box(b)));
    }
    if let Some(text) = get.get("geom") {
        let geometry = geometry::parse_wkt(text)
            .map_err(|why| Exception::invalid("geom", format!("geom: {why}")))?;
        return Ok(Some(match geometry {
            Wkt::Point(point) => Region::Point(point),
            Wkt::Line(line) => Region::Line(line),
            Wkt::Polygons(polygons) => Region::Area(polygons),
        }));
    }
    if !circle_given {
        return Ok(None);
    }
    let lat = number(get, "lat", 90.0)?;
    let lon = number(get, "lon", 180.0)?;
    let (lat, lon) = match (lat, lon) {
        (Some(lat), Some(lon)) => (lat, lon),
        (None, _) => {
            return Err(Exception::invalid(
                "lat",
                "lat is missing: lon and radius need lat (and lon)",
            ));
        }
        (_, None) => {
            return Err(Exception::invalid(
                "lon",
                "lon is missing: lat and radius need lon (and lat)",
            ));
        }
    };
    let Some(text) = get.get("radius") else {
        return Ok(Some(Region::Point(Point::new(lon, lat))));
    };
    let (metres_per_unit, unit_name) = match unit {
        RadiusUnit::Metres => (1.0, "metres"),
        RadiusUnit::Degrees => (METRES_PER_DEGREE, "degrees"),
    };
    let most = MAX_RADIUS_M / metres_per_unit;
    let radius = text
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0 && *r <= most)
        .ok_or_else(|| {
            Exception::invalid(
                "radius",
                format!("radius {text:?}: {unit_name}, more than 0 and at most {most}"),
            )
        })?
        * metres_per_unit;
    geometry::circle(lon, lat, radius)
        .map(|area| Some(Region::Area(area)))
        .map_err(|why| Exception::invalid("radius", format!("lat/lon/radius: {why}")))
}

/// `west,south,east,north` in decimal degrees; `west > east` crosses the antimeridian.
pub(crate) fn parse_bbox(text: &str) -> Result<Bbox, Exception> {
    let invalid = |why: String| Exception::invalid("bbox", format!("bbox {text:?}: {why}"));
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() != 4 {
        return Err(invalid(format!(
            "four numbers west,south,east,north expected, {} given",
            parts.len()
        )));
    }
    let mut values = [0.0; 4];
    for (value, part) in values.iter_mut().zip(&parts) {
        *value = part
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| invalid(format!("{:?} is not a number", part.trim())))?;
    }
    let [west, south, east, north] = values;
    Bbox::new(west, south, east, north).map_err(|e| invalid(e.to_string()))
}

/// `start` or `end`, read by [`pvs_ogc::time::parse_instant`].
pub(crate) fn parse_instant(name: &str, text: &str) -> Result<DateTime<Utc>, Exception> {
    pvs_ogc::time::parse_instant(text)
        .map_err(|e| Exception::invalid(name, format!("{name} {text:?}: {e}")))
}

/// `start`, `end` and `relation`.
fn time(get: &Given<'_>) -> Result<Option<TimeFilter>, Exception> {
    let start = get
        .get("start")
        .map(|t| parse_instant("start", t))
        .transpose()?;
    let end = get
        .get("end")
        .map(|t| parse_instant("end", t))
        .transpose()?;
    let relation = match get.get("relation") {
        None => TimeRelation::Intersects,
        Some(text) => text.parse::<TimeRelation>().map_err(|_| {
            Exception::invalid(
                "relation",
                format!("relation {text:?}: intersects, during, contains, equals or disjoint"),
            )
        })?,
    };
    if start.is_none() && end.is_none() {
        if get.get("relation").is_some() {
            return Err(Exception::invalid(
                "relation",
                "relation needs start or end (or both)",
            ));
        }
        return Ok(None);
    }
    let (start, end) = (
        start.unwrap_or_else(open_start),
        end.unwrap_or_else(open_end),
    );
    if start > end {
        return Err(Exception::invalid(
            "end",
            format!(
                "end {} is before start {}",
                end.to_rfc3339(),
                start.to_rfc3339()
            ),
        ));
    }
    TimeFilter::new(start, end, relation)
        .map(Some)
        .map_err(|e| Exception::invalid("start", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IndexOffset;

    fn parse(query: &str) -> Result<SearchRequest, Exception> {
        SearchRequest::parse(query, Target::Products, Conventions::default())
    }

    fn fails_on(query: &str) -> String {
        parse(query)
            .map(|_| "accepted".to_owned())
            .unwrap_or_else(|e| e.locator.unwrap_or_default())
    }

    #[test]
    fn defaults_and_empty_values() {
        let request = parse("bbox=&count=&startIndex=&lat=").unwrap();
        assert_eq!(request.count, DEFAULT_COUNT);
        assert_eq!(request.offset, 0);
        assert_eq!(request.region, None);
        assert!(request.given.is_empty());
    }

    #[test]
    fn timerel_is_another_name_of_relation() {
        let request = parse("start=2024-01-01&timerel=during").unwrap();
        assert_eq!(request.time.unwrap().relation(), TimeRelation::During);
        let error = parse("start=2024-01-01&timerel=during&relation=during").unwrap_err();
        assert_eq!(error.locator.as_deref(), Some("relation"));
        assert!(
            error.message.contains("timerel is another name"),
            "{}",
            error.message
        );
        assert_eq!(fails_on("timerel=sideways&start=2024-01-01"), "relation");
        let error = parse("count=2&count=3").unwrap_err();
        assert!(!error.message.contains("timerel"), "{}", error.message);
    }

    #[test]
    fn paging() {
        let request = parse("count=5&startIndex=3&startPage=2").unwrap();
        assert_eq!((request.count, request.offset), (5, 7));
        assert_eq!(request.start_index(), 8);
        assert_eq!(parse("COUNT=7").unwrap().count, 7);
    }

    #[test]
    fn eoxserver_conventions() {
        let eoxserver = Conventions {
            index_offset: IndexOffset::Zero,
            radius: RadiusUnit::Degrees,
        };
        let zero = |query: &str| SearchRequest::parse(query, Target::Products, eoxserver);
        let request = zero("count=5&startIndex=0").unwrap();
        assert_eq!((request.offset, request.start_index()), (0, 0));
        let request = zero("count=5&startIndex=3&startPage=2").unwrap();
        assert_eq!((request.offset, request.start_index()), (8, 8));
        assert_eq!(request.start_index_of(10), 10);
        assert_eq!(parse("startIndex=3").unwrap().start_index_of(10), 11);
        // r is radius: in metres by default, in degrees of arc in EOxServer's convention.
        let metres = parse("lat=0&lon=0&r=111195").unwrap();
        let degrees = zero("lat=0&lon=0&r=1").unwrap();
        let width = |request: SearchRequest| match request.region {
            Some(Region::Area(area)) => {
                let rect = geo::BoundingRect::bounding_rect(&area).unwrap();
                rect.width()
            }
            other => panic!("{other:?}"),
        };
        let (metres, degrees) = (width(metres), width(degrees));
        assert!((metres - 2.0).abs() < 0.01, "{metres}");
        assert!((metres - degrees).abs() < 1e-4, "{metres} {degrees}");
        assert_eq!(
            zero("lat=0&lon=0&r=30").unwrap_err().locator.as_deref(),
            Some("radius")
        );
        assert!(zero("startIndex=0").is_ok());
        // Parameters a search does not take are ignored, not echoed.
        let request = parse("q=x&format=json&_=123&count=3").unwrap();
        assert_eq!(request.count, 3);
        assert_eq!(request.given.len(), 1);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (query, parameter) in [
            ("count=0", "count"),
            ("count=-1", "count"),
            ("count=101", "count"),
            ("count=1e3", "count"),
            ("startIndex=0", "startIndex"),
            ("startPage=0", "startPage"),
            ("startIndex=99999999999999999999", "startIndex"),
            ("bbox=1,2,3", "bbox"),
            ("bbox=1,2,3,x", "bbox"),
            ("bbox=1,3,2,2", "bbox"),
            ("bbox=-181,0,0,1", "bbox"),
            ("bbox=0,0,1,inf", "bbox"),
            ("lat=1", "lon"),
            ("lon=1", "lat"),
            ("radius=10", "lat"),
            ("lat=91&lon=0", "lat"),
            ("lat=0&lon=0&radius=-5", "radius"),
            ("lat=0&lon=0&radius=0", "radius"),
            ("lat=0&lon=0&radius=1e12", "radius"),
            ("bbox=0,0,1,1&lat=0&lon=0", "lat"),
            ("bbox=0,0,1,1&geom=POINT(0 0)", "geom"),
            ("geom=POLYGON((0 0))", "geom"),
            ("start=yesterday", "start"),
            ("end=2024-13-01", "end"),
            ("start=2024-02-01&end=2024-01-01", "end"),
            ("start=2024-01-01&relation=overlaps", "relation"),
            ("relation=during", "relation"),
            ("uid=a%0Ab", "uid"),
            ("count=1&count=2", "count"),
            ("lat=0&lon=0&r=5&radius=5", "radius"),
        ] {
            assert_eq!(fails_on(query), parameter, "{query}");
        }
        let long = format!("uid={}", "x".repeat(MAX_QUERY_BYTES));
        assert_eq!(fails_on(&long), "query");
    }

    #[test]
    fn times() {
        let request = parse("start=2024-01-01&end=2024-01-02T12:00:00Z&relation=DURING").unwrap();
        let time = request.time.unwrap();
        assert_eq!(time.relation(), TimeRelation::During);
        assert_eq!(time.start().to_rfc3339(), "2024-01-01T00:00:00+00:00");
        assert_eq!(time.end().to_rfc3339(), "2024-01-02T12:00:00+00:00");
        let open = parse("start=2024-01-01T00:00:00%2B02:00")
            .unwrap()
            .time
            .unwrap();
        assert_eq!(open.start().to_rfc3339(), "2023-12-31T22:00:00+00:00");
        assert_eq!(open.end(), open_end());
    }

    #[test]
    fn regions() {
        assert!(matches!(
            parse("bbox=170,-10,-170,10").unwrap().region,
            Some(Region::Box(b)) if b.crosses_antimeridian()
        ));
        assert_eq!(
            parse("lat=1&lon=2").unwrap().region,
            Some(Region::Point(Point::new(2.0, 1.0)))
        );
        assert!(matches!(
            parse("lat=1&lon=2&radius=1000").unwrap().region,
            Some(Region::Area(_))
        ));
        assert!(matches!(
            parse("geom=LINESTRING(0 0,1 1)").unwrap().region,
            Some(Region::Line(_))
        ));
    }
}
