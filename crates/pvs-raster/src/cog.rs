//! Cloud-Optimized GeoTIFF: the layout check GDAL documents for COGs, and what the catalog
//! records about one.
//!
//! A file is a valid COG when (the rules of GDAL's `validate_cloud_optimized_geotiff`):
//! - it is a GeoTIFF with internal overviews only;
//! - the full-resolution image and each overview are tiled when larger than 512 pixels;
//! - overviews come by decreasing size;
//! - the main IFD is at the start of the file (right after the header, or after GDAL's
//!   structural metadata "ghost" area), and the overview IFDs follow in order, so one read
//!   of the head gives every IFD;
//! - the image data comes after the IFDs, the smallest overview's first, the full
//!   resolution's last.

use std::path::Path;

use gdal::Dataset;
use gdal::raster::{ColorInterpretation, RasterBand};

use crate::RasterError;

/// The outcome of [`validate`]: errors make the file not a COG; warnings are advice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// Rules broken.
    pub errors: Vec<String>,
    /// Advice (e.g. no overviews on a large image).
    pub warnings: Vec<String>,
    /// Offsets of the IFDs: the full resolution first, then each overview.
    pub ifd_offsets: Vec<u64>,
    /// Offsets of the first block of data: the full resolution first, then each overview.
    pub data_offsets: Vec<u64>,
}

impl Validation {
    /// Whether the file is a valid COG.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Largest untiled dimension accepted (as in GDAL's validator).
const UNTILED_LIMIT: usize = 512;

/// Checks the COG layout of the GeoTIFF at `path`: a local path or any GDAL virtual file
/// system path (`/vsis3/...`, `/vsicurl/...`; GDAL's configuration, e.g. the storage's
/// credentials, must be set for it).
pub fn validate(path: &Path) -> Result<Validation, RasterError> {
    let dataset = open(path)?;
    let driver = dataset.driver().short_name();
    if driver != "GTiff" {
        return Err(RasterError::Unsuitable(format!(
            "{} is a {driver} file, not a GeoTIFF",
            path.display()
        )));
    }
    let mut check = Validation::default();
    let files = dataset_files(&dataset);
    if files.iter().any(|f| f.ends_with(".ovr")) {
        check
            .errors
            .push("overviews are in an external .ovr file; they must be internal".into());
    }
    let main = band(&dataset, 1)?;
    let overview_count = main
        .overview_count()
        .map_err(|e| RasterError::gdal("counting overviews", e))?;
    let overview_count = usize::try_from(overview_count).unwrap_or(0);
    let (width, height) = main.size();
    if width > UNTILED_LIMIT || height > UNTILED_LIMIT {
        if !is_tiled(&main) {
            check
                .errors
                .push(format!("the {width} × {height} image is not tiled"));
        }
        if overview_count == 0 {
            check.warnings.push(format!(
                "the {width} × {height} image has no overviews; clients will read it all to zoom out"
            ));
        }
    }

    check.ifd_offsets.push(tiff_offset(&main, "IFD_OFFSET")?);
    let expected_first = first_ifd_position(path)?;
    if check.ifd_offsets[0] != expected_first {
        check.errors.push(format!(
            "the main IFD is at byte {}; it must be at byte {expected_first}, at the start of the file",
            check.ifd_offsets[0]
        ));
    }
    let mut previous_size = (width, height);
    for i in 0..overview_count {
        let overview = main
            .overview(i)
            .map_err(|e| RasterError::gdal(format!("reading overview {i}"), e))?;
        let size = overview.size();
        if size.0 > previous_size.0 || size.1 > previous_size.1 {
            check.errors.push(format!(
                "overview {i} ({} × {}) is larger than the level before it ({} × {})",
                size.0, size.1, previous_size.0, previous_size.1
            ));
        }
        previous_size = size;
        if (size.0 > UNTILED_LIMIT || size.1 > UNTILED_LIMIT) && !is_tiled(&overview) {
            check.errors.push(format!("overview {i} is not tiled"));
        }
        let offset = tiff_offset(&overview, "IFD_OFFSET")?;
        if offset < *check.ifd_offsets.last().expect("main IFD recorded") {
            check.errors.push(format!(
                "the IFD of overview {i} (byte {offset}) comes before the IFD of the level above it"
            ));
        }
        check.ifd_offsets.push(offset);
    }

    check
        .data_offsets
        .push(tiff_offset(&main, "BLOCK_OFFSET_0_0")?);
    for i in 0..overview_count {
        let overview = main
            .overview(i)
            .map_err(|e| RasterError::gdal(format!("reading overview {i}"), e))?;
        check
            .data_offsets
            .push(tiff_offset(&overview, "BLOCK_OFFSET_0_0")?);
    }
    let last_ifd = *check.ifd_offsets.last().expect("main IFD recorded");
    let smallest_data = *check.data_offsets.last().expect("main data recorded");
    if smallest_data < last_ifd {
        check
            .errors
            .push("image data starts before the last IFD: the IFDs are not all at the head".into());
    }
    // Data order: smallest overview first, full resolution last.
    for level in (1..check.data_offsets.len()).rev() {
        let (larger, smaller) = (check.data_offsets[level - 1], check.data_offsets[level]);
        if larger < smaller {
            let name = if level == 1 {
                "the full-resolution image".to_owned()
            } else {
                format!("overview {}", level - 2)
            };
            check.errors.push(format!(
                "the data of {name} comes before the data of overview {}; the smallest level must come first",
                level - 1
            ));
        }
    }
    Ok(check)
}

/// What the catalog records about a COG.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Number of bands, alpha included.
    pub bands: u32,
    /// Whether the last band is an alpha band.
    pub alpha: bool,
    /// `EPSG:<code>` when the CRS has one, else its WKT.
    pub crs: String,
    /// `[min x, min y, max x, max y]` in the CRS.
    pub bbox: [f64; 4],
    /// Pixel size `[x, y]`, both positive.
    pub resolution: [f64; 2],
}

