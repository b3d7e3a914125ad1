//! GDAL for pvs. Everything here is synchronous and CPU- or disk-bound: callers in async
//! code run it on a blocking thread or a rayon pool, never on the async runtime.
//!
//! - [`convert`]: a browse image (GeoTIFF, JPEG, PNG, JPEG 2000) and its geolocation to a
//!   Cloud-Optimized GeoTIFF, warped where the geolocation needs it, transparent outside the
//!   footprint.
//! - [`merge`]: two versions of a product composited into one COG (strategy `merge`).
//! - [`cog`]: checks that a file is a valid COG (the layout rules GDAL documents) and reads
//!   what the catalog records about it.
//! - [`render`]: map images: COGs warped into a view, each inside its footprint, composited
//!   newest on top, encoded.
//! - [`style`]: how data become colours (band selection, rescale, colormaps).
//! - [`draw`]: footprint outlines and error messages drawn into map images.
//! - [`crs`]: EPSG CRSs through GDAL, and the authority's axis order (the one `unsafe`
//!   call into OSR for it).
//! - [`derive`]: what a raster alone tells: the footprint of its valid pixels and the
//!   acquisition time from its file name or tags.

pub mod chunk;
mod clip;
pub mod cog;
pub mod convert;
pub mod coverage;
pub mod crs;
pub mod derive;
pub mod draw;
mod error;
pub mod expression;
mod gdal_app;
pub mod georef;
pub mod merge;
mod pool;
pub mod render;
mod resample;
pub mod style;

pub use error::RasterError;

/// Sends GDAL's messages to `tracing` (target `gdal`) instead of stderr, tunes the allocator
/// for GDAL's large buffers ([`MALLOC_ARENAS`], [`MALLOC_MMAP_THRESHOLD`]), and keeps GDAL
/// from writing `.aux.xml` side files next to inputs. Call once at start-up.
pub fn init() {
    gdal::config::set_error_handler(|class, code, message| {
        use gdal::errors::CplErrType;
        match class {
            CplErrType::Failure | CplErrType::Fatal => {
                tracing::debug!(target: "gdal", code, "{message}")
            }
            CplErrType::Warning => tracing::debug!(target: "gdal", code, "warning: {message}"),
            CplErrType::None | CplErrType::Debug => tracing::trace!(target: "gdal", "{message}"),
        }
    });
    // Errors reach the caller as `RasterError`s with GDAL's message: logged where handled.
    let _ = gdal::config::set_config_option("GDAL_PAM_ENABLED", "NO");
    tune_allocator();
}

/// The most malloc arenas a process of pvs uses (glibc's default: 8 a core).
pub const MALLOC_ARENAS: i32 = 2;

/// Allocations from this size on are mapped and unmapped on their own (glibc's default: 128
/// KiB, rising to the largest block freed, up to 32 MiB).
pub const MALLOC_MMAP_THRESHOLD: i32 = 128 * 1024;

/// Sets glibc's allocator for a server whose threads allocate and free large buffers (GDAL's
/// decoded tiles of 768 KiB, images, encoded answers): at most [`MALLOC_ARENAS`] arenas and a
/// fixed mmap threshold of [`MALLOC_MMAP_THRESHOLD`]. With glibc's defaults the threshold rose
/// to the size of the tiles freed, so they were carved out of the arenas, one an active
/// thread, each keeping what it once held: a renderer under 64 clients grew to 300 MiB (15
/// arenas of 12 to 25 MiB) where 190 MiB do (benches/soak/run.sh, docs/performance.md).
/// Left alone when the environment sets the allocator (`MALLOC_ARENA_MAX`,
/// `MALLOC_MMAP_THRESHOLD_`, `GLIBC_TUNABLES`), and on other C libraries.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let from_environment = [
            "MALLOC_ARENA_MAX",
            "MALLOC_MMAP_THRESHOLD_",
            "GLIBC_TUNABLES",
        ]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
        if !from_environment {
            // SAFETY: mallopt only sets parameters of the allocator, at any time and from any
            // thread (it takes the arenas' locks); the values are in the documented ranges.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
                libc::mallopt(libc::M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD);
            }
        }
    }
}

/// Sets the size of GDAL's block cache (process-wide), in bytes. GDAL's default is 5% of
/// the memory; a renderer keeps datasets open between requests, so their cached tiles stay
/// until this limit pushes them out.
pub fn set_block_cache(bytes: usize) {
    // SAFETY: a plain setter of a process-wide limit, safe to call at any time.
    unsafe { gdal_sys::GDALSetCacheMax64(i64::try_from(bytes).unwrap_or(i64::MAX)) };
}

/// Opens a raster read-only, with GDAL's own reason when it cannot (e.g. "not recognized as
/// a supported file format").
pub fn open(path: &str) -> Result<gdal::Dataset, RasterError> {
    use gdal::{DatasetOptions, GdalOpenFlags};
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_RASTER
            | GdalOpenFlags::GDAL_OF_READONLY
            | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
        ..DatasetOptions::default()
    };
    gdal::Dataset::open_ex(path, options).map_err(|e| {
        let reason = match e {
            gdal::errors::GdalError::NullPointer { msg, .. } if !msg.is_empty() => msg,
            gdal::errors::GdalError::NullPointer { .. } => {
                "not a raster in a format GDAL reads".to_owned()
            }
            other => other.to_string(),
        };
        RasterError::Open {
            path: path.to_owned(),
            reason,
        }
    })
}
