//! WMS request parameters: typed values, and the OGC exception code and locator for each
//! bad one. The parameters themselves (case, repeats, empty values) are read by
//! [`pvs_ogc::Params`].

use chrono::{DateTime, Utc};
use pvs_catalog::{Filter, Sort};
use pvs_ogc::crs::Crs;
use pvs_ogc::{Exception, Params};

/// A time interval: start and end, UTC.
pub type Interval = (DateTime<Utc>, DateTime<Utc>);

/// WMS versions served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 1.1.1: `SRS`, x/y boxes always.
    V111,
    /// 1.3.0: `CRS`, boxes in the CRS's axis order.
    V130,
}

impl Version {
    /// From `VERSION` (absent: 1.3.0, the highest).
    pub fn parse(value: Option<&str>) -> Result<Self, Exception> {
        match value {
            None | Some("1.3.0") => Ok(Version::V130),
            Some("1.1.1") | Some("1.1.0") => Ok(Version::V111),
            Some(other) => Err(Exception::new(
                "InvalidParameterValue",
                "version",
                format!("VERSION {other:?} is not served (1.1.1, 1.3.0)"),
            )),
        }
    }

    /// `1.1.1` or `1.3.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V111 => "1.1.1",
            Version::V130 => "1.3.0",
        }
    }

    /// The name of the CRS parameter.
    pub fn crs_key(self) -> &'static str {
        match self {
            Version::V111 => "srs",
            Version::V130 => "crs",
        }
    }
}

/// A CRS parameter (`locator`): the forms [`Crs::parse`] reads, of a code GDAL knows;
/// `InvalidCRS` otherwise.
pub fn crs(value: &str, locator: &str) -> Result<Crs, Exception> {
    let invalid = |why: &dyn std::fmt::Display| {
        Exception::new("InvalidCRS", locator, format!("CRS {value:?}: {why}"))
    };
    let crs = Crs::parse(value).map_err(|e| invalid(&e))?;
    pvs_raster::crs::axes(crs.epsg).map_err(|_| invalid(&"not a CRS GDAL knows"))?;
    Ok(crs)
}

/// Whether WMS 1.3.0 boxes in `crs` come northing/latitude first (the EPSG axis order, as
/// GDAL tells it; never for `CRS:84`).
pub fn swaps_axes(crs: Crs) -> bool {
    !crs.lon_lat && pvs_raster::crs::axes(crs.epsg).is_ok_and(|axes| axes.y_first)
}

/// `BBOX` as x/y `[min x, min y, max x, max y]` in `crs`, swapped from 1.3.0's axis order
/// where the CRS requires it.
pub fn bbox(params: &Params, version: Version, crs: Crs) -> Result<[f64; 4], Exception> {
    let text = params.require("bbox")?;
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            Exception::new(
                "InvalidParameterValue",
                "bbox",
                format!("BBOX {text:?}: four numbers expected"),
            )
        })?;
    let [a, b, c, d] = values[..] else {
        return Err(Exception::new(
            "InvalidParameterValue",
            "bbox",
            format!(
                "BBOX {text:?}: four numbers expected, {} given",
                values.len()
            ),
        ));
    };
    if !values.iter().all(|v| v.is_finite()) || a >= c || b >= d {
        return Err(Exception::new(
            "InvalidParameterValue",
            "bbox",
            format!("BBOX {text:?}: minimum must be below maximum on both axes"),
        ));
    }
    Ok(if version == Version::V130 && swaps_axes(crs) {
        [b, a, d, c]
    } else {
        [a, b, c, d]
    })
}

/// `WIDTH` or `HEIGHT`: 1 to `max`.
pub fn size(params: &Params, key: &str, max: usize) -> Result<usize, Exception> {
    let text = params.require(key)?;
    text.parse::<usize>()
        .ok()
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| {
            Exception::new(
                "InvalidParameterValue",
                key,
                format!(
                    "{} {text:?}: a whole number from 1 to {max}",
                    key.to_ascii_uppercase()
                ),
            )
        })
}

