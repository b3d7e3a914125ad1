//! EPSG codes GDAL does not know, as clients name them (WMS `CRS`, WCS `OUTPUTCRS`), in a
//! process of their own: the test reads the process's memory.

use pvs_raster::crs::{axes, srs};

/// Resident memory of this process, in bytes (`/proc/self/statm`, Linux).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Found by fuzzing (`fuzz/fuzz_targets/wms_request.rs`, LeakSanitizer): each unknown code
/// leaked the spatial reference `SpatialRef::from_epsg` created (about 1.1 KB), so a client
/// could grow the renderer's memory without bound by asking for `CRS=EPSG:1025` again and
/// again.
#[test]
fn unknown_codes_leak_nothing() {
    assert!(axes(1025).is_err());
    let error = srs(1025).unwrap_err().to_string();
    assert!(error.contains("EPSG:1025"), "{error}");
    // Warm up GDAL and PROJ (their caches and database connection), then measure.
    for _ in 0..1_000 {
        assert!(srs(1025).is_err());
    }
    let before = resident_bytes();
    for _ in 0..20_000 {
        assert!(srs(1025).is_err());
    }
    let grown = resident_bytes().saturating_sub(before);
    // Leaking, 20,000 lookups took over 12 MB.
    assert!(
        grown < 4 << 20,
        "{grown} bytes more after 20,000 unknown codes"
    );
    assert!(srs(4326).is_ok());
}
