//! WMS 1.1.1 and 1.3.0: dispatch, capabilities, GetMap and service exceptions.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use pvs_catalog::{CollectionInfo, Product};
use std::collections::BTreeMap;

use pvs_ogc::layer::Look;
use pvs_ogc::limits::{MAX_QUERY_BYTES, check};
use pvs_ogc::xml::escape;
use pvs_ogc::{Exception, Params, Report};
use pvs_raster::draw::message;
use pvs_raster::render::{Format, Rgba, View, encode};
use pvs_raster::style::{Colormap, Style};
use pvs_service::http::respond;
use pvs_service::public_url::BaseUrl;

use crate::draw::OUTLINE_COLOURS;
use crate::draw::{MapLayer, MapRequest, RenderError, Restyle};
use crate::params::{self, Version};
use crate::{Looks, Renderer};

/// CRSs listed in the capabilities (GetMap takes any EPSG code GDAL knows).
const LISTED_CRS: [&str; 4] = ["EPSG:4326", "EPSG:3857", "CRS:84", "EPSG:3035"];

/// How a failed GetMap is answered (`EXCEPTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceptions {
    /// A `ServiceExceptionReport` (HTTP 400).
    Xml,
    /// A transparent (or `BGCOLOR`) image.
    Blank,
    /// An image with the error message written on it.
    Inimage,
}

pub(crate) async fn dispatch(renderer: &Renderer, base: &BaseUrl, query: &str) -> Response {
    if let Err(error) = check("query string", query.len(), MAX_QUERY_BYTES) {
        return exception(Version::V130, &error);
    }
    let params = Params::parse(query);
    let version = match Version::parse(params.get("version")) {
        Ok(version) => version,
        Err(error) => return exception(Version::V130, &error),
    };
    if let Some(service) = params.get("service")
        && !service.eq_ignore_ascii_case("WMS")
    {
        let error = Exception::new(
            "InvalidParameterValue",
            "service",
            format!("SERVICE {service:?}: this endpoint serves WMS"),
        );
        return exception(version, &error);
    }
    let request = match params.require("request") {
        Ok(request) => request.to_ascii_lowercase(),
        Err(error) => return exception(version, &error),
    };
    match request.as_str() {
        "getcapabilities" => match listed_layers(renderer).await {
            Ok(collections) => {
                let url = base.join("/ows");
                let xml = capabilities(
                    version,
                    &renderer.shared.settings.title,
                    &url,
                    &collections,
                    &renderer.shared.settings.styles,
                );
                let content_type = match version {
                    Version::V111 => "application/vnd.ogc.wms_xml",
                    Version::V130 => "text/xml",
                };
                respond(StatusCode::OK, content_type, xml.into_bytes())
            }
            Err(e) => server_error(version, &format!("the catalog: {e}")),
        },
        "getmap" => get_map(renderer, version, &params).await,
        "getlegendgraphic" => match crate::legend::get_legend_graphic(renderer, &params).await {
            Ok(body) => respond(StatusCode::OK, "image/png", body),
            Err(Failure::Client(error)) => exception(version, &error),
            Err(Failure::Server(message)) => server_error(version, &message),
        },
        "getfeatureinfo" => match crate::info::get_feature_info(renderer, version, &params).await {
            Ok((content_type, body)) => respond(StatusCode::OK, content_type, body),
            Err(Failure::Client(error)) => exception(version, &error),
            Err(Failure::Server(message)) => server_error(version, &message),
        },
        other => {
            let error = Exception::new(
                "OperationNotSupported",
                "request",
                format!(
                    "REQUEST {other:?}: GetCapabilities, GetMap, GetFeatureInfo and GetLegendGraphic are served"
                ),
            );
            exception(version, &error)
        }
    }
}

/// A checked GetMap request: the maps of its layers (the first at the bottom), and how it
/// is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct GetMap {
    /// One map per layer of `LAYERS`, in order, each with the view, time, filter, order and
    /// restyling of the request.
    pub maps: Vec<MapRequest>,
    /// The image format (`FORMAT`).
    pub format: Format,
    /// Whether the image keeps its transparency (`TRANSPARENT`).
    pub transparent: bool,
    /// The colour an opaque image is flattened on (`BGCOLOR`).
    pub background: [u8; 3],
    /// How a failure is answered (`EXCEPTIONS`).
    pub exceptions: Exceptions,
}

