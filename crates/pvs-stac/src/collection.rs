//! A catalog collection as a STAC Collection: its extent (the box and interval of its
//! products), summaries, `item_assets`, the `renders` extension (one default render of the
//! data asset) and its links (self, parent, root, items, queryables, and the web-map links).

use pvs_catalog::CollectionInfo;
use serde_json::{Map, Value, json};
use stac::{Link, SpatialExtent, TemporalExtent};

use crate::item::{GEOJSON, JSON, WEB_MAP_LINKS, item_assets, map_links};
use crate::urls::Urls;

/// The render extension (`renders`).
pub const RENDER: &str = "https://stac-extensions.github.io/render/v2.0.0/schema.json";

/// The media type of JSON Schemas (queryables).
pub const SCHEMA: &str = "application/schema+json";

/// The rel of queryables links (OGC API - Features - Part 3).
pub const QUERYABLES_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";

/// The Collection of `info`, as a JSON object.
pub fn collection(urls: &Urls, info: &CollectionInfo) -> Map<String, Value> {
    let name = &info.collection.name;
    let metadata = &info.collection.metadata;
    let text = |key: &str| metadata.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut collection = stac::Collection::new(
        name,
        text("description").unwrap_or_else(|| {
            format!("{name}: {} products registered in pvs", info.product_count)
        }),
    );
    collection.title = Some(text("title").unwrap_or_else(|| name.clone()));
    collection.license = text("license").unwrap_or_else(|| "other".to_owned());
    collection.extensions = vec![WEB_MAP_LINKS.to_owned(), RENDER.to_owned()];
    let bbox = info.bbox.map_or([-180.0, -90.0, 180.0, 90.0], |b| {
        [b.west(), b.south(), b.east(), b.north()]
    });
    collection.extent.spatial = SpatialExtent {
        bbox: vec![stac::Bbox::TwoDimensional(bbox)],
    };
    collection.extent.temporal = TemporalExtent {
        interval: vec![[info.begin, info.end]],
    };
    let mut summaries = Map::new();
    if let (Some(begin), Some(end)) = (info.begin, info.end) {
        summaries.insert(
            "datetime".to_owned(),
            json!({"minimum": begin, "maximum": end}),
        );
    }
    if let Some(product_type) = &info.collection.product_type {
        summaries.insert("product:type".to_owned(), json!([product_type]));
    }
    collection.summaries = Some(summaries);
    collection.item_assets =
        serde_json::from_value(item_assets()).expect("the item assets are valid STAC item assets");

    collection.links = vec![
        Link::self_(urls.collection(name)).r#type(JSON.to_owned()),
        Link::parent(urls.root()).r#type(JSON.to_owned()),
        Link::root(urls.root()).r#type(JSON.to_owned()),
        Link::new(urls.items(name), "items").r#type(GEOJSON.to_owned()),
        Link::new(
            format!("{}/queryables", urls.collection(name)),
            QUERYABLES_REL,
        )
        .r#type(SCHEMA.to_owned()),
    ];
    collection
        .links
        .extend(map_links(urls, &[name.as_str()], name, None));
    if let Some(tiles) = urls.tiles() {
        collection.links.push(
            Link::new(
                format!("{tiles}/tiles/{}/tilejson.json", crate::urls::segment(name)),
                "tilejson",
            )
            .r#type(JSON.to_owned()),
        );
    }
    collection.additional_fields.insert(
        "renders".to_owned(),
        json!({"default": {"title": "Default", "assets": ["data"]}}),
    );

    match serde_json::to_value(&collection) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("a Collection serialises to an object"),
    }
}
