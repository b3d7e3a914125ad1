//! WMS GetFeatureInfo: the products of a layer under a map pixel, newest first, as GeoJSON or
//! an HTML table.

use gdal::spatial_ref::CoordTransform;
use geo::Intersects;
use pvs_catalog::{Bbox, Product, TimeFilter, TimeRelation};
use pvs_model::GeoJsonGeometry;
use pvs_ogc::xml::escape;
use pvs_ogc::{Exception, Params};
use pvs_raster::crs::srs;
use pvs_raster::render::View;

use crate::Renderer;
use crate::layers::Layer;
use crate::params::{self, Version};
use crate::wms::{Failure, parse_layer_and_view};

/// Most products listed (`FEATURE_COUNT` is capped to it).
const MAX_FEATURES: usize = 50;

/// A checked GetFeatureInfo request.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureInfoRequest {
    /// The layer queried (`LAYERS`, the same as `QUERY_LAYERS`).
    pub layer: String,
    /// The map the pixel is on.
    pub view: View,
    /// The centre of the pixel asked for (`I`/`J`, `X`/`Y` in 1.1.1): column and row, from
    /// the top left corner of the map.
    pub pixel: (f64, f64),
    /// Whether the answer is GeoJSON (`INFO_FORMAT` `application/json`) rather than HTML.
    pub json: bool,
    /// The most products listed (`FEATURE_COUNT`, at most 50).
    pub count: usize,
    /// The products whose time intersects this interval (`TIME`); `None`: every product.
    pub time: Option<params::Interval>,
}

impl FeatureInfoRequest {
    /// Reads the parameters of a GetFeatureInfo of WMS `version`, the map's `WIDTH` and
    /// `HEIGHT` at most `max_size`; the exception names the parameter at fault.
    pub fn parse(version: Version, params: &Params, max_size: usize) -> Result<Self, Exception> {
        let (layer, view) = parse_layer_and_view(version, params, max_size)?;
        let queried = params.require("query_layers")?;
        if queried != layer {
            return Err(Exception::new(
                "LayerNotQueryable",
                "query_layers",
                format!(
                    "QUERY_LAYERS {queried:?}: only the layer of LAYERS ({layer:?}) can be queried"
                ),
            ));
        }
        let (column_key, row_key) = match version {
            Version::V130 => ("i", "j"),
            Version::V111 => ("x", "y"),
        };
        let pixel = |key: &str, size: usize| -> Result<f64, Exception> {
            let text = params.require(key)?;
            text.parse::<usize>()
                .ok()
                .filter(|v| *v < size)
                .map(|v| v as f64 + 0.5)
                .ok_or_else(|| {
                    Exception::new(
                        if version == Version::V130 {
                            "InvalidPoint"
                        } else {
                            "InvalidParameterValue"
                        },
                        key,
                        format!(
                            "{} {text:?}: a pixel from 0 to {}",
                            key.to_ascii_uppercase(),
                            size - 1
                        ),
                    )
                })
        };
        let pixel = (pixel(column_key, view.width)?, pixel(row_key, view.height)?);
        let json = match params
            .get("info_format")
            .unwrap_or("text/html")
            .to_ascii_lowercase()
            .as_str()
        {
            "application/json" | "application/geo+json" => true,
            "text/html" => false,
            other => {
                return Err(Exception::new(
                    "InvalidFormat",
                    "info_format",
                    format!("INFO_FORMAT {other:?}: application/json or text/html"),
                ));
            }
        };
        let count = match params.get("feature_count") {
            None => 10,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|c| *c >= 1)
                .ok_or_else(|| {
                    Exception::new(
                        "InvalidParameterValue",
                        "feature_count",
                        format!("FEATURE_COUNT {text:?}: a whole number from 1"),
                    )
                })?,
        }
        .min(MAX_FEATURES);
        let time = params::time(params)?;
        Ok(Self {
            layer,
            view,
            pixel,
            json,
            count,
            time,
        })
    }
}

/// Answers a GetFeatureInfo: `(content type, body)`.
pub(crate) async fn get_feature_info(
    renderer: &Renderer,
    version: Version,
    params: &Params,
) -> Result<(&'static str, Vec<u8>), Failure> {
    let FeatureInfoRequest {
        layer: name,
        view,
        pixel: (column, row),
        json,
        count,
        time,
    } = FeatureInfoRequest::parse(version, params, renderer.shared.settings.max_size)?;
    let column_key = match version {
        Version::V130 => "i",
        Version::V111 => "x",
    };

    // The pixel's centre, in the view's CRS, then in lon/lat.
    let [x0, y0, x1, y1] = view.bbox;
    let x = x0 + column / view.width as f64 * (x1 - x0);
    let y = y1 - row / view.height as f64 * (y1 - y0);
    let (lon, lat) = to_lon_lat(view.epsg, x, y)?;

    let layer = Layer::resolve(renderer, &name).await?;
    let point = Bbox::new(lon, lat, lon, lat)
        .map_err(|e| Exception::new("InvalidPoint", column_key, e.to_string()))?;
    let mut query = layer.query().with_bbox(point);
    query.limit = u32::try_from(count).unwrap_or(10);
    if let Some((start, end)) = time {
        let filter = TimeFilter::new(start, end, TimeRelation::Intersects)
            .map_err(|e| Exception::new("InvalidDimensionValue", "time", e.to_string()))?;
        query = query.with_time(filter);
    }
    let products: Vec<Product> = renderer
        .catalog
        .search(&query)
        .await
        .map_err(|e| Failure::Server(format!("the catalog: {e}")))?
        .into_iter()
        // The index finds boxes; keep the footprints that hold the point (or touch it).
        .filter(|p| p.footprint.intersects(&geo::Point::new(lon, lat)))
        .collect();
    Ok(if json {
        ("application/json", geojson(&products).into_bytes())
    } else {
        (
            "text/html; charset=utf-8",
            html(&name, &products).into_bytes(),
        )
    })
}

fn to_lon_lat(epsg: u32, x: f64, y: f64) -> Result<(f64, f64), Exception> {
    if epsg == 4326 {
        return Ok((x, y));
    }
    let invalid = |e: &dyn std::fmt::Display| Exception::new("InvalidCRS", "crs", e.to_string());
    let transform = CoordTransform::new(
        &srs(epsg).map_err(|e| invalid(&e))?,
        &srs(4326).map_err(|e| invalid(&e))?,
    )
    .map_err(|e| invalid(&e))?;
    let (mut xs, mut ys, mut zs) = ([x], [y], [0.0]);
    transform
        .transform_coords(&mut xs, &mut ys, &mut zs)
        .map_err(|_| Exception::new("InvalidPoint", "i", "the pixel is not on the Earth"))?;
    Ok((xs[0], ys[0]))
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn geojson(products: &[Product]) -> String {
    let features: Vec<serde_json::Value> = products
        .iter()
        .map(|p| {
            serde_json::json!({
                "type": "Feature",
                "id": p.id,
                "geometry": GeoJsonGeometry::from(&p.footprint),
                "properties": {
                    "id": p.id,
                    "collection": p.collection,
                    "begin_time": iso(p.begin),
                    "end_time": iso(p.end),
                },
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn html(collection: &str, products: &[Product]) -> String {
    let mut rows = String::new();
    for p in products {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&p.id),
            iso(p.begin),
            iso(p.end)
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head><body>\n<table>\n<caption>{0}: {1} product(s)</caption>\n<tr><th>id</th><th>begin</th><th>end</th></tr>\n{rows}</table>\n</body></html>\n",
        escape(collection),
        products.len()
    )
}
