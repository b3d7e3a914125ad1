//! WMS request parameters: case-insensitive keys, typed values, and the OGC exception code
//! and locator for each bad one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// A bad request: the OGC exception code, the parameter it is about, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WmsError {
    /// `InvalidCRS`, `LayerNotDefined`, `MissingParameterValue`...
    pub code: &'static str,
    /// The parameter (lower case), if one is at fault.
    pub locator: Option<String>,
    /// The message.
    pub message: String,
}

impl WmsError {
    /// An error about parameter `locator`.
    pub fn new(code: &'static str, locator: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            locator: Some(locator.to_owned()),
            message: message.into(),
        }
    }
}

/// A time interval: start and end, UTC.
pub type Interval = (DateTime<Utc>, DateTime<Utc>);

/// Longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// The KVP parameters of a request, keys lower-cased.
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// From decoded query pairs; the first of repeated keys wins.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut map = HashMap::new();
        for (key, value) in pairs {
            map.entry(key.to_ascii_lowercase()).or_insert(value);
        }
        Self(map)
    }

    /// The value of `key` (lower case), if present and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value of `key`, or `MissingParameterValue`.
    pub fn require(&self, key: &str) -> Result<&str, WmsError> {
        self.get(key).ok_or_else(|| {
            WmsError::new(
                "MissingParameterValue",
                key,
                format!("parameter {} is required", key.to_ascii_uppercase()),
            )
        })
    }
}

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
    pub fn parse(value: Option<&str>) -> Result<Self, WmsError> {
        match value {
            None | Some("1.3.0") => Ok(Version::V130),
            Some("1.1.1") | Some("1.1.0") => Ok(Version::V111),
            Some(other) => Err(WmsError::new(
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

/// A requested CRS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crs {
    /// The EPSG code (CRS:84 is EPSG:4326 in lon/lat order).
    pub epsg: u32,
    /// Whether boxes come in lon/lat (x/y) order whatever the version (CRS:84).
    pub lon_lat: bool,
}

impl Crs {
    /// `EPSG:n`, `CRS:84`, `urn:ogc:def:crs:EPSG::n` or `http://www.opengis.net/def/crs/EPSG/0/n`;
    /// the code must be one GDAL knows.
    pub fn parse(value: &str, locator: &str) -> Result<Self, WmsError> {
        let invalid =
            |why: &str| WmsError::new("InvalidCRS", locator, format!("CRS {value:?}: {why}"));
        let upper = value.trim().to_ascii_uppercase();
        if matches!(
            upper.as_str(),
            "CRS:84" | "OGC:CRS84" | "URN:OGC:DEF:CRS:OGC:1.3:CRS84"
        ) {
            return Ok(Crs {
                epsg: 4326,
                lon_lat: true,
            });
        }
        let code = upper
            .strip_prefix("EPSG:")
            .or_else(|| upper.strip_prefix("URN:OGC:DEF:CRS:EPSG::"))
            .or_else(|| upper.strip_prefix("URN:OGC:DEF:CRS:EPSG:6.3:"))
            .or_else(|| upper.strip_prefix("HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/0/"))
            .ok_or_else(|| invalid("not EPSG:<code> or CRS:84"))?;
        let epsg: u32 = code
            .parse()
            .ok()
            .filter(|c| (1024..=32766).contains(c) || *c == 900_913)
            .ok_or_else(|| invalid("not an EPSG code"))?;
        let epsg = if epsg == 900_913 { 3857 } else { epsg };
        gdal::spatial_ref::SpatialRef::from_epsg(epsg)
            .map_err(|_| invalid("not a CRS GDAL knows"))?;
        Ok(Crs {
            epsg,
            lon_lat: false,
        })
    }

    /// Whether WMS 1.3.0 boxes in this CRS come northing/latitude first (the EPSG axis
    /// order, as GDAL tells it).
    pub fn swaps_axes(self) -> bool {
        if self.lon_lat {
            return false;
        }
        let Ok(srs) = gdal::spatial_ref::SpatialRef::from_epsg(self.epsg) else {
            return false;
        };
        // SAFETY: the handle is valid while `srs` lives.
        unsafe {
            gdal_sys::OSREPSGTreatsAsLatLong(srs.to_c_hsrs()) != 0
                || gdal_sys::OSREPSGTreatsAsNorthingEasting(srs.to_c_hsrs()) != 0
        }
    }
}

/// `BBOX` as x/y `[min x, min y, max x, max y]` in `crs`, swapped from 1.3.0's axis order
/// where the CRS requires it.
pub fn bbox(params: &Params, version: Version, crs: Crs) -> Result<[f64; 4], WmsError> {
    let text = params.require("bbox")?;
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            WmsError::new(
                "InvalidParameterValue",
                "bbox",
                format!("BBOX {text:?}: four numbers expected"),
            )
        })?;
    let [a, b, c, d] = values[..] else {
        return Err(WmsError::new(
            "InvalidParameterValue",
            "bbox",
            format!(
                "BBOX {text:?}: four numbers expected, {} given",
                values.len()
            ),
        ));
    };
    if !values.iter().all(|v| v.is_finite()) || a >= c || b >= d {
        return Err(WmsError::new(
            "InvalidParameterValue",
            "bbox",
            format!("BBOX {text:?}: minimum must be below maximum on both axes"),
        ));
    }
    Ok(if version == Version::V130 && crs.swaps_axes() {
        [b, a, d, c]
    } else {
        [a, b, c, d]
    })
}

/// `WIDTH` or `HEIGHT`: 1 to `max`.
pub fn size(params: &Params, key: &str, max: usize) -> Result<usize, WmsError> {
    let text = params.require(key)?;
    text.parse::<usize>()
        .ok()
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| {
            WmsError::new(
                "InvalidParameterValue",
                key,
                format!(
                    "{} {text:?}: a whole number from 1 to {max}",
                    key.to_ascii_uppercase()
                ),
            )
        })
}

