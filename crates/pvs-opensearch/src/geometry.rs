//! Query geometries of the Geo extension: the `geom` WKT (`POINT`, `LINESTRING`, `POLYGON`,
//! `MULTIPOLYGON`), read with geozero and checked here, and the polygon approximating a
//! `lat`/`lon`/`radius` circle.
//!
//! Coordinates are EPSG:4326 longitude/latitude, compared on the plane (as the catalog does).

use geo::{Coord, LineString, MultiPolygon, Point, Polygon, Validation, coord};
use geozero::error::GeozeroError;
use geozero::{GeomProcessor, GeozeroGeometry};

/// The most coordinates a `geom` may have.
pub const MAX_WKT_POINTS: usize = 1000;

/// The largest `radius`, in metres.
pub(crate) const MAX_RADIUS_M: f64 = 2_000_000.0;

/// Vertices of the polygon approximating a circle.
pub(crate) const CIRCLE_VERTICES: usize = 64;

/// Mean Earth radius (IUGG), in metres: circles are drawn on a sphere of this radius.
pub(crate) const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The length of one degree of arc of a great circle on that sphere (about 111,195 m).
pub(crate) const METRES_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// The WKT geometry types a `geom` may be.
const SUPPORTED: &str = "use POINT, LINESTRING, POLYGON or MULTIPOLYGON";

/// A parsed WKT geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum Wkt {
    /// `POINT`.
    Point(Point<f64>),
    /// `LINESTRING`.
    Line(LineString<f64>),
    /// `POLYGON` or `MULTIPOLYGON`: valid polygons.
    Polygons(MultiPolygon<f64>),
}

/// Reads a WKT `POINT`, `LINESTRING`, `POLYGON` or `MULTIPOLYGON` (keywords in any case) in
/// longitude/latitude, refusing what is not a valid two-dimensional geometry inside
/// [-180, 180] x [-90, 90] of at most [`MAX_WKT_POINTS`] points. The error says what is wrong
/// and where (the point, ring or polygon, counted from 1).
pub fn parse_wkt(text: &str) -> Result<Wkt, String> {
    // The type is checked first: the WKT parser also knows others (MULTIPOINT, LINEARRING,
    // POINTZ, ...), and names none in its errors.
    let keyword = text
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    match keyword.as_str() {
        "POINT" | "LINESTRING" | "POLYGON" | "MULTIPOLYGON" => {}
        "" => {
            return Err(
                "a WKT geometry type (POINT, LINESTRING, POLYGON, MULTIPOLYGON) is expected"
                    .to_owned(),
            );
        }
        other => return Err(format!("{other:?} is not supported; {SUPPORTED}")),
    }
    let mut reader = Reader::default();
    if let Err(error) = geozero::wkt::Wkt(text).process_geom(&mut reader) {
        return Err(match error {
            // Refusals of the reader below.
            GeozeroError::Geometry(why) if reader.refused => why,
            // The WKT parser's.
            GeozeroError::Geometry(why) => format!("not a well-formed WKT {keyword}: {why}"),
            other => format!("not a well-formed WKT {keyword}: {other}"),
        });
    }
    if let Some(at) = trailing_text(text) {
        return Err(format!("unexpected text after the geometry at byte {at}"));
    }
    let geometry = reader
        .geometry
        .ok_or_else(|| "the WKT holds no geometry".to_owned())?;
    match &geometry {
        Wkt::Point(_) => Ok(geometry),
        Wkt::Line(line) => match line.check_validation() {
            Ok(()) => Ok(geometry),
            Err(error) => Err(format!("not a valid LINESTRING: {error}")),
        },
        Wkt::Polygons(polygons) => match polygons.check_validation() {
            Ok(()) => Ok(geometry),
            Err(error) => Err(format!("not a valid polygon geometry: {error}")),
        },
    }
}

/// Where text follows the parenthesis closing the geometry, if it does: the WKT parser stops
/// there and ignores the rest.
fn trailing_text(text: &str) -> Option<usize> {
    let mut depth = 0_usize;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let end = at + 1;
                    return (!text[end..].trim().is_empty())
                        .then(|| end + text[end..].len() - text[end..].trim_start().len());
                }
            }
            _ => {}
        }
    }
    None
}

/// Builds a [`Wkt`] from geozero's events of a `POINT`, `LINESTRING`, `POLYGON` or
/// `MULTIPOLYGON`, refusing empty geometries, points out of range or beyond
/// [`MAX_WKT_POINTS`], coordinates other than `x y`, short or open rings.
#[derive(Default)]
struct Reader {
    /// Coordinates of the point or line being read.
    coords: Vec<Coord<f64>>,
    /// Rings of the polygon being read.
    rings: Vec<LineString<f64>>,
    /// Polygons read so far.
    polygons: Vec<Polygon<f64>>,
    /// Points read so far.
    points: usize,
    /// The result.
    geometry: Option<Wkt>,
    /// Whether an error came from this reader (rather than the WKT parser).
    refused: bool,
}