/// The most layers one GetMap composites.
pub(crate) const MAX_LAYERS: usize = 16;

/// Vendor parameters of EOxServer that pvs does not serve: refused, naming them, rather
/// than ignored.
const REFUSED: [(&str, &str); 5] = [
    ("dim_wavelengths", "bands are chosen by name with dim_bands"),
    ("elevation", "products have no elevation dimension"),
    (
        "sld",
        "styles are the colormaps and colours named in the capabilities",
    ),
    (
        "sld_body",
        "styles are the colormaps and colours named in the capabilities",
    ),
    ("variables", "browse expressions take no variables"),
];

/// `LAYERS` (one or more, comma-separated) and the view: CRS, `BBOX`, `WIDTH` and `HEIGHT`
/// (each at most `max_size`).
pub(crate) fn parse_layers_and_view(
    version: Version,
    params: &Params,
    max_size: usize,
) -> Result<(Vec<String>, View), Exception> {
    let text = params.require("layers")?;
    let layers: Vec<String> = text.split(',').map(str::to_owned).collect();
    if layers.iter().any(String::is_empty) {
        return Err(Exception::new(
            "LayerNotDefined",
            "layers",
            format!("LAYERS {text:?}: an empty layer name"),
        ));
    }
    if layers.len() > MAX_LAYERS {
        return Err(Exception::new(
            "InvalidParameterValue",
            "layers",
            format!(
                "LAYERS: {} layers, at most {MAX_LAYERS} in one map",
                layers.len()
            ),
        ));
    }
    let crs = params::crs(params.require(version.crs_key())?, version.crs_key())?;
    let view = View {
        epsg: crs.epsg,
        bbox: params::bbox(params, version, crs)?,
        width: params::size(params, "width", max_size)?,
        height: params::size(params, "height", max_size)?,
    };
    Ok((layers, view))
}

/// `LAYERS` naming one layer, and the view (GetFeatureInfo).
pub(crate) fn parse_layer_and_view(
    version: Version,
    params: &Params,
    max_size: usize,
) -> Result<(String, View), Exception> {
    let (mut layers, view) = parse_layers_and_view(version, params, max_size)?;
    if layers.len() != 1 {
        return Err(Exception::new(
            "LayerNotDefined",
            "layers",
            format!("LAYERS: one layer, not {}", layers.len()),
        ));
    }
    Ok((layers.remove(0), view))
}

impl GetMap {
    /// Reads the parameters of a GetMap of WMS `version`, `WIDTH` and `HEIGHT` at most
    /// `max_size` ([`crate::Settings::max_size`]); the exception names the parameter at
    /// fault. Whether the layers exist is known when they are drawn.
    pub fn parse(version: Version, params: &Params, max_size: usize) -> Result<Self, Exception> {
        let exceptions = match params
            .get("exceptions")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("xml") | Some("application/vnd.ogc.se_xml") => Exceptions::Xml,
            Some("blank") | Some("application/vnd.ogc.se_blank") => Exceptions::Blank,
            Some("inimage") | Some("application/vnd.ogc.se_inimage") => Exceptions::Inimage,
            Some(other) => {
                return Err(Exception::new(
                    "InvalidParameterValue",
                    "exceptions",
                    format!("EXCEPTIONS {other:?}: XML, INIMAGE or BLANK"),
                ));
            }
        };
        if let Some((name, why)) = REFUSED.iter().find(|(name, _)| params.get(name).is_some()) {
            return Err(Exception::new(
                "InvalidParameterValue",
                name,
                format!(
                    "{} is not supported by pvs: {why}",
                    name.to_ascii_uppercase()
                ),
            ));
        }
        let (layers, view) = parse_layers_and_view(version, params, max_size)?;
        let format = match params.require("format")?.to_ascii_lowercase().as_str() {
            "image/png" | "png" => Format::Png,
            "image/jpeg" | "jpeg" | "image/jpg" => Format::Jpeg,
            "image/webp" | "webp" => Format::Webp,
            other => {
                return Err(Exception::new(
                    "InvalidFormat",
                    "format",
                    format!("FORMAT {other:?}: image/png, image/jpeg or image/webp"),
                ));
            }
        };
        let styles = params::styles(params, layers.len())?;
        let bands = params::dim_bands(params)?;
        let ranges = params::dim_range(params)?;
        let filter = params::cql(params)?;
        let sort = params::sort_by(params)?;
        let time = params::time(params)?;
        let maps = layers
            .into_iter()
            .zip(styles)
            .map(|(layer, style)| MapRequest {
                layer: MapLayer::Named(layer),
                view: view.clone(),
                time,
                filter: filter.clone(),
                sort: sort.clone(),
                restyle: Restyle {
                    style,
                    bands: bands.clone(),
                    ranges: ranges.clone(),
                },
            })
            .collect();
        Ok(GetMap {
            maps,
            format,
            transparent: params::transparent(params)?,
            background: params::bgcolor(params)?,
            exceptions,
        })
    }
}

