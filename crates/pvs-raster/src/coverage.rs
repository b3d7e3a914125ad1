//! Coverages for WCS: a COG's grid (size, geotransform, CRS, bands) and extracts of it
//! (a pixel window, optionally scaled and warped to another CRS) as GeoTIFF bytes.
//!
//! Everything here is blocking GDAL work: call it from a blocking thread.

use gdal::Dataset;
use gdal::raster::{ColorInterpretation, GdalDataType};
use gdal::spatial_ref::CoordTransform;

use crate::RasterError;
use crate::gdal_app;

/// One band of a coverage.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// A name unique in the coverage, an XML NCName: `red`, `green`, `blue`, `alpha`,
    /// `gray`, or `band<n>` (1-based).
    pub name: String,
    /// GDAL's data type name (`Byte`, `UInt16`, `Float32`...).
    pub data_type: String,
    /// The range of values the data type holds, for integer types.
    pub range: Option<(f64, f64)>,
    /// The nodata value, if set.
    pub nodata: Option<f64>,
}

/// The grid of a north-up raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// GDAL's geotransform, x/y in GDAL's traditional GIS order (longitude first):
    /// `[left, pixel width, 0, top, 0, -pixel height]`.
    pub transform: [f64; 6],
    /// EPSG code of the CRS.
    pub epsg: u32,
    /// The bands.
    pub bands: Vec<Band>,
}

impl Grid {
    /// `[min x, min y, max x, max y]` of the pixels' outer edges.
    pub fn bounds(&self) -> [f64; 4] {
        let t = &self.transform;
        [
            t[0],
            t[3] + t[5] * self.height as f64,
            t[0] + t[1] * self.width as f64,
            t[3],
        ]
    }
}

/// Reads the grid of the raster at `path` (a GDAL path). Refused: rotated or south-up
/// rasters, rasters whose CRS has no EPSG code.
pub fn describe(path: &str) -> Result<Grid, RasterError> {
    let dataset = crate::open(path)?;
    grid_of(&dataset)
}

fn grid_of(dataset: &Dataset) -> Result<Grid, RasterError> {
    let (width, height) = dataset.raster_size();
    if width == 0 || height == 0 || dataset.raster_count() == 0 {
        return Err(RasterError::Unsuitable(format!(
            "the raster has {} bands of {width} × {height} pixels",
            dataset.raster_count()
        )));
    }
    let transform = dataset
        .geo_transform()
        .map_err(|e| RasterError::Unsuitable(format!("the raster has no geotransform: {e}")))?;
    if transform[2] != 0.0 || transform[4] != 0.0 || transform[1] <= 0.0 || transform[5] >= 0.0 {
        return Err(RasterError::Unsuitable(format!(
            "the raster is not north-up (geotransform {transform:?})"
        )));
    }
    let crs = crate::cog::crs_name(dataset)?;
    let epsg = crs
        .strip_prefix("EPSG:")
        .and_then(|code| code.parse::<u32>().ok())
        .ok_or_else(|| RasterError::Unsuitable("the raster's CRS has no EPSG code".into()))?;
    let mut bands = Vec::with_capacity(dataset.raster_count());
    for index in 1..=dataset.raster_count() {
        let band = dataset
            .rasterband(index)
            .map_err(|e| RasterError::gdal(format!("reading band {index}"), e))?;
        let mut name = match band.color_interpretation() {
            ColorInterpretation::RedBand => "red".to_owned(),
            ColorInterpretation::GreenBand => "green".to_owned(),
            ColorInterpretation::BlueBand => "blue".to_owned(),
            ColorInterpretation::AlphaBand => "alpha".to_owned(),
            ColorInterpretation::GrayIndex => "gray".to_owned(),
            _ => format!("band{index}"),
        };
        if bands.iter().any(|b: &Band| b.name == name) {
            name = format!("band{index}");
        }
        let data_type = band.band_type();
        bands.push(Band {
            name,
            data_type: data_type.name(),
            range: integer_range(data_type),
            nodata: band.no_data_value(),
        });
    }
    Ok(Grid {
        width,
        height,
        transform,
        epsg,
        bands,
    })
}

fn integer_range(data_type: GdalDataType) -> Option<(f64, f64)> {
    match data_type {
        GdalDataType::UInt8 => Some((0.0, 255.0)),
        GdalDataType::UInt16 => Some((0.0, 65535.0)),
        GdalDataType::Int16 => Some((-32768.0, 32767.0)),
        GdalDataType::UInt32 => Some((0.0, 4_294_967_295.0)),
        GdalDataType::Int32 => Some((-2_147_483_648.0, 2_147_483_647.0)),
        _ => None,
    }
}

