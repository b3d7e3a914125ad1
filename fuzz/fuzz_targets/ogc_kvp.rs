//! Feeds arbitrary text as a KVP query string to `pvs_ogc::Params::parse`, the reader of every
//! OGC endpoint's parameters, and checks its rule: values come trimmed, `get` never returns
//! an empty value, and the pairs written out again as a query string read back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_ogc::Params;

fuzz_target!(|query: &str| {
    let params = Params::parse(query);
    let pairs: Vec<(&str, &str)> = params.pairs().collect();
    for (key, value) in &pairs {
        assert_eq!(value.trim(), *value);
        if let Some(got) = params.get(key) {
            assert!(!got.is_empty());
        }
    }
    let written = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let again = Params::parse(&written);
    assert_eq!(again.pairs().collect::<Vec<_>>(), pairs);
});
