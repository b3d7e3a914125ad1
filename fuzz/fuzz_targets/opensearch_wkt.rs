//! Feeds arbitrary text to `pvs_opensearch::parse_wkt` (the OpenSearch `geom` parameter) and
//! checks what it promises of an accepted geometry: at most `MAX_WKT_POINTS` points, every
//! one finite and inside [-180, 180] x [-90, 90].

#![no_main]

use geo::CoordsIter;
use libfuzzer_sys::fuzz_target;
use pvs_opensearch::{MAX_WKT_POINTS, Wkt, parse_wkt};

fuzz_target!(|text: &str| {
    let Ok(wkt) = parse_wkt(text) else {
        return;
    };
    let coords: Vec<geo::Coord<f64>> = match &wkt {
        Wkt::Point(point) => point.coords_iter().collect(),
        Wkt::Line(line) => line.coords_iter().collect(),
        Wkt::Polygons(polygons) => polygons.coords_iter().collect(),
    };
    assert!(coords.len() <= MAX_WKT_POINTS, "{} points", coords.len());
    for c in coords {
        assert!((-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y), "{c:?}");
    }
});
