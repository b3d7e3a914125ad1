//! Footprints: the area a browse covers, as a valid EPSG:4326 `MultiPolygon` in lon/lat order,
//! split at the antimeridian.

use geo::{
    Area, BooleanOps, BoundingRect, Coord, LineString, MapCoords, MultiPolygon, Orient, Polygon,
    Rect, Translate, Validation,
};
use thiserror::Error;

/// Two positions closer than this (in degrees, longitudes compared modulo 360) are the same:
/// the tolerance ngEO applies when checking that a footprint ring is closed.
const CLOSURE_TOLERANCE: f64 = 1e-5;

/// The footprint of a browse, as far as the report alone can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Footprint {
    /// The footprint in EPSG:4326, longitude/latitude order, each polygon within ±180°
    /// (a footprint crossing the antimeridian is split into one polygon on each side).
    Wgs84(MultiPolygon<f64>),
    /// The geolocation is in another CRS, which this crate cannot project (it does no
    /// I/O and carries no projection database). `ring` is the closed outline exactly as the
    /// report gives it, in the axis order of `EPSG:<epsg>`. Reproject it with GDAL/PROJ using
    /// the authority-compliant axis order (GDAL's `OAMS_AUTHORITY_COMPLIANT`, its default for
    /// `EPSG:n`), densifying the edges first for a box, then pass the lon/lat result to
    /// [`footprint_from_lon_lat`] to get the same validation and antimeridian split.
    NeedsReprojection {
        /// The EPSG code of the coordinates.
        epsg: u32,
        /// The closed outline (first position = last), native coordinates.
        ring: Vec<(f64, f64)>,
    },
    /// `modelInGeotiff`: the georeferencing is inside the image, so only reading the
    /// raster tells the footprint.
    FromRaster,
}

/// Why a ring is not a usable footprint.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum FootprintError {
    /// Fewer than 4 positions (a closed ring needs 3 distinct ones plus the closing one).
    #[error("a ring needs at least 4 positions (first = last), found {0}")]
    TooFewPositions(usize),
    /// A coordinate is NaN or infinite.
    #[error("position {index}: coordinate is not a finite number")]
    NotFinite {
        /// 0-based index of the position in the ring.
        index: usize,
    },
    /// A latitude outside [-90, 90].
    #[error("position {index}: latitude {latitude:?} outside [-90, 90]")]
    Latitude {
        /// 0-based index of the position in the ring.
        index: usize,
        /// The value found.
        latitude: f64,
    },
    /// A longitude outside [-360, 360] (values beyond ±180 are accepted and normalised).
    #[error("position {index}: longitude {longitude:?} outside [-360, 360]")]
    Longitude {
        /// 0-based index of the position in the ring.
        index: usize,
        /// The value found.
        longitude: f64,
    },
    /// The last position differs from the first.
    #[error("ring is not closed: the last position differs from the first")]
    NotClosed,
    /// The ring goes once around a pole; such footprints are not supported.
    #[error("ring encircles a pole (its longitudes wrap by 360°); not supported")]
    EnclosesPole,
    /// The ring spans 360° of longitude or more.
    #[error("ring spans {0:.3}° of longitude, 360° or more")]
    TooWide(f64),
    /// Self-intersecting or otherwise invalid polygon.
    #[error("ring does not form a valid polygon: {0}")]
    Invalid(String),
    /// The ring encloses no area.
    #[error("ring encloses no area")]
    Empty,
    /// `RAW` coordinates have no CRS to place them in.
    #[error("coordinates in reference system RAW cannot be placed on the Earth")]
    NoReferenceSystem,
}

/// Builds the footprint from a closed ring of lon/lat positions (EPSG:4326 values in x/y
/// order).
///
/// Longitudes may run past ±180 (up to ±360); consecutive positions more than 180° apart
/// are taken to cross the antimeridian. The result is a valid `MultiPolygon` with
/// counter-clockwise exterior rings and every longitude within ±180: one polygon, or one
/// on each side of the antimeridian.
pub fn footprint_from_lon_lat(ring: &[(f64, f64)]) -> Result<MultiPolygon<f64>, FootprintError> {
    if ring.len() < 4 {
        return Err(FootprintError::TooFewPositions(ring.len()));
    }
    for (index, &(longitude, latitude)) in ring.iter().enumerate() {
        if !longitude.is_finite() || !latitude.is_finite() {
            return Err(FootprintError::NotFinite { index });
        }
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(FootprintError::Latitude { index, latitude });
        }
        if !(-360.0..=360.0).contains(&longitude) {
            return Err(FootprintError::Longitude { index, longitude });
        }
    }
    let mut unwrapped = unwrap_longitudes(ring);
    close_ring(&mut unwrapped)?;
    let (west, east) = unwrapped
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(west, east), c| {
            (west.min(c.x), east.max(c.x))
        });
    if east - west >= 360.0 {
        return Err(FootprintError::TooWide(east - west));
    }
    // Shift by whole turns so that the westernmost point lies in [-180, 180).
    let shift = -360.0 * ((west + 180.0) / 360.0).floor();
    for coord in &mut unwrapped {
        coord.x += shift;
    }
    let polygon = valid_polygon(unwrapped)?;
    let multi = if east + shift <= 180.0 {
        MultiPolygon::new(vec![polygon])
    } else {
        split_at_antimeridian(&polygon)
    };
    if multi.0.is_empty() || multi.unsigned_area() == 0.0 {
        return Err(FootprintError::Empty);
    }
    Ok(multi.orient(geo::orient::Direction::Default))
}

