//! CRS names as OGC requests write them. Whether GDAL knows a code, and the order of its
//! axes, are `pvs_raster::crs` (this crate does not depend on GDAL).

/// A CRS named in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crs {
    /// The EPSG code (`CRS:84` is EPSG:4326 in longitude/latitude order; EPSG:900913 is
    /// EPSG:3857).
    pub epsg: u32,
    /// Whether coordinates come in longitude/latitude (x/y) order whatever the version
    /// (`CRS:84`); otherwise in the EPSG axis order where the protocol says so (WMS 1.3.0).
    pub lon_lat: bool,
}

/// Why a CRS name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CrsError {
    /// Not one of the forms read.
    #[error("not EPSG:<code> or CRS:84")]
    Form,
    /// A form read, but no EPSG code in it.
    #[error("not an EPSG code")]
    Code,
}

impl Crs {
    /// `CRS:84`.
    pub const CRS84: Crs = Crs {
        epsg: 4326,
        lon_lat: true,
    };

    /// Reads `EPSG:<code>`, `urn:ogc:def:crs:EPSG::<code>` (also `EPSG:6.3:`),
    /// `http://www.opengis.net/def/crs/EPSG/0/<code>`, `CRS:84`, `OGC:CRS84` or
    /// `urn:ogc:def:crs:OGC:1.3:CRS84`, ignoring case. Codes are 1024 to 32766 (EPSG's
    /// range for CRSs) or 900913.
    pub fn parse(value: &str) -> Result<Self, CrsError> {
        let upper = value.trim().to_ascii_uppercase();
        if matches!(
            upper.as_str(),
            "CRS:84" | "OGC:CRS84" | "URN:OGC:DEF:CRS:OGC:1.3:CRS84"
        ) {
            return Ok(Self::CRS84);
        }
        let code = upper
            .strip_prefix("EPSG:")
            .or_else(|| upper.strip_prefix("URN:OGC:DEF:CRS:EPSG::"))
            .or_else(|| upper.strip_prefix("URN:OGC:DEF:CRS:EPSG:6.3:"))
            .or_else(|| upper.strip_prefix("HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/0/"))
            .ok_or(CrsError::Form)?;
        let epsg: u32 = code
            .parse()
            .ok()
            .filter(|c| (1024..=32766).contains(c) || *c == 900_913)
            .ok_or(CrsError::Code)?;
        Ok(Crs {
            epsg: if epsg == 900_913 { 3857 } else { epsg },
            lon_lat: false,
        })
    }
}

/// The URI of `EPSG:<epsg>` (`http://www.opengis.net/def/crs/EPSG/0/<epsg>`).
pub fn uri(epsg: u32) -> String {
    format!("http://www.opengis.net/def/crs/EPSG/0/{epsg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let epsg4326 = Crs {
            epsg: 4326,
            lon_lat: false,
        };
        for form in [
            "EPSG:4326",
            "epsg:4326",
            "urn:ogc:def:crs:EPSG::4326",
            "urn:ogc:def:crs:EPSG:6.3:4326",
            "http://www.opengis.net/def/crs/EPSG/0/4326",
        ] {
            assert_eq!(Crs::parse(form), Ok(epsg4326), "{form}");
        }
        for form in ["CRS:84", "OGC:CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84"] {
            assert_eq!(Crs::parse(form), Ok(Crs::CRS84), "{form}");
        }
        assert_eq!(Crs::parse("EPSG:900913").unwrap().epsg, 3857);
        assert_eq!(Crs::parse(uri(32633).as_str()).unwrap().epsg, 32633);
        for (bad, error) in [
            ("", CrsError::Form),
            ("WGS84", CrsError::Form),
            ("EPSG:", CrsError::Code),
            ("EPSG:abc", CrsError::Code),
            ("EPSG:1023", CrsError::Code),
            ("EPSG:99999999999", CrsError::Code),
        ] {
            assert_eq!(Crs::parse(bad), Err(error), "{bad:?}");
        }
    }
}
