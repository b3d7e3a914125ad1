//! Feeds arbitrary text as a WMS KVP query string to the renderer's request readers:
//! `VERSION`, then GetMap (`GetMap::parse`), GetFeatureInfo (`FeatureInfoRequest::parse`)
//! and GetLegendGraphic (`LegendRequest::parse`) on the same parameters. Checks that what is
//! accepted keeps the limits: sizes from 1 to the maximum, a finite box with its minimum
//! below its maximum, a time interval that does not end before it starts, the pixel asked
//! for inside the map.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_ogc::Params;
use pvs_renderer::params::Version;
use pvs_renderer::{FeatureInfoRequest, GetMap, LegendRequest};

/// The renderer's default `WIDTH`/`HEIGHT` limit.
const MAX_SIZE: usize = 4096;

fn check_view(view: &pvs_raster::render::View) {
    assert!((1..=MAX_SIZE).contains(&view.width));
    assert!((1..=MAX_SIZE).contains(&view.height));
    let [x0, y0, x1, y1] = view.bbox;
    assert!(view.bbox.iter().all(|v| v.is_finite()));
    assert!(x0 < x1 && y0 < y1, "{:?}", view.bbox);
}

fuzz_target!(|query: &str| {
    let params = Params::parse(query);
    let Ok(version) = Version::parse(params.get("version")) else {
        return;
    };
    if let Ok(map) = GetMap::parse(version, &params, MAX_SIZE) {
        assert!(!map.maps.is_empty());
        for request in &map.maps {
            check_view(&request.view);
            if let Some((start, end)) = request.time {
                assert!(start <= end);
            }
        }
    }
    if let Ok(info) = FeatureInfoRequest::parse(version, &params, MAX_SIZE) {
        check_view(&info.view);
        let (column, row) = info.pixel;
        assert!(column >= 0.0 && column < info.view.width as f64);
        assert!(row >= 0.0 && row < info.view.height as f64);
        assert!(info.count >= 1 && info.count <= 50, "{}", info.count);
    }
    if let Ok(legend) = LegendRequest::parse(&params) {
        assert!((1..=1024).contains(&legend.width) && (1..=1024).contains(&legend.height));
    }
});
