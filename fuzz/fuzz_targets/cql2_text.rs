//! Feeds arbitrary text to `pvs_catalog::cql::parse_text` (the STAC `filter` and the WMS and
//! OpenSearch `cql` parameters), and what it accepts to `to_filter` with STAC names and to
//! `eo_filter` (EOxServer's names). Checks that a filter pvs accepts, written back as CQL2
//! text by cql2, reads back to the same filter.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_catalog::cql::{eo_filter, parse_text, stac_field, to_filter};

fuzz_target!(|text: &str| {
    let _ = eo_filter(text);
    let Ok(expr) = parse_text(text) else {
        return;
    };
    let Ok(filter) = to_filter(&expr, &stac_field) else {
        return;
    };
    let written = expr.to_text().expect("an accepted filter is written as text");
    let again = parse_text(&written).expect("written text reads back");
    assert_eq!(to_filter(&again, &stac_field), Ok(filter), "{written}");
});
