//! The metadata document the preprocessor writes beside each COG and the registrar reads
//! (`<collection>/<id>/<id>.json` on storage), described by
//! `schemas/product-metadata.schema.json`. Its storage key is the message on
//! `register_queue`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::item::{GeoJsonGeometry, ReportInfo};

/// Everything the catalog needs to know about one preprocessed product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductMetadata {
    /// Product id (the browse item's id).
    pub id: String,
    /// Collection (the report's `browseType`).
    pub collection: String,
    /// Footprint in EPSG:4326, lon/lat, split at the antimeridian.
    pub footprint: GeoJsonGeometry,
    /// Start of the acquisition, UTC.
    pub start: DateTime<Utc>,
    /// End of the acquisition, UTC.
    pub end: DateTime<Utc>,
    /// The COG: storage key, layout and georeferencing.
    pub cog: CogInfo,
    /// Where the product came from.
    pub source: SourceInfo,
    /// When the preprocessor wrote the COG.
    pub processed_at: DateTime<Utc>,
    /// The product's properties with their STAC names (`eo:cloud_cover`, `platform`, ...),
    /// from the STAC Item it was registered from or the EO O&M / GSC document of its package
    /// ([`crate::EoMetadata::properties`]); empty (and absent from the JSON) otherwise.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
    /// The product's masks by mask type (`[collections.NAME.masks]`), each a multi-polygon in
    /// EPSG:4326 lon/lat; empty (and absent from the JSON) without masks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masks: BTreeMap<String, GeoJsonGeometry>,
}

/// A Cloud-Optimized GeoTIFF on storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CogInfo {
    /// Storage key (relative to the storage prefix).
    pub key: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Number of bands (including an alpha band, if any).
    pub bands: u32,
    /// Whether the last band is an alpha band.
    pub alpha: bool,
    /// The CRS, e.g. `EPSG:4326`.
    pub crs: String,
    /// Bounding box in the CRS: `[min x, min y, max x, max y]`.
    pub bbox: [f64; 4],
    /// Pixel size in CRS units: `[x, y]` (both positive).
    pub resolution: [f64; 2],
}

/// The browse a product was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// The input image reference (storage key or URL).
    pub file: String,
    /// The `browseIdentifier`, if the browse had one.
    pub browse_identifier: Option<String>,
    /// The report it came in.
    pub report: ReportInfo,
    /// The report of the version this one was merged with (a collection's strategy `merge`):
    /// the image is this report's composited over that version's, the footprint and times
    /// the union of both; `None` (absent from the JSON) for a product of one report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_with: Option<ReportInfo>,
}

impl ProductMetadata {
    /// The JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("product metadata always serialises")
    }

    /// Reads a JSON document.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Where the preprocessor writes the metadata document of product `id` of `collection`
    /// (`<collection>/<id>/<id>.json`, beside its COG, [`ProductMetadata::cog_key`]).
    pub fn key(collection: &str, id: &str) -> String {
        format!("{collection}/{id}/{id}.json")
    }

    /// Where the preprocessor writes the COG of product `id` of `collection`
    /// (`<collection>/<id>/<id>.tif`).
    pub fn cog_key(collection: &str, id: &str) -> String {
        format!("{collection}/{id}/{id}.tif")
    }
}