impl Reader {
    fn refuse<T>(&mut self, why: String) -> geozero::error::Result<T> {
        self.refused = true;
        Err(GeozeroError::Geometry(why))
    }
}

impl GeomProcessor for Reader {
    /// Asks for Z and M values too, to refuse them.
    fn multi_dim(&self) -> bool {
        true
    }

    fn xy(&mut self, x: f64, y: f64, _idx: usize) -> geozero::error::Result<()> {
        self.points += 1;
        if self.points > MAX_WKT_POINTS {
            return self.refuse(format!(
                "more than {MAX_WKT_POINTS} points; simplify the geometry"
            ));
        }
        if !x.is_finite() || !y.is_finite() {
            return self.refuse(format!(
                "point {} ({x} {y}): a coordinate is not a finite number",
                self.points
            ));
        }
        if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
            return self.refuse(format!(
                "point {} ({x} {y}) is outside longitude [-180, 180] / latitude [-90, 90] \
                 (WKT points are \"longitude latitude\"; split geometries at the antimeridian)",
                self.points
            ));
        }
        self.coords.push(coord! { x: x, y: y });
        Ok(())
    }

    fn coordinate(
        &mut self,
        x: f64,
        y: f64,
        z: Option<f64>,
        m: Option<f64>,
        _t: Option<f64>,
        _tm: Option<u64>,
        idx: usize,
    ) -> geozero::error::Result<()> {
        if z.is_some() || m.is_some() {
            return self.refuse(format!(
                "point {} has more than two coordinates; give \"longitude latitude\" only",
                self.points + 1
            ));
        }
        self.xy(x, y, idx)
    }

    fn empty_point(&mut self, _idx: usize) -> geozero::error::Result<()> {
        self.refuse("an empty POINT has no position".to_owned())
    }

    fn point_end(&mut self, _idx: usize) -> geozero::error::Result<()> {
        let point = self.coords.pop().map(Point);
        self.geometry = point.map(Wkt::Point);
        Ok(())
    }

    fn linestring_end(&mut self, tagged: bool, _idx: usize) -> geozero::error::Result<()> {
        let coords = std::mem::take(&mut self.coords);
        if tagged {
            if coords.len() < 2 {
                return self.refuse("a LINESTRING needs at least 2 points".to_owned());
            }
            self.geometry = Some(Wkt::Line(LineString(coords)));
            return Ok(());
        }
        let ring = format!(
            "ring {} of polygon {}",
            self.rings.len() + 1,
            self.polygons.len() + 1
        );
        if coords.len() < 4 {
            return self.refuse(format!(
                "{ring} has {} points; a closed ring needs at least 4",
                coords.len()
            ));
        }
        if coords.first() != coords.last() {
            return self.refuse(format!(
                "{ring} is not closed (its last point must repeat the first)"
            ));
        }
        self.rings.push(LineString(coords));
        Ok(())
    }

    fn polygon_end(&mut self, tagged: bool, _idx: usize) -> geozero::error::Result<()> {
        let mut rings = std::mem::take(&mut self.rings).into_iter();
        let Some(exterior) = rings.next() else {
            return self.refuse(format!(
                "polygon {} is empty; it needs a ring",
                self.polygons.len() + 1
            ));
        };
        self.polygons.push(Polygon::new(exterior, rings.collect()));
        if tagged {
            self.geometry = Some(Wkt::Polygons(MultiPolygon(std::mem::take(
                &mut self.polygons,
            ))));
        }
        Ok(())
    }

    fn multipolygon_end(&mut self, _idx: usize) -> geozero::error::Result<()> {
        if self.polygons.is_empty() {
            return self.refuse("the MULTIPOLYGON is empty".to_owned());
        }
        self.geometry = Some(Wkt::Polygons(MultiPolygon(std::mem::take(
            &mut self.polygons,
        ))));
        Ok(())
    }
}