/// A window of whole pixels: column, row, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First column.
    pub col: usize,
    /// First row.
    pub row: usize,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl Window {
    /// The whole grid.
    pub fn all(grid: &Grid) -> Self {
        Self {
            col: 0,
            row: 0,
            width: grid.width,
            height: grid.height,
        }
    }

    /// The pixels of `grid` that `bbox` (`[min x, min y, max x, max y]` in the grid's CRS)
    /// touches, cut to the grid; `None` when it touches none. A box narrower than a pixel
    /// gives that pixel.
    pub fn covering(grid: &Grid, bbox: [f64; 4]) -> Option<Self> {
        let t = &grid.transform;
        let [x0, y0, x1, y1] = bbox;
        if !bbox.iter().all(|v| v.is_finite()) || x0 > x1 || y0 > y1 {
            return None;
        }
        let [left, bottom, right, top] = grid.bounds();
        if x1 < left || x0 > right || y1 < bottom || y0 > top {
            return None;
        }
        // Small tolerance: bounds that sit on pixel edges must not pull in a neighbour.
        const EPS: f64 = 1e-6;
        let span = |low: f64, high: f64, size: usize| {
            let size = size as f64;
            let first = (low + EPS).floor().clamp(0.0, size - 1.0);
            let last = (high - EPS).ceil().clamp(first + 1.0, size);
            (first as usize, (last - first) as usize)
        };
        let (col, width) = span((x0 - t[0]) / t[1], (x1 - t[0]) / t[1], grid.width);
        // Rows grow southwards: the top of the box is the first row.
        let (row, height) = span((y1 - t[3]) / t[5], (y0 - t[3]) / t[5], grid.height);
        Some(Self {
            col,
            row,
            width,
            height,
        })
    }
}

/// What to extract from a coverage.
#[derive(Debug, Clone, PartialEq)]
pub struct Extract {
    /// The source pixels.
    pub window: Window,
    /// Output size in pixels; `None` keeps the window's (or the warp's) size.
    pub size: Option<(usize, usize)>,
    /// Output CRS; `None` or the grid's keeps the pixels unresampled (unless scaled).
    pub epsg: Option<u32>,
}