impl Description {
    /// The metadata document's record of this COG, stored under `key` with `size_bytes`.
    pub fn cog_info(self, key: String, size_bytes: u64) -> pvs_model::CogInfo {
        pvs_model::CogInfo {
            key,
            size_bytes,
            width: self.width,
            height: self.height,
            bands: self.bands,
            alpha: self.alpha,
            crs: self.crs,
            bbox: self.bbox,
            resolution: self.resolution,
        }
    }
}

/// Reads a COG's size, bands, CRS, bounding box and resolution.
pub fn describe(dataset: &Dataset) -> Result<Description, RasterError> {
    let (width, height) = dataset.raster_size();
    let bands = dataset.raster_count();
    if bands == 0 || width == 0 || height == 0 {
        return Err(RasterError::Unsuitable(format!(
            "the raster has {bands} bands of {width} × {height} pixels"
        )));
    }
    let alpha = band(dataset, bands)?.color_interpretation() == ColorInterpretation::AlphaBand;
    let gt = dataset
        .geo_transform()
        .map_err(|e| RasterError::Unsuitable(format!("the raster has no geotransform: {e}")))?;
    if gt[2] != 0.0 || gt[4] != 0.0 {
        return Err(RasterError::Unsuitable(
            "the raster is rotated (its geotransform has rotation terms)".into(),
        ));
    }
    let crs = crs_name(dataset)?;
    let (w, h) = (width as f64, height as f64);
    let (x0, x1) = (gt[0], gt[0] + gt[1] * w);
    let (y0, y1) = (gt[3], gt[3] + gt[5] * h);
    Ok(Description {
        width: to_u32(width)?,
        height: to_u32(height)?,
        bands: to_u32(bands)?,
        alpha,
        crs,
        bbox: [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)],
        resolution: [gt[1].abs(), gt[5].abs()],
    })
}

/// `EPSG:<code>` for a CRS with an EPSG identity, else the WKT.
pub fn crs_name(dataset: &Dataset) -> Result<String, RasterError> {
    let mut srs = dataset
        .spatial_ref()
        .map_err(|e| RasterError::Unsuitable(format!("the raster has no CRS: {e}")))?;
    if srs.auth_name().as_deref() != Some("EPSG") {
        // Best effort: a CRS read from GeoTIFF keys often lacks its identifier.
        let _ = srs.auto_identify_epsg();
    }
    match (srs.auth_name().as_deref(), srs.auth_code()) {
        (Some("EPSG"), Ok(code)) => Ok(format!("EPSG:{code}")),
        _ => srs
            .to_wkt()
            .map_err(|e| RasterError::gdal("writing the CRS as WKT", e)),
    }
}