/// The polygon(s) approximating the circle of `radius` metres around (`lon`, `lat`) on a
/// sphere: [`CIRCLE_VERTICES`] points on the circle, joined by straight lines in
/// longitude/latitude. A circle crossing the antimeridian is split there into two polygons
/// (by [`pvs_model::footprint_from_lon_lat`], as footprints are); a circle around a pole
/// becomes the cap between its boundary and the pole.
pub(crate) fn circle(lon: f64, lat: f64, radius: f64) -> Result<MultiPolygon<f64>, String> {
    let angular = radius / EARTH_RADIUS_M;
    let (phi, lambda) = (lat.to_radians(), lon.to_radians());
    let boundary: Vec<Coord<f64>> = (0..CIRCLE_VERTICES)
        .map(|i| {
            let bearing = std::f64::consts::TAU * i as f64 / CIRCLE_VERTICES as f64;
            let phi2 = (phi.sin() * angular.cos() + phi.cos() * angular.sin() * bearing.cos())
                .clamp(-1.0, 1.0)
                .asin();
            let lambda2 = lambda
                + (bearing.sin() * angular.sin() * phi.cos())
                    .atan2(angular.cos() - phi.sin() * phi2.sin());
            // Longitudes unwrapped around the centre: continuous along the boundary.
            let dlon = wrap(lambda2.to_degrees() - lon);
            coord! { x: lon + dlon, y: phi2.to_degrees().clamp(-90.0, 90.0) }
        })
        .collect();
    let to_north_pole = (90.0 - lat).to_radians() * EARTH_RADIUS_M;
    let to_south_pole = (lat + 90.0).to_radians() * EARTH_RADIUS_M;
    let cannot =
        "the circle cannot be drawn as a valid polygon here; use a smaller radius or a bbox";
    let pole = if to_north_pole < radius {
        Some(90.0)
    } else if to_south_pole < radius {
        Some(-90.0)
    } else {
        None
    };
    let Some(pole) = pole else {
        // A circle away from the poles is a ring like a footprint's: the model's footprint
        // rule validates it and splits it at the antimeridian when it crosses it.
        let ring: Vec<(f64, f64)> = boundary
            .iter()
            .chain(boundary.first())
            .map(|c| (c.x, c.y))
            .collect();
        return pvs_model::footprint_from_lon_lat(&ring).map_err(|e| format!("{cannot} ({e})"));
    };
    let cap = MultiPolygon(vec![Polygon::new(
        LineString(polar_cap(&boundary, pole)),
        vec![],
    )]);
    if !cap.is_valid() {
        return Err(cannot.to_owned());
    }
    Ok(cap)
}

/// `degrees` wrapped into (-180, 180].
fn wrap(degrees: f64) -> f64 {
    let wrapped = (degrees + 180.0).rem_euclid(360.0) - 180.0;
    if wrapped == -180.0 { 180.0 } else { wrapped }
}

/// The ring of a circle containing the pole at latitude `pole` (±90): its boundary sorted by
/// longitude, from -180 to 180, then along the pole's edge back.
fn polar_cap(boundary: &[Coord<f64>], pole: f64) -> Vec<Coord<f64>> {
    let mut points: Vec<Coord<f64>> = boundary
        .iter()
        .map(|c| {
            let x = wrap(c.x);
            coord! { x: if x == 180.0 { -180.0 } else { x }, y: c.y }
        })
        .collect();
    points.sort_by(|a, b| a.x.total_cmp(&b.x));
    points.dedup_by(|a, b| a.x == b.x);
    // The latitude where the boundary crosses the antimeridian, between the last and the
    // first point (going east across ±180).
    let (first, last) = (points[0], points[points.len() - 1]);
    let span = (first.x + 360.0) - last.x;
    let edge = if span > 0.0 {
        last.y + (first.y - last.y) * (180.0 - last.x) / span
    } else {
        first.y
    };
    let mut ring = Vec::with_capacity(points.len() + 5);
    ring.push(coord! { x: -180.0, y: edge });
    ring.extend(points.into_iter().filter(|c| c.x != -180.0));
    ring.push(coord! { x: 180.0, y: edge });
    ring.push(coord! { x: 180.0, y: pole });
    ring.push(coord! { x: -180.0, y: pole });
    ring.push(coord! { x: -180.0, y: edge });
    ring
}

#[cfg(test)]
mod tests {
    use geo::{BoundingRect, Contains, Intersects};

    use super::*;

    #[test]
    fn wkt_types() {
        assert_eq!(
            parse_wkt(" point ( 1.5  -2 ) ").unwrap(),
            Wkt::Point(Point::new(1.5, -2.0))
        );
        let Wkt::Line(line) = parse_wkt("LINESTRING(0 0, 10 10,20 0)").unwrap() else {
            panic!("a line");
        };
        assert_eq!(line.0.len(), 3);
        let Wkt::Polygons(p) =
            parse_wkt("POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,2 4,4 4,4 2,2 2))").unwrap()
        else {
            panic!("polygons");
        };
        assert_eq!((p.0.len(), p.0[0].interiors().len()), (1, 1));
        let Wkt::Polygons(p) = parse_wkt(
            "MULTIPOLYGON(((170 0,180 0,180 5,170 5,170 0)),((-180 0,-170 0,-170 5,-180 5,-180 0)))",
        )
        .unwrap() else {
            panic!("polygons");
        };
        assert_eq!(p.0.len(), 2);
    }

