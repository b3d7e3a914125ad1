//! Feeds arbitrary bytes as the JSON body of `POST /stac/search` to
//! `pvs_stac::Search::from_body` (the same members as the GET form, `intersects` and a
//! CQL2 JSON `filter` as JSON). Checks that the body it returns for the paging links reads
//! back to the same search.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_stac::Search;

fuzz_target!(|body: &[u8]| {
    let Ok((search, body)) = Search::from_body(body) else {
        return;
    };
    let written = serde_json::to_vec(&body).expect("a JSON object serialises");
    let (again, _) = Search::from_body(&written).expect("own body reads back");
    assert_eq!(again, search);
});
