//! A browse image to a Cloud-Optimized GeoTIFF.
//!
//! 1. Open the image (any raster GDAL reads: GeoTIFF, JPEG, PNG, JPEG 2000, or a file inside
//!    a package through `/vsitar/`).
//! 2. Attach the browse's georeferencing to an in-memory VRT of it (nothing is copied).
//! 3. Where the image is not already north-up in its CRS (tie points, a mirrored box, a
//!    GeoTIFF whose geotransform is rotated or mirrored), warp it (still a VRT): tie points
//!    with a thin plate spline into EPSG:4326 (tie points outside the image are
//!    extrapolated, within the limits of [`crate::georef`]), an affine north-up in its own
//!    CRS, with an alpha band so that everything outside the image is transparent; the
//!    output extent of tie points is their box, so the COG's corners are the footprint's.
//! 4. Write the COG with GDAL's COG driver in one pass: tiled, overviews, the collection's
//!    compression, BigTIFF when needed.
//!
//! Tie points crossing the antimeridian are unwrapped ([`crate::georef`]), so such an image is
//! warped into one continuous EPSG:4326 raster whose longitudes run past 180°; its footprint
//! is still split at the antimeridian.

use std::path::Path;

use gdal::Dataset;
use gdal::raster::ColorInterpretation;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use geo::MultiPolygon;
use pvs_model::{Compression, Geolocation, ReferenceSystem, footprint_from_lon_lat};

use crate::RasterError;
use crate::cog::{self, Description};
use crate::gdal_app;
use crate::georef::{self, Georeferencing, WGS84};

/// How to write the COG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CogOptions {
    /// Compression of the tiles.
    pub compression: Compression,
    /// Tile width and height in pixels.
    pub block_size: u32,
    /// JPEG/WEBP quality (1-100).
    pub quality: u8,
    /// Threads GDAL may use to compress one COG (`NUM_THREADS`); `None`: one.
    pub threads: Option<u32>,
}

impl Default for CogOptions {
    fn default() -> Self {
        Self {
            compression: Compression::Deflate,
            block_size: 512,
            quality: 85,
            threads: None,
        }
    }
}

impl CogOptions {
    /// The `gdal_translate -of COG` arguments for these options.
    pub fn translate_args(&self) -> Vec<String> {
        let mut args = vec!["-of".to_owned(), "COG".to_owned()];
        let mut co = |option: String| {
            args.push("-co".to_owned());
            args.push(option);
        };
        co(format!("BLOCKSIZE={}", self.block_size));
        co(format!("COMPRESS={}", self.compression.gdal_name()));
        match self.compression {
            Compression::Jpeg | Compression::Webp => co(format!("QUALITY={}", self.quality)),
            Compression::Deflate | Compression::Zstd | Compression::Lzw => {
                co("PREDICTOR=YES".to_owned())
            }
        }
        co("BIGTIFF=IF_SAFER".to_owned());
        if let Some(threads) = self.threads {
            co(format!("NUM_THREADS={threads}"));
        }
        args
    }
}

/// Where a browse image is on the Earth, as its browse report says.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement<'a> {
    /// The geolocation, coordinates as written.
    pub geolocation: &'a Geolocation,
    /// Their CRS.
    pub reference_system: ReferenceSystem,
    /// The footprint already derived from the report (EPSG:4326), if any.
    pub footprint: Option<MultiPolygon<f64>>,
}

/// What [`to_cog`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// Size, bands, CRS, box and resolution of the COG.
    pub description: Description,
    /// The footprint in EPSG:4326 (lon/lat, split at the antimeridian).
    pub footprint: MultiPolygon<f64>,
    /// Whether the image was resampled (warped).
    pub warped: bool,
}

