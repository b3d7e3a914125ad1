//! WCS 2.0 KVP parameters: coverage ids as XML NCNames, `SUBSET` parsing, CRS URIs and
//! times. The parameters themselves and the exceptions are [`pvs_ogc`]'s.

use chrono::{DateTime, Utc};
use pvs_ogc::Exception;
use pvs_ogc::exception::clip as shown;

/// The most ids accepted in one `COVERAGEID` or `EOID` list.
pub const MAX_IDS: usize = 100;

/// A comma-separated id list (`COVERAGEID`, `EOID`), at most [`MAX_IDS`], each decoded with
/// [`decode_id`].
pub fn id_list(value: &str, name: &str) -> Result<Vec<String>, Exception> {
    let ids: Vec<&str> = value.split(',').map(str::trim).collect();
    if ids.len() > MAX_IDS {
        return Err(Exception::new(
            "InvalidParameterValue",
            name,
            format!(
                "{name} lists {} ids; at most {MAX_IDS} are accepted",
                ids.len()
            ),
        ));
    }
    if ids.iter().any(|id| id.is_empty()) {
        return Err(Exception::new(
            "InvalidParameterValue",
            name,
            format!("{name} {:?} holds an empty id", shown(value, 100)),
        ));
    }
    Ok(ids.into_iter().map(decode_id).collect())
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// A product or collection id as the XML NCName WCS needs for `CoverageId` and `gml:id`:
/// ids that are NCNames of ASCII letters, digits, `_`, `-` and `.` are kept; any other
/// character (and a digit, `-` or `.` in first place, and a `_` before `x`) is written
/// `_xHHHH_` (`_xHHHHHH_` beyond U+FFFF), the scheme of .NET's `XmlConvert.EncodeName`,
/// undone by [`decode_id`].
pub fn encode_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let mut out = String::with_capacity(id.len());
    for (i, &c) in chars.iter().enumerate() {
        let plain = if i == 0 {
            is_name_start(c)
        } else {
            is_name_char(c)
        };
        let escapes_underscore = c == '_' && chars.get(i + 1) == Some(&'x');
        if plain && !escapes_underscore {
            out.push(c);
        } else if u32::from(c) <= 0xFFFF {
            out.push_str(&format!("_x{:04X}_", u32::from(c)));
        } else {
            out.push_str(&format!("_x{:06X}_", u32::from(c)));
        }
    }
    out
}

/// Undoes [`encode_id`]; text that is not an escape is kept as it is.
pub fn decode_id(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(start) = rest.find("_x") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let decoded = [4usize, 6].iter().find_map(|&digits| {
            let hex = after.get(..digits)?;
            if after.as_bytes().get(digits) != Some(&b'_')
                || !hex.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return None;
            }
            let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
            Some((c, digits + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push_str("_x");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A bound of a trim: a value or `*` (the coverage's own edge).
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// `*`.
    Open,
    /// A value, quotes removed.
    Value(String),
}

/// One `SUBSET`: `axis(low,high)` (a trim), `axis(value)` (a slice), optionally with a CRS
/// as in WCS 2.0.0 (`axis,crs(low,high)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Subset {
    /// The axis label as given.
    pub axis: String,
    /// The CRS given with the axis, if any.
    pub crs: Option<String>,
    /// The lower bound (the value of a slice).
    pub low: Bound,
    /// The upper bound; `None` for a slice.
    pub high: Option<Bound>,
}

impl Subset {
    /// Parses one `SUBSET` value.
    pub fn parse(text: &str) -> Result<Self, Exception> {
        let invalid = |why: &str| {
            Exception::new(
                "InvalidSubsetting",
                "subset",
                format!(
                    "SUBSET {:?}: {why}; axis(low,high) expected",
                    shown(text, 100)
                ),
            )
        };
        let (head, tail) = text.split_once('(').ok_or_else(|| invalid("no '('"))?;
        let inner = tail
            .strip_suffix(')')
            .ok_or_else(|| invalid("it does not end with ')'"))?;
        let (axis, crs) = match head.split_once(',') {
            Some((axis, crs)) => (axis.trim(), Some(crs.trim().to_owned())),
            None => (head.trim(), None),
        };
        if axis.is_empty() || !axis.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid("the axis label is not a name"));
        }
        let bound = |part: &str| -> Result<Bound, Exception> {
            let part = part.trim();
            let unquoted = part
                .strip_prefix('"')
                .and_then(|p| p.strip_suffix('"'))
                .unwrap_or(part)
                .trim();
            if unquoted.is_empty() {
                Err(invalid("a bound is empty"))
            } else if unquoted == "*" {
                Ok(Bound::Open)
            } else if unquoted.contains(['"', '(', ')']) {
                Err(invalid("a bound holds quotes or parentheses"))
            } else {
                Ok(Bound::Value(unquoted.to_owned()))
            }
        };
        let parts: Vec<&str> = inner.split(',').collect();
        let (low, high) = match parts[..] {
            [value] => (bound(value)?, None),
            [low, high] => (bound(low)?, Some(bound(high)?)),
            _ => return Err(invalid("one or two values expected")),
        };
        Ok(Self {
            axis: axis.to_owned(),
            crs,
            low,
            high,
        })
    }

    /// The trim as numbers (open bounds as infinities); slices and non-numbers are
    /// `InvalidSubsetting`, as are NaN, infinities and a low bound above the high one.
    pub fn numeric_trim(&self) -> Result<(f64, f64), Exception> {
        let invalid = |why: String| {
            Exception::new(
                "InvalidSubsetting",
                &self.axis,
                format!("SUBSET on axis {}: {why}", self.axis),
            )
        };
        let Some(high) = &self.high else {
            return Err(invalid(
                "slicing (one value) is not supported; trim with two values".into(),
            ));
        };
        let number = |bound: &Bound, open: f64| -> Result<f64, Exception> {
            match bound {
                Bound::Open => Ok(open),
                Bound::Value(text) => text
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        invalid(format!("{:?} is not a finite number", shown(text, 50)))
                    }),
            }
        };
        let (low, high) = (
            number(&self.low, f64::NEG_INFINITY)?,
            number(high, f64::INFINITY)?,
        );
        if low > high {
            return Err(invalid(format!(
                "the low bound {low} is above the high bound {high}"
            )));
        }
        Ok((low, high))
    }
}

