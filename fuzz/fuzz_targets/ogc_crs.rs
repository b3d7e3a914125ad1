//! Feeds arbitrary text to `pvs_ogc::crs::Crs::parse` (the `CRS`/`SRS`/`SUBSETTINGCRS`
//! values of WMS and WCS) and checks that an accepted code is in the range it promises and
//! that its `EPSG:<code>` form and URI read back to the same code.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_ogc::crs::{Crs, uri};

fuzz_target!(|text: &str| {
    let Ok(crs) = Crs::parse(text) else {
        return;
    };
    assert!((1024..=32766).contains(&crs.epsg) || crs.epsg == 3857);
    let read = |form: &str| Crs::parse(form).expect("own form reads back").epsg;
    assert_eq!(read(&format!("EPSG:{}", crs.epsg)), crs.epsg);
    assert_eq!(read(&uri(crs.epsg)), crs.epsg);
});
