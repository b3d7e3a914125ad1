//! Product searches: where, when, which, and how many.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use geo_types::{MultiPolygon, Polygon, Rect, coord};

use crate::filter::{Filter, Kind, Sort};
use crate::validation::check_footprint;
use crate::{CatalogError, Result};

/// How many products a search returns when the query does not say.
pub const DEFAULT_LIMIT: u32 = 100;

/// The most products one search returns; larger limits are cut to this.
pub const MAX_LIMIT: u32 = 10_000;

/// A longitude/latitude box in EPSG:4326, validated when built.
///
/// `west > east` means the box crosses the antimeridian: it covers `[west, 180]` and
/// `[-180, east]`, and matches products on both sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    west: f64,
    south: f64,
    east: f64,
    north: f64,
}

impl Bbox {
    /// A box, refused unless every value is finite, longitudes are in [-180, 180],
    /// latitudes in [-90, 90] and `south <= north`. A box may be a line or a point.
    pub fn new(west: f64, south: f64, east: f64, north: f64) -> Result<Self> {
        let invalid = |reason: String| {
            CatalogError::invalid(format!("bbox {west},{south},{east},{north}"), reason)
        };
        for (name, value, limit) in [
            ("west", west, 180.0),
            ("south", south, 90.0),
            ("east", east, 180.0),
            ("north", north, 90.0),
        ] {
            if !(-limit..=limit).contains(&value) {
                return Err(invalid(format!(
                    "{name} must be a number in [-{limit}, {limit}], not {value}"
                )));
            }
        }
        if south > north {
            return Err(invalid(format!(
                "south {south} is greater than north {north}"
            )));
        }
        Ok(Self {
            west,
            south,
            east,
            north,
        })
    }

    /// Western longitude.
    pub fn west(&self) -> f64 {
        self.west
    }

    /// Southern latitude.
    pub fn south(&self) -> f64 {
        self.south
    }

    /// Eastern longitude (less than [`Bbox::west`] when the box crosses the antimeridian).
    pub fn east(&self) -> f64 {
        self.east
    }

    /// Northern latitude.
    pub fn north(&self) -> f64 {
        self.north
    }

    /// Whether the box crosses the antimeridian (`west > east`).
    pub fn crosses_antimeridian(&self) -> bool {
        self.west > self.east
    }

    /// The box as plain rectangles: itself, or its two halves `[west, 180]` and
    /// `[-180, east]` when it crosses the antimeridian.
    pub fn parts(&self) -> Vec<Rect<f64>> {
        let rect = |west, east| {
            Rect::new(
                coord! { x: west, y: self.south },
                coord! { x: east, y: self.north },
            )
        };
        if self.crosses_antimeridian() {
            vec![rect(self.west, 180.0), rect(-180.0, self.east)]
        } else {
            vec![rect(self.west, self.east)]
        }
    }

    /// The box as an area: its [parts](Bbox::parts) as polygons.
    pub fn area(&self) -> MultiPolygon<f64> {
        MultiPolygon(self.parts().into_iter().map(Rect::to_polygon).collect())
    }

    /// Whether `footprint` has the relation `spatial` with the box. Intersection is tested
    /// part by part (a degenerate box, a line or a point, still meets what it touches).
    /// Containment is tested against the parts that have an area: a part without one (the
    /// half at -180° of a box from 0° east to -180°, a line) covers no footprint, and `geo`'s
    /// relate misjudges such degenerate polygons (PostGIS, the reference, does not).
    pub fn relates(&self, spatial: SpatialRelation, footprint: &MultiPolygon<f64>) -> bool {
        use geo::Intersects;
        let intersects = || self.parts().iter().any(|part| footprint.intersects(part));
        match spatial {
            SpatialRelation::Intersects => intersects(),
            SpatialRelation::Within => {
                let covering: Vec<Polygon<f64>> = self
                    .parts()
                    .into_iter()
                    .filter(|part| part.width() > 0.0 && part.height() > 0.0)
                    .map(Rect::to_polygon)
                    .collect();
                !covering.is_empty() && spatial.matches(footprint, &MultiPolygon(covering))
            }
            SpatialRelation::Disjoint => !intersects(),
        }
    }
}

