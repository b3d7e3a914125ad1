//! The `intersects` parameter: a GeoJSON geometry of any type, in longitude/latitude.
//!
//! Polygons and MultiPolygons are searched by the catalog itself (exact intersection with each
//! footprint). Points, lines and collections are searched by their box, and each candidate's
//! footprint is then tested against the geometry ([`Region::Exact`]).

use geo::{BoundingRect, CoordsIter, Intersects};
use geo_types::{Geometry, MultiPolygon};
use geojson::{GeometryValue, Position};
use pvs_catalog::Bbox;

use crate::error::ApiError;

/// The most positions an `intersects` geometry may have.
pub const MAX_POSITIONS: usize = 10_000;

/// Where an `intersects` search looks.
#[derive(Debug, Clone, PartialEq)]
pub enum Region {
    /// An area the catalog searches directly.
    Area(MultiPolygon<f64>),
    /// Another geometry: its box is searched, then each footprint tested against it.
    Exact(Geometry<f64>),
}

impl Region {
    /// Reads a GeoJSON geometry.
    pub fn parse(value: serde_json::Value) -> Result<Self, ApiError> {
        let invalid = |why: String| ApiError::invalid("intersects", why);
        let geometry: stac::Geometry = serde_json::from_value(value)
            .map_err(|error| invalid(format!("not a GeoJSON geometry: {error}")))?;
        // geojson's conversion indexes the second coordinate without checking it is there.
        if let Some(position) = short_position(&geometry.value) {
            return Err(invalid(format!(
                "the position {:?} is not longitude and latitude",
                position.as_slice()
            )));
        }
        let geometry = Geometry::<f64>::try_from(geometry)
            .map_err(|error| invalid(format!("not a usable geometry: {error}")))?;
        let positions = geometry.coords_count();
        if positions > MAX_POSITIONS {
            return Err(invalid(format!(
                "the geometry has {positions} positions, more than the {MAX_POSITIONS} allowed"
            )));
        }
        if positions == 0 {
            return Err(invalid("the geometry is empty".to_owned()));
        }
        if let Some(c) = geometry
            .coords_iter()
            .find(|c| !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y))
        {
            return Err(invalid(format!(
                "the position [{}, {}] is outside longitude [-180, 180] and latitude [-90, 90] (split geometries at the antimeridian)",
                c.x, c.y
            )));
        }
        Ok(match geometry {
            Geometry::Polygon(polygon) => Self::Area(MultiPolygon(vec![polygon])),
            Geometry::MultiPolygon(polygons) => Self::Area(polygons),
            other => Self::Exact(other),
        })
    }

    /// The box the candidates of an [`Region::Exact`] search are taken from.
    pub fn candidate_box(geometry: &Geometry<f64>) -> Result<Bbox, ApiError> {
        let rect = geometry
            .bounding_rect()
            .ok_or_else(|| ApiError::invalid("intersects", "the geometry is empty"))?;
        Bbox::new(rect.min().x, rect.min().y, rect.max().x, rect.max().y)
            .map_err(|error| ApiError::catalog("intersects", error))
    }

    /// Whether a footprint meets an exact geometry (touching counts, as in the catalog).
    pub fn meets(geometry: &Geometry<f64>, footprint: &MultiPolygon<f64>) -> bool {
        geometry.intersects(footprint)
    }
}

/// The first position of `value` with fewer than two coordinates, if any.
fn short_position(value: &GeometryValue) -> Option<&Position> {
    let short = |position: &&Position| position.as_slice().len() < 2;
    match value {
        GeometryValue::Point { coordinates } => Some(coordinates).filter(short),
        GeometryValue::MultiPoint { coordinates } | GeometryValue::LineString { coordinates } => {
            coordinates.iter().find(short)
        }
        GeometryValue::MultiLineString { coordinates } | GeometryValue::Polygon { coordinates } => {
            coordinates.iter().flatten().find(short)
        }
        GeometryValue::MultiPolygon { coordinates } => {
            coordinates.iter().flatten().flatten().find(short)
        }
        GeometryValue::GeometryCollection { geometries } => geometries
            .iter()
            .find_map(|geometry| short_position(&geometry.value)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn areas_and_other_geometries() {
        let polygon = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]});
        assert!(matches!(Region::parse(polygon).unwrap(), Region::Area(_)));
        let point = json!({"type": "Point", "coordinates": [5, 6]});
        let Region::Exact(point) = Region::parse(point).unwrap() else {
            panic!("a point is searched exactly");
        };
        let bbox = Region::candidate_box(&point).unwrap();
        assert_eq!((bbox.west(), bbox.north()), (5.0, 6.0));
    }

    #[test]
    fn refusals_name_intersects() {
        let many: Vec<[f64; 2]> = (0..=MAX_POSITIONS).map(|i| [i as f64 / 1e5, 0.0]).collect();
        for (value, expected) in [
            (json!({"type": "Polygon"}), "not a GeoJSON geometry"),
            (json!("POINT(1 2)"), "not a GeoJSON geometry"),
            (
                json!({"type": "Point", "coordinates": [181, 0]}),
                "outside longitude",
            ),
            (
                json!({"type": "LineString", "coordinates": many}),
                "more than the 10000 allowed",
            ),
        ] {
            let error = Region::parse(value).unwrap_err();
            assert_eq!(error.status, 400);
            assert!(error.description.starts_with("intersects: "), "{error}");
            assert!(error.description.contains(expected), "{error}");
        }
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/stac_search_get.rs`): a position of one coordinate
    /// panicked in geojson's conversion to `geo` (an index out of bounds), failing the
    /// request's task instead of answering 400.
    #[test]
    fn positions_of_fewer_than_two_coordinates_are_refused() {
        for value in [
            json!({"type": "Polygon", "coordinates": [[[2, 45], [7, 45], [7246], [6, 46], [2, 45]]]}),
            json!({"type": "Point", "coordinates": [1]}),
            json!({"type": "Point", "coordinates": []}),
            json!({"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1], [0, 0]]]]}),
            json!({"type": "GeometryCollection", "geometries": [
                {"type": "LineString", "coordinates": [[0, 0], [1]]}
            ]}),
        ] {
            // Refused by geojson's reader ("a position must contain two or more
            // elements") or, where it lets one through, by `short_position`.
            let error = Region::parse(value).unwrap_err();
            assert_eq!(error.status, 400);
            assert!(error.description.contains("position"), "{error}");
        }
    }
}
