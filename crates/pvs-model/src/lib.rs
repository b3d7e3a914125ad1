//! The data model of pvs: ngEO browse reports and what is derived from them.
//!
//! - [`BrowseReport::parse`] reads a browse report (`rep:browseReport` or `bsi:ingestBrowse`,
//!   namespaces of versions 1.1 to 1.3) from bytes into validated [`Browse`]s, keeping each
//!   bad browse as a [`BrowseError`] that names the browse and the element at fault. XML is
//!   read defensively: UTF-8 only, no DTD, no entity declarations, bounded sizes.
//! - [`Geolocation`] keeps the coordinates exactly as written (CRS axis order); [`Footprint`]
//!   is the derived area: a valid EPSG:4326 lon/lat `MultiPolygon` split at the antimeridian,
//!   or, for other CRSs, the native outline for the preprocessor to reproject.
//! - [`IngestionResponse`] and [`ingest_exception_xml`] write the `bsi:` answers.
//! - [`BrowseItem`] is the JSON queue message handed to the preprocessor;
//!   [`ProductMetadata`] the document the preprocessor writes beside each COG for the registrar.
//! - [`parse_item`] reads a STAC Item (1.0, 1.1) into an [`ItemRegistration`]: id,
//!   collection, footprint, times, properties and data asset, or an [`ItemError`] naming the
//!   field at fault.
//! - [`parse_eo_metadata`] reads the EO metadata of product packages (EO O&M 2.0/2.1,
//!   GSC) into an [`EoMetadata`]: id, times, footprint (the `gml:posList` lat/lon pairs
//!   swapped) and the EO properties under their STAC names, or an [`EoMetadataError`]
//!   naming what is missing or wrong and where.
//! - [`Collections`] is the collections configuration (TOML); [`RegistrationReport`] the XML
//!   the registrar writes back to the provider once a report's products are all done.
//!
//! This crate does no I/O (no files, network, GDAL or clock): input comes as `&[u8]`/`&str`
//! and output goes to `String`s. Reading images, checking that files exist, reprojecting,
//! and deciding replacements are the jobs of the services that use it.
//!
//! The formats are described by the XML Schemas and JSON Schema in the repository's
//! `schemas/` folder.

#![forbid(unsafe_code)]

mod browse;
mod collections;
mod deregistration;
mod eo_metadata;
mod footprint;
mod geolocation;
mod item;
mod product;
mod registration;
mod report;
mod response;
mod stac_item;
mod time;
mod xml;

pub use browse::{Browse, BrowseError, BrowseId, FileName, ImageType, MAX_POSITIONS, Problem};
pub use collections::{
    BrowseStyle, COLORMAPS, CollectionConfig, Collections, CollectionsError, Compression,
    MASKED_PREFIX, MaskType, MergeThreshold, RESERVED_BROWSE_NAMES, Render, Replacement, Strategy,
    band_number,
};
pub use deregistration::Deregistration;
pub use eo_metadata::{
    EoFormat, EoMetadata, EoMetadataError, GSC_NS, MAX_EO_METADATA_BYTES, parse_eo_metadata,
};
pub use footprint::{Footprint, FootprintError, footprint_from_lon_lat};
pub use geolocation::{Geolocation, ImageSize, Pixel, ReferenceSystem, TiePoint, WGS84};
pub use item::{BrowseItem, GeoJsonGeometry, ReportInfo};
pub use product::{CogInfo, ProductMetadata, SourceInfo};
pub use registration::{REGISTRATION_NS, RegistrationOutcome, RegistrationReport};
pub use report::{BrowseReport, ReportError};
pub use response::{
    BrowseResult, ExceptionCode, IngestionResponse, IngestionStatus, IngestionSummary, Outcome,
    ingest_exception_xml,
};
pub use stac_item::{
    AssetHref, DataAsset, ItemError, ItemRegistration, MAX_ITEM_BYTES, MAX_ITEM_ID_CHARS,
    MAX_ITEM_POSITIONS, parse_item,
};
pub use time::{TimeError, parse_date_time};
pub use xml::{INGESTION_NS, REPORT_NS_V1, REPORT_NS_V13, XmlError};