/// How a product's time interval must relate to a [`TimeFilter`]'s interval (the relations
/// of the OpenSearch Time extension). Both intervals are closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeRelation {
    /// The intervals share at least an instant: `begin <= filter.end && end >= filter.start`.
    #[default]
    Intersects,
    /// The product lies inside the filter: `begin >= filter.start && end <= filter.end`.
    During,
    /// The product contains the filter: `begin <= filter.start && end >= filter.end`.
    Contains,
    /// Same interval: `begin == filter.start && end == filter.end`.
    Equals,
    /// No instant in common: `begin > filter.end || end < filter.start`.
    Disjoint,
}

impl TimeRelation {
    /// Every relation.
    pub const ALL: [TimeRelation; 5] = [
        Self::Intersects,
        Self::During,
        Self::Contains,
        Self::Equals,
        Self::Disjoint,
    ];

    /// The relation's OpenSearch name: `intersects`, `during`, `contains`, `equals` or
    /// `disjoint`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Intersects => "intersects",
            Self::During => "during",
            Self::Contains => "contains",
            Self::Equals => "equals",
            Self::Disjoint => "disjoint",
        }
    }
}

impl TimeRelation {
    /// Whether every product in the relation overlaps the filter's interval (shares an
    /// instant with it): true of all relations but `disjoint`. An index of time spans then
    /// narrows the candidates to those overlapping the interval.
    pub(crate) fn implies_overlap(&self) -> bool {
        !matches!(self, Self::Disjoint)
    }

    /// The SQL condition of the relation on the columns `begin_time` and `end_time`, given
    /// the placeholders of the filter's `start` and `end`: the same text for every SQL
    /// backend, and the same as [`TimeFilter::matches`].
    pub(crate) fn sql_condition(&self, start: &str, end: &str) -> String {
        match self {
            Self::Intersects => format!("begin_time <= {end} AND end_time >= {start}"),
            Self::During => format!("begin_time >= {start} AND end_time <= {end}"),
            Self::Contains => format!("begin_time <= {start} AND end_time >= {end}"),
            Self::Equals => format!("begin_time = {start} AND end_time = {end}"),
            Self::Disjoint => format!("(begin_time > {end} OR end_time < {start})"),
        }
    }
}

impl fmt::Display for TimeRelation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TimeRelation {
    type Err = CatalogError;

    /// Parses an OpenSearch relation name, ignoring case.
    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|relation| relation.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                CatalogError::invalid(
                    format!("time relation {name:?}"),
                    "use intersects, during, contains, equals or disjoint",
                )
            })
    }
}

/// A time interval and how products must relate to it, validated when built.
///
/// Backends compare times to the microsecond, the precision products are stored with: finer
/// digits of `start` and `end` are dropped (rounded down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeFilter {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    relation: TimeRelation,
}

impl TimeFilter {
    /// A filter on the closed interval `[start, end]`, refused if `start > end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, relation: TimeRelation) -> Result<Self> {
        if start > end {
            return Err(CatalogError::invalid(
                "time filter",
                format!(
                    "start {} is after end {}",
                    start.to_rfc3339(),
                    end.to_rfc3339()
                ),
            ));
        }
        Ok(Self {
            start,
            end,
            relation,
        })
    }

    /// Products whose interval contains the instant `at` (WMS `TIME=` with one value).
    pub fn instant(at: DateTime<Utc>) -> Self {
        Self {
            start: at,
            end: at,
            relation: TimeRelation::Intersects,
        }
    }

    /// Start of the interval.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// End of the interval.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// The relation products must have with the interval.
    pub fn relation(&self) -> TimeRelation {
        self.relation
    }

    /// Whether a product acquired over `[begin, end]` passes the filter: the reference every
    /// backend's query must agree with.
    pub fn matches(&self, begin: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        match self.relation {
            TimeRelation::Intersects => begin <= self.end && end >= self.start,
            TimeRelation::During => begin >= self.start && end <= self.end,
            TimeRelation::Contains => begin <= self.start && end >= self.end,
            TimeRelation::Equals => begin == self.start && end == self.end,
            TimeRelation::Disjoint => begin > self.end || end < self.start,
        }
    }
}

/// How a product's footprint relates to a query's area (its box or its geometry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpatialRelation {
    /// They share at least a point (boundaries included).
    #[default]
    Intersects,
    /// The footprint lies inside the area, its boundary included (the area contains the
    /// product: OpenSearch's `georel=contains`).
    Within,
    /// They share no point.
    Disjoint,
}

impl SpatialRelation {
    /// Whether `footprint` has this relation with `area` (the reference every backend agrees
    /// with).
    pub fn matches(self, footprint: &MultiPolygon<f64>, area: &MultiPolygon<f64>) -> bool {
        use geo::{Intersects, Relate};
        match self {
            Self::Intersects => footprint.intersects(area),
            Self::Within => footprint.relate(area).is_coveredby(),
            Self::Disjoint => !footprint.intersects(area),
        }
    }
}

