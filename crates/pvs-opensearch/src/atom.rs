//! The Atom encoding of results: an OpenSearch response feed with one entry per product or
//! collection, footprints as GeoRSS.

use std::fmt::Write;

use geo::{LineString, MultiPolygon, Rect};
use pvs_catalog::{CollectionInfo, Product};
use pvs_ogc::xml::escape;

use super::request::SearchRequest;
use super::{Context, Format, Items, Paging, collection_rect, iso, product_rect};

/// The namespaces of the Atom and RSS answers, besides Atom's and RSS's own.
pub(crate) const RESPONSE_NAMESPACES: &str = concat!(
    " xmlns:os=\"http://a9.com/-/spec/opensearch/1.1/\"",
    " xmlns:geo=\"http://a9.com/-/opensearch/extensions/geo/1.0/\"",
    " xmlns:time=\"http://a9.com/-/opensearch/extensions/time/1.0/\"",
    " xmlns:eo=\"http://a9.com/-/opensearch/extensions/eo/1.0/\"",
    " xmlns:georss=\"http://www.georss.org/georss\"",
    " xmlns:gml=\"http://www.opengis.net/gml\"",
    " xmlns:dc=\"http://purl.org/dc/elements/1.1/\"",
);

/// The `os:Query role="request"` element echoing the request's parameters by template
/// variable, indented for a feed or channel.
pub(crate) fn query_element(request: &SearchRequest) -> String {
    let mut query = String::from("  <os:Query role=\"request\"");
    for (param, value) in &request.given {
        let _ = write!(query, " {}=\"{}\"", param.variable, escape(value));
    }
    query.push_str("/>\n");
    query
}

/// The paging links of a page in `format`, by relation: `self`, `first`, `previous` and
/// `next` where there are such pages, `last`.
pub(crate) fn paging_links(
    context: &Context,
    request: &SearchRequest,
    paging: &Paging,
    format: Format,
) -> Vec<(&'static str, String)> {
    let mut links = vec![
        ("self", context.page_url(format, request, None)),
        (
            "first",
            context.page_url(format, request, Some(paging.first)),
        ),
    ];
    if let Some(previous) = paging.previous {
        links.push((
            "previous",
            context.page_url(format, request, Some(previous)),
        ));
    }
    if let Some(next) = paging.next {
        links.push(("next", context.page_url(format, request, Some(next))));
    }
    links.push(("last", context.page_url(format, request, Some(paging.last))));
    links
}

fn link(rel: &str, media_type: &str, href: &str, title: Option<&str>) -> String {
    let title = title
        .map(|t| format!(" title=\"{}\"", escape(t)))
        .unwrap_or_default();
    format!(
        "    <link rel=\"{rel}\" type=\"{media_type}\"{title} href=\"{}\"/>\n",
        escape(href)
    )
}

/// `lat lon lat lon ...` of a ring (GeoRSS and EPSG:4326 axis order).
fn pos_list(ring: &LineString<f64>) -> String {
    let mut text = String::new();
    for (i, c) in ring.0.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        let _ = write!(text, "{} {}", c.y, c.x);
    }
    text
}

/// A footprint as GeoRSS: `georss:polygon` when it is one polygon without holes, else
/// `georss:where` holding a GML `MultiSurface` (e.g. a footprint split at the antimeridian).
pub(crate) fn georss(footprint: &MultiPolygon<f64>) -> String {
    if let [single] = &footprint.0[..]
        && single.interiors().is_empty()
    {
        return format!(
            "    <georss:polygon>{}</georss:polygon>\n",
            pos_list(single.exterior())
        );
    }
    let mut members = String::new();
    for polygon in &footprint.0 {
        let _ = write!(
            members,
            "<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{}</gml:posList></gml:LinearRing></gml:exterior>",
            pos_list(polygon.exterior())
        );
        for hole in polygon.interiors() {
            let _ = write!(
                members,
                "<gml:interior><gml:LinearRing><gml:posList>{}</gml:posList></gml:LinearRing></gml:interior>",
                pos_list(hole)
            );
        }
        members.push_str("</gml:Polygon></gml:surfaceMember>");
    }
    format!(
        "    <georss:where><gml:MultiSurface srsName=\"EPSG:4326\">{members}</gml:MultiSurface></georss:where>\n"
    )
}

/// `georss:box` "south west north east".
pub(crate) fn georss_box(rect: Rect<f64>) -> String {
    format!(
        "    <georss:box>{} {} {} {}</georss:box>\n",
        rect.min().y,
        rect.min().x,
        rect.max().y,
        rect.max().x
    )
}

/// What Atom entries and RSS items of a product both hold, indented for an entry: its id,
/// time, collection and product type (`dc:` and `eo:`) and its footprint and box (GeoRSS).
pub(crate) fn product_elements(product: &Product) -> String {
    let mut elements = format!(
        "    <dc:identifier>{}</dc:identifier>\n    <dc:date>{}/{}</dc:date>\n    <eo:parentIdentifier>{}</eo:parentIdentifier>\n",
        escape(&product.id),
        iso(product.begin),
        iso(product.end),
        escape(&product.collection),
    );
    if let Some(product_type) = &product.product_type {
        let _ = writeln!(
            elements,
            "    <eo:productType>{}</eo:productType>",
            escape(product_type)
        );
    }
    elements.push_str(&georss(&product.footprint));
    elements.push_str(&georss_box(product_rect(product)));
    elements
}