/// Converts the raster at `input` (a GDAL path) placed by `placement` into a COG at `output`.
pub fn to_cog(
    input: &str,
    placement: &Placement<'_>,
    output: &Path,
    options: &CogOptions,
) -> Result<Converted, RasterError> {
    let source = crate::open(input)?;
    let (width, height) = source.raster_size();
    if source.raster_count() == 0 || width == 0 || height == 0 {
        return Err(RasterError::Unsuitable(format!(
            "{input} has {} bands of {width} × {height} pixels",
            source.raster_count()
        )));
    }
    let size = |v: usize| {
        u32::try_from(v)
            .map_err(|_| RasterError::Unsuitable(format!("{input}: dimension {v} is too large")))
    };
    let georeferencing = Georeferencing::new(
        placement.geolocation,
        placement.reference_system,
        size(width)?,
        size(height)?,
    )?;
    check_pixels(&source, options.compression)?;

    let output_path = output.to_str().ok_or_else(|| {
        RasterError::Unsuitable(format!("output path {} is not UTF-8", output.display()))
    })?;
    let cog_args = options.translate_args();
    let mut warped = georeferencing.needs_warp();
    let written = match &georeferencing {
        Georeferencing::Embedded
            if source.geo_transform().is_ok() && source.spatial_ref().is_ok() =>
        {
            let transform = source
                .geo_transform()
                .map_err(|e| RasterError::gdal("reading the geotransform", e))?;
            georef::check_affine(&transform)?;
            if georef::affine_needs_warp(&transform) {
                // Rotated or mirrored: warped north-up in its own CRS, as gdalwarp does.
                warped = true;
                let warped_image = gdal_app::warp(&source, "", &resample_args(&source))?;
                gdal_app::translate(&warped_image, output_path, &cog_args)?
            } else {
                gdal_app::translate(&source, output_path, &cog_args)?
            }
        }
        Georeferencing::Embedded if source.gcps().len() >= 3 => {
            // Tie points in the file instead of a geotransform (as ngEO accepts): checked and
            // warped into EPSG:4326 like the report's tie points.
            warped = true;
            let mut points: Vec<georef::ControlPoint> = source
                .gcps()
                .iter()
                .map(|gcp| georef::ControlPoint {
                    pixel: gcp.pixel(),
                    line: gcp.line(),
                    x: gcp.x(),
                    y: gcp.y(),
                })
                .collect();
            georef::check_tie_points(&mut points, size(width)?, size(height)?, None)?;
            let mut args = resample_args(&source);
            args.extend(strings(&["-t_srs", "EPSG:4326", "-tps"]));
            let warped_image = gdal_app::warp(&source, "", &args)?;
            gdal_app::translate(&warped_image, output_path, &cog_args)?
        }
        Georeferencing::Embedded => {
            return Err(RasterError::Georef(format!(
                "modelInGeotiff, but {input} carries no georeferencing (geotransform and CRS, or tie points)"
            )));
        }
        _ => {
            let mut placed = gdal_app::translate(&source, "", &strings(&["-of", "VRT"]))?;
            georeferencing.apply(&mut placed)?;
            if warped {
                let warped = gdal_app::warp(&placed, "", &warp_args(&georeferencing, &source)?)?;
                gdal_app::translate(&warped, output_path, &cog_args)?
            } else {
                gdal_app::translate(&placed, output_path, &cog_args)?
            }
        }
    };
    let description = cog::describe(&written)?;
    let footprint = match (&placement.footprint, &georeferencing) {
        (Some(footprint), _) => footprint.clone(),
        (None, Georeferencing::Embedded) => match (source.geo_transform(), source.spatial_ref()) {
            // The image's own corners (a rotated image's, not its warped box).
            (Ok(transform), Ok(_)) => image_outline(&source, &transform)?,
            // Warped from the file's own tie points: the footprint is where the pixels are.
            _ => crate::derive::valid_data_footprint(&written)?,
        },
        (None, _) => footprint_of(&georeferencing, placement)?,
    };
    Ok(Converted {
        description,
        footprint,
        warped,
    })
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Lossy codecs take 8-bit images only.
fn check_pixels(source: &Dataset, compression: Compression) -> Result<(), RasterError> {
    if matches!(compression, Compression::Jpeg | Compression::Webp) {
        let band = source
            .rasterband(1)
            .map_err(|e| RasterError::gdal("reading band 1", e))?;
        if band.band_type() != gdal::raster::GdalDataType::UInt8 {
            return Err(RasterError::Unsuitable(format!(
                "{} compression needs 8-bit pixels; the image has {}",
                compression.gdal_name(),
                band.band_type()
            )));
        }
    }
    Ok(())
}

/// Tie-point counts up to which the thin plate spline is used; beyond it, a polynomial.
const TPS_MAX_POINTS: usize = 2_000;

/// How `gdalwarp` resamples `source`: bilinear, nearest for a paletted image.
pub(crate) fn resampling(source: &Dataset) -> &'static str {
    let paletted = source
        .rasterband(1)
        .map(|b| b.color_interpretation() == ColorInterpretation::PaletteIndex)
        .unwrap_or(false);
    if paletted { "near" } else { "bilinear" }
}

/// The `gdalwarp` arguments every warp shares: a VRT, bilinear resampling (nearest for a
/// paletted image) and an alpha band unless the image has one.
fn resample_args(source: &Dataset) -> Vec<String> {
    let has_alpha = source
        .rasterband(source.raster_count())
        .map(|b| b.color_interpretation() == ColorInterpretation::AlphaBand)
        .unwrap_or(false);
    let mut args = strings(&["-of", "VRT", "-r", resampling(source)]);
    if !has_alpha {
        args.push("-dstalpha".to_owned());
    }
    args
}

