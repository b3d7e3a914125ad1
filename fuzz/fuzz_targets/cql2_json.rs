//! Feeds arbitrary bytes as CQL2 JSON to `pvs_catalog::cql::parse_json` (the STAC `filter`
//! with `filter-lang=cql2-json`), and what it accepts to `to_filter` with STAC names. Checks
//! that a filter pvs accepts, written back as JSON, reads back to the same filter.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_catalog::cql::{parse_json, stac_field, to_filter};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(expr) = parse_json(value) else {
        return;
    };
    let Ok(filter) = to_filter(&expr, &stac_field) else {
        return;
    };
    let written = serde_json::to_value(&expr).expect("an expression serialises");
    let again = parse_json(written).expect("written JSON reads back");
    assert_eq!(to_filter(&again, &stac_field), Ok(filter));
});
