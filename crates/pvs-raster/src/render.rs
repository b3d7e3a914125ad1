//! Mosaics for map requests: the COGs of a layer warped into one view (CRS, box, size) and
//! composited newest on top, each product's transparency honoured and each drawn only
//! inside its footprint, and the image encoded.
//!
//! Only the needed part of the overview matching the output resolution is read (range reads
//! for `/vsis3/` and `/vsicurl/` paths). Rendering stops as soon as every pixel is opaque.

use gdal::DriverManager;
use gdal::raster::{Buffer, ColorInterpretation};
use geo::MultiPolygon;

use crate::pool::Pool;
use crate::style::Style;
use crate::{RasterError, clip, resample};

/// Largest output side accepted (the renderer caps requests lower).
pub const MAX_SIDE: usize = 16_384;

/// What a map request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// EPSG code of the output CRS.
    pub epsg: u32,
    /// `[min x, min y, max x, max y]` in the CRS, x/y in GDAL's traditional GIS order
    /// (longitude first for EPSG:4326).
    pub bbox: [f64; 4],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// An RGBA image, rows from the top, 4 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width × height × 4` bytes.
    pub pixels: Vec<u8>,
}

impl Rgba {
    /// A fully transparent image.
    pub fn transparent(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![0; width * height * 4],
        }
    }

    /// Whether every pixel is opaque.
    pub fn is_opaque(&self) -> bool {
        self.pixels.chunks_exact(4).all(|p| p[3] == 255)
    }

    /// The pixel at column `x`, row `y`.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 4] {
        let i = (y * self.width + x) * 4;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }

    /// Draws `top` (of the same size) over this image ("source over"): where it is opaque it
    /// hides what is here, where it is transparent this image shows.
    pub fn overlay(&mut self, top: &Rgba) {
        debug_assert_eq!((self.width, self.height), (top.width, top.height));
        for (under, over) in self
            .pixels
            .chunks_exact_mut(4)
            .zip(top.pixels.chunks_exact(4))
        {
            let top_alpha = u32::from(over[3]);
            if top_alpha == 0 {
                continue;
            }
            let under_alpha = u32::from(under[3]) * (255 - top_alpha) / 255;
            let alpha = top_alpha + under_alpha;
            for (value, top) in under[..3].iter_mut().zip(&over[..3]) {
                *value =
                    ((u32::from(*top) * top_alpha + u32::from(*value) * under_alpha) / alpha) as u8;
            }
            under[3] = alpha as u8;
        }
    }

    /// Lays the image on an opaque `background` colour (RGB): every pixel becomes opaque.
    pub fn flatten(&mut self, background: [u8; 3]) {
        for pixel in self.pixels.chunks_exact_mut(4) {
            let alpha = u32::from(pixel[3]);
            for (value, back) in pixel[..3].iter_mut().zip(background) {
                *value =
                    ((u32::from(*value) * alpha + u32::from(back) * (255 - alpha)) / 255) as u8;
            }
            pixel[3] = 255;
        }
    }
}

/// One product of a [`mosaic`]: its raster and where it may show.
#[derive(Debug, Clone, PartialEq)]
pub struct MosaicSource {
    /// The GDAL path of its COG.
    pub path: String,
    /// Its footprint in EPSG:4326 (longitude/latitude, split at the antimeridian, as the
    /// catalog keeps it): only the output pixels whose centre lies inside are drawn.
    /// `None`: wherever the raster has valid pixels.
    pub footprint: Option<MultiPolygon<f64>>,
    /// Which version of the file at `path` is meant (e.g. a digest of the product's catalog
    /// record): when it changes, the datasets kept open for `path` and what GDAL cached of a
    /// remote file there are dropped, so a product replaced under the same key on object
    /// storage is read anew (see [`crate::pool`]). `None`: the file's size and time tell.
    pub version: Option<String>,
}

impl MosaicSource {
    /// The COG at `path`, drawn only inside `footprint`.
    pub fn new(path: impl Into<String>, footprint: MultiPolygon<f64>) -> Self {
        Self {
            path: path.into(),
            footprint: Some(footprint),
            version: None,
        }
    }

    /// The same source, naming the version of its file (see [`MosaicSource::version`]).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The COG at `path`, drawn wherever it has valid pixels.
    pub fn unclipped(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            footprint: None,
            version: None,
        }
    }
}

/// Renders `sources` (newest first) into `view`, drawn with `style`.
///
/// Each product is drawn only inside its footprint (see [`crate::clip`]), under what newer
/// ones already cover, reading only the part of the right overview that the pixels still to
/// draw need (see [`crate::resample`]); a product whose footprint holds no pixel still to
/// draw is not even opened. Rendering stops once every pixel is opaque. A source in EPSG:4326
/// whose longitudes run past 180° (an antimeridian product, see [`crate::convert`]) shows on
/// both sides of the antimeridian. Datasets stay open between calls (see [`crate::pool`]).
pub fn mosaic(sources: &[MosaicSource], view: &View, style: &Style) -> Result<Rgba, RasterError> {
    check_view(view)?;
    let mut image = Rgba::transparent(view.width, view.height);
    let mut lon_lat = None;
    let mut inside = Vec::new();
    for source in sources {
        let path = &source.path;
        let clipped = match &source.footprint {
            None => None,
            Some(footprint) => {
                let lon_lat = match &lon_lat {
                    Some(lon_lat) => lon_lat,
                    None => lon_lat.insert(clip::LonLat::new(view)?),
                };
                let footprint = clip::Footprint::new(footprint);
                match clip::inside(lon_lat, &footprint, &image, &mut inside) {
                    clip::Coverage::All => None,
                    clip::Coverage::Nothing => continue,
                    clip::Coverage::Some => Some(inside.as_slice()),
                }
            }
        };
        let dataset = DATASETS.take(path, source.version.as_deref())?;
        resample::draw_under(&mut image, &dataset, view, style, clipped)
            .map_err(|e| in_file(e, path))?;
        if image.is_opaque() {
            break;
        }
    }
    Ok(image)
}

