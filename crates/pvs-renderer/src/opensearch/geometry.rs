//! Query geometries of the Geo extension: a small WKT reader (`POINT`, `LINESTRING`,
//! `POLYGON`, `MULTIPOLYGON`) and the polygon approximating a `lat`/`lon`/`radius` circle.
//!
//! Coordinates are EPSG:4326 longitude/latitude, compared on the plane (as the catalog does).

use geo::{Coord, LineString, MultiPolygon, Point, Polygon, Validation, coord};

/// The most coordinates a `geom` may have.
pub(crate) const MAX_WKT_POINTS: usize = 1000;

/// The largest `radius`, in metres.
pub(crate) const MAX_RADIUS_M: f64 = 2_000_000.0;

/// Vertices of the polygon approximating a circle.
pub(crate) const CIRCLE_VERTICES: usize = 64;

/// Mean Earth radius (IUGG), in metres: circles are drawn on a sphere of this radius.
pub(crate) const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A parsed WKT geometry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Wkt {
    Point(Point<f64>),
    Line(LineString<f64>),
    Polygons(MultiPolygon<f64>),
}

/// Reads a WKT `POINT`, `LINESTRING`, `POLYGON` or `MULTIPOLYGON` (keywords in any case) in
/// longitude/latitude, refusing what is not a valid geometry inside [-180, 180] x [-90, 90].
/// The error says what is wrong and where (the byte offset).
pub(crate) fn parse_wkt(text: &str) -> Result<Wkt, String> {
    let mut parser = Parser {
        text: text.as_bytes(),
        position: 0,
        points: 0,
    };
    let keyword = parser.keyword()?.to_ascii_uppercase();
    let geometry = match keyword.as_str() {
        "POINT" => {
            parser.expect(b'(')?;
            let point = parser.coord()?;
            parser.expect(b')')?;
            Wkt::Point(Point(point))
        }
        "LINESTRING" => {
            let line = parser.coords()?;
            if line.len() < 2 {
                return Err("a LINESTRING needs at least 2 points".to_owned());
            }
            Wkt::Line(LineString(line))
        }
        "POLYGON" => Wkt::Polygons(MultiPolygon(vec![parser.polygon()?])),
        "MULTIPOLYGON" => {
            parser.expect(b'(')?;
            let mut polygons = vec![parser.polygon()?];
            while parser.next_is(b',') {
                polygons.push(parser.polygon()?);
            }
            parser.expect(b')')?;
            Wkt::Polygons(MultiPolygon(polygons))
        }
        "" => return Err(
            "a WKT geometry type (POINT, LINESTRING, POLYGON, MULTIPOLYGON) is expected at byte 0"
                .to_owned(),
        ),
        other => {
            return Err(format!(
                "{other:?} is not supported; use POINT, LINESTRING, POLYGON or MULTIPOLYGON"
            ));
        }
    };
    parser.skip_spaces();
    if parser.position != parser.text.len() {
        return Err(format!(
            "unexpected text after the geometry at byte {}",
            parser.position
        ));
    }
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

struct Parser<'a> {
    text: &'a [u8],
    position: usize,
    points: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self
            .text
            .get(self.position)
            .is_some_and(|c| c.is_ascii_whitespace())
        {
            self.position += 1;
        }
    }

    /// The letters at the current position (possibly none).
    fn keyword(&mut self) -> Result<String, String> {
        self.skip_spaces();
        let start = self.position;
        while self
            .text
            .get(self.position)
            .is_some_and(|c| c.is_ascii_alphabetic())
        {
            self.position += 1;
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.position]).into_owned())
    }

    /// Consumes `byte` if it comes next (after spaces).
    fn next_is(&mut self, byte: u8) -> bool {
        self.skip_spaces();
        if self.text.get(self.position) == Some(&byte) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.next_is(byte) {
            return Ok(());
        }
        let found = match self.text.get(self.position) {
            None => "the end".to_owned(),
            Some(_) => {
                let rest = String::from_utf8_lossy(&self.text[self.position..]);
                format!("{:?}", rest.chars().next().unwrap_or(' '))
            }
        };
        Err(format!(
            "{:?} expected at byte {}, found {found}",
            byte as char, self.position
        ))
    }

    fn number(&mut self) -> Result<f64, String> {
        self.skip_spaces();
        let start = self.position;
        while self
            .text
            .get(self.position)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'))
        {
            self.position += 1;
        }
        let token = std::str::from_utf8(&self.text[start..self.position]).unwrap_or("");
        token
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
            .ok_or_else(|| format!("a number expected at byte {start}"))
    }

    /// `lon lat`, within range.
    fn coord(&mut self) -> Result<Coord<f64>, String> {
        self.points += 1;
        if self.points > MAX_WKT_POINTS {
            return Err(format!(
                "more than {MAX_WKT_POINTS} points; simplify the geometry"
            ));
        }
        let start = self.position;
        let x = self.number()?;
        let y = self.number()?;
        if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
            return Err(format!(
                "the point ({x} {y}) at byte {start} is outside longitude [-180, 180] / latitude [-90, 90] \
                 (WKT points are \"longitude latitude\"; split geometries at the antimeridian)"
            ));
        }
        Ok(coord! { x: x, y: y })
    }

    /// `( coord, coord, ... )`
    fn coords(&mut self) -> Result<Vec<Coord<f64>>, String> {
        self.expect(b'(')?;
        let mut coords = vec![self.coord()?];
        while self.next_is(b',') {
            coords.push(self.coord()?);
        }
        self.expect(b')')?;
        Ok(coords)
    }

    /// `( ring, ring, ... )`, each ring closed and of at least 4 points.
    fn polygon(&mut self) -> Result<Polygon<f64>, String> {
        self.expect(b'(')?;
        let mut rings = vec![self.ring()?];
        while self.next_is(b',') {
            rings.push(self.ring()?);
        }
        self.expect(b')')?;
        let exterior = rings.remove(0);
        Ok(Polygon::new(exterior, rings))
    }

    fn ring(&mut self) -> Result<LineString<f64>, String> {
        let start = self.position;
        let coords = self.coords()?;
        if coords.len() < 4 {
            return Err(format!(
                "the ring at byte {start} has {} points; a closed ring needs at least 4",
                coords.len()
            ));
        }
        if coords.first() != coords.last() {
            return Err(format!(
                "the ring at byte {start} is not closed (its last point must repeat the first)"
            ));
        }
        Ok(LineString(coords))
    }
}

