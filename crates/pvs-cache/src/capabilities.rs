//! The WMTS 1.0.0 capabilities document (valid against `wmtsGetCapabilities_response.xsd`):
//! per collection, its layer, its outlines, its outlined layer and one per browse type, each
//! with both tile matrix sets
//! (also under MapCache's grid names, [`advertised_matrix_sets`]), PNG and JPEG, a `Time`
//! dimension (default: the collection's whole time; values: its products' intervals, newest
//! first) and RESTful `ResourceURL` templates.

use std::collections::HashSet;
use std::fmt::Write;

use pvs_catalog::{Catalog, CollectionInfo, ProductQuery};
use pvs_ogc::layer::{Look, layers_of, split};
use pvs_ogc::xml::escape;
use pvs_tiles::time::interval_value;
use pvs_tiles::tms::{MERCATOR_MAX_LAT, TILE_SIZE};
use pvs_tiles::{TileFormat, TileMatrixSet};

use crate::cache::CacheError;
use crate::http::Settings;

/// The identifier of the time dimension (and its `{Time}` placeholder in templates).
pub const TIME_DIMENSION: &str = "Time";

/// The time dimension of one collection.
struct TimeDimension {
    default: String,
    values: Vec<String>,
}

/// Builds the document for a service reached at `base` (e.g. `http://host:8083`).
pub async fn document(
    catalog: &dyn Catalog,
    settings: &Settings,
    base: &str,
) -> Result<String, CacheError> {
    let catalog_error = CacheError::Catalog;
    let collections = catalog.collections().await.map_err(catalog_error)?;
    let mut layers = String::new();
    for info in &collections {
        let products = catalog
            .search(
                &ProductQuery::new()
                    .with_collection(info.collection.name.clone())
                    .with_limit(settings.time_values),
            )
            .await
            .map_err(catalog_error)?;
        let mut seen = HashSet::new();
        let values = products
            .iter()
            .map(|p| interval_value(p.begin, p.end))
            .filter(|v| seen.insert(v.clone()))
            .collect();
        let dimension = TimeDimension {
            default: match (info.begin, info.end) {
                (Some(begin), Some(end)) => interval_value(begin, end),
                _ => "default".to_owned(),
            },
            values,
        };
        let name = &info.collection.name;
        let looks = settings.looks.get(name);
        let browses = looks.into_iter().flat_map(|l| &l.browses);
        let masks = looks.into_iter().flat_map(|l| &l.masks);
        let names = layers_of(name, browses.map(String::as_str), masks.map(String::as_str));
        for layer in names {
            let title = match split(&layer).1 {
                Look::Default => name.clone(),
                Look::Outlines => format!("{name} outlines"),
                Look::Outlined => format!("{name} with outlines"),
                Look::Named(look) => format!("{name} {look}"),
                Look::Masked(mask) => format!("{name} masked by {mask}"),
            };
            write_layer(&mut layers, base, &layer, &title, info, &dimension);
        }
    }
    let mut matrix_sets = String::new();
    for (identifier, tms) in advertised_matrix_sets() {
        write_matrix_set(&mut matrix_sets, identifier, tms, settings.max_zoom);
    }
    let title = escape(&settings.title);
    let base = escape(base);
    let operation = |name: &str| {
        format!(
            "    <ows:Operation name=\"{name}\">\n      <ows:DCP>\n        <ows:HTTP>\n          \
             <ows:Get xlink:href=\"{base}/wmts?\">\n            <ows:Constraint name=\"GetEncoding\">\n              \
             <ows:AllowedValues>\n                <ows:Value>KVP</ows:Value>\n              </ows:AllowedValues>\n            \
             </ows:Constraint>\n          </ows:Get>\n        </ows:HTTP>\n      </ows:DCP>\n    </ows:Operation>\n"
        )
    };
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Capabilities xmlns=\"http://www.opengis.net/wmts/1.0\" \
         xmlns:ows=\"http://www.opengis.net/ows/1.1\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:gml=\"http://www.opengis.net/gml\" \
         xsi:schemaLocation=\"http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd\" \
         version=\"1.0.0\">\n  \
         <ows:ServiceIdentification>\n    <ows:Title>{title}</ows:Title>\n    \
         <ows:ServiceType>OGC WMTS</ows:ServiceType>\n    \
         <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>\n  </ows:ServiceIdentification>\n  \
         <ows:OperationsMetadata>\n{}{}  </ows:OperationsMetadata>\n  \
         <Contents>\n{layers}{matrix_sets}  </Contents>\n  \
         <ServiceMetadataURL xlink:href=\"{base}/wmts/1.0.0/WMTSCapabilities.xml\"/>\n\
         </Capabilities>\n",
        operation("GetCapabilities"),
        operation("GetTile"),
    ))
}

