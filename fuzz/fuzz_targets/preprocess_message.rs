//! Feeds arbitrary text as a `preprocess_queue` message to
//! `pvs_preprocessor::PreprocessMessage::parse` (a package key, its JSON form, or a STAC Item
//! handed over by the registrar). Checks that a package message has a key and that an Item
//! message written again by `ItemRegistration::preprocess_message` reads back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_preprocessor::PreprocessMessage;

fuzz_target!(|message: &str| {
    match PreprocessMessage::parse(message) {
        Ok(PreprocessMessage::Item(item)) => {
            let again = PreprocessMessage::parse(&item.preprocess_message())
                .expect("own message reads back");
            assert_eq!(again, PreprocessMessage::Item(item));
        }
        Ok(PreprocessMessage::Package(_)) | Err(_) => {}
    }
});
