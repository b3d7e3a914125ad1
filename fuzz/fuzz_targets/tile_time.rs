//! Feeds arbitrary text to `pvs_tiles::TileTime::parse` (the tile endpoints' MapCache
//! `TIME`) and checks that an accepted interval is not empty and that its tile key reads
//! back to the same value (invalidation finds tiles by that key).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_tiles::TileTime;

fuzz_target!(|text: &str| {
    let Ok(time) = TileTime::parse(text) else {
        return;
    };
    if let TileTime::Interval { start, end } = time {
        assert!(start < end);
    }
    assert_eq!(TileTime::from_key(&time.key()), Some(time));
    let _ = time.wms_value();
});
