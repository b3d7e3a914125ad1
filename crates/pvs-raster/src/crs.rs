//! EPSG CRSs through GDAL: a spatial reference in x/y order, and the order of a CRS's axes
//! as the EPSG authority defines it (what WMS 1.3.0 boxes, WCS descriptions and browse
//! reports' coordinates follow). The one place pvs asks OSR for the axis order.

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};

use crate::RasterError;

/// `EPSG:<epsg>` with x/y in GDAL's traditional GIS order (longitude first).
///
/// Not `SpatialRef::from_epsg`: it does not release its spatial reference when the import
/// fails, so every unknown code a client named (a WMS `CRS`, a WCS `OUTPUTCRS`) leaked about
/// a kilobyte (found by fuzzing, `fuzz/fuzz_targets/wms_request.rs`). Here the spatial
/// reference is owned before the import, and dropped (released) when it fails.
pub fn srs(epsg: u32) -> Result<SpatialRef, RasterError> {
    let unknown =
        |why: String| RasterError::Georef(format!("EPSG:{epsg} is not a CRS GDAL knows: {why}"));
    let code = i32::try_from(epsg).map_err(|_| unknown("not a code".to_owned()))?;
    let mut srs = SpatialRef::new().map_err(|e| unknown(e.to_string()))?;
    // SAFETY: the handle is the live OGRSpatialReferenceH owned by `srs`; the import only
    // writes the definition into it and does not keep the handle.
    let imported = unsafe { gdal_sys::OSRImportFromEPSG(srs.to_c_hsrs(), code) };
    if imported != gdal_sys::OGRErr::OGRERR_NONE {
        return Err(unknown(format!("OSRImportFromEPSG returned {imported}")));
    }
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// How an EPSG CRS orders its axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axes {
    /// Whether the authority's order is latitude/longitude or northing/easting (EPSG:4326,
    /// EPSG:3035), i.e. y first.
    pub y_first: bool,
    /// Whether the CRS is geographic (degrees; longitudes wrap).
    pub geographic: bool,
}

/// The axes of `EPSG:<epsg>`; an error when GDAL does not know the code.
pub fn axes(epsg: u32) -> Result<Axes, RasterError> {
    let srs = srs(epsg)?;
    let handle = srs.to_c_hsrs();
    // SAFETY: `handle` is the OGRSpatialReferenceH owned by `srs`, which outlives both calls;
    // the two functions only read the CRS definition and do not keep the handle.
    let y_first = unsafe {
        gdal_sys::OSREPSGTreatsAsLatLong(handle) != 0
            || gdal_sys::OSREPSGTreatsAsNorthingEasting(handle) != 0
    };
    Ok(Axes {
        y_first,
        geographic: srs.is_geographic(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_orders() {
        let of = |epsg| axes(epsg).unwrap();
        assert_eq!(
            of(4326),
            Axes {
                y_first: true,
                geographic: true
            }
        );
        assert_eq!(
            of(3857),
            Axes {
                y_first: false,
                geographic: false
            }
        );
        assert!(!of(32633).y_first);
        assert!(of(3035).y_first, "LAEA Europe is northing/easting");
        assert!(axes(1025).is_err());
    }
}
