//! Feeds arbitrary text as a WCS 2.0.1 KVP query string to `pvs_renderer::WcsRequest::parse`
//! (which reads `SUBSET` with `Subset::parse` and coverage ids with `decode_id`). Checks that
//! a scale factor accepted is finite and above 0, and that `decode_id` undoes `encode_id` for
//! any text and `encode_id` gives an XML NCName of ASCII characters.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_ogc::Params;
use pvs_renderer::{Scale, Subset, WcsRequest, decode_id, encode_id};

fuzz_target!(|query: &str| {
    let params = Params::parse(query);
    if let Ok(WcsRequest::GetCoverage(coverage)) = WcsRequest::parse(&params) {
        match coverage.scale {
            Some(Scale::Factor(factor)) => assert!(factor.is_finite() && factor > 0.0),
            Some(Scale::Size { x, y }) => assert!(x != Some(0) && y != Some(0)),
            None => {}
        }
    }
    for subset in params.all("subset") {
        let _ = Subset::parse(subset);
    }
    let encoded = encode_id(query);
    assert!(encoded.is_ascii());
    assert!(!encoded.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.'));
    assert_eq!(decode_id(&encoded), query);
});
