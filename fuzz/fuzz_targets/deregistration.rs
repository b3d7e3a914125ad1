//! Feeds arbitrary text as a `deregister_queue` message to `pvs_model::Deregistration::parse`
//! (a product id, or `{"collection": ..., "id": ...}` as the STAC API's `DELETE` sends it)
//! and checks that a message naming a collection, written again, reads back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_model::Deregistration;

fuzz_target!(|message: &str| {
    let parsed = Deregistration::parse(message);
    if parsed.collection.is_some() {
        assert_eq!(Deregistration::parse(&parsed.to_message()), parsed);
    }
});
