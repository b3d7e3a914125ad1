//! Mosaics for map requests: the COGs of a layer warped into one view (CRS, box, size) and
//! composited newest on top, each product's transparency honoured, and the image encoded.
//!
//! GDAL picks the overview matching the output resolution, so only the needed part of the
//! needed level is read (range reads for `/vsis3/` and `/vsicurl/` paths). Rendering stops as
//! soon as every pixel is opaque.

use gdal::raster::{Buffer, ColorInterpretation};
use gdal::{Dataset, DriverManager};

use crate::RasterError;
use crate::gdal_app;
use crate::style::Style;

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

    /// Draws `top` under the pixels that are not opaque yet ("destination over"): what is
    /// already drawn (newer products) stays on top.
    fn draw_under(&mut self, top: &Rgba) {
        for (dst, src) in self
            .pixels
            .chunks_exact_mut(4)
            .zip(top.pixels.chunks_exact(4))
        {
            let dst_alpha = u32::from(dst[3]);
            if dst_alpha == 255 || src[3] == 0 {
                continue;
            }
            let src_alpha = u32::from(src[3]) * (255 - dst_alpha) / 255;
            let out_alpha = dst_alpha + src_alpha;
            for c in 0..3 {
                let blended =
                    (u32::from(dst[c]) * dst_alpha + u32::from(src[c]) * src_alpha) / out_alpha;
                dst[c] = blended as u8;
            }
            dst[3] = out_alpha as u8;
        }
    }
}

/// Renders `sources` (GDAL paths of COGs, newest first) into `view`, drawn with `style`.
///
/// A source in EPSG:4326 whose longitudes run past 180° (an antimeridian product, see
/// [`crate::convert`]) shows on both sides of the antimeridian: GDAL's warper wraps
/// geographic longitudes itself (tested).
pub fn mosaic(sources: &[String], view: &View, style: &Style) -> Result<Rgba, RasterError> {
    check_view(view)?;
    let mut image = Rgba::transparent(view.width, view.height);
    for path in sources {
        let dataset = crate::open(path)?;
        let warped = warp_into(&dataset, view)?;
        image.draw_under(&to_rgba(&warped, view.width, view.height, style)?);
        if image.is_opaque() {
            break;
        }
    }
    Ok(image)
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

/// Warps one dataset into the view, keeping its data type and adding an alpha band (0 or
/// 255) when it has none.
fn warp_into(dataset: &Dataset, view: &View) -> Result<Dataset, RasterError> {
    let [x0, y0, x1, y1] = view.bbox;
    let mut args: Vec<String> = vec![
        "-of".into(),
        "MEM".into(),
        "-t_srs".into(),
        format!("EPSG:{}", view.epsg),
        "-te".into(),
    ];
    args.extend([x0, y0, x1, y1].iter().map(|v| format!("{v}")));
    args.extend([
        "-ts".into(),
        view.width.to_string(),
        view.height.to_string(),
        "-r".into(),
        "bilinear".into(),
        "-wo".into(),
        "SAMPLE_GRID=YES".into(),
    ]);
    let has_alpha = dataset
        .rasterband(dataset.raster_count())
        .is_ok_and(|b| b.color_interpretation() == ColorInterpretation::AlphaBand);
    // Without an alpha band, GDAL turns a mask or nodata into the new alpha band.
    if !has_alpha {
        args.extend(["-dstalpha".into(), "-wo".into(), "DST_ALPHA_MAX=255".into()]);
    }
    gdal_app::warp(dataset, "", &args)
}

/// Reads a warped dataset (its last band alpha) as RGBA with `style`. Without a band
/// selection, one or two colour bands are drawn as grey and three or more as RGB.
fn to_rgba(
    dataset: &Dataset,
    width: usize,
    height: usize,
    style: &Style,
) -> Result<Rgba, RasterError> {
    let count = dataset.raster_count();
    if count < 2 {
        return Err(RasterError::Unsuitable(
            "a warped image without colour bands".into(),
        ));
    }
    let data_bands = count - 1;
    let selected: Vec<usize> = match &style.bands {
        Some(bands) => bands.iter().map(|b| *b as usize).collect(),
        None if data_bands < 3 => vec![1],
        None => vec![1, 2, 3],
    };
    if let Some(missing) = selected.iter().find(|b| **b > data_bands) {
        return Err(RasterError::Unsuitable(format!(
            "band {missing} is asked for, but the raster has {data_bands} data band(s)"
        )));
    }
    let alpha: Vec<u8> = read_band(dataset, count, width, height)?;
    let mut pixels = Vec::with_capacity(width * height * 4);
    if style.is_plain() {
        let bands: Vec<Vec<u8>> = selected
            .iter()
            .map(|b| read_band(dataset, *b, width, height))
            .collect::<Result<_, _>>()?;
        for i in 0..width * height {
            let colour = match bands.as_slice() {
                [grey] => [grey[i]; 3],
                _ => [bands[0][i], bands[1][i], bands[2][i]],
            };
            pixels.extend([colour[0], colour[1], colour[2], alpha[i]]);
        }
    } else {
        let bands: Vec<Vec<f64>> = selected
            .iter()
            .map(|b| read_band(dataset, *b, width, height))
            .collect::<Result<_, _>>()?;
        let mut values = vec![0.0; bands.len()];
        for i in 0..width * height {
            for (value, band) in values.iter_mut().zip(&bands) {
                *value = band[i];
            }
            let colour = style.colour(&values);
            pixels.extend([colour[0], colour[1], colour[2], alpha[i]]);
        }
    }
    Ok(Rgba {
        width,
        height,
        pixels,
    })
}

/// One band, converted by GDAL to `T` (saturating for bytes).
fn read_band<T: gdal::raster::GdalType + Copy>(
    dataset: &Dataset,
    index: usize,
    width: usize,
    height: usize,
) -> Result<Vec<T>, RasterError> {
    let band = dataset
        .rasterband(index)
        .map_err(|e| RasterError::gdal(format!("reading band {index}"), e))?;
    let buffer: Buffer<T> = band
        .read_as((0, 0), (width, height), (width, height), None)
        .map_err(|e| RasterError::gdal(format!("reading band {index}"), e))?;
    Ok(buffer.into_shape_and_vec().1)
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