/// Which horizontal axis a label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Easting or longitude.
    X,
    /// Northing or latitude.
    Y,
}

/// Resolves an axis label (case-insensitive): `x`, `Long`, `Lon`, `E` are x; `y`, `Lat`,
/// `N` are y. Also tells whether the label is a geographic one (`Lat`, `Long`).
pub fn axis_of(label: &str) -> Option<(Axis, bool)> {
    match label.to_ascii_lowercase().as_str() {
        "x" | "e" | "easting" | "i" => Some((Axis::X, false)),
        "long" | "lon" | "longitude" => Some((Axis::X, true)),
        "y" | "n" | "northing" | "j" => Some((Axis::Y, false)),
        "lat" | "latitude" => Some((Axis::Y, true)),
        _ => None,
    }
}

/// Whether a label names the time axis of DescribeEOCoverageSet.
pub fn is_time_axis(label: &str) -> bool {
    matches!(
        label.to_ascii_lowercase().as_str(),
        "phenomenontime" | "time" | "t"
    )
}

/// An EPSG CRS given as a URI (`http://www.opengis.net/def/crs/EPSG/0/<code>`) or in one of
/// the other forms WMS takes (`EPSG:<code>`, URN); `InvalidParameterValue` otherwise.
pub fn crs(value: &str, name: &str) -> Result<u32, Exception> {
    crate::params::crs(value, name)
        .map(|crs| crs.epsg)
        .map_err(|error| Exception::invalid(name, error.message))
}

/// A time bound, read by [`pvs_ogc::time::parse_instant`].
pub fn time(text: &str, axis: &str) -> Result<DateTime<Utc>, Exception> {
    pvs_ogc::time::parse_instant(text).map_err(|e| {
        Exception::new(
            "InvalidSubsetting",
            axis,
            format!("SUBSET on axis {axis}: {:?}: {e}", shown(text, 50)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_as_ncnames() {
        for (id, encoded) in [
            ("b_id_1", "b_id_1"),
            ("S2A.MSIL1C-2020", "S2A.MSIL1C-2020"),
            ("1abc", "_x0031_abc"),
            ("a:b/c d", "a_x003A_b_x002F_c_x0020_d"),
            ("a_xb", "a_x005F_xb"),
            ("a_x0041_", "a_x005F_x0041_"),
            ("<x&\"'>", "_x003C_x_x0026__x0022__x0027__x003E_"),
            ("é😀", "_x00E9__x01F600_"),
        ] {
            assert_eq!(encode_id(id), encoded, "{id}");
            assert_eq!(decode_id(encoded), id, "{encoded}");
        }
        // Not an escape: kept.
        assert_eq!(decode_id("a_xZZ_b_x"), "a_xZZ_b_x");
    }

    #[test]
    fn subsets_parse() {
        let s = Subset::parse("Lat(10.5,20)").unwrap();
        assert_eq!(
            (s.axis.as_str(), s.numeric_trim().unwrap()),
            ("Lat", (10.5, 20.0))
        );
        let s = Subset::parse("phenomenonTime(\"2020-01-01\",\"2020-01-02T00:00:00Z\")").unwrap();
        assert_eq!(s.low, Bound::Value("2020-01-01".into()));
        let s = Subset::parse("x,http://www.opengis.net/def/crs/EPSG/0/4326(*,3)").unwrap();
        assert_eq!(
            s.crs.as_deref(),
            Some("http://www.opengis.net/def/crs/EPSG/0/4326")
        );
        assert_eq!(s.numeric_trim().unwrap(), (f64::NEG_INFINITY, 3.0));
        for bad in [
            "Lat",
            "Lat(1,2",
            "Lat(1,2,3)",
            "(1,2)",
            "La t(1,2)",
            "Lat(,2)",
            "Lat(\"(\",2)",
        ] {
            assert_eq!(
                Subset::parse(bad).unwrap_err().code,
                "InvalidSubsetting",
                "{bad}"
            );
        }
        for bad in ["Lat(2,1)", "Lat(NaN,1)", "Lat(1,inf)", "Lat(a,1)", "Lat(1)"] {
            let error = Subset::parse(bad).unwrap().numeric_trim().unwrap_err();
            assert_eq!(
                (error.code, error.locator.as_deref()),
                ("InvalidSubsetting", Some("Lat"))
            );
        }
    }
}
