//! What the OGC services of pvs share, written once: the renderer (WMS, WCS), the tile
//! cache (WMTS, XYZ, tiled WMS) and OpenSearch read requests and answer errors through it.
//!
//! - [`kvp`]: KVP parameters, with one rule for case, repeated keys, empty values and
//!   spaces ([`Params`]).
//! - [`exception`]: an OGC exception ([`Exception`]) and the report each protocol writes
//!   for it ([`Report`]: WMS 1.1.1, WMS 1.3.0, OWS 1.1, OWS 2.0).
//! - [`xml`]: escaping text for XML, characters XML 1.0 cannot hold included.
//! - [`limits`]: how long a request may be.
//! - [`time`]: ISO 8601 instants and dates as the protocols' `TIME`, `SUBSET`, `start` and
//!   `end` take them.
//! - [`crs`]: CRS names (`EPSG:n`, `CRS:84`, URNs, URIs). Whether GDAL knows a code and its
//!   axis order are `pvs_raster::crs`: this crate does not depend on GDAL.
//! - [`layer`]: layer names (the outlines suffix, the names that can name tiles).
//! - [`getmap`]: the WMS GetMap URL search results link to for a picture of a layer.
//!
//! Not here: MapCache's `TIME` of the tile endpoints (`pvs_tiles::time`, other rules on
//! purpose) and each protocol's own parameters.

#![forbid(unsafe_code)]

pub mod crs;
pub mod exception;
pub mod getmap;
pub mod kvp;
pub mod layer;
pub mod limits;
pub mod time;
pub mod xml;

pub use exception::{Exception, Report};
pub use kvp::Params;