/// `TIME`: an instant or `start/end` (a third `/resolution` part is ignored). Each part is
/// an ISO 8601 date-time (no zone: UTC) or a date, meaning its midnight UTC (as EOxServer).
pub fn time(params: &Params) -> Result<Option<Interval>, WmsError> {
    let Some(text) = params.get("time") else {
        return Ok(None);
    };
    let invalid = |why: String| {
        WmsError::new(
            "InvalidDimensionValue",
            "time",
            format!("TIME {text:?}: {why}"),
        )
    };
    let parse = |part: &str| {
        let part = part.trim();
        match chrono::NaiveDate::parse_from_str(part, "%Y-%m-%d") {
            Ok(date) => Ok(date.and_time(chrono::NaiveTime::MIN).and_utc()),
            Err(_) => pvs_model::parse_date_time(part).map_err(|e| invalid(e.to_string())),
        }
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
pub fn bgcolor(params: &Params) -> Result<[u8; 3], WmsError> {
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
            WmsError::new(
                "InvalidParameterValue",
                "bgcolor",
                format!("BGCOLOR {text:?}: 0xRRGGBB expected"),
            )
        })?;
    Ok([(value >> 16) as u8, (value >> 8) as u8, value as u8])
}

/// `TRANSPARENT` (default false).
pub fn transparent(params: &Params) -> Result<bool, WmsError> {
    match params
        .get("transparent")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("FALSE") => Ok(false),
        Some("TRUE") => Ok(true),
        Some(other) => Err(WmsError::new(
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
    fn keys_are_case_insensitive_and_first_wins() {
        let p = params(&[("BBOX", "1,2,3,4"), ("bbox", "5,6,7,8"), ("Width", " ")]);
        assert_eq!(p.get("bbox"), Some("1,2,3,4"));
        assert_eq!(p.get("width"), None);
        assert_eq!(
            p.require("width").unwrap_err().code,
            "MissingParameterValue"
        );
    }

    #[test]
    fn crs_forms_and_axis_order() {
        let epsg4326 = Crs::parse("EPSG:4326", "crs").unwrap();
        assert!(epsg4326.swaps_axes());
        assert_eq!(
            Crs::parse("urn:ogc:def:crs:EPSG::4326", "crs").unwrap(),
            epsg4326
        );
        assert_eq!(
            Crs::parse("http://www.opengis.net/def/crs/EPSG/0/4326", "crs").unwrap(),
            epsg4326
        );
        let crs84 = Crs::parse("CRS:84", "crs").unwrap();
        assert!(!crs84.swaps_axes());
        assert!(!Crs::parse("EPSG:3857", "crs").unwrap().swaps_axes());
        assert!(!Crs::parse("EPSG:32633", "crs").unwrap().swaps_axes());
        assert!(
            Crs::parse("EPSG:3035", "crs").unwrap().swaps_axes(),
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
            assert_eq!(
                Crs::parse(bad, "srs").unwrap_err().code,
                "InvalidCRS",
                "{bad:?}"
            );
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
        let crs = Crs::parse("EPSG:3857", "crs").unwrap();
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