fn to_u32(value: usize) -> Result<u32, RasterError> {
    u32::try_from(value)
        .map_err(|_| RasterError::Unsuitable(format!("dimension {value} is too large")))
}

pub(crate) fn open(path: &Path) -> Result<Dataset, RasterError> {
    crate::open(&path.display().to_string())
}

fn band(dataset: &Dataset, index: usize) -> Result<RasterBand<'_>, RasterError> {
    dataset
        .rasterband(index)
        .map_err(|e| RasterError::gdal(format!("reading band {index}"), e))
}

/// A stripped TIFF has blocks as wide as the image; a tiled one has square tiles.
fn is_tiled(band: &RasterBand<'_>) -> bool {
    let (block_width, block_height) = band.block_size();
    block_width != band.x_size() || block_width == block_height
}

fn tiff_offset(band: &RasterBand<'_>, item: &str) -> Result<u64, RasterError> {
    use gdal::Metadata;
    band.metadata_item(item, "TIFF")
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| RasterError::Unsuitable(format!("the TIFF has no {item}")))
}

fn dataset_files(dataset: &Dataset) -> Vec<String> {
    // SAFETY: GDALGetFileList returns a NULL-terminated list we own and free.
    unsafe {
        let list = gdal_sys::GDALGetFileList(dataset.c_dataset());
        if list.is_null() {
            return Vec::new();
        }
        let mut files = Vec::new();
        let mut i = 0;
        while !(*list.add(i)).is_null() {
            files.push(
                std::ffi::CStr::from_ptr(*list.add(i))
                    .to_string_lossy()
                    .into_owned(),
            );
            i += 1;
        }
        gdal_sys::CSLDestroy(list);
        files
    }
}

/// Where the first IFD of a COG must be: right after the TIFF header (byte 8, or 16 for
/// BigTIFF), or after GDAL's structural metadata block when the file has one.
fn first_ifd_position(path: &Path) -> Result<u64, RasterError> {
    let head = read_head(path, 16 + 64 + 100_000)?;
    let bigtiff = matches!(
        head.get(..4),
        Some([0x49, 0x49, 0x2b, 0x00] | [0x4d, 0x4d, 0x00, 0x2b])
    );
    let header = if bigtiff { 16 } else { 8 };
    const MARKER: &[u8] = b"GDAL_STRUCTURAL_METADATA_SIZE=";
    let rest = head.get(header..).unwrap_or_default();
    if !rest.starts_with(MARKER) {
        return Ok(header as u64);
    }
    // "GDAL_STRUCTURAL_METADATA_SIZE=000140 bytes\n" then that many bytes.
    let line = MARKER.len() + 6 + " bytes\n".len();
    let size: u64 = std::str::from_utf8(&rest[MARKER.len()..MARKER.len() + 6])
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| RasterError::Unsuitable("malformed GDAL structural metadata".into()))?;
    let end = header as u64 + line as u64 + size;
    Ok(end + end % 2)
}

/// The first `len` bytes (fewer if the file is shorter) of the file at `path`, read through
/// GDAL's virtual file system, so that `/vsis3/`, `/vsicurl/`... paths are read like local
/// ones (only the bytes asked for are fetched).
fn read_head(path: &Path, len: usize) -> Result<Vec<u8>, RasterError> {
    let error = |reason: String| RasterError::Open {
        path: path.display().to_string(),
        reason,
    };
    let c_path = std::ffi::CString::new(path.display().to_string())
        .map_err(|_| error("the path contains a NUL character".into()))?;
    // SAFETY: both arguments are valid NUL-terminated C strings that outlive the call.
    let file = unsafe { gdal_sys::VSIFOpenL(c_path.as_ptr(), c"rb".as_ptr()) };
    if file.is_null() {
        return Err(error("cannot be opened for reading".into()));
    }
    let mut head = vec![0u8; len];
    // SAFETY: `head` has room for `len` items of 1 byte, and `file` is an open handle.
    let read = unsafe { gdal_sys::VSIFReadL(head.as_mut_ptr().cast(), 1, len, file) };
    // SAFETY: `file` is an open handle, closed once and not used afterwards.
    unsafe { gdal_sys::VSIFCloseL(file) };
    head.truncate(read);
    Ok(head)
}
