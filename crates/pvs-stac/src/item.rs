//! A catalog [`Product`] as a STAC Item: its footprint as stored (a MultiPolygon, split at the
//! antimeridian), its box, its times, its stored properties, its assets (the COG and the
//! metadata document served by pvs, two WMS pictures) and its links (self, parent,
//! collection, root, and the web-map links WMS, WMTS and XYZ).

use chrono::{DateTime, Utc};
use geo::{BoundingRect, Rect};
use geo_types::MultiPolygon;
use pvs_catalog::Product;
use serde_json::{Map, Value, json};
use stac::{Asset, Link};

use crate::urls::{Urls, tile_time};

/// The web-map-links extension (WMS, WMTS, XYZ links).
pub const WEB_MAP_LINKS: &str =
    "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json";

/// The extensions whose properties an Item may carry, by prefix, with their schemas: an Item
/// names those whose properties it has. (Others, such as `sar:`, whose schema requires
/// properties a product may lack, are not named.)
const PROPERTY_EXTENSIONS: [(&str, &str); 5] = [
    (
        "eo:",
        "https://stac-extensions.github.io/eo/v2.0.0/schema.json",
    ),
    (
        "view:",
        "https://stac-extensions.github.io/view/v1.1.0/schema.json",
    ),
    (
        "sat:",
        "https://stac-extensions.github.io/sat/v1.1.0/schema.json",
    ),
    (
        "processing:",
        "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    ),
    (
        "product:",
        "https://stac-extensions.github.io/product/v1.0.0/schema.json",
    ),
];

/// The media type of the COGs.
pub const COG_TYPE: &str = "image/tiff; application=geotiff; profile=cloud-optimized";

/// The media type of Items and Item collections.
pub const GEOJSON: &str = "application/geo+json";

/// The media type of the other JSON documents.
pub const JSON: &str = "application/json";

/// The long side, in pixels, of the `thumbnail` and `overview` pictures.
const THUMBNAIL_SIDE: usize = 256;
const OVERVIEW_SIDE: usize = 1024;

/// The assets every Item has: key, title, media type, role.
const ASSETS: [(&str, &str, &str, &str); 4] = [
    ("data", "Cloud-Optimized GeoTIFF", COG_TYPE, "data"),
    ("metadata", "Product metadata document", JSON, "metadata"),
    (
        "thumbnail",
        "Thumbnail (WMS GetMap)",
        "image/png",
        "thumbnail",
    ),
    ("overview", "Overview (WMS GetMap)", "image/png", "overview"),
];

/// The Collections' `item_assets`: [`ASSETS`] without their hrefs.
pub fn item_assets() -> Value {
    ASSETS
        .iter()
        .map(|(key, title, media_type, role)| {
            (
                (*key).to_owned(),
                json!({"title": title, "type": media_type, "roles": [role]}),
            )
        })
        .collect::<Map<String, Value>>()
        .into()
}

/// The Item of `product`, as a JSON object.
pub fn item(urls: &Urls, product: &Product) -> Map<String, Value> {
    let mut item = stac::Item::new(&product.id);
    item.collection = Some(product.collection.clone());
    item.extensions = vec![WEB_MAP_LINKS.to_owned()];
    item.geometry = Some(geometry(&product.footprint));
    let rect = footprint_rect(&product.footprint);
    item.bbox = Some(stac::Bbox::TwoDimensional(bbox(&product.footprint)));
    if product.begin == product.end {
        item.properties.datetime = Some(product.begin);
    } else {
        item.properties.datetime = None;
        item.properties.start_datetime = Some(product.begin);
        item.properties.end_datetime = Some(product.end);
    }

    let (collection, id) = (&product.collection, &product.id);
    for (key, title, media_type, role) in ASSETS {
        let href = match key {
            "thumbnail" => urls.get_map(id, rect, THUMBNAIL_SIDE),
            "overview" => urls.get_map(id, rect, OVERVIEW_SIDE),
            served => urls.asset(collection, id, served),
        };
        let mut asset = Asset::new(href);
        asset.title = Some(title.to_owned());
        asset.r#type = Some(media_type.to_owned());
        asset.roles = vec![role.to_owned()];
        item.assets.insert(key.to_owned(), asset);
    }

    item.links = vec![
        Link::self_(urls.item(collection, id)).r#type(GEOJSON.to_owned()),
        Link::parent(urls.collection(collection)).r#type(JSON.to_owned()),
        Link::collection(urls.collection(collection)).r#type(JSON.to_owned()),
        Link::root(urls.root()).r#type(JSON.to_owned()),
    ];
    item.links.extend(map_links(
        urls,
        &[id.as_str()],
        collection,
        Some((product.begin, product.end)),
    ));

    let mut json = match serde_json::to_value(&item) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("an Item serialises to an object"),
    };
    if let Some(Value::Object(properties)) = json.get_mut("properties") {
        for (key, value) in &product.properties {
            if !matches!(key.as_str(), "datetime" | "start_datetime" | "end_datetime") {
                properties.insert(key.clone(), value.clone());
            }
        }
        if let Some(product_type) = &product.product_type {
            properties
                .entry("product:type")
                .or_insert_with(|| Value::String(product_type.clone()));
        }
        let named: Vec<Value> = PROPERTY_EXTENSIONS
            .iter()
            .filter(|(prefix, _)| properties.keys().any(|key| key.starts_with(prefix)))
            .map(|(_, schema)| Value::String((*schema).to_owned()))
            .collect();
        if let Some(Value::Array(extensions)) = json.get_mut("stac_extensions") {
            extensions.extend(named);
        }
    }
    json
}