/// The polygon(s) approximating the circle of `radius` metres around (`lon`, `lat`) on a
/// sphere: [`CIRCLE_VERTICES`] points on the circle, joined by straight lines in
/// longitude/latitude. A circle crossing the antimeridian is split there into two polygons; a
/// circle around a pole becomes the cap between its boundary and the pole.
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
    let polygons = if to_north_pole < radius {
        vec![polar_cap(&boundary, 90.0)]
    } else if to_south_pole < radius {
        vec![polar_cap(&boundary, -90.0)]
    } else {
        let mut ring = boundary.clone();
        ring.push(boundary[0]);
        let west = ring.iter().map(|c| c.x).fold(f64::INFINITY, f64::min);
        let east = ring.iter().map(|c| c.x).fold(f64::NEG_INFINITY, f64::max);
        if east > 180.0 {
            let shifted: Vec<Coord<f64>> = ring
                .iter()
                .map(|c| coord! { x: c.x - 360.0, y: c.y })
                .collect();
            vec![
                clip(&ring, 180.0, |x| x <= 180.0),
                clip(&shifted, -180.0, |x| x >= -180.0),
            ]
        } else if west < -180.0 {
            let shifted: Vec<Coord<f64>> = ring
                .iter()
                .map(|c| coord! { x: c.x + 360.0, y: c.y })
                .collect();
            vec![
                clip(&ring, -180.0, |x| x >= -180.0),
                clip(&shifted, 180.0, |x| x <= 180.0),
            ]
        } else {
            vec![ring]
        }
    };
    let polygons: Vec<Polygon<f64>> = polygons
        .into_iter()
        .filter(|ring| ring.len() >= 4)
        .map(|ring| Polygon::new(LineString(ring), vec![]))
        .collect();
    let area = MultiPolygon(polygons);
    if area.0.is_empty() || !area.is_valid() {
        return Err(
            "the circle cannot be drawn as a valid polygon here; use a smaller radius or a bbox"
                .to_owned(),
        );
    }
    Ok(area)
}

/// `degrees` wrapped into (-180, 180].
fn wrap(degrees: f64) -> f64 {
    let wrapped = (degrees + 180.0).rem_euclid(360.0) - 180.0;
    if wrapped == -180.0 { 180.0 } else { wrapped }
}

/// The part of the closed `ring` where `keep(x)` holds, cut along the meridian `edge`
/// (Sutherland–Hodgman against one half-plane); closed, without repeated points.
fn clip(ring: &[Coord<f64>], edge: f64, keep: impl Fn(f64) -> bool) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::new();
    let mut push = |c: Coord<f64>| {
        if out.last() != Some(&c) {
            out.push(c);
        }
    };
    for pair in ring.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if keep(a.x) {
            push(a);
        }
        if keep(a.x) != keep(b.x) {
            let t = (edge - a.x) / (b.x - a.x);
            push(coord! { x: edge, y: a.y + t * (b.y - a.y) });
        }
    }
    if let Some(&first) = out.first() {
        if out.len() > 1 && out.last() == Some(&first) {
            out.pop();
        }
        out.push(first);
    }
    out
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
            ("POINT(1)", "a number expected at byte 7"),
            ("POINT(1 2", "')' expected at byte 9, found the end"),
            (
                "POINT(1 2) x",
                "unexpected text after the geometry at byte 11",
            ),
            ("POINT(200 2)", "outside longitude"),
            ("POINT(1 nan)", "a number expected"),
            ("POINT(1 1e999)", "a number expected"),
            ("LINESTRING(1 2)", "at least 2 points"),
            ("POLYGON((0 0,1 0,1 1))", "needs at least 4"),
            ("POLYGON((0 0,1 0,1 1,0 1))", "not closed"),
            ("POLYGON((0 0,2 2,2 0,0 2,0 0))", "not a valid polygon"),
            ("POINT(1 2 3)", "')' expected"),
        ] {
            let message = parse_wkt(text).unwrap_err();
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