/// `TIME`: an instant or `start/end` (a third `/resolution` part is ignored), each read by
/// [`pvs_ogc::time::parse_instant`].
pub fn time(params: &Params) -> Result<Option<Interval>, Exception> {
    let Some(text) = params.get("time") else {
        return Ok(None);
    };
    let invalid = |why: String| {
        Exception::new(
            "InvalidDimensionValue",
            "time",
            format!("TIME {text:?}: {why}"),
        )
    };
    let parse = |part: &str| {
        pvs_ogc::time::parse_instant(part).map_err(|e| invalid(format!("{:?}: {e}", part.trim())))
    };
    let parts: Vec<&str> = text.split('/').collect();
    let (start, end) = match parts[..] {
        [instant] => {
            let t = parse(instant)?;
            (t, t)
        }
        [start, end] | [start, end, _] => (parse(start)?, parse(end)?),
        _ => return Err(invalid("an instant or start/end expected".into())),
    };
    if end < start {
        return Err(invalid("the end is before the start".into()));
    }
    Ok(Some((start, end)))
}

/// `BGCOLOR` (`0xRRGGBB`, default white).
pub fn bgcolor(params: &Params) -> Result<[u8; 3], Exception> {
    let Some(text) = params.get("bgcolor") else {
        return Ok([255, 255, 255]);
    };
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .or_else(|| text.strip_prefix('#'))
        .unwrap_or(text);
    let value = (hex.len() == 6)
        .then(|| u32::from_str_radix(hex, 16).ok())
        .flatten()
        .ok_or_else(|| {
            Exception::new(
                "InvalidParameterValue",
                "bgcolor",
                format!("BGCOLOR {text:?}: 0xRRGGBB expected"),
            )
        })?;
    Ok([(value >> 16) as u8, (value >> 8) as u8, value as u8])
}

/// `TRANSPARENT` (default false).
pub fn transparent(params: &Params) -> Result<bool, Exception> {
    match params
        .get("transparent")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("FALSE") => Ok(false),
        Some("TRUE") => Ok(true),
        Some(other) => Err(Exception::new(
            "InvalidParameterValue",
            "transparent",
            format!("TRANSPARENT {other:?}: TRUE or FALSE"),
        )),
    }
}

/// The most values in `dim_bands`, `dim_range` and `sortBy`.
const MAX_LIST: usize = 16;

/// `STYLES`: one per layer (empty: the layer's own), or absent or empty for every layer.
pub fn styles(params: &Params, layers: usize) -> Result<Vec<Option<String>>, Exception> {
    let text = params.get("styles").unwrap_or("");
    if text.is_empty() {
        return Ok(vec![None; layers]);
    }
    let styles: Vec<Option<String>> = text
        .split(',')
        .map(|style| (!style.is_empty()).then(|| style.to_owned()))
        .collect();
    if styles.len() != layers {
        return Err(Exception::new(
            "StyleNotDefined",
            "styles",
            format!(
                "STYLES {text:?}: {} styles for {layers} layers (one per layer, or none)",
                styles.len()
            ),
        ));
    }
    Ok(styles)
}

/// `dim_bands` (EOxServer): the channels, as band names or band expressions, one, three or
/// four, comma-separated.
pub fn dim_bands(params: &Params) -> Result<Option<Vec<String>>, Exception> {
    let Some(text) = params.get("dim_bands") else {
        return Ok(None);
    };
    let bands: Vec<String> = text.split(',').map(|b| b.trim().to_owned()).collect();
    if !matches!(bands.len(), 1 | 3 | 4) || bands.iter().any(String::is_empty) {
        return Err(Exception::new(
            "InvalidParameterValue",
            "dim_bands",
            format!("DIM_BANDS {text:?}: one, three or four band names, comma-separated"),
        ));
    }
    Ok(Some(bands))
}