/// One `<Layer>`.
fn write_layer(
    out: &mut String,
    base: &str,
    identifier: &str,
    title: &str,
    info: &CollectionInfo,
    time: &TimeDimension,
) {
    // A box across the antimeridian is written as all longitudes.
    let [west, south, east, north] = match info.bbox {
        Some(b) if !b.crosses_antimeridian() => [b.west(), b.south(), b.east(), b.north()],
        Some(b) => [-180.0, b.south(), 180.0, b.north()],
        None => [-180.0, -90.0, 180.0, 90.0],
    };
    let identifier = escape(identifier);
    let base = escape(base);
    let _ = write!(
        out,
        "    <Layer>\n      <ows:Title>{}</ows:Title>\n      \
         <ows:WGS84BoundingBox>\n        <ows:LowerCorner>{west} {south}</ows:LowerCorner>\n        \
         <ows:UpperCorner>{east} {north}</ows:UpperCorner>\n      </ows:WGS84BoundingBox>\n      \
         <ows:Identifier>{identifier}</ows:Identifier>\n      \
         <Style isDefault=\"true\">\n        <ows:Identifier>default</ows:Identifier>\n      </Style>\n",
        escape(title)
    );
    for format in TileFormat::ALL {
        let _ = writeln!(out, "      <Format>{}</Format>", format.mime());
    }
    let _ = write!(
        out,
        "      <Dimension>\n        <ows:Identifier>{TIME_DIMENSION}</ows:Identifier>\n        \
         <ows:UOM>ISO8601</ows:UOM>\n        <Default>{}</Default>\n",
        escape(&time.default)
    );
    if time.values.is_empty() {
        let _ = writeln!(out, "        <Value>{}</Value>", escape(&time.default));
    }
    for value in &time.values {
        let _ = writeln!(out, "        <Value>{}</Value>", escape(value));
    }
    out.push_str("      </Dimension>\n");
    for (name, _) in advertised_matrix_sets() {
        let _ = write!(
            out,
            "      <TileMatrixSetLink>\n        <TileMatrixSet>{name}</TileMatrixSet>\n      </TileMatrixSetLink>\n"
        );
    }
    for format in TileFormat::ALL {
        let _ = writeln!(
            out,
            "      <ResourceURL format=\"{}\" resourceType=\"tile\" \
             template=\"{base}/wmts/1.0.0/{identifier}/{{Style}}/{{{TIME_DIMENSION}}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.{}\"/>",
            format.mime(),
            format.ext()
        );
    }
    out.push_str("    </Layer>\n");
}

/// The matrix sets the capabilities name, identifier first: both sets, then each again under
/// the name of MapCache's grid of the same pyramid (`GoogleMapsCompatible`, `WGS84`). Clients
/// written for MapCache pick the set by that identifier in the capabilities (OpenLayers'
/// `optionsFromCapabilities({matrixSet: 'WGS84'})`, as EOxC configurations do) and fall back
/// to the first set when it is missing. Their requests name the alias, which resolves to the
/// same stored tiles.
pub fn advertised_matrix_sets() -> impl Iterator<Item = (&'static str, TileMatrixSet)> {
    let ids = TileMatrixSet::ALL.map(|tms| (tms.id(), tms));
    let grids = TileMatrixSet::ALL.map(|tms| (tms.mapcache_grid(), tms));
    ids.into_iter().chain(grids)
}

/// One `<TileMatrixSet>` named `identifier` with matrices 0 to `max_zoom`.
fn write_matrix_set(out: &mut String, identifier: &str, tms: TileMatrixSet, max_zoom: u8) {
    let [x0, y0, x1, y1] = tms.extent();
    let _ = write!(
        out,
        "    <TileMatrixSet>\n      <ows:Identifier>{identifier}</ows:Identifier>\n      \
         <ows:BoundingBox crs=\"{crs}\">\n        <ows:LowerCorner>{x0} {y0}</ows:LowerCorner>\n        \
         <ows:UpperCorner>{x1} {y1}</ows:UpperCorner>\n      </ows:BoundingBox>\n      \
         <ows:SupportedCRS>{crs}</ows:SupportedCRS>\n",
        crs = tms.crs_urn()
    );
    if let Some(scale_set) = tms.well_known_scale_set() {
        let _ = writeln!(
            out,
            "      <WellKnownScaleSet>{scale_set}</WellKnownScaleSet>"
        );
    }
    for z in 0..=max_zoom {
        let (width, height) = tms.matrix_size(z);
        // The top-left corner in the CRS's axis order: CRS84 and EPSG:3857 are both x, y.
        let _ = write!(
            out,
            "      <TileMatrix>\n        <ows:Identifier>{z}</ows:Identifier>\n        \
             <ScaleDenominator>{}</ScaleDenominator>\n        \
             <TopLeftCorner>{x0} {y1}</TopLeftCorner>\n        \
             <TileWidth>{TILE_SIZE}</TileWidth>\n        <TileHeight>{TILE_SIZE}</TileHeight>\n        \
             <MatrixWidth>{width}</MatrixWidth>\n        <MatrixHeight>{height}</MatrixHeight>\n      </TileMatrix>\n",
            tms.scale_denominator(z)
        );
    }
    out.push_str("    </TileMatrixSet>\n");
}

/// The latitude limits of a matrix set (Web Mercator stops short of the poles).
pub fn latitude_limit(tms: TileMatrixSet) -> f64 {
    match tms {
        TileMatrixSet::WebMercatorQuad => MERCATOR_MAX_LAT,
        TileMatrixSet::WorldCRS84Quad => 90.0,
    }
}
