//! Feeds arbitrary bytes to the browse report parser, and everything it accepts on to the
//! response writer and the queue item serialisation.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_model::{BrowseItem, BrowseReport, BrowseResult, IngestionResponse};

fuzz_target!(|data: &[u8]| {
    let Ok(report) = BrowseReport::parse(data) else {
        return;
    };
    let mut response = IngestionResponse::default();
    for browse in &report.browses {
        match browse {
            Ok(browse) => {
                let item = BrowseItem::new(&report, browse, "fuzz");
                let json = item.to_json();
                assert_eq!(BrowseItem::from_json(&json).expect("own JSON reads back"), item);
            }
            Err(error) => response.results.push(BrowseResult::from(error)),
        }
    }
    let _ = response.to_xml();
});
