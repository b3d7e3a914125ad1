//! The XML documents of WCS 2.0.1 and EO-WCS 1.0: capabilities, coverage descriptions with
//! EO metadata, dataset series descriptions and EO coverage set descriptions (exception
//! reports are `pvs_ogc`'s). Every value from the catalog or the request is escaped.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use geo::BoundingRect;
use pvs_catalog::{CollectionInfo, Product};
use pvs_ogc::crs::uri as crs_uri;
use pvs_ogc::xml::escape;
use pvs_raster::coverage::Grid;

use super::request::encode_id;

/// The namespaces every document declares.
const NAMESPACES: &str = concat!(
    "xmlns:wcs=\"http://www.opengis.net/wcs/2.0\" ",
    "xmlns:ows=\"http://www.opengis.net/ows/2.0\" ",
    "xmlns:gml=\"http://www.opengis.net/gml/3.2\" ",
    "xmlns:gmlcov=\"http://www.opengis.net/gmlcov/1.0\" ",
    "xmlns:swe=\"http://www.opengis.net/swe/2.0\" ",
    "xmlns:wcseo=\"http://www.opengis.net/wcs/wcseo/1.0\" ",
    "xmlns:eop=\"http://www.opengis.net/eop/2.0\" ",
    "xmlns:om=\"http://www.opengis.net/om/2.0\" ",
    "xmlns:crs=\"http://www.opengis.net/wcs/crs/1.0\" ",
    "xmlns:xlink=\"http://www.w3.org/1999/xlink\" ",
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
    "xsi:schemaLocation=\"http://www.opengis.net/wcs/wcseo/1.0 http://schemas.opengis.net/wcs/wcseo/1.0/wcsEOAll.xsd\""
);

/// The conformance classes served, listed as `ows:Profile`s.
pub const PROFILES: [&str; 7] = [
    "http://www.opengis.net/spec/WCS/2.0/conf/core",
    "http://www.opengis.net/spec/WCS_protocol-binding_get-kvp/1.0/conf/get-kvp",
    "http://www.opengis.net/spec/WCS_application-profile_earth-observation/1.0/conf/eowcs",
    "http://www.opengis.net/spec/WCS_application-profile_earth-observation/1.0/conf/eowcs_get-kvp",
    "http://www.opengis.net/spec/WCS_coverage-encoding_geotiff/1.0/conf/geotiff-coverage",
    "http://www.opengis.net/spec/WCS_service-extension_crs/1.0/conf/crs",
    "http://www.opengis.net/spec/WCS_service-extension_scaling/1.0/conf/scaling",
];

/// The operations served.
pub const OPERATIONS: [&str; 4] = [
    "GetCapabilities",
    "DescribeCoverage",
    "DescribeEOCoverageSet",
    "GetCoverage",
];

/// CRSs listed in the capabilities (`SUBSETTINGCRS` and `OUTPUTCRS` take any EPSG code GDAL
/// knows).
pub const LISTED_CRS: [u32; 3] = [4326, 3857, 3035];

/// The CoverageSubtype of every coverage. EO-WCS names EO coverages `RectifiedDataset`, but
/// GDAL's WCS driver refuses that subtype ("Can't handle coverages of type
/// 'RectifiedDataset'"): the core subtype is given.
pub const SUBTYPE: &str = "RectifiedGridCoverage";

/// ISO 8601, UTC, `Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The sections of a capabilities document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sections {
    /// `ServiceIdentification`.
    pub identification: bool,
    /// `ServiceProvider`.
    pub provider: bool,
    /// `OperationsMetadata`.
    pub operations: bool,
    /// `ServiceMetadata`.
    pub metadata: bool,
    /// `Contents`.
    pub contents: bool,
}

impl Sections {
    /// Every section.
    pub fn all() -> Self {
        Self {
            identification: true,
            provider: true,
            operations: true,
            metadata: true,
            contents: true,
        }
    }
}

/// What the capabilities list.
pub struct Contents<'a> {
    /// The newest products (at most the renderer's limit).
    pub products: &'a [Product],
    /// How many products the catalog holds.
    pub total: u64,
    /// The collections.
    pub collections: &'a [CollectionInfo],
    /// The default and largest `COUNT` of DescribeEOCoverageSet.
    pub count_default: u32,
}