/// One polygon given as lon/lat rings (the exterior, then its holes) as a footprint: each
/// ring through [`footprint_from_lon_lat`], the holes taken out of the exterior. On error,
/// the index of the ring at fault and why.
pub(crate) fn footprint_from_rings(
    rings: &[Vec<(f64, f64)>],
) -> Result<MultiPolygon<f64>, (usize, String)> {
    let ring_footprint = |index: usize| {
        footprint_from_lon_lat(&rings[index]).map_err(|problem| (index, problem.to_string()))
    };
    if rings.is_empty() {
        return Err((0, "a polygon without rings".to_owned()));
    }
    let mut footprint = ring_footprint(0)?;
    for hole in 1..rings.len() {
        footprint = footprint.difference(&ring_footprint(hole)?);
    }
    if footprint.0.is_empty() {
        return Err((0, "its holes cover it entirely".to_owned()));
    }
    Ok(footprint)
}

/// Builds a polygon from a closed ring and checks it: an area, no self-intersection.
pub(crate) fn valid_polygon(ring: Vec<Coord<f64>>) -> Result<Polygon<f64>, FootprintError> {
    let polygon = Polygon::new(LineString::new(ring), Vec::new());
    let flat = polygon
        .bounding_rect()
        .is_none_or(|rect| rect.width() == 0.0 || rect.height() == 0.0);
    if flat {
        return Err(FootprintError::Empty);
    }
    if let Err(problem) = polygon.check_validation() {
        return Err(FootprintError::Invalid(problem.to_string()));
    }
    Ok(polygon)
}

/// Makes consecutive longitudes continuous by adding whole turns.
fn unwrap_longitudes(ring: &[(f64, f64)]) -> Vec<Coord<f64>> {
    let mut result: Vec<Coord<f64>> = Vec::with_capacity(ring.len());
    for &(longitude, latitude) in ring {
        let x = match result.last() {
            Some(previous) => longitude - 360.0 * ((longitude - previous.x) / 360.0).round(),
            None => longitude,
        };
        result.push(Coord { x, y: latitude });
    }
    result
}

/// Checks that the unwrapped ring ends where it starts and makes the closure exact.
fn close_ring(ring: &mut [Coord<f64>]) -> Result<(), FootprintError> {
    let first = ring[0];
    let last = ring.last_mut().expect("ring has at least 4 positions");
    if (last.y - first.y).abs() > CLOSURE_TOLERANCE {
        return Err(FootprintError::NotClosed);
    }
    let dx = last.x - first.x;
    if dx.abs() <= CLOSURE_TOLERANCE {
        *last = first;
        Ok(())
    } else if (dx.abs() - 360.0).abs() <= CLOSURE_TOLERANCE {
        Err(FootprintError::EnclosesPole)
    } else {
        Err(FootprintError::NotClosed)
    }
}

/// Splits a polygon lying within [-180, 540) at +180 and moves the eastern part back by a turn.
///
/// The overlay works in fixed point, so the vertices of the two parts may move by up to
/// ~1e-7° (about a centimetre); points that land within 1e-6° of ±180 are put exactly on it.
fn split_at_antimeridian(polygon: &Polygon<f64>) -> MultiPolygon<f64> {
    // Clip rectangles hugging the polygon keep the overlay's fixed-point grid fine.
    let bounds = polygon.bounding_rect().expect("a valid polygon has bounds");
    let strip = |west: f64, east: f64| {
        Rect::new(
            Coord {
                x: west,
                y: bounds.min().y,
            },
            Coord {
                x: east,
                y: bounds.max().y,
            },
        )
        .to_polygon()
    };
    let mut parts = polygon.intersection(&strip(bounds.min().x, 180.0)).0;
    let east = polygon.intersection(&strip(180.0, bounds.max().x));
    parts.extend(east.0.iter().map(|part| part.translate(-360.0, 0.0)));
    MultiPolygon::new(parts).map_coords(|coord| Coord {
        x: snap_to_antimeridian(coord.x),
        y: coord.y,
    })
}

