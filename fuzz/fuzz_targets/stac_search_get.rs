//! Feeds arbitrary text as a query string to `pvs_stac::Search::from_query` (`GET
//! /stac/search` and a collection's items; the first byte picks which), which reads
//! `datetime`, `bbox`, `intersects` (GeoJSON), `filter` (CQL2 text or JSON), `sortby`,
//! `fields`, `ids`, `collections`, `limit` and `token`. Checks that the parameters it
//! returns for the paging links read back to the same search.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_stac::{Scope, Search};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(rest) else {
        return;
    };
    let scope = if first & 1 == 0 {
        Scope::Search
    } else {
        Scope::Items
    };
    let Ok((search, given)) = Search::from_query(query, scope) else {
        return;
    };
    let written = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&given)
        .finish();
    let (mut again, _) = Search::from_query(&written, scope).expect("own links read back");
    // The paging links add their own `token`.
    again.offset = search.offset;
    assert_eq!(again, search, "{written}");
});
