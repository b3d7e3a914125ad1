//! OpenSearch description documents, with Url templates in the geo:, time: and eo:
//! namespaces and Parameter extension elements giving each parameter's bounds.

use pvs_ogc::xml::escape;

use super::eo::{self, EoParam, Values};
#[cfg(test)]
use super::geometry::MAX_WKT_POINTS;
use super::geometry::{MAX_RADIUS_M, METRES_PER_DEGREE};
use super::request::{DEFAULT_COUNT, MAX_COUNT, MAX_START_INDEX, Param, Target};
use super::{Context, Conventions, Format, IndexOffset, RadiusUnit};

/// The namespaces declared on the root element.
pub(crate) const NAMESPACES: &str = concat!(
    " xmlns=\"http://a9.com/-/spec/opensearch/1.1/\"",
    " xmlns:geo=\"http://a9.com/-/opensearch/extensions/geo/1.0/\"",
    " xmlns:time=\"http://a9.com/-/opensearch/extensions/time/1.0/\"",
    " xmlns:eo=\"http://a9.com/-/opensearch/extensions/eo/1.0/\"",
    " xmlns:param=\"http://a9.com/-/spec/opensearch/extensions/parameters/1.0/\"",
    " xmlns:cql=\"http://a9.com/-/opensearch/extensions/cql/1.0/\"",
    " xmlns:atom=\"http://www.w3.org/2005/Atom\"",
);

/// The URL template of a search: every parameter optional.
pub(crate) fn template(context: &Context, format: Format, target: Target) -> String {
    let query: Vec<String> = target
        .params()
        .iter()
        .map(|p| format!("{}={{{}?}}", p.name, p.variable))
        .collect();
    format!("{}?{}", context.results_url(format), query.join("&"))
}

/// The pattern of a number in the EO range syntax (`v`, `{a,b}`, `[a,b]`, `]a`, `b[`...).
const RANGE_PATTERN: &str = r"^(N|\{N(,N)*\}|[\[\]]N(,N[\[\]])?|N[\[\]])$";

/// The number in [`RANGE_PATTERN`].
const NUMBER_PATTERN: &str = r"-?[0-9]+(\.[0-9]*)?";

/// The ISO 8601 date-time or date in [`RANGE_PATTERN`].
const TIME_PATTERN: &str = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?)?";

/// The `param:Parameter` element of an EO parameter: the pattern of a range, or its options.
fn eo_parameter(eo: &EoParam) -> String {
    let range = |value: &str| format!(" pattern=\"{}\"", escape(RANGE_PATTERN.replace('N', value)));
    let (attributes, children) = match eo.values {
        Values::Number { .. } | Values::Integer { .. } => (range(NUMBER_PATTERN), String::new()),
        Values::Timestamp => (range(TIME_PATTERN), String::new()),
        Values::Text | Values::Element => (String::new(), String::new()),
        Values::Choice(choices) => (
            String::new(),
            choices
                .iter()
                .map(|(name, _)| {
                    format!("\n      <param:Option value=\"{name}\" label=\"{name}\"/>")
                })
                .collect(),
        ),
    };
    element(&eo.param, &attributes, &children, eo.title)
}

