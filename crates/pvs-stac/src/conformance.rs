//! The conformance classes declared on the landing page and `/stac/conformance`: exactly
//! those of STAC API 1.0.0, OGC API - Features - Part 1 and Part 3 (Filtering) and CQL2 that
//! pvs implements; the Transaction classes only where writes are enabled.

use stac::api::{
    COLLECTIONS_URI, CORE_URI, FEATURES_URI, GEOJSON_URI, ITEM_SEARCH_URI, OGC_API_FEATURES_URI,
};

/// Every class declared, in this order; the two Transaction classes last when `transactions`.
pub fn classes(transactions: bool) -> Vec<String> {
    let mut classes = vec![
        CORE_URI,
        COLLECTIONS_URI,
        FEATURES_URI,
        ITEM_SEARCH_URI,
        OGC_API_FEATURES_URI,
        GEOJSON_URI,
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        // Sort and Fields, on Item Search and on the Features items.
        "https://api.stacspec.org/v1.0.0/item-search#sort",
        "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
        "https://api.stacspec.org/v1.0.0/item-search#fields",
        "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
        // Filter: the Filter extension binds its classes to Item Search with its own URI,
        // which is still the 1.0.0-rc.3 one in the released extension (v1.0.0).
        "https://api.stacspec.org/v1.0.0-rc.3/item-search#filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    ];
    if transactions {
        classes.extend([
            "https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction",
            "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/simpletx",
        ]);
    }
    classes.into_iter().map(str::to_owned).collect()
}
