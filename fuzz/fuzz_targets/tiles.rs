//! Feeds arbitrary text as `path?query` to every tile request reader of the cache: the WMTS
//! RESTful path (`wmts::RestRequest::parse`), the WMTS KVP GetTile (`wmts::tile_key`), the
//! XYZ path and its `time`/`format` (`XyzRequest::parse`) and the tiled WMS GetMap
//! (`wms::tile_of_get_map`). Checks every tile key accepted: its storage path has no empty,
//! `.` or `..` segment and does not start with `/`, its zoom is at most the maximum, and
//! its time's key reads back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_cache::wmts::{self, RestRequest};
use pvs_cache::{XyzRequest, wms};
use pvs_ogc::Params;
use pvs_tiles::{TileKey, TileTime};

/// The cache's default `max_zoom`.
const MAX_ZOOM: u8 = 18;

fn check(key: &TileKey) {
    let path = key.path();
    assert!(
        path.split('/').all(|s| !s.is_empty() && s != "." && s != ".."),
        "{path}"
    );
    assert!(key.tile.z <= MAX_ZOOM);
    assert_eq!(TileTime::from_key(&key.time.key()), Some(key.time));
}

fuzz_target!(|text: &str| {
    let (path, query) = text.split_once('?').unwrap_or((text, ""));
    let params = Params::parse(query);
    if let Ok(RestRequest::Tile(key)) = RestRequest::parse(path, MAX_ZOOM) {
        check(&key);
    }
    if let Ok(XyzRequest::Tile(key)) = XyzRequest::parse(path, &params, MAX_ZOOM) {
        check(&key);
    }
    if let Ok(key) = wmts::tile_key(&params, MAX_ZOOM) {
        check(&key);
    }
    if let Some(key) = wms::tile_of_get_map(&params, MAX_ZOOM) {
        check(&key);
    }
});