/// The web-map links of a layer: WMS of `wms_layers` on the renderer's `/ows`, and, where the
/// cache is reachable, WMTS and XYZ of the collection's tiled layer (for an Item: restricted to
/// its time).
pub fn map_links(
    urls: &Urls,
    wms_layers: &[&str],
    collection: &str,
    time: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<Link> {
    let mut links = Vec::new();
    let mut wms = Link::new(urls.ows(), "wms")
        .r#type("image/png".to_owned())
        .title("WMS 1.3.0".to_owned());
    wms.additional_fields
        .insert("wms:layers".to_owned(), json!(wms_layers));
    wms.additional_fields
        .insert("wms:transparent".to_owned(), json!(true));
    links.push(wms);
    let Some(tiles) = urls.tiles() else {
        return links;
    };
    let time = time.map(|(begin, end)| tile_time(begin, end));
    let mut wmts = Link::new(format!("{tiles}/wmts"), "wmts")
        .r#type("image/png".to_owned())
        .title("WMTS 1.0.0".to_owned());
    wmts.additional_fields
        .insert("wmts:layer".to_owned(), json!(collection));
    if let Some(time) = &time {
        wmts.additional_fields
            .insert("wmts:dimensions".to_owned(), json!({"TIME": time}));
    }
    links.push(wmts);
    let query = time
        .map(|time| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("time", &time)
                .finish();
            format!("?{query}")
        })
        .unwrap_or_default();
    links.push(
        Link::new(
            format!(
                "{tiles}/tiles/{}/{{z}}/{{x}}/{{y}}.png{query}",
                crate::urls::segment(collection)
            ),
            "xyz",
        )
        .r#type("image/png".to_owned())
        .title("XYZ tiles (WebMercatorQuad)".to_owned()),
    );
    links
}

/// The footprint as a GeoJSON geometry, as stored: a MultiPolygon.
fn geometry(footprint: &MultiPolygon<f64>) -> stac::Geometry {
    let ring = |ring: &geo_types::LineString<f64>| -> Vec<Vec<f64>> {
        ring.coords().map(|c| vec![c.x, c.y]).collect()
    };
    stac::Geometry::new_multi_polygon(footprint.iter().map(|polygon| {
        std::iter::once(ring(polygon.exterior()))
            .chain(polygon.interiors().iter().map(ring))
            .collect::<Vec<_>>()
    }))
}

/// The plain box around every part of the footprint (spanning every longitude when it is
/// split at the antimeridian): what a WMS GetMap can ask for.
pub fn footprint_rect(footprint: &MultiPolygon<f64>) -> Rect<f64> {
    footprint
        .bounding_rect()
        .unwrap_or_else(|| Rect::new((-180.0, -90.0), (180.0, 90.0)))
}

/// The Item's `bbox`: `[west, south, east, north]`, with `west > east` for a footprint
/// split at the antimeridian (RFC 7946, 5.2): its eastern parts' west edge to its western
/// parts' east edge.
pub fn bbox(footprint: &MultiPolygon<f64>) -> [f64; 4] {
    let rect = footprint_rect(footprint);
    let parts: Vec<Rect<f64>> = footprint.iter().filter_map(|p| p.bounding_rect()).collect();
    let touches_east = parts.iter().any(|r| r.max().x >= 180.0);
    let touches_west = parts.iter().any(|r| r.min().x <= -180.0);
    if !(touches_east && touches_west) {
        return [rect.min().x, rect.min().y, rect.max().x, rect.max().y];
    }
    let west = parts
        .iter()
        .filter(|r| r.center().x > 0.0)
        .map(|r| r.min().x)
        .fold(180.0, f64::min);
    let east = parts
        .iter()
        .filter(|r| r.center().x <= 0.0)
        .map(|r| r.max().x)
        .fold(-180.0, f64::max);
    if west <= east {
        // The parts cover every longitude: no crossing box is smaller.
        return [-180.0, rect.min().y, 180.0, rect.max().y];
    }
    [west, rect.min().y, east, rect.max().y]
}

#[cfg(test)]
mod tests {
    use geo_types::polygon;

    use super::*;

    #[test]
    fn bbox_crosses_the_antimeridian_when_the_footprint_does() {
        let plain = MultiPolygon(vec![polygon![
            (x: 10.0, y: 1.0), (x: 12.0, y: 1.0), (x: 12.0, y: 3.0), (x: 10.0, y: 1.0)
        ]]);
        assert_eq!(bbox(&plain), [10.0, 1.0, 12.0, 3.0]);
        let split = MultiPolygon(vec![
            polygon![(x: 170.0, y: -5.0), (x: 180.0, y: -5.0), (x: 180.0, y: 5.0), (x: 170.0, y: 5.0), (x: 170.0, y: -5.0)],
            polygon![(x: -180.0, y: -5.0), (x: -175.0, y: -5.0), (x: -175.0, y: 6.0), (x: -180.0, y: 6.0), (x: -180.0, y: -5.0)],
        ]);
        assert_eq!(bbox(&split), [170.0, -5.0, -175.0, 6.0]);
        assert_eq!(footprint_rect(&split).min().x, -180.0);
    }
}
