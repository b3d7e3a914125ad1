//! Feeds arbitrary text as the collections file (TOML) to `pvs_model::Collections::from_toml`
//! and checks that an accepted configuration, written back as TOML, reads back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_model::Collections;

fuzz_target!(|text: &str| {
    let Ok(collections) = Collections::from_toml(text) else {
        return;
    };
    let written = toml::to_string(&collections).expect("a configuration serialises");
    let again = Collections::from_toml(&written).expect("written TOML reads back");
    assert_eq!(again, collections, "{written}");
});
