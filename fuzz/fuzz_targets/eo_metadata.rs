//! Feeds arbitrary bytes as an EO O&M 2.0/2.1 or GSC document to
//! `pvs_model::parse_eo_metadata` (the metadata of a product package or an ingested product)
//! and checks that an accepted document has an identifier and a start not after its end.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_model::parse_eo_metadata;

fuzz_target!(|data: &[u8]| {
    let Ok(metadata) = parse_eo_metadata(data) else {
        return;
    };
    assert!(!metadata.id.is_empty());
    assert!(metadata.start <= metadata.end);
    let _ = metadata.product_type();
});