/// The `param:Parameter` element of `param` in a search of `target`: its bounds, options and
/// title.
fn parameter(param: &Param, target: Target, conventions: Conventions) -> String {
    if target == Target::Products
        && let Some(eo) = eo::find(param.name)
    {
        return eo_parameter(eo);
    }
    let (attributes, children, title): (String, String, &str) = match param.name {
        "q" => (
            String::new(),
            String::new(),
            "Text the collection name contains (ignoring case)",
        ),
        "count" => (
            format!(" minInclusive=\"1\" maxInclusive=\"{MAX_COUNT}\""),
            String::new(),
            "Results per page (default 10)",
        ),
        "startIndex" => (
            format!(
                " minInclusive=\"{}\" maxInclusive=\"{MAX_START_INDEX}\"",
                conventions.index_offset.value()
            ),
            String::new(),
            match conventions.index_offset {
                IndexOffset::One => "Index of the first result (the first is 1)",
                IndexOffset::Zero => "Index of the first result (the first is 0)",
            },
        ),
        "startPage" => (
            format!(" minInclusive=\"1\" maxInclusive=\"{MAX_START_INDEX}\""),
            String::new(),
            "Page of results (the first is 1)",
        ),
        "bbox" => (
            " pattern=\"^-?[0-9.eE+-]+,-?[0-9.eE+-]+,-?[0-9.eE+-]+,-?[0-9.eE+-]+$\"".to_owned(),
            String::new(),
            "Box west,south,east,north in EPSG:4326 degrees; west greater than east crosses the antimeridian",
        ),
        "geom" => (
            String::new(),
            ["POINT", "LINESTRING", "POLYGON", "MULTIPOLYGON"]
                .iter()
                .map(|t| {
                    format!(
                        "\n      <atom:link rel=\"profile\" href=\"http://www.opengis.net/wkt/{t}\" title=\"WKT {t} in EPSG:4326 longitude latitude\"/>"
                    )
                })
                .collect(),
            "WKT geometry in longitude latitude (at most 1000 points)",
        ),
        "lat" => (
            " minInclusive=\"-90\" maxInclusive=\"90\"".to_owned(),
            String::new(),
            "Latitude of the point or circle centre, EPSG:4326 degrees",
        ),
        "lon" => (
            " minInclusive=\"-180\" maxInclusive=\"180\"".to_owned(),
            String::new(),
            "Longitude of the point or circle centre, EPSG:4326 degrees",
        ),
        "radius" => match conventions.radius {
            RadiusUnit::Metres => (
                format!(" minExclusive=\"0\" maxInclusive=\"{MAX_RADIUS_M}\""),
                String::new(),
                "Radius of the circle around lat/lon, in metres (also r)",
            ),
            RadiusUnit::Degrees => (
                format!(
                    " minExclusive=\"0\" maxInclusive=\"{}\"",
                    MAX_RADIUS_M / METRES_PER_DEGREE
                ),
                String::new(),
                "Radius of the circle around lat/lon, in degrees of arc (also r)",
            ),
        },
        "uid" => (String::new(), String::new(), "Identifier"),
        "start" => (
            String::new(),
            String::new(),
            "Start of the time interval: ISO 8601 date-time or date",
        ),
        "end" => (
            String::new(),
            String::new(),
            "End of the time interval: ISO 8601 date-time or date",
        ),
        "relation" => (
            String::new(),
            ["intersects", "during", "contains", "equals", "disjoint"]
                .iter()
                .map(|r| format!("\n      <param:Option value=\"{r}\" label=\"{r}\"/>"))
                .collect(),
            "How the results' time interval relates to start/end (default intersects)",
        ),
        "georel" => (
            String::new(),
            ["intersects", "contains", "disjoint"]
                .iter()
                .map(|r| format!("\n      <param:Option value=\"{r}\" label=\"{r}\"/>"))
                .collect(),
            "How the results' footprints relate to bbox, geom or lat/lon/radius: intersects (default), contains (the area contains them) or disjoint",
        ),
        "productType" => (String::new(), String::new(), "Product type of the collection"),
        "cql" => (
            String::new(),
            String::new(),
            "Filter on the products' metadata in ECQL with EOxServer's names (cloudCover < 20 AND orbitDirection = 'ASCENDING')",
        ),
        _ => (String::new(), String::new(), ""),
    };
    element(param, &attributes, &children, title)
}

/// A `param:Parameter` element.
fn element(param: &Param, attributes: &str, children: &str, title: &str) -> String {
    let close = if children.is_empty() {
        "/>".to_owned()
    } else {
        format!(">{children}\n    </param:Parameter>")
    };
    format!(
        "\n    <param:Parameter name=\"{}\" value=\"{{{}}}\" minimum=\"0\" title=\"{}\"{attributes}{close}",
        param.name,
        param.variable,
        escape(title)
    )
}

/// The description document of the collection search (`target` = collections) or of the
/// search of the context's collection's products.
pub(crate) fn document(context: &Context, target: Target) -> String {
    let rel = match target {
        Target::Collections => "collection",
        Target::Products => "results",
    };
    let parameters: String = target
        .params()
        .iter()
        .map(|param| parameter(param, target, context.conventions))
        .collect();
    let urls: String = Format::ALL
        .iter()
        .map(|format| {
            format!(
                "  <Url type=\"{}\" rel=\"{rel}\" indexOffset=\"{}\" pageOffset=\"1\" template=\"{}\">{parameters}\n  </Url>\n",
                format.media_type(),
                context.conventions.index_offset.value(),
                escape(template(context, *format, target))
            )
        })
        .collect();
    let (short_name, description, example) = match (&context.collection, target) {
        (Some(collection), Target::Products) => (
            collection.clone(),
            format!(
                "Products of the collection {collection} of {}, by place (box, WKT geometry, circle), time, identifier and EO properties (cloud cover, orbit, platform...).",
                context.title
            ),
            format!(" count=\"{DEFAULT_COUNT}\""),
        ),
        _ => (
            context.title.clone(),
            format!(
                "Collections of {}: search them by name, extent, time and product type, then search each one's products with its own description document.",
                context.title
            ),
            " searchTerms=\"\"".to_owned(),
        ),
    };
    // ShortName: at most 16 characters.
    let short_name: String = short_name.chars().take(16).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OpenSearchDescription{NAMESPACES}>\n  <ShortName>{}</ShortName>\n  <Description>{}</Description>\n  <Tags>EO pvs</Tags>\n{urls}  <Url type=\"application/opensearchdescription+xml\" rel=\"self\" template=\"{}\"/>\n  <Query role=\"example\"{example}/>\n  <Attribution>{}</Attribution>\n  <SyndicationRight>open</SyndicationRight>\n  <AdultContent>false</AdultContent>\n  <Language>en</Language>\n  <InputEncoding>UTF-8</InputEncoding>\n  <OutputEncoding>UTF-8</OutputEncoding>\n</OpenSearchDescription>\n",
        escape(&short_name),
        escape(&description),
        escape(context.description_url()),
        escape(&context.title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geom_limit_is_documented() {
        assert!(
            parameter(
                &Param {
                    name: "geom",
                    variable: "geo:geometry"
                },
                Target::Products,
                Conventions::default()
            )
            .contains(&format!("at most {MAX_WKT_POINTS} points"))
        );
    }
}
