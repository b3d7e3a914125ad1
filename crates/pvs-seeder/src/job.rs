//! A seed job and the values it is made of, read from the command line or a `seed_queue`
//! message. Every reader refuses bad input with a message that says what is accepted.

use chrono::{DateTime, Utc};
use pvs_tiles::tms::MAX_ZOOM;
use pvs_tiles::{TileFormat, TileMatrixSet, TileTime};

/// The longest value any reader accepts; longer ones are refused unread.
const MAX_VALUE_CHARS: usize = 256;

/// What to seed: the tiles of the products of `collections` whose time overlaps
/// `[start, end]` (closed), at zoom levels `zoom[0]..=zoom[1]`, in each matrix set and
/// format, optionally only within `bbox`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedJob {
    /// The layers to seed: collections, or a collection's layers (`<collection>__<browse>`).
    pub collections: Vec<String>,
    /// First instant of the interval (inclusive).
    pub start: DateTime<Utc>,
    /// Last instant of the interval (inclusive).
    pub end: DateTime<Utc>,
    /// First and last zoom level (inclusive).
    pub zoom: [u8; 2],
    /// Only the tiles overlapping `[west, south, east, north]` (longitude, latitude; `west >
    /// east` crosses the antimeridian).
    pub bbox: Option<[f64; 4]>,
    /// The tile matrix sets.
    pub matrix_sets: Vec<TileMatrixSet>,
    /// The image formats.
    pub formats: Vec<TileFormat>,
    /// Whether each collection's `__outlines` layer is seeded too.
    pub outlines: bool,
}

/// A value cut to a length that fits in a message.
fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}

/// Refuses values longer than [`MAX_VALUE_CHARS`].
fn check_length(value: &str) -> Result<(), String> {
    if value.chars().count() > MAX_VALUE_CHARS {
        Err(format!(
            "{:?}...: longer than {MAX_VALUE_CHARS} characters",
            shown(value)
        ))
    } else {
        Ok(())
    }
}

/// Reads a zoom range: `FROM-TO` (e.g. `0-8`) or one level (`5`), within 0 to 24.
pub fn parse_zoom(value: &str) -> Result<[u8; 2], String> {
    check_length(value)?;
    let level = |part: &str| -> Result<u8, String> {
        let part = part.trim();
        let n: u32 = part
            .parse()
            .ok()
            .filter(|_| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                format!(
                    "{:?} is not a zoom range: give FROM-TO (e.g. 0-8) or one level, whole numbers from 0 to {MAX_ZOOM}",
                    shown(value)
                )
            })?;
        u8::try_from(n)
            .ok()
            .filter(|&z| z <= MAX_ZOOM)
            .ok_or_else(|| {
                format!(
                    "{:?}: zoom level {n} is beyond the deepest level {MAX_ZOOM} (levels run 0 to {MAX_ZOOM})",
                    shown(value)
                )
            })
    };
    let (from, to) = match value.split_once('-') {
        Some((a, b)) => (level(a)?, level(b)?),
        None => {
            let z = level(value)?;
            (z, z)
        }
    };
    if from > to {
        return Err(format!(
            "{:?}: the first zoom level {from} is above the last {to}; give FROM-TO with FROM <= TO",
            shown(value)
        ));
    }
    Ok([from, to])
}

/// Reads a time interval as the closed interval `[start, end]`:
///
/// - `START/END` with both parts RFC 3339 (`2018-05-01T10:00:00.5Z/2018-05-01T10:05:00Z`,
///   offsets allowed): exactly that interval (the registrar's `seed_queue` messages);
/// - otherwise a tile `TIME` value ([`TileTime::parse`]): `2018-05` (all of May),
///   `2018-05-01/2018-05-03` (three days), `2018-05-01T10Z`...
pub fn parse_interval(value: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    check_length(value)?;
    let value = value.trim();
    if let Some((a, b)) = value.split_once('/') {
        let read = |s: &str| DateTime::parse_from_rfc3339(s.trim()).map(|t| t.with_timezone(&Utc));
        if let (Ok(start), Ok(end)) = (read(a), read(b)) {
            if start > end {
                return Err(format!("{:?}: the start is after the end", shown(value)));
            }
            return Ok((start, end));
        }
    }
    match TileTime::parse(value) {
        Ok(time) => time.closed().ok_or_else(|| {
            format!(
                "{:?}: a seed job needs an interval, not the default time",
                shown(value)
            )
        }),
        Err(e) => Err(format!(
            "{e}; or START/END in RFC 3339 (2018-05-01T10:00:00.5Z/2018-05-01T10:05:00Z)"
        )),
    }
}

