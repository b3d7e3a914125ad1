//! Feeds arbitrary text as a `register_queue` message to
//! `pvs_registrar::RegisterMessage::parse` (a STAC Item, a metadata document's storage key or
//! a product folder; the STAC API's transactions put client Items on this queue) and to
//! `RegisterMessage::id_hint`. Checks that the id hint is never empty and at most 255
//! characters, and that an accepted Item's message reads back to the same Item.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_registrar::RegisterMessage;

fuzz_target!(|message: &str| {
    let hint = RegisterMessage::id_hint(message);
    assert!(!hint.is_empty() && hint.chars().count() <= 255, "{hint:?}");
    if let Ok(RegisterMessage::Item(item)) = RegisterMessage::parse(message) {
        let again = RegisterMessage::parse(&item.to_json()).expect("own message reads back");
        assert_eq!(again, RegisterMessage::Item(item));
    }
});
