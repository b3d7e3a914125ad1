//! Feeds arbitrary text as an OpenSearch query string to `pvs_opensearch::SearchRequest::parse`,
//! for a product or a collection search with either convention (the first byte picks them).
//! Checks that an accepted request keeps its limits, and that the parameters it records for
//! its paging links (canonical names, values as read) read back to the same request.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_opensearch::{Conventions, IndexOffset, RadiusUnit, SearchRequest, Target};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(rest) else {
        return;
    };
    let target = if first & 1 == 0 {
        Target::Products
    } else {
        Target::Collections
    };
    let conventions = Conventions {
        index_offset: if first & 2 == 0 {
            IndexOffset::One
        } else {
            IndexOffset::Zero
        },
        radius: if first & 4 == 0 {
            RadiusUnit::Metres
        } else {
            RadiusUnit::Degrees
        },
    };
    let Ok(request) = SearchRequest::parse(query, target, conventions) else {
        return;
    };
    assert!(request.count >= 1);
    let written = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(request.given.iter().map(|(param, value)| (param.name, value)))
        .finish();
    let again = SearchRequest::parse(&written, target, conventions).expect("own links read back");
    assert_eq!(again, request, "{written}");
});