/// Draws the maps of every layer, the first at the bottom; `None` when none shows anything.
async fn draw_all(renderer: &Renderer, maps: &[MapRequest]) -> Result<Option<Rgba>, RenderError> {
    let mut image: Option<Rgba> = None;
    for map in maps {
        if let Some(drawn) = renderer.draw(map).await? {
            match &mut image {
                Some(under) => under.overlay(&drawn),
                None => image = Some(drawn),
            }
        }
    }
    Ok(image)
}

async fn get_map(renderer: &Renderer, version: Version, params: &Params) -> Response {
    let request = match GetMap::parse(version, params, renderer.shared.settings.max_size) {
        Ok(request) => request,
        Err(error) => return exception(version, &error),
    };
    let view = &request.maps[0].view;
    let (width, height) = (view.width, view.height);
    match draw_all(renderer, &request.maps).await {
        Ok(image) => {
            let image = image.unwrap_or_else(|| Rgba::transparent(width, height));
            image_response(StatusCode::OK, image, &request).await
        }
        Err(error) if error.is_client_error() => {
            let error = exception_of(&error);
            match request.exceptions {
                Exceptions::Xml => exception(version, &error),
                Exceptions::Blank => {
                    image_response(StatusCode::OK, Rgba::transparent(width, height), &request).await
                }
                Exceptions::Inimage => {
                    let text = format!("{}: {}", error.code, error.message);
                    let image = message(width, height, &text, [0, 0, 0, 255]);
                    image_response(StatusCode::OK, image, &request).await
                }
            }
        }
        Err(error) => server_error(version, &error.to_string()),
    }
}

/// The OGC exception of a request the drawing refused (see
/// [`RenderError::is_client_error`]); any other error is `NoApplicableCode`.
fn exception_of(error: &RenderError) -> Exception {
    let message = error.to_string();
    match error {
        RenderError::UnknownLayer(_) => Exception::new("LayerNotDefined", "layers", message),
        RenderError::Time(_) => Exception::new("InvalidDimensionValue", "time", message),
        RenderError::Crs { .. } => Exception::new("InvalidCRS", "crs", message),
        RenderError::Style {
            parameter: "styles",
            ..
        } => Exception::new("StyleNotDefined", "styles", message),
        RenderError::Style { parameter, .. } => {
            Exception::new("InvalidParameterValue", parameter, message)
        }
        _ => Exception::server(message),
    }
}

pub(crate) enum Failure {
    Client(Exception),
    Server(String),
}

impl From<Exception> for Failure {
    fn from(error: Exception) -> Self {
        Failure::Client(error)
    }
}

impl From<RenderError> for Failure {
    fn from(error: RenderError) -> Self {
        if error.is_client_error() {
            Failure::Client(exception_of(&error))
        } else {
            Failure::Server(error.to_string())
        }
    }
}

/// Encodes the image (on a blocking thread: GDAL's encoders are CPU work) and answers it.
async fn image_response(status: StatusCode, mut image: Rgba, request: &GetMap) -> Response {
    let (format, transparent, background) =
        (request.format, request.transparent, request.background);
    let encoded = tokio::task::spawn_blocking(move || {
        if !transparent {
            image.flatten(background);
        }
        encode(&image, format, background)
    })
    .await;
    let error = match encoded {
        Ok(Ok(bytes)) => return respond(status, format.mime(), bytes),
        Ok(Err(e)) => format!("encoding the image: {e}"),
        Err(e) => format!("encoding stopped: {e}"),
    };
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        "text/plain",
        error.into_bytes(),
    )
}