/// The open datasets of [`mosaic`], shared by every thread.
static DATASETS: Pool = Pool::new(32);

/// `error`, naming the file it comes from.
fn in_file(error: RasterError, path: &str) -> RasterError {
    match error {
        RasterError::Unsuitable(reason) => RasterError::Unsuitable(format!("{path}: {reason}")),
        RasterError::Gdal { operation, reason } => RasterError::Gdal {
            operation: format!("{operation} of {path}"),
            reason,
        },
        other => other,
    }
}

pub(crate) fn check_view(view: &View) -> Result<(), RasterError> {
    let [x0, y0, x1, y1] = view.bbox;
    if !view.bbox.iter().all(|v| v.is_finite()) || x0 >= x1 || y0 >= y1 {
        return Err(RasterError::Unsuitable(format!(
            "the box {:?} is empty or not finite",
            view.bbox
        )));
    }
    if view.width == 0 || view.height == 0 || view.width > MAX_SIDE || view.height > MAX_SIDE {
        return Err(RasterError::Unsuitable(format!(
            "an image of {} × {} pixels (1 to {MAX_SIDE} on a side)",
            view.width, view.height
        )));
    }
    Ok(())
}

/// Output formats of map images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `image/png`, with transparency.
    Png,
    /// `image/jpeg`, flattened on the background colour.
    Jpeg,
    /// `image/webp`, with transparency.
    Webp,
}

impl Format {
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }

    fn driver(self) -> &'static str {
        match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Webp => "WEBP",
        }
    }
}

/// Encodes `image` as `format`; JPEG has no transparency, so the image is first laid on
/// `background` (RGB).
pub fn encode(image: &Rgba, format: Format, background: [u8; 3]) -> Result<Vec<u8>, RasterError> {
    let flat;
    let (image, bands) = if format == Format::Jpeg {
        let mut copy = image.clone();
        copy.flatten(background);
        flat = copy;
        (&flat, 3)
    } else {
        (image, 4)
    };
    let dataset = in_memory(image, bands)?;
    let driver = DriverManager::get_driver_by_name(format.driver())
        .map_err(|e| RasterError::gdal(format!("the {} driver", format.driver()), e))?;
    let path = format!(
        "/vsimem/pvs-render-{}-{:?}.{}",
        std::process::id(),
        std::thread::current().id(),
        format.driver().to_lowercase()
    );
    let options = match format {
        Format::Jpeg => vec!["QUALITY=85"],
        Format::Webp => vec!["QUALITY=85"],
        // Deflate level 1: about 7 times faster than level 6 on map tiles, for files about
        // 13% larger (benches/README.md).
        Format::Png => vec!["ZLEVEL=1"],
    };
    let options: gdal::cpl::CslStringList = options.into_iter().collect();
    let written = dataset
        .create_copy(&driver, &path, &options)
        .map_err(|e| RasterError::gdal(format!("encoding {}", format.mime()), e))?;
    drop(written);
    let bytes = gdal::vsi::get_vsi_mem_file_bytes_owned(&path)
        .map_err(|e| RasterError::gdal("reading the encoded image", e))?;
    let _ = gdal::vsi::unlink_mem_file(&path);
    Ok(bytes)
}

/// `image` as a GDAL dataset in memory: its first `bands` channels (3: RGB, 4: RGBA with an
/// alpha band).
pub(crate) fn in_memory(image: &Rgba, bands: usize) -> Result<gdal::Dataset, RasterError> {
    let mem = DriverManager::get_driver_by_name("MEM")
        .map_err(|e| RasterError::gdal("the MEM driver", e))?;
    let dataset = mem
        .create_with_band_type::<u8, _>("", image.width, image.height, bands)
        .map_err(|e| RasterError::gdal("creating the image", e))?;
    for band_index in 0..bands {
        let values: Vec<u8> = image
            .pixels
            .chunks_exact(4)
            .map(|p| p[band_index])
            .collect();
        let mut buffer = Buffer::new((image.width, image.height), values);
        let mut band = dataset
            .rasterband(band_index + 1)
            .map_err(|e| RasterError::gdal("writing the image", e))?;
        band.write((0, 0), (image.width, image.height), &mut buffer)
            .map_err(|e| RasterError::gdal("writing the image", e))?;
        if bands == 4 && band_index == 3 {
            band.set_color_interpretation(ColorInterpretation::AlphaBand)
                .map_err(|e| RasterError::gdal("writing the image", e))?;
        }
    }
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_is_source_over() {
        let mut under = Rgba {
            width: 3,
            height: 1,
            pixels: vec![10, 20, 30, 255, 10, 20, 30, 255, 0, 0, 0, 0],
        };
        let top = Rgba {
            width: 3,
            height: 1,
            pixels: vec![200, 100, 0, 255, 200, 100, 0, 0, 200, 100, 0, 51],
        };
        under.overlay(&top);
        assert_eq!(under.pixel(0, 0), [200, 100, 0, 255], "opaque hides");
        assert_eq!(under.pixel(1, 0), [10, 20, 30, 255], "transparent shows");
        assert_eq!(under.pixel(2, 0), [200, 100, 0, 51], "over nothing");
    }
}