/// `[west, south, east, north]` of a footprint.
fn footprint_box(product: &Product) -> [f64; 4] {
    match product.footprint.bounding_rect() {
        Some(rect) => [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
        None => [-180.0, -90.0, 180.0, 90.0],
    }
}

fn collection_box(info: &CollectionInfo) -> [f64; 4] {
    match &info.bbox {
        Some(b) if b.west() <= b.east() => [b.west(), b.south(), b.east(), b.north()],
        Some(b) => [-180.0, b.south(), 180.0, b.north()],
        None => [-180.0, -90.0, 180.0, 90.0],
    }
}

fn wgs84_box(b: [f64; 4]) -> String {
    format!(
        "<ows:WGS84BoundingBox><ows:LowerCorner>{} {}</ows:LowerCorner><ows:UpperCorner>{} {}</ows:UpperCorner></ows:WGS84BoundingBox>",
        b[0], b[1], b[2], b[3]
    )
}

fn time_period(gml_id: &str, begin: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> String {
    let position = |tag: &str, t: Option<DateTime<Utc>>| match t {
        Some(t) => format!("<gml:{tag}>{}</gml:{tag}>", iso(t)),
        None => format!("<gml:{tag} indeterminatePosition=\"unknown\"/>"),
    };
    format!(
        "<gml:TimePeriod gml:id=\"{gml_id}\">{}{}</gml:TimePeriod>",
        position("beginPosition", begin),
        position("endPosition", end)
    )
}

/// The capabilities document. `url` is the GET endpoint ending with `?`.
pub fn capabilities(title: &str, url: &str, sections: Sections, contents: &Contents) -> String {
    let title = escape(title);
    let url = escape(url);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wcs:Capabilities {NAMESPACES} version=\"2.0.1\">\n"
    );
    if sections.identification {
        let listed = contents.products.len();
        let abstract_ = if (listed as u64) < contents.total {
            format!(
                "Earth observation products as EO-WCS coverages, one dataset series per collection. The contents list the {listed} newest of {} coverages; DescribeEOCoverageSet finds every coverage of a dataset series.",
                contents.total
            )
        } else {
            "Earth observation products as EO-WCS coverages, one dataset series per collection."
                .to_owned()
        };
        let _ = write!(
            xml,
            "  <ows:ServiceIdentification>\n    <ows:Title>{title}</ows:Title>\n    <ows:Abstract>{abstract_}</ows:Abstract>\n    <ows:ServiceType codeSpace=\"OGC\">OGC WCS</ows:ServiceType>\n    <ows:ServiceTypeVersion>2.0.1</ows:ServiceTypeVersion>\n"
        );
        for profile in PROFILES {
            let _ = writeln!(xml, "    <ows:Profile>{profile}</ows:Profile>");
        }
        xml.push_str("    <ows:Fees>NONE</ows:Fees>\n    <ows:AccessConstraints>NONE</ows:AccessConstraints>\n  </ows:ServiceIdentification>\n");
    }
    if sections.provider {
        let _ = write!(
            xml,
            "  <ows:ServiceProvider>\n    <ows:ProviderName>{title}</ows:ProviderName>\n    <ows:ServiceContact/>\n  </ows:ServiceProvider>\n"
        );
    }
    if sections.operations {
        xml.push_str("  <ows:OperationsMetadata>\n");
        for operation in OPERATIONS {
            let _ = write!(
                xml,
                "    <ows:Operation name=\"{operation}\"><ows:DCP><ows:HTTP><ows:Get xlink:href=\"{url}\"/></ows:HTTP></ows:DCP>"
            );
            if operation == "DescribeEOCoverageSet" {
                let _ = write!(
                    xml,
                    "<ows:Constraint name=\"CountDefault\"><ows:NoValues/><ows:DefaultValue>{}</ows:DefaultValue></ows:Constraint>",
                    contents.count_default
                );
            }
            xml.push_str("</ows:Operation>\n");
        }
        xml.push_str("  </ows:OperationsMetadata>\n");
    }
    if sections.metadata {
        xml.push_str("  <wcs:ServiceMetadata>\n    <wcs:formatSupported>image/tiff</wcs:formatSupported>\n    <wcs:Extension><crs:CrsMetadata>");
        for epsg in LISTED_CRS {
            let _ = write!(
                xml,
                "<crs:crsSupported>{}</crs:crsSupported>",
                crs_uri(epsg)
            );
        }
        xml.push_str("</crs:CrsMetadata></wcs:Extension>\n  </wcs:ServiceMetadata>\n");
    }
    if sections.contents {
        xml.push_str("  <wcs:Contents>\n");
        for product in contents.products {
            let _ = writeln!(
                xml,
                "    <wcs:CoverageSummary>{}<wcs:CoverageId>{}</wcs:CoverageId><wcs:CoverageSubtype>{SUBTYPE}</wcs:CoverageSubtype></wcs:CoverageSummary>",
                wgs84_box(footprint_box(product)),
                encode_id(&product.id)
            );
        }
        if !contents.collections.is_empty() {
            xml.push_str("    <wcs:Extension>\n");
            for info in contents.collections {
                let id = encode_id(&info.collection.name);
                let _ = writeln!(
                    xml,
                    "      <wcseo:DatasetSeriesSummary>{}<wcseo:DatasetSeriesId>{id}</wcseo:DatasetSeriesId>{}</wcseo:DatasetSeriesSummary>",
                    wgs84_box(collection_box(info)),
                    time_period(&format!("{id}_timeperiod"), info.begin, info.end)
                );
            }
            xml.push_str("    </wcs:Extension>\n");
        }
        xml.push_str("  </wcs:Contents>\n");
    }
    xml.push_str("</wcs:Capabilities>\n");
    xml
}

/// `gml:Envelope` of a grid in its CRS's axis order.
fn grid_envelope(grid: &Grid, axes: &Axes) -> String {
    let [x0, y0, x1, y1] = grid.bounds();
    let (low, high) = if axes.swapped {
        ([y0, x0], [y1, x1])
    } else {
        ([x0, y0], [x1, y1])
    };
    format!(
        "<gml:boundedBy><gml:Envelope srsName=\"{}\" axisLabels=\"{} {}\" uomLabels=\"{} {}\" srsDimension=\"2\"><gml:lowerCorner>{} {}</gml:lowerCorner><gml:upperCorner>{} {}</gml:upperCorner></gml:Envelope></gml:boundedBy>",
        crs_uri(grid.epsg),
        axes.labels[0],
        axes.labels[1],
        axes.units[0],
        axes.units[1],
        low[0],
        low[1],
        high[0],
        high[1]
    )
}

/// The axis labels, units and order of a grid's CRS.
pub struct Axes {
    pub labels: [&'static str; 2],
    pub units: [&'static str; 2],
    /// Whether the CRS's first axis is y (latitude, northing).
    pub swapped: bool,
}

/// The EO metadata of a product: phenomenon time, footprint, identifier.
fn eo_metadata(product: &Product, id: &str) -> String {
    let mut surfaces = String::new();
    for (i, polygon) in product.footprint.0.iter().enumerate() {
        let ring = |ring: &geo::LineString<f64>| {
            // EPSG:4326 axis order: latitude first.
            let positions: Vec<String> =
                ring.0.iter().map(|c| format!("{} {}", c.y, c.x)).collect();
            format!(
                "<gml:LinearRing><gml:posList>{}</gml:posList></gml:LinearRing>",
                positions.join(" ")
            )
        };
        let _ = write!(
            surfaces,
            "<gml:surfaceMember><gml:Polygon gml:id=\"{id}_polygon_{i}\"><gml:exterior>{}</gml:exterior>",
            ring(polygon.exterior())
        );
        for interior in polygon.interiors() {
            let _ = write!(surfaces, "<gml:interior>{}</gml:interior>", ring(interior));
        }
        surfaces.push_str("</gml:Polygon></gml:surfaceMember>");
    }
    let identifier = escape(&product.id);
    format!(
        "<gmlcov:metadata><gmlcov:Extension><wcseo:EOMetadata><eop:EarthObservation gml:id=\"{id}_metadata\">\
<om:phenomenonTime>{}</om:phenomenonTime>\
<om:resultTime><gml:TimeInstant gml:id=\"{id}_resulttime\"><gml:timePosition>{}</gml:timePosition></gml:TimeInstant></om:resultTime>\
<om:procedure/><om:observedProperty/>\
<om:featureOfInterest><eop:Footprint gml:id=\"{id}_footprint\"><eop:multiExtentOf><gml:MultiSurface gml:id=\"{id}_multisurface\" srsName=\"{}\">{surfaces}</gml:MultiSurface></eop:multiExtentOf></eop:Footprint></om:featureOfInterest>\
<om:result/>\
<eop:metaDataProperty><eop:EarthObservationMetaData><eop:identifier>{identifier}</eop:identifier><eop:acquisitionType>NOMINAL</eop:acquisitionType><eop:status>ARCHIVED</eop:status></eop:EarthObservationMetaData></eop:metaDataProperty>\
</eop:EarthObservation></wcseo:EOMetadata></gmlcov:Extension></gmlcov:metadata>",
        time_period(
            &format!("{id}_phenomenontime"),
            Some(product.begin),
            Some(product.end)
        ),
        iso(product.end),
        crs_uri(4326),
    )
}

/// One `wcs:CoverageDescription`: envelope, EO metadata, grid, range type, service
/// parameters.
pub fn coverage_description(product: &Product, grid: &Grid, axes: &Axes) -> String {
    let id = encode_id(&product.id);
    let t = &grid.transform;
    // GML grids sample pixel centres.
    let (origin_x, origin_y) = (t[0] + t[1] / 2.0, t[3] + t[5] / 2.0);
    // The first grid axis runs along the rows (columns vary fastest: the default sequence
    // rule of GMLCOV, and what GDAL's WCS driver reads), the second down the columns; the
    // origin and the offset vectors' components are in the CRS's axis order.
    let high = format!("{} {}", grid.width - 1, grid.height - 1);
    let (origin, offsets) = if axes.swapped {
        (
            format!("{origin_y} {origin_x}"),
            [format!("0 {}", t[1]), format!("{} 0", t[5])],
        )
    } else {
        (
            format!("{origin_x} {origin_y}"),
            [format!("{} 0", t[1]), format!("0 {}", t[5])],
        )
    };
    let labels = format!("{} {}", axes.labels[0], axes.labels[1]);
    let mut fields = String::new();
    for band in &grid.bands {
        let constraint = match band.range {
            Some((low, high)) => format!(
                "<swe:constraint><swe:AllowedValues><swe:interval>{low} {high}</swe:interval></swe:AllowedValues></swe:constraint>"
            ),
            None => String::new(),
        };
        let nil = match band.nodata {
            Some(value) => format!(
                "<swe:nilValues><swe:NilValues><swe:nilValue reason=\"http://www.opengis.net/def/nil/OGC/0/unknown\">{value}</swe:nilValue></swe:NilValues></swe:nilValues>"
            ),
            None => String::new(),
        };
        let _ = write!(
            fields,
            "<swe:field name=\"{}\"><swe:Quantity definition=\"http://www.opengis.net/def/dataType/OGC/0/{}\"><swe:description>{} ({})</swe:description>{nil}<swe:uom code=\"10^0\"/>{constraint}</swe:Quantity></swe:field>",
            band.name,
            data_type_uri(&band.data_type),
            band.name,
            band.data_type,
        );
    }
    format!(
        "<wcs:CoverageDescription gml:id=\"{id}\">{}<wcs:CoverageId>{id}</wcs:CoverageId>{}\
<gml:domainSet><gml:RectifiedGrid gml:id=\"{id}_grid\" dimension=\"2\"><gml:limits><gml:GridEnvelope><gml:low>0 0</gml:low><gml:high>{high}</gml:high></gml:GridEnvelope></gml:limits><gml:axisLabels>{labels}</gml:axisLabels>\
<gml:origin><gml:Point gml:id=\"{id}_origin\" srsName=\"{}\"><gml:pos>{origin}</gml:pos></gml:Point></gml:origin>\
<gml:offsetVector srsName=\"{crs}\">{}</gml:offsetVector><gml:offsetVector srsName=\"{crs}\">{}</gml:offsetVector></gml:RectifiedGrid></gml:domainSet>\
<gmlcov:rangeType><swe:DataRecord>{fields}</swe:DataRecord></gmlcov:rangeType>\
<wcs:ServiceParameters><wcs:CoverageSubtype>{SUBTYPE}</wcs:CoverageSubtype><wcs:nativeFormat>image/tiff</wcs:nativeFormat></wcs:ServiceParameters></wcs:CoverageDescription>",
        grid_envelope(grid, axes),
        eo_metadata(product, &id),
        crs_uri(grid.epsg),
        offsets[0],
        offsets[1],
        crs = crs_uri(grid.epsg),
    )
}

/// The OGC data type URI of a GDAL data type name.
fn data_type_uri(gdal: &str) -> &'static str {
    match gdal {
        "Byte" => "unsignedByte",
        "UInt16" => "unsignedShort",
        "Int16" => "short",
        "UInt32" => "unsignedInt",
        "Int32" => "int",
        "Float32" => "float32",
        "Float64" => "float64",
        _ => "unknown",
    }
}

/// `wcs:CoverageDescriptions` for DescribeCoverage.
pub fn coverage_descriptions(descriptions: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wcs:CoverageDescriptions {NAMESPACES}>\n{}</wcs:CoverageDescriptions>\n",
        descriptions
            .iter()
            .map(|d| format!("  {d}\n"))
            .collect::<String>()
    )
}

/// One `wcseo:DatasetSeriesDescription`.
pub fn dataset_series_description(info: &CollectionInfo) -> String {
    let id = encode_id(&info.collection.name);
    let bounded_by = match &info.bbox {
        Some(_) => {
            let [w, s, e, n] = collection_box(info);
            format!(
                "<gml:boundedBy><gml:Envelope srsName=\"{}\" axisLabels=\"Lat Long\" uomLabels=\"deg deg\" srsDimension=\"2\"><gml:lowerCorner>{s} {w}</gml:lowerCorner><gml:upperCorner>{n} {e}</gml:upperCorner></gml:Envelope></gml:boundedBy>",
                crs_uri(4326)
            )
        }
        None => "<gml:boundedBy><gml:Null>inapplicable</gml:Null></gml:boundedBy>".to_owned(),
    };
    format!(
        "<wcseo:DatasetSeriesDescription gml:id=\"{id}\">{bounded_by}<wcseo:DatasetSeriesId>{id}</wcseo:DatasetSeriesId>{}</wcseo:DatasetSeriesDescription>",
        time_period(&format!("{id}_timeperiod"), info.begin, info.end)
    )
}

/// `wcseo:EOCoverageSetDescription`; a `None` section is left out.
pub fn eo_coverage_set(
    matched: u64,
    coverages: Option<&[String]>,
    series: Option<&[String]>,
) -> String {
    let returned = coverages.map_or(0, <[String]>::len) + series.map_or(0, <[String]>::len);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wcseo:EOCoverageSetDescription {NAMESPACES} numberMatched=\"{matched}\" numberReturned=\"{returned}\">\n"
    );
    if let Some(coverages) = coverages.filter(|c| !c.is_empty()) {
        xml.push_str("  <wcs:CoverageDescriptions>\n");
        for description in coverages {
            let _ = writeln!(xml, "    {description}");
        }
        xml.push_str("  </wcs:CoverageDescriptions>\n");
    }
    if let Some(series) = series.filter(|s| !s.is_empty()) {
        xml.push_str("  <wcseo:DatasetSeriesDescriptions>\n");
        for description in series {
            let _ = writeln!(xml, "    {description}");
        }
        xml.push_str("  </wcseo:DatasetSeriesDescriptions>\n");
    }
    xml.push_str("</wcseo:EOCoverageSetDescription>\n");
    xml
}