fn server_error(version: Version, message: &str) -> Response {
    tracing::error!(error = message, "WMS request failed");
    exception(version, &Exception::server(message))
}

/// An OGC `ServiceExceptionReport` of the request's version: HTTP 400, or 500 for
/// `NoApplicableCode`.
fn exception(version: Version, error: &Exception) -> Response {
    let report = match version {
        Version::V130 => Report::Wms130,
        Version::V111 => Report::Wms111,
    };
    respond(
        report.status(error),
        report.content_type(),
        report.document(error).into_bytes(),
    )
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Every collection with its newest products (at most `Settings::listed_products`), for
/// the capabilities.
async fn listed_layers(
    renderer: &Renderer,
) -> Result<Vec<(CollectionInfo, Vec<Product>)>, pvs_catalog::CatalogError> {
    let mut layers = Vec::new();
    for info in renderer.catalog.collections().await? {
        let products = if renderer.shared.settings.listed_products == 0 || info.product_count == 0 {
            Vec::new()
        } else {
            let query = pvs_catalog::ProductQuery::new()
                .with_collection(info.collection.name.clone())
                .with_limit(renderer.shared.settings.listed_products);
            renderer.catalog.search(&query).await?
        };
        layers.push((info, products));
    }
    Ok(layers)
}

/// A layer's extent: lon/lat box and time interval.
struct Extent {
    west: f64,
    south: f64,
    east: f64,
    north: f64,
    time: Option<(String, String)>,
}

impl Extent {
    fn of_collection(info: &CollectionInfo) -> Self {
        let (west, south, east, north) = match &info.bbox {
            // A box across the antimeridian is listed as the whole band of longitudes.
            Some(b) if b.crosses_antimeridian() => (-180.0, b.south(), 180.0, b.north()),
            Some(b) => (b.west(), b.south(), b.east(), b.north()),
            None => (-180.0, -90.0, 180.0, 90.0),
        };
        let time = match (info.begin, info.end) {
            (Some(begin), Some(end)) => Some((iso(begin), iso(end))),
            _ => None,
        };
        Self {
            west,
            south,
            east,
            north,
            time,
        }
    }

    fn of_product(product: &Product) -> Self {
        use geo::BoundingRect;
        let (west, south, east, north) = match product.footprint.bounding_rect() {
            Some(r) => (r.min().x, r.min().y, r.max().x, r.max().y),
            None => (-180.0, -90.0, 180.0, 90.0),
        };
        Self {
            west,
            south,
            east,
            north,
            time: Some((iso(product.begin), iso(product.end))),
        }
    }
}

/// One `<Layer>` element (without its closing tag) of `version`.
fn layer_xml(version: Version, name: &str, title: &str, extent: &Extent, indent: &str) -> String {
    let (name, title) = (escape(name), escape(title));
    let Extent {
        west,
        south,
        east,
        north,
        time,
    } = extent;
    let mut xml = match version {
        Version::V130 => format!(
            "{indent}<Layer queryable=\"1\">\n{indent}  <Name>{name}</Name>\n{indent}  <Title>{title}</Title>\n{indent}  <EX_GeographicBoundingBox><westBoundLongitude>{west}</westBoundLongitude><eastBoundLongitude>{east}</eastBoundLongitude><southBoundLatitude>{south}</southBoundLatitude><northBoundLatitude>{north}</northBoundLatitude></EX_GeographicBoundingBox>\n{indent}  <BoundingBox CRS=\"CRS:84\" minx=\"{west}\" miny=\"{south}\" maxx=\"{east}\" maxy=\"{north}\"/>\n{indent}  <BoundingBox CRS=\"EPSG:4326\" minx=\"{south}\" miny=\"{west}\" maxx=\"{north}\" maxy=\"{east}\"/>\n"
        ),
        Version::V111 => format!(
            "{indent}<Layer queryable=\"1\">\n{indent}  <Name>{name}</Name>\n{indent}  <Title>{title}</Title>\n{indent}  <LatLonBoundingBox minx=\"{west}\" miny=\"{south}\" maxx=\"{east}\" maxy=\"{north}\"/>\n{indent}  <BoundingBox SRS=\"EPSG:4326\" minx=\"{west}\" miny=\"{south}\" maxx=\"{east}\" maxy=\"{north}\"/>\n"
        ),
    };
    if let Some((begin, end)) = time {
        let values = if begin == end {
            begin.clone()
        } else {
            format!("{begin}/{end}/PT1S")
        };
        xml.push_str(&match version {
            Version::V130 => format!(
                "{indent}  <Dimension name=\"time\" units=\"ISO8601\" default=\"{end}\">{values}</Dimension>\n"
            ),
            Version::V111 => format!(
                "{indent}  <Dimension name=\"time\" units=\"ISO8601\"/>\n{indent}  <Extent name=\"time\" default=\"{end}\">{values}</Extent>\n"
            ),
        });
    }
    xml
}

/// The `<Style>` elements of a layer: for outlines and masks (a name without a `style`), the
/// colours they can be drawn in; for a layer of one channel, `default` and the colormaps,
/// each with its legend; none otherwise.
fn styles_xml(url: &str, layer: &str, look: &Look, style: Option<&Style>, indent: &str) -> String {
    let entry = |name: &str, legend: bool| {
        let legend = if legend {
            let href = format!(
                "{url}?service=WMS&request=GetLegendGraphic&version=1.3.0&format=image/png&layer={}&style={}",
                percent(layer),
                percent(name)
            );
            let href = escape(&href);
            format!(
                "<LegendURL width=\"{}\" height=\"{}\"><Format>image/png</Format><OnlineResource xlink:type=\"simple\" xlink:href=\"{href}\"/></LegendURL>",
                crate::legend::WIDTH,
                crate::legend::HEIGHT
            )
        } else {
            String::new()
        };
        let name = escape(name);
        format!("{indent}  <Style><Name>{name}</Name><Title>{name}</Title>{legend}</Style>\n")
    };
    let shapes = matches!(look, Look::Named(_)) && style.is_none();
    if *look == Look::Outlines || shapes {
        return OUTLINE_COLOURS
            .iter()
            .map(|(name, _)| entry(name, false))
            .collect();
    }
    let single = style.is_some_and(|s| s.channels().is_some_and(|c| c.len() == 1));
    if !single {
        return String::new();
    }
    std::iter::once(entry("default", true))
        .chain(Colormap::ALL.iter().map(|(name, _)| entry(name, true)))
        .collect()
}

/// `text` percent-encoded for a query value.
fn percent(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The capabilities document of `version`: a root layer holding, per collection, the
/// collection's layer, and inside it its looks (outlines, outlined, one per browse type in
/// `styles`) and its newest products as child layers; each layer with the styles it can be
/// drawn in.
pub fn capabilities(
    version: Version,
    title: &str,
    url: &str,
    collections: &[(CollectionInfo, Vec<Product>)],
    styles: &BTreeMap<String, Looks>,
) -> String {
    let title = escape(title);
    let url_attribute = escape(url);
    let formats =
        "<Format>image/png</Format><Format>image/jpeg</Format><Format>image/webp</Format>";
    let operation = |name: &str, formats: &str| {
        format!(
            "      <{name}>{formats}<DCPType><HTTP><Get><OnlineResource xlink:type=\"simple\" xlink:href=\"{url_attribute}?\"/></Get></HTTP></DCPType></{name}>\n"
        )
    };
    let mut layers = String::new();
    for (info, products) in collections {
        let name = &info.collection.name;
        let extent = Extent::of_collection(info);
        let looks = styles.get(name);
        layers.push_str(&layer_xml(version, name, name, &extent, "      "));
        layers.push_str(&styles_xml(
            url,
            name,
            &Look::Default,
            looks.map(|l| &l.default),
            "      ",
        ));
        let mut sub_layers = vec![
            (Look::Outlines, format!("{name} footprints"), None),
            (
                Look::Outlined,
                format!("{name} with footprints"),
                looks.map(|l| &l.default),
            ),
        ];
        for (browse, style) in looks.map(|l| &l.browses).into_iter().flatten() {
            sub_layers.push((
                Look::Named(browse.clone()),
                format!("{name} {browse}"),
                Some(style),
            ));
        }
        for mask in looks.map(|l| l.masks.keys()).into_iter().flatten() {
            sub_layers.push((
                Look::Named(mask.clone()),
                format!("{name} {mask} masks"),
                None,
            ));
            sub_layers.push((
                Look::Masked(mask.clone()),
                format!("{name} masked by {mask}"),
                looks.map(|l| &l.default),
            ));
        }
        for (look, title, style) in sub_layers {
            let layer = look.layer_name(name);
            layers.push_str(&layer_xml(version, &layer, &title, &extent, "        "));
            layers.push_str(&styles_xml(url, &layer, &look, style, "        "));
            layers.push_str("        </Layer>\n");
        }
        for product in products {
            layers.push_str(&layer_xml(
                version,
                &product.id,
                &product.id,
                &Extent::of_product(product),
                "        ",
            ));
            layers.push_str("        </Layer>\n");
        }
        layers.push_str("      </Layer>\n");
    }
    let url = &url_attribute;
    match version {
        Version::V130 => {
            let crs: String = LISTED_CRS
                .iter()
                .map(|c| format!("<CRS>{c}</CRS>"))
                .collect();
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<WMS_Capabilities version=\"1.3.0\" xmlns=\"http://www.opengis.net/wms\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.opengis.net/wms http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd\">\n  <Service>\n    <Name>WMS</Name>\n    <Title>{title}</Title>\n    <OnlineResource xlink:type=\"simple\" xlink:href=\"{url}\"/>\n  </Service>\n  <Capability>\n    <Request>\n{}{}{}    </Request>\n    <Exception><Format>XML</Format><Format>INIMAGE</Format><Format>BLANK</Format></Exception>\n    <Layer>\n      <Title>{title}</Title>\n      {crs}\n      <EX_GeographicBoundingBox><westBoundLongitude>-180</westBoundLongitude><eastBoundLongitude>180</eastBoundLongitude><southBoundLatitude>-90</southBoundLatitude><northBoundLatitude>90</northBoundLatitude></EX_GeographicBoundingBox>\n{layers}    </Layer>\n  </Capability>\n</WMS_Capabilities>\n",
                operation("GetCapabilities", "<Format>text/xml</Format>"),
                operation("GetMap", formats),
                operation("GetFeatureInfo", INFO_FORMATS),
            )
        }
        Version::V111 => {
            let srs: String = LISTED_CRS
                .iter()
                .filter(|c| c.starts_with("EPSG"))
                .map(|c| format!("<SRS>{c}</SRS>"))
                .collect();
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE WMT_MS_Capabilities SYSTEM \"http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd\">\n<WMT_MS_Capabilities version=\"1.1.1\">\n  <Service>\n    <Name>OGC:WMS</Name>\n    <Title>{title}</Title>\n    <OnlineResource xlink:type=\"simple\" xlink:href=\"{url}\"/>\n  </Service>\n  <Capability>\n    <Request>\n{}{}{}{}    </Request>\n    <Exception><Format>application/vnd.ogc.se_xml</Format><Format>application/vnd.ogc.se_inimage</Format><Format>application/vnd.ogc.se_blank</Format></Exception>\n    <Layer>\n      <Title>{title}</Title>\n      {srs}\n      <LatLonBoundingBox minx=\"-180\" miny=\"-90\" maxx=\"180\" maxy=\"90\"/>\n{layers}    </Layer>\n  </Capability>\n</WMT_MS_Capabilities>\n",
                operation(
                    "GetCapabilities",
                    "<Format>application/vnd.ogc.wms_xml</Format>"
                ),
                operation("GetMap", formats),
                operation("GetFeatureInfo", INFO_FORMATS),
                operation("GetLegendGraphic", "<Format>image/png</Format>"),
            )
            // The 1.1.1 DTD declares the xlink namespace on each OnlineResource.
            .replace(
                "<OnlineResource ",
                "<OnlineResource xmlns:xlink=\"http://www.w3.org/1999/xlink\" ",
            )
        }
    }
}

/// The `INFO_FORMAT`s of GetFeatureInfo.
const INFO_FORMATS: &str = "<Format>application/json</Format><Format>text/html</Format>";
