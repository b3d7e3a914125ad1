//! Feeds arbitrary bytes as a STAC Item to `pvs_model::parse_item` (`POST
//! /stac/collections/{id}/items` and the registrar's Item messages), into a named collection
//! or the one the Item names (the first byte picks). Checks that an accepted Item's JSON, and
//! its preprocessor message's Item, read back to the same registration.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_model::parse_item;

fuzz_target!(|data: &[u8]| {
    let Some((&first, json)) = data.split_first() else {
        return;
    };
    let collection = (first & 1 == 1).then_some("fuzz");
    let Ok(item) = parse_item(json, collection) else {
        return;
    };
    let again = parse_item(item.to_json().as_bytes(), None).expect("own JSON reads back");
    assert_eq!(again, item);
    let message: serde_json::Value =
        serde_json::from_str(&item.preprocess_message()).expect("the message is JSON");
    let inner = serde_json::to_vec(&message["item"]).expect("JSON serialises");
    assert_eq!(parse_item(&inner, None).expect("the message's Item reads back"), item);
});