/// Why an extract failed.
#[derive(Debug)]
pub enum ExtractError {
    /// The output would be larger than allowed: its size.
    TooLarge {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// GDAL failed.
    Raster(RasterError),
}

impl From<RasterError> for ExtractError {
    fn from(error: RasterError) -> Self {
        ExtractError::Raster(error)
    }
}

/// Extracts `request` from the raster at `path` as a GeoTIFF (deflate, tiled), refusing an
/// output over `max_side` pixels on a side before any pixel is read.
pub fn extract(path: &str, request: &Extract, max_side: usize) -> Result<Vec<u8>, ExtractError> {
    let dataset = crate::open(path)?;
    let grid = grid_of(&dataset)?;
    let w = request.window;
    if w.width == 0
        || w.height == 0
        || w.col + w.width > grid.width
        || w.row + w.height > grid.height
    {
        return Err(RasterError::Unsuitable(format!(
            "window {w:?} is not inside the {} × {} raster",
            grid.width, grid.height
        ))
        .into());
    }
    let window = gdal_app::translate(
        &dataset,
        "",
        &strings(&[
            "-of",
            "VRT",
            "-srcwin",
            &w.col.to_string(),
            &w.row.to_string(),
            &w.width.to_string(),
            &w.height.to_string(),
        ]),
    )?;
    let reprojected = match request.epsg {
        Some(epsg) if epsg != grid.epsg => {
            let has_alpha = grid.bands.last().is_some_and(|b| b.name == "alpha");
            let mut args = strings(&[
                "-of",
                "VRT",
                "-t_srs",
                &format!("EPSG:{epsg}"),
                "-r",
                "bilinear",
            ]);
            if !has_alpha && grid.bands.iter().all(|b| b.nodata.is_none()) {
                args.push("-dstalpha".into());
            }
            Some(gdal_app::warp(&window, "", &args)?)
        }
        _ => None,
    };
    let source = reprojected.as_ref().unwrap_or(&window);
    let (width, height) = request.size.unwrap_or(source.raster_size());
    if width > max_side || height > max_side {
        return Err(ExtractError::TooLarge { width, height });
    }
    let path = format!(
        "/vsimem/pvs-coverage-{}-{:?}.tif",
        std::process::id(),
        std::thread::current().id()
    );
    let mut args = strings(&[
        "-of",
        "GTiff",
        "-co",
        "COMPRESS=DEFLATE",
        "-co",
        "TILED=YES",
    ]);
    if request.size.is_some() {
        args.extend(strings(&[
            "-outsize",
            &width.to_string(),
            &height.to_string(),
            "-r",
            "average",
        ]));
    }
    let written = gdal_app::translate(source, &path, &args)?;
    drop(written);
    let bytes = gdal::vsi::get_vsi_mem_file_bytes_owned(&path)
        .map_err(|e| RasterError::gdal("reading the GeoTIFF back", e));
    let _ = gdal::vsi::unlink_mem_file(&path);
    Ok(bytes?)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Transforms `bbox` (`[min x, min y, max x, max y]`, x/y in GDAL's traditional GIS order)
/// from `EPSG:<from>` to `EPSG:<to>`: the box enclosing the transformed edges.
pub fn transform_bounds(from: u32, to: u32, bbox: [f64; 4]) -> Result<[f64; 4], RasterError> {
    if from == to {
        return Ok(bbox);
    }
    let transform = CoordTransform::new(&crate::crs::srs(from)?, &crate::crs::srs(to)?)
        .map_err(|e| RasterError::gdal(format!("EPSG:{from} to EPSG:{to}"), e))?;
    let out = transform
        .transform_bounds(&bbox, 21)
        .map_err(|e| RasterError::gdal(format!("transforming {bbox:?}"), e))?;
    if out.iter().all(|v| v.is_finite()) {
        Ok(out)
    } else {
        Err(RasterError::Unsuitable(format!(
            "{bbox:?} in EPSG:{from} has no finite extent in EPSG:{to}"
        )))
    }
}

/// How `EPSG:<epsg>` names and orders its axes, for WCS: `(labels, units, swapped)` with the
/// labels and units in the CRS's own axis order (`Lat Long`, `deg deg` for EPSG:4326;
/// `E N`, `m m` for UTM; `N E` for EPSG:3035), and whether that order is y first.
pub fn axes(epsg: u32) -> Result<([&'static str; 2], [&'static str; 2], bool), RasterError> {
    let crate::crs::Axes {
        y_first: swapped,
        geographic,
    } = crate::crs::axes(epsg)?;
    let (labels, units) = if geographic {
        (["Long", "Lat"], ["deg", "deg"])
    } else {
        (["E", "N"], ["m", "m"])
    };
    Ok(if swapped {
        ([labels[1], labels[0]], [units[1], units[0]], true)
    } else {
        (labels, units, false)
    })
}

/// Whether `EPSG:<epsg>` is geographic (false when GDAL does not know it).
pub fn is_geographic(epsg: u32) -> bool {
    crate::crs::axes(epsg).is_ok_and(|axes| axes.geographic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid {
            width: 100,
            height: 50,
            transform: [10.0, 0.1, 0.0, 50.0, 0.0, -0.1],
            epsg: 4326,
            bands: vec![],
        }
    }

    #[test]
    fn windows_cover_whole_pixels() {
        let g = grid();
        assert_eq!(g.bounds(), [10.0, 45.0, 20.0, 50.0]);
        assert_eq!(Window::covering(&g, g.bounds()), Some(Window::all(&g)));
        assert_eq!(
            Window::covering(&g, [11.0, 46.0, 12.0, 47.0]),
            Some(Window {
                col: 10,
                row: 30,
                width: 10,
                height: 10
            })
        );
        // Inside one pixel: that pixel.
        assert_eq!(
            Window::covering(&g, [11.01, 46.01, 11.02, 46.02]),
            Some(Window {
                col: 10,
                row: 39,
                width: 1,
                height: 1
            })
        );
        // Partly outside: cut to the grid.
        assert_eq!(
            Window::covering(&g, [0.0, 0.0, 10.5, 90.0]),
            Some(Window {
                col: 0,
                row: 0,
                width: 5,
                height: 50
            })
        );
        for outside in [
            [0.0, 0.0, 1.0, 1.0],
            [21.0, 46.0, 22.0, 47.0],
            [12.0, 46.0, 11.0, 47.0],
            [f64::NAN, 46.0, 11.0, 47.0],
        ] {
            assert_eq!(Window::covering(&g, outside), None, "{outside:?}");
        }
    }

    #[test]
    fn axis_labels_follow_the_epsg_order() {
        assert_eq!(axes(4326).unwrap(), (["Lat", "Long"], ["deg", "deg"], true));
        assert_eq!(axes(32633).unwrap(), (["E", "N"], ["m", "m"], false));
        assert_eq!(axes(3035).unwrap(), (["N", "E"], ["m", "m"], true));
        assert!(is_geographic(4326) && !is_geographic(32633));
    }
}
