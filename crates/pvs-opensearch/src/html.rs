//! The HTML encoding of results, as EOxServer serves it beside Atom: an HTML5 page (written
//! so that an XML parser reads it too) with a table of the results and the paging links.
//! Every value from the catalog or the request is escaped.

use std::fmt::Write;

use geo::Rect;
use pvs_catalog::{CollectionInfo, Product};
use pvs_ogc::xml::escape;

use super::atom::paging_links;
use super::request::SearchRequest;
use super::{Context, Format, Items, Paging, collection_rect, iso, product_rect};

/// A link.
fn anchor(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
}

/// A box as `west,south,east,north`.
fn bbox(rect: Rect<f64>) -> String {
    format!(
        "{},{},{},{}",
        rect.min().x,
        rect.min().y,
        rect.max().x,
        rect.max().y
    )
}

/// A cell with a time, empty without one.
fn time_cell(time: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match time {
        Some(time) => format!("<td><time datetime=\"{0}\">{0}</time></td>", iso(time)),
        None => "<td></td>".to_owned(),
    }
}

/// A preview: the GetMap as a small image, linking to it.
fn preview(href: &str, id: &str) -> String {
    format!(
        "<a href=\"{0}\"><img src=\"{0}\" alt=\"preview of {1}\" width=\"128\" loading=\"lazy\"/></a>",
        escape(href),
        escape(id)
    )
}

fn product_row(context: &Context, product: &Product) -> String {
    let rect = product_rect(product);
    let get_map = context.get_map_url(
        &product.collection,
        rect,
        Some((product.begin, product.end)),
    );
    format!(
        "<tr class=\"result\"><td class=\"id\">{}</td>{}{}<td>{}</td><td>{} {}</td></tr>\n",
        anchor(
            &context.product_url(&product.collection, &product.id, Format::Html),
            &product.id
        ),
        time_cell(Some(product.begin)),
        time_cell(Some(product.end)),
        bbox(rect),
        preview(&get_map, &product.id),
        anchor(&context.get_coverage_url(&product.id), "GeoTIFF"),
    )
}

fn collection_row(context: &Context, info: &CollectionInfo) -> String {
    let name = &info.collection.name;
    let description = format!("{}/opensearch/collections/{name}", context.base);
    let rect = collection_rect(info);
    let preview = rect
        .map(|rect| preview(&context.get_map_url(name, rect, None), name))
        .unwrap_or_default();
    format!(
        "<tr class=\"result\"><td class=\"id\">{}</td>{}{}<td>{}</td><td>{preview} {} ({} products)</td></tr>\n",
        anchor(&description, name),
        time_cell(info.begin),
        time_cell(info.end),
        rect.map(bbox).unwrap_or_default(),
        anchor(
            &format!("{description}/{}", Format::Html.segment()),
            "products"
        ),
        info.product_count,
    )
}

/// The page of results as HTML.
pub(crate) fn page(
    context: &Context,
    request: &SearchRequest,
    paging: &Paging,
    items: &Items,
) -> String {
    let title = match &context.collection {
        Some(collection) => format!("{}: products of {collection}", context.title),
        None => format!("{}: collections", context.title),
    };
    // Counted from 1 for readers, whatever the request's convention.
    let first = request.offset + 1;
    let summary = match items.len() as u64 {
        0 => format!("No results here of {}", paging.total),
        len => format!("Results {first} to {} of {}", first + len - 1, paging.total),
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>{0}</title>\n<link rel=\"search\" type=\"application/opensearchdescription+xml\" href=\"{1}\"/>\n</head>\n<body>\n<h1>{0}</h1>\n<p class=\"summary\">{2}</p>\n<nav>\n",
        escape(&title),
        escape(context.description_url()),
        escape(&summary),
    );
    for (rel, href) in paging_links(context, request, paging, Format::Html) {
        let _ = writeln!(
            html,
            "<a rel=\"{rel}\" href=\"{}\">{rel}</a>",
            escape(&href)
        );
    }
    html.push_str("</nav>\n<table>\n<thead><tr><th>Identifier</th><th>Begin</th><th>End</th><th>Box (west,south,east,north)</th><th>Preview and data</th></tr></thead>\n<tbody>\n");
    html.push_str(&items.render(
        |product| product_row(context, product),
        |info| collection_row(context, info),
    ));
    html.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    html
}