fn warp_args(
    georeferencing: &Georeferencing,
    source: &Dataset,
) -> Result<Vec<String>, RasterError> {
    let mut args = resample_args(source);
    let (epsg, bbox) = match georeferencing {
        Georeferencing::ControlPoints { epsg, points } => {
            if points.len() <= TPS_MAX_POINTS {
                args.push("-tps".to_owned());
            } else {
                args.extend(strings(&["-order", "3"]));
            }
            let bbox = points.iter().fold(
                [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ],
                |b, p| [b[0].min(p.x), b[1].min(p.y), b[2].max(p.x), b[3].max(p.y)],
            );
            // Tie points in another CRS go to EPSG:4326 like the rest; the extent is then
            // GDAL's to compute.
            if *epsg == WGS84 {
                (WGS84, Some(bbox))
            } else {
                (WGS84, None)
            }
        }
        Georeferencing::Affine { epsg, transform } => {
            let (w, h) = source.raster_size();
            let (x0, x1) = (transform[0], transform[0] + transform[1] * w as f64);
            let (y0, y1) = (transform[3], transform[3] + transform[5] * h as f64);
            (
                *epsg,
                Some([x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)]),
            )
        }
        Georeferencing::Embedded => unreachable!("an embedded georeferencing is not warped"),
    };
    args.extend(["-t_srs".to_owned(), format!("EPSG:{epsg}")]);
    if let Some([west, south, east, north]) = bbox {
        args.push("-te".to_owned());
        args.extend([west, south, east, north].iter().map(|v| format!("{v}")));
    }
    Ok(args)
}

/// Points per edge when projecting a box: enough to follow the curved edges of a UTM box in
/// EPSG:4326 to well under a pixel.
const DENSIFY: usize = 32;

/// The footprint when the report did not give one in EPSG:4326: the report's outline
/// projected to EPSG:4326.
fn footprint_of(
    georeferencing: &Georeferencing,
    placement: &Placement<'_>,
) -> Result<MultiPolygon<f64>, RasterError> {
    let (srs, ring) = match georeferencing {
        Georeferencing::Affine { epsg, .. } | Georeferencing::ControlPoints { epsg, .. } => {
            let outline = placement
                .geolocation
                .outline()
                .ok_or_else(|| RasterError::Georef("the geolocation has no outline".into()))?;
            (crate::crs::srs(*epsg)?, georef::to_xy(*epsg, outline)?)
        }
        Georeferencing::Embedded => unreachable!("an embedded georeferencing has no outline"),
    };
    project_ring(&srs, &densify(&ring, DENSIFY))
}

/// The outline of an image placed by its own geotransform `transform` (its four corners,
/// rotated or not) projected from its CRS to EPSG:4326.
fn image_outline(source: &Dataset, transform: &[f64; 6]) -> Result<MultiPolygon<f64>, RasterError> {
    let mut srs = source
        .spatial_ref()
        .map_err(|e| RasterError::Georef(format!("the image has no CRS: {e}")))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let (w, h) = source.raster_size();
    let (w, h) = (w as f64, h as f64);
    let ring: Vec<(f64, f64)> = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h), (0.0, 0.0)]
        .iter()
        .map(|&(column, row)| {
            (
                transform[0] + column * transform[1] + row * transform[2],
                transform[3] + column * transform[4] + row * transform[5],
            )
        })
        .collect();
    project_ring(&srs, &densify(&ring, DENSIFY))
}

/// Inserts `steps - 1` points into every edge of a closed ring.
pub(crate) fn densify(ring: &[(f64, f64)], steps: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(ring.len() * steps);
    for pair in ring.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        for i in 0..steps {
            let t = i as f64 / steps as f64;
            out.push((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t));
        }
    }
    if let Some(&last) = ring.last() {
        out.push(last);
    }
    out
}

/// Projects a closed x/y ring in `srs` to EPSG:4326 and makes it a footprint.
pub(crate) fn project_ring(
    srs: &SpatialRef,
    ring: &[(f64, f64)],
) -> Result<MultiPolygon<f64>, RasterError> {
    let wgs84 = crate::crs::srs(WGS84)?;
    let transform = CoordTransform::new(srs, &wgs84)
        .map_err(|e| RasterError::Georef(format!("no transformation to EPSG:4326: {e}")))?;
    let mut xs: Vec<f64> = ring.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = ring.iter().map(|p| p.1).collect();
    let mut zs = vec![0.0; ring.len()];
    transform
        .transform_coords(&mut xs, &mut ys, &mut zs)
        .map_err(|e| RasterError::Georef(format!("projecting the outline to EPSG:4326: {e}")))?;
    let lon_lat: Vec<(f64, f64)> = xs.into_iter().zip(ys).collect();
    footprint_from_lon_lat(&lon_lat)
        .map_err(|e| RasterError::Georef(format!("the projected outline: {e}")))
}
