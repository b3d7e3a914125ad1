//! The RSS 2.0 encoding of results, as EOxServer serves it beside Atom: a channel with the
//! OpenSearch response elements and one item per product or collection, footprints as GeoRSS.

use std::fmt::Write;

use pvs_catalog::{CollectionInfo, Product};
use pvs_ogc::xml::escape;

use super::atom::{RESPONSE_NAMESPACES, georss_box, paging_links, product_elements, query_element};
use super::request::SearchRequest;
use super::{Context, Format, Items, Paging, collection_rect, iso, product_rect};

/// An `atom:link` of the channel.
fn atom_link(rel: &str, media_type: &str, href: &str) -> String {
    format!(
        "    <atom:link rel=\"{rel}\" type=\"{media_type}\" href=\"{}\"/>\n",
        escape(href)
    )
}

fn product_item(context: &Context, product: &Product) -> String {
    let rect = product_rect(product);
    let (begin, end) = (iso(product.begin), iso(product.end));
    let url = context.product_url(&product.collection, &product.id, Format::Rss);
    let mut item = String::from("    <item>\n");
    let _ = write!(
        item,
        "      <title>{}</title>\n      <link>{}</link>\n      <guid isPermaLink=\"false\">{}</guid>\n      <description>{} of {}, {begin} to {end}</description>\n",
        escape(&product.id),
        escape(&url),
        escape(&url),
        escape(&product.id),
        escape(&product.collection),
    );
    // An item is indented two spaces more than an Atom entry.
    for line in product_elements(product).lines() {
        let _ = writeln!(item, "  {line}");
    }
    // RSS requires the length of an enclosure; a coverage is drawn on request, so 0.
    let _ = write!(
        item,
        "      <enclosure url=\"{}\" type=\"image/tiff\" length=\"0\"/>\n      <atom:link rel=\"icon\" type=\"image/png\" href=\"{}\"/>\n    </item>\n",
        escape(context.get_coverage_url(&product.id)),
        escape(context.get_map_url(
            &product.collection,
            rect,
            Some((product.begin, product.end))
        )),
    );
    item
}

fn collection_item(context: &Context, info: &CollectionInfo) -> String {
    let name = &info.collection.name;
    let description = format!("{}/opensearch/collections/{name}", context.base);
    let mut item = String::from("    <item>\n");
    let _ = write!(
        item,
        "      <title>{}</title>\n      <link>{}</link>\n      <guid isPermaLink=\"false\">{}</guid>\n      <description>{} products</description>\n      <dc:identifier>{}</dc:identifier>\n",
        escape(name),
        escape(&description),
        escape(&description),
        info.product_count,
        escape(name),
    );
    if let (Some(begin), Some(end)) = (info.begin, info.end) {
        let _ = writeln!(item, "      <dc:date>{}/{}</dc:date>", iso(begin), iso(end));
    }
    if let Some(rect) = collection_rect(info) {
        let _ = writeln!(item, "  {}", georss_box(rect).trim_end());
    }
    let _ = write!(
        item,
        "      <atom:link rel=\"search\" type=\"application/opensearchdescription+xml\" href=\"{}\"/>\n    </item>\n",
        escape(&description)
    );
    item
}

/// The page as an RSS 2.0 channel with the OpenSearch response elements.
pub(crate) fn channel(
    context: &Context,
    request: &SearchRequest,
    paging: &Paging,
    items: &Items,
) -> String {
    let media_type = Format::Rss.media_type();
    let title = match &context.collection {
        Some(collection) => format!("{}: products of {collection}", context.title),
        None => format!("{}: collections", context.title),
    };
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"{RESPONSE_NAMESPACES}>\n  <channel>\n    <title>{}</title>\n    <link>{}</link>\n    <description>{}</description>\n    <generator>pvs</generator>\n    <os:totalResults>{}</os:totalResults>\n    <os:startIndex>{}</os:startIndex>\n    <os:itemsPerPage>{}</os:itemsPerPage>\n  {}",
        escape(&title),
        escape(context.page_url(Format::Rss, request, None)),
        escape(&title),
        paging.total,
        request.start_index(),
        items.len(),
        query_element(request),
    );
    for (rel, href) in paging_links(context, request, paging, Format::Rss) {
        xml.push_str(&atom_link(rel, media_type, &href));
    }
    xml.push_str(&atom_link(
        "search",
        "application/opensearchdescription+xml",
        &context.description_url(),
    ));
    xml.push_str(&items.render(
        |product| product_item(context, product),
        |info| collection_item(context, info),
    ));
    xml.push_str("  </channel>\n</rss>\n");
    xml
}