fn snap_to_antimeridian(x: f64) -> f64 {
    if (x.abs() - 180.0).abs() <= 1e-6 {
        180.0_f64.copysign(x)
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{CoordsIter, Winding};
    use proptest::prelude::*;

    fn square(west: f64, south: f64, size: f64) -> Vec<(f64, f64)> {
        vec![
            (west, south),
            (west + size, south),
            (west + size, south + size),
            (west, south + size),
            (west, south),
        ]
    }

    #[test]
    fn a_plain_ring_becomes_one_counter_clockwise_polygon() {
        // Clockwise input.
        let ring = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)];
        let footprint = footprint_from_lon_lat(&ring).unwrap();
        assert_eq!(footprint.0.len(), 1);
        assert_eq!(footprint.0[0].exterior().coords_count(), 5);
        assert!(footprint.0[0].exterior().is_ccw());
        assert_eq!(footprint.unsigned_area(), 1.0);
    }

    #[test]
    fn a_ring_crossing_the_antimeridian_is_split() {
        let ring = [
            (170.0, 10.0),
            (-170.0, 10.0),
            (-170.0, 20.0),
            (170.0, 20.0),
            (170.0, 10.0),
        ];
        let footprint = footprint_from_lon_lat(&ring).unwrap();
        assert_eq!(footprint.0.len(), 2);
        assert!((footprint.unsigned_area() - 200.0).abs() < 1e-9);
        let xs: Vec<f64> = footprint.coords_iter().map(|c| c.x).collect();
        assert!(xs.iter().all(|x| (-180.0..=180.0).contains(x)));
        assert!(xs.contains(&180.0) && xs.contains(&-180.0));
    }

    #[test]
    fn longitudes_past_180_are_normalised() {
        let footprint = footprint_from_lon_lat(&square(200.0, 0.0, 10.0)).unwrap();
        let rect = geo::BoundingRect::bounding_rect(&footprint).unwrap();
        assert_eq!((rect.min().x, rect.max().x), (-160.0, -150.0));
    }

    #[test]
    fn refuses_bad_rings() {
        let check = |ring: &[(f64, f64)], expected: FootprintError| {
            assert_eq!(footprint_from_lon_lat(ring).unwrap_err(), expected);
        };
        check(
            &square(0.0, 0.0, 1.0)[..3],
            FootprintError::TooFewPositions(3),
        );
        check(
            &[(0.0, 0.0), (1.0, f64::NAN), (1.0, 1.0), (0.0, 0.0)],
            FootprintError::NotFinite { index: 1 },
        );
        check(
            &[(0.0, 0.0), (1.0, 95.0), (1.0, 1.0), (0.0, 0.0)],
            FootprintError::Latitude {
                index: 1,
                latitude: 95.0,
            },
        );
        check(
            &[(0.0, 0.0), (400.0, 1.0), (1.0, 1.0), (0.0, 0.0)],
            FootprintError::Longitude {
                index: 1,
                longitude: 400.0,
            },
        );
        check(
            &[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
            FootprintError::NotClosed,
        );
        check(
            &[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (0.0, 0.0)],
            FootprintError::Empty,
        );
        // A ring around the north pole: longitudes step eastwards by 90° four times.
        check(
            &[
                (0.0, 80.0),
                (90.0, 80.0),
                (180.0, 80.0),
                (-90.0, 80.0),
                (0.0, 80.0),
            ],
            FootprintError::EnclosesPole,
        );
        // A bow tie.
        let bow_tie =
            footprint_from_lon_lat(&[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]);
        assert!(matches!(bow_tie, Err(FootprintError::Invalid(_))));
    }

    proptest! {
        /// Random star-shaped rings (always simple) give a valid footprint with the same area,
        /// every longitude within ±180, whether or not they cross the antimeridian.
        #[test]
        fn random_rings_give_valid_footprints_of_the_same_area(
            center_lon in -179.0f64..179.0,
            center_lat in -60.0f64..60.0,
            radii in proptest::collection::vec(0.5f64..20.0, 3..24),
        ) {
            let n = radii.len();
            let mut ring: Vec<(f64, f64)> = radii
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let angle = std::f64::consts::TAU * i as f64 / n as f64;
                    let lon = center_lon + r * angle.cos();
                    // Wrap into [-180, 180) as a report would write it.
                    (((lon + 180.0).rem_euclid(360.0)) - 180.0, center_lat + r * angle.sin())
                })
                .collect();
            ring.push(ring[0]);
            let unwrapped: Vec<Coord<f64>> = unwrap_longitudes(&ring);
            let expected = Polygon::new(LineString::new(unwrapped), vec![]).unsigned_area();

            let footprint = footprint_from_lon_lat(&ring).unwrap();
            prop_assert!(footprint.is_valid());
            prop_assert!(footprint.coords_iter().all(|c| (-180.0..=180.0).contains(&c.x)
                && (-90.0..=90.0).contains(&c.y)));
            prop_assert!((footprint.unsigned_area() - expected).abs() <= 1e-6 * expected.max(1.0));
            prop_assert!(footprint.0.iter().all(|p| p.exterior().is_ccw()));
        }
    }
}