/// Reads a box `WEST,SOUTH,EAST,NORTH` in degrees (longitudes -180 to 180, latitudes -90
/// to 90, `SOUTH < NORTH`; `WEST > EAST` crosses the antimeridian).
pub fn parse_bbox(value: &str) -> Result<[f64; 4], String> {
    check_length(value)?;
    let usage = "give WEST,SOUTH,EAST,NORTH in degrees, e.g. 10,45,12,47";
    let numbers: Vec<f64> = value
        .split(',')
        .map(|part| part.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{:?} is not a box: {usage}", shown(value)))?;
    let [west, south, east, north] = numbers[..] else {
        return Err(format!(
            "{:?} has {} numbers, not 4: {usage}",
            shown(value),
            numbers.len()
        ));
    };
    if !numbers.iter().all(|v| v.is_finite()) {
        return Err(format!("{:?}: numbers must be finite", shown(value)));
    }
    for (name, v) in [("WEST", west), ("EAST", east)] {
        if !(-180.0..=180.0).contains(&v) {
            return Err(format!(
                "{:?}: {name} {v} is not a longitude from -180 to 180",
                shown(value)
            ));
        }
    }
    for (name, v) in [("SOUTH", south), ("NORTH", north)] {
        if !(-90.0..=90.0).contains(&v) {
            return Err(format!(
                "{:?}: {name} {v} is not a latitude from -90 to 90",
                shown(value)
            ));
        }
    }
    if south >= north {
        return Err(format!(
            "{:?}: SOUTH {south} must be below NORTH {north}",
            shown(value)
        ));
    }
    if west == east {
        return Err(format!(
            "{:?}: WEST and EAST are equal, the box has no width",
            shown(value)
        ));
    }
    Ok([west, south, east, north])
}

/// Reads a comma-separated list of tile matrix sets (`WebMercatorQuad,WorldCRS84Quad`),
/// without repeats.
pub fn parse_matrix_sets(value: &str) -> Result<Vec<TileMatrixSet>, String> {
    check_length(value)?;
    let mut sets = Vec::new();
    for part in value.split(',') {
        let set: TileMatrixSet = part.trim().parse().map_err(|e| format!("{e}"))?;
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    Ok(sets)
}

/// Reads a comma-separated list of tile formats (`png`, `jpg`), without repeats.
pub fn parse_formats(value: &str) -> Result<Vec<TileFormat>, String> {
    check_length(value)?;
    let mut formats = Vec::new();
    for part in value.split(',') {
        let format = TileFormat::parse(part.trim()).ok_or_else(|| {
            format!(
                "unknown tile format {:?}: png or jpg (also image/png, image/jpeg)",
                shown(part.trim())
            )
        })?;
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    Ok(formats)
}

/// Reads a comma-separated list of collection names (each as tile layer names allow:
/// letters, digits, `_`, `-`, `.`), without repeats.
pub fn parse_collections(value: &str) -> Result<Vec<String>, String> {
    check_length(value)?;
    let mut names: Vec<String> = Vec::new();
    for part in value.split(',') {
        let name = part.trim();
        pvs_ogc::layer::check_layer_name(name).map_err(|e| e.to_string())?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn zoom_ranges() {
        assert_eq!(parse_zoom("0-8").unwrap(), [0, 8]);
        assert_eq!(parse_zoom("5").unwrap(), [5, 5]);
        assert_eq!(parse_zoom(" 3 - 24 ").unwrap(), [3, 24]);
        for (bad, expected) in [
            ("9-3", "first zoom level 9 is above the last 3"),
            ("0-30", "zoom level 30 is beyond the deepest level 24"),
            ("25", "beyond the deepest"),
            ("99999999999999999999", "not a zoom range"),
            ("", "not a zoom range"),
            ("-", "not a zoom range"),
            ("1-2-3", "not a zoom range"),
            ("a-b", "not a zoom range"),
            ("+1", "not a zoom range"),
            ("-1", "not a zoom range"),
            ("1.5", "not a zoom range"),
        ] {
            let error = parse_zoom(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
        let long = "1".repeat(100_000);
        assert!(parse_zoom(&long).unwrap_err().contains("longer than"));
    }

    #[test]
    fn intervals() {
        assert_eq!(
            parse_interval("2010-07-22T21:38:40Z/2010-07-22T21:39:38.500Z").unwrap(),
            (at("2010-07-22T21:38:40Z"), at("2010-07-22T21:39:38.5Z"))
        );
        assert_eq!(
            parse_interval("2018-05-01T12:00:00+02:00/2018-05-01T10:00:00Z").unwrap(),
            (at("2018-05-01T10:00:00Z"), at("2018-05-01T10:00:00Z"))
        );
        assert_eq!(
            parse_interval("2018-05").unwrap(),
            (
                at("2018-05-01T00:00:00Z"),
                at("2018-05-31T23:59:59.999999Z")
            )
        );
        assert_eq!(
            parse_interval("2018-05-01/2018-05-03").unwrap(),
            (
                at("2018-05-01T00:00:00Z"),
                at("2018-05-03T23:59:59.999999Z")
            )
        );
        for (bad, expected) in [
            ("garbage", "not a time"),
            ("", "not a time"),
            ("default", "not the default"),
            (
                "2018-05-02T00:00:00Z/2018-05-01T00:00:00Z",
                "start is after the end",
            ),
            ("2018-06/2018-05", "start is after the end"),
            ("2018-13", "not a calendar date"),
            ("2018/2019/2020", "not a time"),
        ] {
            let error = parse_interval(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
        assert!(
            parse_interval(&"2".repeat(10_000))
                .unwrap_err()
                .contains("longer than")
        );
    }

    #[test]
    fn boxes() {
        assert_eq!(parse_bbox("10,45,12,47").unwrap(), [10.0, 45.0, 12.0, 47.0]);
        assert_eq!(
            parse_bbox("170, -10, -170, 10").unwrap(),
            [170.0, -10.0, -170.0, 10.0]
        );
        for (bad, expected) in [
            ("10,45,12", "has 3 numbers"),
            ("10,45,12,47,1", "has 5 numbers"),
            ("a,b,c,d", "not a box"),
            ("", "not a box"),
            ("NaN,0,1,1", "finite"),
            ("inf,0,1,1", "finite"),
            ("-181,0,1,1", "WEST -181"),
            ("0,-91,1,1", "SOUTH -91"),
            ("0,0,1,91", "NORTH 91"),
            ("0,10,1,5", "must be below NORTH"),
            ("1,0,1,5", "no width"),
        ] {
            let error = parse_bbox(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!(
            parse_matrix_sets("WorldCRS84Quad, GoogleMapsCompatible,webmercatorquad").unwrap(),
            vec![
                TileMatrixSet::WorldCRS84Quad,
                TileMatrixSet::WebMercatorQuad
            ]
        );
        // MapCache's grid names, and the scale set its WGS84 grid announces.
        assert_eq!(
            parse_matrix_sets("WGS84,GoogleMapsCompatible, GoogleCRS84Quad,WorldCRS84Quad")
                .unwrap(),
            vec![
                TileMatrixSet::WorldCRS84Quad,
                TileMatrixSet::WebMercatorQuad
            ]
        );
        assert!(
            parse_matrix_sets("EPSG:4326")
                .unwrap_err()
                .contains("unknown tile matrix set")
        );
        assert!(
            parse_matrix_sets("")
                .unwrap_err()
                .contains("unknown tile matrix set")
        );
        assert_eq!(
            parse_formats("png,JPG,image/png").unwrap(),
            vec![TileFormat::Png, TileFormat::Jpeg]
        );
        assert!(
            parse_formats("gif")
                .unwrap_err()
                .contains("unknown tile format \"gif\"")
        );
        assert_eq!(
            parse_collections("SAR,OPT,SAR").unwrap(),
            vec!["SAR", "OPT"]
        );
        for bad in ["", "a b", "../x", ".hidden", "SAR,"] {
            assert!(parse_collections(bad).is_err(), "{bad:?} accepted");
        }
    }
}
