//! The KML 2.2 encoding of results, as EOxServer serves it beside Atom and RSS: a document
//! with one placemark per product (its footprint as polygons, its time as a `TimeSpan`) or per
//! collection (the box of its products), and the paging links as `atom:link`s, which KML
//! allows on a feature.

use std::fmt::Write;

use geo::{LineString, Polygon, Rect};
use pvs_catalog::{CollectionInfo, Product};
use pvs_ogc::xml::escape;

use super::atom::paging_links;
use super::request::SearchRequest;
use super::{Context, Format, Items, Paging, collection_rect, iso};

/// The coordinates of a ring: `lon,lat` pairs.
fn coordinates(ring: &LineString<f64>) -> String {
    ring.coords()
        .map(|c| format!("{},{}", c.x, c.y))
        .collect::<Vec<_>>()
        .join(" ")
}

fn polygon(polygon: &Polygon<f64>) -> String {
    let mut xml = format!(
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>{}</coordinates></LinearRing></outerBoundaryIs>",
        coordinates(polygon.exterior())
    );
    for interior in polygon.interiors() {
        let _ = write!(
            xml,
            "<innerBoundaryIs><LinearRing><coordinates>{}</coordinates></LinearRing></innerBoundaryIs>",
            coordinates(interior)
        );
    }
    xml.push_str("</Polygon>");
    xml
}

fn product_placemark(context: &Context, product: &Product) -> String {
    let polygons: String = product.footprint.0.iter().map(polygon).collect();
    format!(
        "    <Placemark>\n      <name>{}</name>\n      <description>{} of {}, {} to {}</description>\n      <TimeSpan><begin>{}</begin><end>{}</end></TimeSpan>\n      <atom:link rel=\"alternate\" href=\"{}\"/>\n      <MultiGeometry>{polygons}</MultiGeometry>\n    </Placemark>\n",
        escape(&product.id),
        escape(&product.id),
        escape(&product.collection),
        iso(product.begin),
        iso(product.end),
        iso(product.begin),
        iso(product.end),
        escape(context.product_url(&product.collection, &product.id, Format::Kml)),
    )
}

fn collection_placemark(context: &Context, info: &CollectionInfo) -> String {
    let name = &info.collection.name;
    let mut placemark = format!(
        "    <Placemark>\n      <name>{}</name>\n      <description>{} products</description>\n",
        escape(name),
        info.product_count
    );
    if let (Some(begin), Some(end)) = (info.begin, info.end) {
        let _ = writeln!(
            placemark,
            "      <TimeSpan><begin>{}</begin><end>{}</end></TimeSpan>",
            iso(begin),
            iso(end)
        );
    }
    let _ = writeln!(
        placemark,
        "      <atom:link rel=\"search\" href=\"{}\"/>",
        escape(format!("{}/opensearch/collections/{name}", context.base))
    );
    if let Some(rect) = collection_rect(info) {
        let _ = writeln!(placemark, "      {}", polygon(&Rect::to_polygon(rect)));
    }
    placemark.push_str("    </Placemark>\n");
    placemark
}

/// The page as a KML document.
pub(crate) fn document(
    context: &Context,
    request: &SearchRequest,
    paging: &Paging,
    items: &Items,
) -> String {
    let mut links = String::new();
    for (rel, href) in paging_links(context, request, paging, Format::Kml) {
        let _ = writeln!(
            links,
            "    <atom:link rel=\"{rel}\" href=\"{}\"/>",
            escape(&href)
        );
    }
    let placemarks: String = match items {
        Items::Products(products) => products
            .iter()
            .map(|p| product_placemark(context, p))
            .collect(),
        Items::Collections(collections) => collections
            .iter()
            .map(|c| collection_placemark(context, c))
            .collect(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n  <Document>\n    <name>{}</name>\n    <description>results {} to {} of {}</description>\n{links}{placemarks}  </Document>\n</kml>\n",
        escape(&context.title),
        request.start_index(),
        request.start_index() + items.len().max(1) as u64 - 1,
        paging.total,
    )
}