fn product_entry(context: &Context, product: &Product) -> String {
    let rect = product_rect(product);
    let (begin, end) = (iso(product.begin), iso(product.end));
    let mut entry = String::from("  <entry>\n");
    let atom_url = context.product_url(&product.collection, &product.id, Format::Atom);
    let _ = write!(
        entry,
        "    <id>{}</id>\n    <title>{}</title>\n    <updated>{end}</updated>\n{}",
        escape(&atom_url),
        escape(&product.id),
        product_elements(product),
    );
    entry.push_str(&link(
        "alternate",
        Format::Atom.media_type(),
        &atom_url,
        Some("Atom entry"),
    ));
    entry.push_str(&link(
        "alternate",
        Format::GeoJson.media_type(),
        &context.product_url(&product.collection, &product.id, Format::GeoJson),
        Some("GeoJSON feature"),
    ));
    entry.push_str(&link(
        "icon",
        "image/png",
        &context.get_map_url(
            &product.collection,
            rect,
            Some((product.begin, product.end)),
        ),
        Some("WMS GetMap"),
    ));
    entry.push_str(&link(
        "enclosure",
        "image/tiff",
        &context.get_coverage_url(&product.id),
        Some("WCS GetCoverage"),
    ));
    let _ = write!(
        entry,
        "    <summary type=\"text\">{} of {}, {begin} to {end}</summary>\n  </entry>\n",
        escape(&product.id),
        escape(&product.collection)
    );
    entry
}

fn collection_entry(context: &Context, info: &CollectionInfo) -> String {
    let name = &info.collection.name;
    let description = format!("{}/opensearch/collections/{name}", context.base);
    let mut entry = String::from("  <entry>\n");
    let updated = info.end.map(iso).unwrap_or_else(|| iso(chrono::Utc::now()));
    let _ = write!(
        entry,
        "    <id>{}</id>\n    <title>{}</title>\n    <updated>{updated}</updated>\n    <dc:identifier>{}</dc:identifier>\n",
        escape(&description),
        escape(name),
        escape(name),
    );
    if let (Some(begin), Some(end)) = (info.begin, info.end) {
        let _ = writeln!(entry, "    <dc:date>{}/{}</dc:date>", iso(begin), iso(end));
    }
    if let Some(product_type) = &info.collection.product_type {
        let _ = writeln!(
            entry,
            "    <eo:productType>{}</eo:productType>",
            escape(product_type)
        );
    }
    let rect = collection_rect(info);
    if let Some(rect) = rect {
        entry.push_str(&georss_box(rect));
    }
    entry.push_str(&link(
        "search",
        "application/opensearchdescription+xml",
        &description,
        Some("OpenSearch description of the collection's products"),
    ));
    for format in Format::ALL {
        entry.push_str(&link(
            "alternate",
            format.media_type(),
            &format!("{description}/{}", format.segment()),
            Some("Products"),
        ));
    }
    if let Some(rect) = rect {
        entry.push_str(&link(
            "icon",
            "image/png",
            &context.get_map_url(name, rect, info.begin.zip(info.end)),
            Some("WMS GetMap"),
        ));
    }
    let _ = write!(
        entry,
        "    <summary type=\"text\">{} products</summary>\n  </entry>\n",
        info.product_count
    );
    entry
}

/// The page as an Atom feed with the OpenSearch response elements.
pub(crate) fn feed(
    context: &Context,
    request: &SearchRequest,
    paging: &Paging,
    items: &Items,
) -> String {
    let media_type = Format::Atom.media_type();
    let self_url = context.page_url(Format::Atom, request, None);
    let title = match &context.collection {
        Some(collection) => format!("{}: products of {collection}", context.title),
        None => format!("{}: collections", context.title),
    };
    let query = query_element(request);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"{RESPONSE_NAMESPACES}>\n  <id>{}</id>\n  <title>{}</title>\n  <updated>{}</updated>\n  <author><name>{}</name></author>\n  <generator>pvs</generator>\n  <os:totalResults>{}</os:totalResults>\n  <os:startIndex>{}</os:startIndex>\n  <os:itemsPerPage>{}</os:itemsPerPage>\n{query}",
        escape(&self_url),
        escape(&title),
        iso(chrono::Utc::now()),
        escape(&context.title),
        paging.total,
        request.start_index(),
        items.len(),
    );
    let mut links = String::new();
    for (rel, href) in paging_links(context, request, paging, Format::Atom) {
        links.push_str(&link(rel, media_type, &href, None));
        if rel == "self" {
            links.push_str(&link(
                "search",
                "application/opensearchdescription+xml",
                &context.description_url(),
                None,
            ));
        }
    }
    // Feed-level links are indented by two spaces.
    for line in links.lines() {
        let _ = writeln!(xml, "{}", &line[2..]);
    }
    xml.push_str(&items.render(
        |product| product_entry(context, product),
        |info| collection_entry(context, info),
    ));
    xml.push_str("</feed>\n");
    xml
}
