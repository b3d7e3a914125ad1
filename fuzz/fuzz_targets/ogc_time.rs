//! Feeds arbitrary text to `pvs_ogc::time::parse_instant` (WMS `TIME`, WCS time `SUBSET`,
//! OpenSearch `start`/`end`) and checks that an accepted instant, written as RFC 3339,
//! reads back to the same instant.

#![no_main]

use chrono::SecondsFormat;
use libfuzzer_sys::fuzz_target;
use pvs_ogc::time::parse_instant;

fuzz_target!(|text: &str| {
    let Ok(instant) = parse_instant(text) else {
        return;
    };
    let written = instant.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    assert_eq!(parse_instant(&written), Ok(instant), "{written}");
});
