//! GDAL for pvs. Everything here is synchronous and CPU- or disk-bound: callers in async
//! code run it on a blocking thread or a rayon pool, never on the async runtime.
//!
//! - [`convert`]: a browse image (GeoTIFF, JPEG, PNG, JPEG 2000) and its geolocation to a
//!   Cloud-Optimized GeoTIFF, warped where the geolocation needs it, transparent outside the
//!   footprint.
//! - [`cog`]: checks that a file is a valid COG (the layout rules GDAL documents) and reads
//!   what the catalog records about it.
//! - [`derive`]: what a raster alone tells: the footprint of its valid pixels and the
//!   acquisition time from its file name or tags.

pub mod cog;
pub mod convert;
pub mod derive;
mod error;
mod gdal_app;
pub mod georef;

pub use error::RasterError;