/// `dim_range` (EOxServer): `min max` for every channel, or one per channel,
/// comma-separated (`0 4000` or `0 3000,0 3000,0 2000`).
pub fn dim_range(params: &Params) -> Result<Option<Vec<[f64; 2]>>, Exception> {
    let Some(text) = params.get("dim_range") else {
        return Ok(None);
    };
    let invalid = |why: &str| {
        Exception::new(
            "InvalidParameterValue",
            "dim_range",
            format!("DIM_RANGE {text:?}: {why}"),
        )
    };
    let ranges = text
        .split(',')
        .take(MAX_LIST + 1)
        .map(|range| {
            let values: Vec<f64> = range
                .split_whitespace()
                .map(|v| v.parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid("numbers expected"))?;
            match values[..] {
                [low, high] if low < high => Ok([low, high]),
                [_, _] => Err(invalid("each minimum must be below its maximum")),
                _ => Err(invalid(
                    "\"min max\" for every channel, or one per channel, comma-separated",
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ranges.len() > 4 {
        return Err(invalid("at most four ranges (one per channel)"));
    }
    Ok(Some(ranges))
}

/// `cql` (EOxServer): a filter on the products' metadata in ECQL, with EOxServer's names
/// (`cloudCover < 20 AND orbitDirection = 'ASCENDING'`), see [`pvs_catalog::cql::eo_filter`].
pub fn cql(params: &Params) -> Result<Option<Filter>, Exception> {
    let Some(text) = params.get("cql") else {
        return Ok(None);
    };
    pvs_catalog::cql::eo_filter(text)
        .map(Some)
        .map_err(|why| Exception::new("InvalidParameterValue", "cql", format!("CQL: {why}")))
}

/// `sortBy` (EOxServer): `name [A|D]`, comma-separated; the products first in this order are
/// drawn on top.
pub fn sort_by(params: &Params) -> Result<Vec<Sort>, Exception> {
    let Some(text) = params.get("sortby") else {
        return Ok(Vec::new());
    };
    let invalid = |why: String| {
        Exception::new(
            "InvalidParameterValue",
            "sortBy",
            format!("SORTBY {text:?}: {why}"),
        )
    };
    let keys: Vec<&str> = text.split(',').collect();
    if keys.len() > MAX_LIST {
        return Err(invalid(format!("at most {MAX_LIST} keys")));
    }
    keys.into_iter()
        .map(|key| {
            let words: Vec<&str> = key.split_whitespace().collect();
            let (name, descending) = match words[..] {
                [name] => (name, false),
                [name, direction] => match direction.to_ascii_uppercase().as_str() {
                    "A" | "ASC" => (name, false),
                    "D" | "DESC" => (name, true),
                    _ => return Err(invalid(format!("{direction:?}: A or D"))),
                },
                _ => return Err(invalid("a name, then A or D, per key".to_owned())),
            };
            let field = pvs_catalog::cql::eo_field(name).map_err(invalid)?;
            Ok(Sort { field, descending })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn crs_forms_and_axis_order() {
        let epsg4326 = crs("EPSG:4326", "crs").unwrap();
        assert!(swaps_axes(epsg4326));
        assert_eq!(crs("urn:ogc:def:crs:EPSG::4326", "crs").unwrap(), epsg4326);
        assert_eq!(
            crs("http://www.opengis.net/def/crs/EPSG/0/4326", "crs").unwrap(),
            epsg4326
        );
        let crs84 = crs("CRS:84", "crs").unwrap();
        assert!(!swaps_axes(crs84));
        assert!(!swaps_axes(crs("EPSG:3857", "crs").unwrap()));
        assert!(!swaps_axes(crs("EPSG:32633", "crs").unwrap()));
        assert!(
            swaps_axes(crs("EPSG:3035", "crs").unwrap()),
            "LAEA is northing/easting"
        );
        for bad in [
            "",
            "EPSG:",
            "EPSG:abc",
            "EPSG:1025",
            "EPSG:99999999999",
            "WGS84",
        ] {
            assert_eq!(crs(bad, "srs").unwrap_err().code, "InvalidCRS", "{bad:?}");
        }
        let p = params(&[("bbox", "40,10,41,12")]);
        assert_eq!(
            bbox(&p, Version::V130, epsg4326).unwrap(),
            [10.0, 40.0, 12.0, 41.0]
        );
        assert_eq!(
            bbox(&p, Version::V111, epsg4326).unwrap(),
            [40.0, 10.0, 41.0, 12.0]
        );
        assert_eq!(
            bbox(&p, Version::V130, crs84).unwrap(),
            [40.0, 10.0, 41.0, 12.0]
        );
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let crs = crs("EPSG:3857", "crs").unwrap();
        for value in [
            "1,2,3",
            "1,2,3,x",
            "3,2,1,4",
            "1,2,3,4,5",
            "nan,0,1,1",
            &"1,".repeat(5000),
        ] {
            let error = bbox(&params(&[("bbox", value)]), Version::V130, crs).unwrap_err();
            assert_eq!(
                (error.code, error.locator.as_deref()),
                ("InvalidParameterValue", Some("bbox"))
            );
        }
        for value in ["0", "-1", "4097", "abc", "1e3"] {
            let error = size(&params(&[("width", value)]), "width", 4096).unwrap_err();
            assert_eq!(error.locator.as_deref(), Some("width"), "{value}");
        }
        assert_eq!(size(&params(&[("width", "4096")]), "width", 4096), Ok(4096));
        for value in [
            "yesterday",
            "2020-1-2",
            "2020-01-02/2020-01-01",
            "2020-01-01/2020-01-02/P1D/x",
        ] {
            assert_eq!(
                time(&params(&[("time", value)])).unwrap_err().code,
                "InvalidDimensionValue"
            );
        }
        assert!(
            time(&params(&[(
                "time",
                "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z/PT1H"
            )]))
            .unwrap()
            .is_some()
        );
        assert_eq!(
            bgcolor(&params(&[("bgcolor", "0x0000FF")])),
            Ok([0, 0, 255])
        );
        assert!(bgcolor(&params(&[("bgcolor", "blue")])).is_err());
        assert!(transparent(&params(&[("transparent", "maybe")])).is_err());
        assert_eq!(
            Version::parse(Some("2.0")).unwrap_err().locator.as_deref(),
            Some("version")
        );
    }

    #[test]
    fn eoxserver_vendor_parameters() {
        let p = params(&[
            ("styles", ",viridis"),
            ("dim_bands", "B08,B04, B03"),
            ("dim_range", "0 4000,0 3000,10 20"),
            ("cql", "cloudCover < 20"),
            ("sortby", "cloudCover D,identifier"),
        ]);
        assert_eq!(styles(&p, 2).unwrap(), [None, Some("viridis".to_owned())]);
        assert_eq!(styles(&params(&[]), 3).unwrap(), [None, None, None]);
        assert_eq!(
            styles(&p, 3).unwrap_err().code,
            "StyleNotDefined",
            "2 styles for 3 layers"
        );
        assert_eq!(dim_bands(&p).unwrap().unwrap(), ["B08", "B04", "B03"]);
        assert_eq!(
            dim_range(&p).unwrap().unwrap(),
            [[0.0, 4000.0], [0.0, 3000.0], [10.0, 20.0]]
        );
        assert!(cql(&p).unwrap().is_some());
        let sort = sort_by(&p).unwrap();
        assert_eq!(sort.len(), 2);
        assert!(sort[0].descending && !sort[1].descending);
        assert_eq!(sort[1].field, pvs_catalog::Field::Id);
        for (key, value) in [
            ("dim_bands", "B1,B2"),
            ("dim_bands", "B1,,B3"),
            ("dim_range", "0"),
            ("dim_range", "4 1"),
            ("dim_range", "0 x"),
            ("dim_range", "0 1,0 1,0 1,0 1,0 1"),
            ("cql", "cloudCover <"),
            ("cql", "nothing = 1"),
            ("sortby", "cloudCover sideways"),
            ("sortby", "nothing A"),
            ("sortby", "a b c"),
        ] {
            let p = params(&[(key, value)]);
            let error = match key {
                "dim_bands" => dim_bands(&p).unwrap_err(),
                "dim_range" => dim_range(&p).unwrap_err(),
                "cql" => cql(&p).unwrap_err(),
                _ => sort_by(&p).unwrap_err(),
            };
            assert_eq!(error.code, "InvalidParameterValue", "{key}={value}");
            assert!(
                error
                    .locator
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(key)),
                "{key}={value}: {error:?}"
            );
        }
    }
}