/// A product search. Every filter that is set must match (they are combined with AND);
/// results are ordered by begin time, newest first, then by id (byte order), so that pages
/// taken with `offset` and `limit` are stable.
///
/// ```
/// use pvs_catalog::{Bbox, ProductQuery};
///
/// let query = ProductQuery::new()
///     .with_collection("S2_L1C")
///     .with_bbox(Bbox::new(170.0, -10.0, -170.0, 10.0)?)
///     .with_limit(50_000);
/// assert_eq!(query.effective_limit(), 10_000);
/// # Ok::<(), pvs_catalog::CatalogError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuery {
    /// Only products of this collection.
    pub collection: Option<String>,
    /// Only products whose footprint has the relation `spatial` with this box.
    pub bbox: Option<Bbox>,
    /// Only products whose footprint has the relation `spatial` with this geometry (EPSG:4326
    /// longitude/latitude).
    pub geometry: Option<MultiPolygon<f64>>,
    /// How footprints relate to `bbox` and `geometry` (default: intersect them).
    pub spatial: SpatialRelation,
    /// Only products whose time interval has this relation with the filter's.
    pub time: Option<TimeFilter>,
    /// Only products with one of these ids.
    pub ids: Option<Vec<String>>,
    /// Only products passing this filter on their fields and properties.
    pub filter: Option<Filter>,
    /// The order of the results; empty is begin time newest first. Ties are broken by id.
    pub sort: Vec<Sort>,
    /// At most this many products (cut to [`MAX_LIMIT`]); ignored by `count`.
    pub limit: u32,
    /// Skip this many products first; ignored by `count`.
    pub offset: u64,
}

