//! The GeoJSON encoding of results (after OGC 17-047): a FeatureCollection with the paging
//! numbers, paging links, and one Feature per product or collection.

use geo::{MultiPolygon, Polygon, Rect};
use pvs_catalog::{CollectionInfo, Product};
use serde_json::{Value, json};

use super::request::SearchRequest;
use super::{Context, Format, Items, Paging, collection_rect, iso, product_rect};

fn link(href: String, media_type: &str, title: &str) -> Value {
    json!({ "href": href, "type": media_type, "title": title })
}

fn ring(ring: &geo::LineString<f64>) -> Value {
    Value::Array(ring.0.iter().map(|c| json!([c.x, c.y])).collect())
}

fn polygon(polygon: &Polygon<f64>) -> Value {
    Value::Array(
        std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .map(ring)
            .collect(),
    )
}

/// A footprint: a `Polygon` when it is one, else a `MultiPolygon`.
pub(crate) fn geometry(footprint: &MultiPolygon<f64>) -> Value {
    match &footprint.0[..] {
        [single] => json!({ "type": "Polygon", "coordinates": polygon(single) }),
        many => json!({
            "type": "MultiPolygon",
            "coordinates": many.iter().map(polygon).collect::<Vec<_>>(),
        }),
    }
}

fn rect_geometry(rect: Rect<f64>) -> Value {
    let (w, s, e, n) = (rect.min().x, rect.min().y, rect.max().x, rect.max().y);
    if w == e && s == n {
        return json!({ "type": "Point", "coordinates": [w, s] });
    }
    json!({
        "type": "Polygon",
        "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
    })
}

fn bbox_array(rect: Rect<f64>) -> Value {
    json!([rect.min().x, rect.min().y, rect.max().x, rect.max().y])
}

fn product_feature(context: &Context, product: &Product) -> Value {
    let rect = product_rect(product);
    let (begin, end) = (iso(product.begin), iso(product.end));
    json!({
        "type": "Feature",
        "id": product.id,
        "bbox": bbox_array(rect),
        "geometry": geometry(&product.footprint),
        "properties": {
            "id": product.id,
            "identifier": product.id,
            "title": product.id,
            "collection": product.collection,
            "parentIdentifier": product.collection,
            "productType": product.product_type,
            "begin": begin,
            "end": end,
            "date": format!("{begin}/{end}"),
            "updated": end,
            "links": {
                "alternates": [
                    link(context.product_url(&product.collection, &product.id, Format::Atom), Format::Atom.media_type(), "Atom entry"),
                    link(context.product_url(&product.collection, &product.id, Format::GeoJson), Format::GeoJson.media_type(), "GeoJSON feature"),
                ],
                "previews": [
                    link(context.get_map_url(&product.collection, rect, Some((product.begin, product.end))), "image/png", "WMS GetMap"),
                ],
                "data": [
                    link(context.get_coverage_url(&product.id), "image/tiff", "WCS GetCoverage"),
                ],
            },
        },
    })
}

fn collection_feature(context: &Context, info: &CollectionInfo) -> Value {
    let name = &info.collection.name;
    let rect = collection_rect(info);
    let begin = info.begin.map(iso);
    let end = info.end.map(iso);
    let date = match (&begin, &end) {
        (Some(begin), Some(end)) => Some(format!("{begin}/{end}")),
        _ => None,
    };
    let description = format!("{}/opensearch/collections/{name}", context.base);
    let mut previews = Vec::new();
    if let Some(rect) = rect {
        previews.push(link(
            context.get_map_url(name, rect, info.begin.zip(info.end)),
            "image/png",
            "WMS GetMap",
        ));
    }
    json!({
        "type": "Feature",
        "id": name,
        "bbox": rect.map(bbox_array),
        "geometry": rect.map(rect_geometry),
        "properties": {
            "id": name,
            "identifier": name,
            "title": name,
            "productType": info.collection.product_type,
            "productCount": info.product_count,
            "begin": begin,
            "end": end,
            "date": date,
            "links": {
                "search": [link(description.clone(), "application/opensearchdescription+xml", "OpenSearch description of the collection's products")],
                "results": Format::ALL.iter().map(|f| link(format!("{description}/{}", f.segment()), f.media_type(), "Products")).collect::<Vec<_>>(),
                "previews": previews,
            },
        },
    })
}

/// The page as a GeoJSON FeatureCollection.
pub(crate) fn feature_collection(
    context: &Context,
    request: &SearchRequest,
    paging: &Paging,
    items: &Items,
) -> Value {
    let format = context.format;
    let media_type = format.media_type();
    let self_url = context.page_url(format, request, None);
    let mut links = vec![
        ("self", self_url.clone(), "This page"),
        (
            "first",
            context.page_url(format, request, Some(paging.first)),
            "First page",
        ),
    ];
    if let Some(previous) = paging.previous {
        links.push((
            "previous",
            context.page_url(format, request, Some(previous)),
            "Previous page",
        ));
    }
    if let Some(next) = paging.next {
        links.push((
            "next",
            context.page_url(format, request, Some(next)),
            "Next page",
        ));
    }
    links.push((
        "last",
        context.page_url(format, request, Some(paging.last)),
        "Last page",
    ));
    let mut by_rel = serde_json::Map::new();
    let mut list = Vec::new();
    for (rel, href, title) in &links {
        by_rel.insert(
            (*rel).to_owned(),
            json!([link(href.clone(), media_type, title)]),
        );
        list.push(json!({ "rel": rel, "href": href, "type": media_type, "title": title }));
    }
    let description = context.description_url();
    by_rel.insert(
        "search".to_owned(),
        json!([link(
            description.clone(),
            "application/opensearchdescription+xml",
            "OpenSearch description"
        )]),
    );
    list.push(json!({ "rel": "search", "href": description, "type": "application/opensearchdescription+xml" }));
    let query: serde_json::Map<String, Value> = request
        .given
        .iter()
        .map(|(param, value)| (param.variable.to_owned(), Value::String(value.clone())))
        .collect();
    let features: Vec<Value> = match items {
        Items::Products(products) => products
            .iter()
            .map(|p| product_feature(context, p))
            .collect(),
        Items::Collections(collections) => collections
            .iter()
            .map(|c| collection_feature(context, c))
            .collect(),
    };
    let title = match &context.collection {
        Some(collection) => format!("{}: products of {collection}", context.title),
        None => format!("{}: collections", context.title),
    };
    json!({
        "type": "FeatureCollection",
        "id": self_url,
        "totalResults": paging.total,
        "itemsPerPage": items.len(),
        "startIndex": request.start_index(),
        "queries": { "request": [Value::Object(query)] },
        "properties": {
            "title": title,
            "updated": iso(chrono::Utc::now()),
            "totalResults": paging.total,
            "itemsPerPage": items.len(),
            "startIndex": request.start_index(),
            "links": by_rel,
        },
        "links": list,
        "features": features,
    })
}