    #[test]
    fn wkt_errors_say_what_and_where() {
        for (text, expected) in [
            ("", "geometry type"),
            ("CIRCLE(1 2)", "\"CIRCLE\" is not supported"),
            ("MULTIPOINT(1 2,3 4)", "\"MULTIPOINT\" is not supported"),
            (
                "MULTILINESTRING((1 2,3 4))",
                "\"MULTILINESTRING\" is not supported",
            ),
            (
                "GEOMETRYCOLLECTION(POINT(1 2))",
                "\"GEOMETRYCOLLECTION\" is not supported",
            ),
            ("POINT(1)", "not a well-formed WKT POINT"),
            ("POINT(1 2", "not a well-formed WKT POINT"),
            (
                "POINT(1 2) x",
                "unexpected text after the geometry at byte 11",
            ),
            (
                "POINT(1 2))",
                "unexpected text after the geometry at byte 10",
            ),
            ("POINT EMPTY", "empty POINT"),
            ("POLYGON EMPTY", "polygon 1 is empty"),
            ("MULTIPOLYGON EMPTY", "MULTIPOLYGON is empty"),
            ("POINT(200 2)", "point 1 (200 2) is outside longitude"),
            (
                "LINESTRING(1 2,3 91)",
                "point 2 (3 91) is outside longitude",
            ),
            ("POINT(1 nan)", "Expected a number for the Y coordinate"),
            ("POINT(1 1e999)", "not a finite number"),
            ("LINESTRING(1 2)", "at least 2 points"),
            ("LINEARRING(0 0,1 1)", "\"LINEARRING\" is not supported"),
            ("POINTZ(1 2 3)", "\"POINTZ\" is not supported"),
            ("POLYGON((0 0,1 0,1 1))", "needs at least 4"),
            (
                "POLYGON((0 0,1 0,1 1,0 1))",
                "ring 1 of polygon 1 is not closed",
            ),
            (
                "MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 6)))",
                "ring 1 of polygon 2 is not closed",
            ),
            ("POLYGON((0 0,2 2,2 0,0 2,0 0))", "not a valid polygon"),
            ("POINT(1 2 3)", "Missing closing parenthesis"),
            ("POINT Z (1 2 3)", "more than two coordinates"),
            ("POINT M (1 2 3)", "more than two coordinates"),
        ] {
            let message = match parse_wkt(text) {
                Ok(geometry) => panic!("{text}: accepted as {geometry:?}"),
                Err(message) => message,
            };
            assert!(message.contains(expected), "{text}: {message}");
        }
        let many = format!(
            "LINESTRING({})",
            (0..=MAX_WKT_POINTS)
                .map(|i| format!("{} 0", i as f64 / 10.0))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(
            parse_wkt(&many)
                .unwrap_err()
                .contains("more than 1000 points")
        );
    }

    #[test]
    fn circle_plain() {
        // 111.195 km is one degree of latitude on the sphere.
        let area = circle(10.0, 0.0, 111_195.0).unwrap();
        let rect = area.bounding_rect().unwrap();
        assert!((rect.max().y - 1.0).abs() < 1e-3, "{rect:?}");
        assert!((rect.min().x - 9.0).abs() < 1e-3, "{rect:?}");
        assert!(area.contains(&Point::new(10.0, 0.0)));
        assert!(!area.intersects(&Point::new(11.1, 0.0)));
    }

    #[test]
    fn circle_across_the_antimeridian_is_split() {
        let area = circle(179.5, 0.0, 111_195.0).unwrap();
        assert_eq!(area.0.len(), 2);
        assert!(area.intersects(&Point::new(-179.6, 0.0)));
        assert!(area.intersects(&Point::new(179.0, 0.0)));
        assert!(!area.intersects(&Point::new(-178.4, 0.0)));
        let area = circle(-179.5, 0.0, 111_195.0).unwrap();
        assert_eq!(area.0.len(), 2);
        assert!(area.intersects(&Point::new(179.6, 0.0)));
    }

    #[test]
    fn circle_around_a_pole_is_a_cap() {
        let area = circle(0.0, 89.0, 222_390.0).unwrap();
        assert_eq!(area.0.len(), 1);
        assert!(area.intersects(&Point::new(180.0, 89.5)));
        assert!(area.intersects(&Point::new(-90.0, 88.5)));
        // Across the pole: 89.01° on the 180° meridian is 1° + 0.99° away, within the 2°
        // radius; 88.9° is 2.1° away.
        assert!(area.intersects(&Point::new(180.0, 89.01)));
        assert!(!area.intersects(&Point::new(180.0, 88.9)));
        assert!(!area.intersects(&Point::new(0.0, 86.9)));
        let south = circle(45.0, -89.5, 111_195.0).unwrap();
        assert!(south.intersects(&Point::new(-135.0, -89.9)));
    }
}