impl Default for ProductQuery {
    fn default() -> Self {
        Self {
            collection: None,
            bbox: None,
            geometry: None,
            spatial: SpatialRelation::Intersects,
            time: None,
            ids: None,
            filter: None,
            sort: Vec::new(),
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl ProductQuery {
    /// A query for every product, [`DEFAULT_LIMIT`] at a time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only products of `collection`.
    pub fn with_collection(mut self, collection: impl Into<String>) -> Self {
        self.collection = Some(collection.into());
        self
    }

    /// Only products passing `filter`.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Results ordered by `sort` (then by id).
    pub fn with_sort(mut self, sort: Vec<Sort>) -> Self {
        self.sort = sort;
        self
    }

    /// Only products whose footprint intersects `bbox`.
    pub fn with_bbox(mut self, bbox: Bbox) -> Self {
        self.bbox = Some(bbox);
        self
    }

    /// Only products whose footprint intersects `geometry`.
    pub fn with_geometry(mut self, geometry: MultiPolygon<f64>) -> Self {
        self.geometry = Some(geometry);
        self
    }

    /// The relation footprints must have with the box and the geometry.
    pub fn with_spatial_relation(mut self, spatial: SpatialRelation) -> Self {
        self.spatial = spatial;
        self
    }

    /// Only products that pass `time`.
    pub fn with_time(mut self, time: TimeFilter) -> Self {
        self.time = Some(time);
        self
    }

    /// Only products with one of `ids`.
    pub fn with_ids<I: Into<String>>(mut self, ids: impl IntoIterator<Item = I>) -> Self {
        self.ids = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// At most `limit` products (cut to [`MAX_LIMIT`]).
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = limit.min(MAX_LIMIT);
        self
    }

    /// Skip the first `offset` products.
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// The limit a backend applies: `limit`, cut to [`MAX_LIMIT`].
    pub fn effective_limit(&self) -> u32 {
        self.limit.min(MAX_LIMIT)
    }

    /// Checks what the types cannot: the query geometry must be a valid footprint.
    pub fn validate(&self) -> Result<()> {
        if let Some(geometry) = &self.geometry {
            check_footprint("geometry", geometry)
                .map_err(|reason| CatalogError::invalid("product query", reason))?;
        }
        if let Some(filter) = &self.filter {
            filter.validate()?;
        }
        if let Some(sort) = self
            .sort
            .iter()
            .find(|sort| sort.field.kind() == Kind::TextArray)
        {
            return Err(CatalogError::invalid(
                format!("sort by {}", sort.field),
                "a string array has no single value to sort on",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bbox_validation() {
        assert!(Bbox::new(-180.0, -90.0, 180.0, 90.0).is_ok());
        assert!(Bbox::new(1.0, 2.0, 1.0, 2.0).is_ok());
        for (bbox, reason) in [
            (
                (f64::NAN, 0.0, 1.0, 1.0),
                "west must be a number in [-180, 180], not NaN",
            ),
            (
                (0.0, 0.0, 181.0, 1.0),
                "east must be a number in [-180, 180], not 181",
            ),
            (
                (0.0, -91.0, 1.0, 1.0),
                "south must be a number in [-90, 90], not -91",
            ),
            ((0.0, 0.0, 1.0, f64::INFINITY), "north must be"),
            ((0.0, 2.0, 1.0, 1.0), "south 2 is greater than north 1"),
        ] {
            let message = Bbox::new(bbox.0, bbox.1, bbox.2, bbox.3)
                .unwrap_err()
                .to_string();
            assert!(message.contains(reason), "{message}");
        }
    }

    #[test]
    fn bbox_parts() {
        let plain = Bbox::new(-10.0, -5.0, 10.0, 5.0).unwrap();
        assert!(!plain.crosses_antimeridian());
        assert_eq!(
            plain.parts(),
            vec![Rect::new(
                coord! {x: -10.0, y: -5.0},
                coord! {x: 10.0, y: 5.0}
            )]
        );
        let crossing = Bbox::new(170.0, -5.0, -170.0, 5.0).unwrap();
        assert!(crossing.crosses_antimeridian());
        assert_eq!(
            crossing.parts(),
            vec![
                Rect::new(coord! {x: 170.0, y: -5.0}, coord! {x: 180.0, y: 5.0}),
                Rect::new(coord! {x: -180.0, y: -5.0}, coord! {x: -170.0, y: 5.0}),
            ]
        );
    }

    #[test]
    fn relations_parse() {
        for relation in TimeRelation::ALL {
            assert_eq!(relation.as_str().parse::<TimeRelation>().unwrap(), relation);
        }
        assert_eq!(
            "DURING".parse::<TimeRelation>().unwrap(),
            TimeRelation::During
        );
        assert!("overlaps".parse::<TimeRelation>().is_err());
        assert_eq!(TimeRelation::default(), TimeRelation::Intersects);
    }

    #[test]
    fn time_filter_validation() {
        let t = |h| Utc.with_ymd_and_hms(2024, 1, 1, h, 0, 0).unwrap();
        assert!(TimeFilter::new(t(1), t(1), TimeRelation::Equals).is_ok());
        let message = TimeFilter::new(t(2), t(1), TimeRelation::During)
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "invalid time filter: start 2024-01-01T02:00:00+00:00 is after end 2024-01-01T01:00:00+00:00"
        );
        let instant = TimeFilter::instant(t(3));
        assert!(instant.matches(t(3), t(3)));
        assert!(instant.matches(t(1), t(3)));
        assert!(!instant.matches(t(4), t(5)));
    }

    #[test]
    fn limits() {
        assert_eq!(ProductQuery::new().effective_limit(), DEFAULT_LIMIT);
        assert_eq!(ProductQuery::new().with_limit(5).effective_limit(), 5);
        assert_eq!(ProductQuery::new().with_limit(u32::MAX).limit, MAX_LIMIT);
        let literal = ProductQuery {
            limit: 20_000,
            ..ProductQuery::default()
        };
        assert_eq!(literal.effective_limit(), MAX_LIMIT);
    }

    proptest! {
        /// Intersects and Disjoint partition every pair of intervals; During, Contains and
        /// Equals imply Intersects, and Equals is During and Contains at once.
        #[test]
        fn relations_are_consistent(a in 0i64..50, b in 0i64..50, c in 0i64..50, d in 0i64..50) {
            let t = |s| Utc.timestamp_opt(s, 0).unwrap();
            let (start, end) = (t(a.min(b)), t(a.max(b)));
            let (begin, stop) = (t(c.min(d)), t(c.max(d)));
            let check = |relation| TimeFilter::new(start, end, relation).unwrap().matches(begin, stop);
            let intersects = check(TimeRelation::Intersects);
            prop_assert_ne!(intersects, check(TimeRelation::Disjoint));
            for relation in [TimeRelation::During, TimeRelation::Contains, TimeRelation::Equals] {
                prop_assert!(!check(relation) || intersects);
            }
            prop_assert_eq!(
                check(TimeRelation::Equals),
                check(TimeRelation::During) && check(TimeRelation::Contains)
            );
        }
    }
}
