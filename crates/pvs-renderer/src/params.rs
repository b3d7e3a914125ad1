//! WMS request parameters: typed values, and the OGC exception code and locator for each
//! bad one. The parameters themselves (case, repeats, empty values) are read by
//! [`pvs_ogc::Params`].

use chrono::{DateTime, Utc};
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
}
