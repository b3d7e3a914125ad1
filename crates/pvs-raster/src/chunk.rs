//! Pieces of a pre-drawn map in EPSG:4326 (the renderer's overview mosaics): an RGBA image of
//! a longitude/latitude box written as a GeoTIFF that [`crate::render::mosaic`] draws like
//! any product, read back, and four pieces shrunk into the one covering all four.

use gdal::raster::{Buffer, ColorInterpretation};
use gdal::{Dataset, DriverManager};

use crate::RasterError;
use crate::crs::srs;
use crate::render::{Rgba, in_memory};

/// Writes `image`, covering `bbox` (west, south, east, north in degrees), to `path` as a
/// tiled, deflated GeoTIFF in EPSG:4326 with an alpha band.
pub fn write(image: &Rgba, bbox: [f64; 4], path: &str) -> Result<(), RasterError> {
    let [west, south, east, north] = bbox;
    let mut dataset = in_memory(image, 4)?;
    dataset
        .set_geo_transform(&[
            west,
            (east - west) / image.width as f64,
            0.0,
            north,
            0.0,
            -(north - south) / image.height as f64,
        ])
        .map_err(|e| RasterError::gdal("placing the piece", e))?;
    dataset
        .set_spatial_ref(&srs(4326)?)
        .map_err(|e| RasterError::gdal("placing the piece", e))?;
    let driver = DriverManager::get_driver_by_name("GTiff")
        .map_err(|e| RasterError::gdal("the GTiff driver", e))?;
    let options: gdal::cpl::CslStringList = ["TILED=YES", "COMPRESS=DEFLATE", "ZLEVEL=1"]
        .into_iter()
        .collect();
    dataset
        .create_copy(&driver, path, &options)
        .map_err(|e| RasterError::gdal(format!("writing {path}"), e))?;
    Ok(())
}

/// Reads back the RGBA image [`write`] wrote to `path`.
pub fn read(path: &str) -> Result<Rgba, RasterError> {
    let dataset =
        Dataset::open(path).map_err(|e| RasterError::gdal(format!("opening {path}"), e))?;
    let (width, height) = dataset.raster_size();
    if dataset.raster_count() != 4 {
        return Err(RasterError::Unsuitable(format!(
            "{path}: {} bands, not RGBA",
            dataset.raster_count()
        )));
    }
    let mut image = Rgba::transparent(width, height);
    for index in 0..4 {
        let band = dataset
            .rasterband(index + 1)
            .map_err(|e| RasterError::gdal(format!("reading {path}"), e))?;
        if index == 3 && band.color_interpretation() != ColorInterpretation::AlphaBand {
            return Err(RasterError::Unsuitable(format!("{path}: no alpha band")));
        }
        let buffer: Buffer<u8> = band
            .read_as((0, 0), (width, height), (width, height), None)
            .map_err(|e| RasterError::gdal(format!("reading {path}"), e))?;
        for (pixel, value) in image.pixels.chunks_exact_mut(4).zip(buffer.data()) {
            pixel[index] = *value;
        }
    }
    Ok(image)
}

/// The image of `size` × `size` pixels covering four pieces of that size (`[[north-west,
/// north-east], [south-west, south-east]]`; `None`: transparent), each 2 × 2 pixels averaged
/// weighted by their alpha (a transparent pixel lends no colour).
pub fn shrink(pieces: &[[Option<&Rgba>; 2]; 2], size: usize) -> Result<Rgba, RasterError> {
    let mut out = Rgba::transparent(size, size);
    let half = size / 2;
    for (row, pieces) in pieces.iter().enumerate() {
        for (column, piece) in pieces.iter().enumerate() {
            let Some(piece) = piece else { continue };
            if piece.width != size || piece.height != size {
                return Err(RasterError::Unsuitable(format!(
                    "a piece of {} × {} pixels, not {size} × {size}",
                    piece.width, piece.height
                )));
            }
            for y in 0..half {
                for x in 0..half {
                    let mut sums = [0u32; 4];
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        let [r, g, b, a] = piece.pixel(2 * x + dx, 2 * y + dy);
                        let a32 = u32::from(a);
                        sums[0] += u32::from(r) * a32;
                        sums[1] += u32::from(g) * a32;
                        sums[2] += u32::from(b) * a32;
                        sums[3] += a32;
                    }
                    if sums[3] == 0 {
                        continue;
                    }
                    let at = ((row * half + y) * size + column * half + x) * 4;
                    for channel in 0..3 {
                        out.pixels[at + channel] = ((sums[channel] + sums[3] / 2) / sums[3]) as u8;
                    }
                    out.pixels[at + 3] = ((sums[3] + 2) / 4) as u8;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(size: usize, pixel: [u8; 4]) -> Rgba {
        let mut image = Rgba::transparent(size, size);
        for p in image.pixels.chunks_exact_mut(4) {
            p.copy_from_slice(&pixel);
        }
        image
    }

    #[test]
    fn a_piece_is_read_back_as_written_and_placed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("piece.tif");
        let path = path.to_str().unwrap();
        let mut image = filled(8, [10, 20, 30, 255]);
        image.pixels[0..4].copy_from_slice(&[0, 0, 0, 0]);
        write(&image, [10.0, 40.0, 12.0, 42.0], path).unwrap();
        assert_eq!(read(path).unwrap(), image);
        let dataset = Dataset::open(path).unwrap();
        assert_eq!(
            dataset.geo_transform().unwrap(),
            [10.0, 0.25, 0.0, 42.0, 0.0, -0.25]
        );
    }

    #[test]
    fn shrinking_averages_by_alpha_and_places_the_quadrants() {
        let red = filled(4, [255, 0, 0, 255]);
        let mut half_blue = filled(4, [0, 0, 255, 255]);
        // A transparent pixel in each 2 × 2 block lends no colour, only less alpha.
        for y in (0..4).step_by(2) {
            for x in (0..4).step_by(2) {
                let at = (y * 4 + x) * 4;
                half_blue.pixels[at..at + 4].copy_from_slice(&[255, 255, 255, 0]);
            }
        }
        let out = shrink(&[[Some(&red), None], [None, Some(&half_blue)]], 4).unwrap();
        assert_eq!(out.pixel(0, 0), [255, 0, 0, 255]);
        assert_eq!(out.pixel(1, 1), [255, 0, 0, 255]);
        assert_eq!(out.pixel(3, 0), [0, 0, 0, 0], "no north-east piece");
        assert_eq!(out.pixel(0, 3), [0, 0, 0, 0], "no south-west piece");
        assert_eq!(out.pixel(3, 3), [0, 0, 255, 191]);
        assert!(shrink(&[[Some(&filled(2, [0; 4])), None], [None, None]], 4).is_err());
    }
}
