//! Two versions of one product merged into one COG (a collection's strategy `merge`, as
//! ngEO's): the new image composited over the one there, each drawn only inside its
//! footprint.
//!
//! 1. The grid: the CRS of the version there, the union of both rasters' boxes (the new one's
//!    as GDAL projects it into that CRS) and the finer of their resolutions.
//! 2. `gdalwarp` of the version there onto that grid, cut by its footprint (`-cutline`), with
//!    an alpha band: transparent outside its footprint and where it had no data.
//! 3. `gdalwarp` of the new version into the same file, cut by its footprint: where it has
//!    data inside its footprint it covers the old one; elsewhere the old one stays.
//! 4. The result written as a COG with the collection's options, as [`crate::convert`]
//!    writes them; the footprint is the union of both.

use std::path::{Path, PathBuf};

use geo::{BooleanOps, LineString, MultiPolygon};

use crate::RasterError;
use crate::cog::{self, Description};
use crate::convert::{CogOptions, resampling};
use crate::gdal_app;

/// One version of a product: its raster and its footprint.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    /// The GDAL path of its raster.
    pub path: &'a str,
    /// Its footprint in EPSG:4326 (longitude/latitude).
    pub footprint: &'a MultiPolygon<f64>,
}

/// What [`merge`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// Size, bands, CRS, box and resolution of the COG.
    pub description: Description,
    /// The union of both footprints (EPSG:4326).
    pub footprint: MultiPolygon<f64>,
}

/// Composites `new` over `old` into a COG at `output` (see the module's description). Both
/// must have the same number of bands (an alpha band aside) of the same pixel type.
pub fn merge(
    old: Version<'_>,
    new: Version<'_>,
    output: &Path,
    options: &CogOptions,
) -> Result<Merged, RasterError> {
    let old_raster = crate::open(old.path)?;
    let new_raster = crate::open(new.path)?;
    let (old_bands, new_bands) = (data_bands(&old_raster)?, data_bands(&new_raster)?);
    if old_bands != new_bands {
        return Err(RasterError::Unsuitable(format!(
            "cannot merge an image of {new_bands} bands into one of {old_bands} bands"
        )));
    }
    let band_type = |raster: &gdal::Dataset| {
        raster
            .rasterband(1)
            .map(|band| band.band_type())
            .map_err(|e| RasterError::gdal("reading band 1", e))
    };
    let (old_type, new_type) = (band_type(&old_raster)?, band_type(&new_raster)?);
    if old_type != new_type {
        return Err(RasterError::Unsuitable(format!(
            "cannot merge an image of {new_type} pixels into one of {old_type} pixels"
        )));
    }
    let there = cog::describe(&old_raster)?;
    // The new raster as GDAL would place it in the old one's CRS (a VRT: nothing is read).
    let crs = vec!["-t_srs".to_owned(), there.crs.clone()];
    let probe = gdal_app::warp(
        &new_raster,
        "",
        &[&["-of".to_owned(), "VRT".to_owned()], &crs[..]].concat(),
    )?;
    let placed = cog::describe(&probe)?;
    drop(probe);
    let [x_resolution, y_resolution] =
        [0, 1].map(|i| there.resolution[i].min(placed.resolution[i]));
    let [west, south, east, north] = [
        there.bbox[0].min(placed.bbox[0]),
        there.bbox[1].min(placed.bbox[1]),
        there.bbox[2].max(placed.bbox[2]),
        there.bbox[3].max(placed.bbox[3]),
    ];
    // Whole pixels from the north-west corner (a span that is a whole number of pixels
    // but for rounding stays so).
    let pixels = |span: f64, resolution: f64| {
        let count = span / resolution;
        if (count - count.round()).abs() < 1e-6 {
            count.round()
        } else {
            count.ceil()
        }
    };
    let columns = pixels(east - west, x_resolution);
    let rows = pixels(north - south, y_resolution);
    let grid: Vec<String> = [
        "-te".to_owned(),
        west.to_string(),
        (north - rows * y_resolution).to_string(),
        (west + columns * x_resolution).to_string(),
        north.to_string(),
        "-tr".to_owned(),
        x_resolution.to_string(),
        y_resolution.to_string(),
    ]
    .into();

    let scratch = Scratch::new(output);
    let cut = |version: &Version<'_>, name: &str| -> Result<Vec<String>, RasterError> {
        let path = scratch.file(name);
        std::fs::write(&path, geojson(version.footprint)).map_err(|e| {
            RasterError::Unsuitable(format!("writing the cutline {}: {e}", path.display()))
        })?;
        Ok(vec![
            "-cutline".to_owned(),
            path.to_string_lossy().into_owned(),
            "-dstalpha".to_owned(),
            "-dstnodata".to_owned(),
            "None".to_owned(),
        ])
    };
    let composite_path = scratch.file("composite.tif");
    let mut first = cut(&old, "old.geojson")?;
    first.extend(
        [
            "-of",
            "GTiff",
            "-co",
            "TILED=YES",
            "-co",
            "BIGTIFF=IF_SAFER",
            "-r",
        ]
        .map(str::to_owned),
    );
    first.push(resampling(&old_raster).to_owned());
    first.extend(crs);
    first.extend(grid);
    let composite = gdal_app::warp(
        &old_raster,
        composite_path.to_str().ok_or_else(|| {
            RasterError::Unsuitable(format!("path {} is not UTF-8", composite_path.display()))
        })?,
        &first,
    )?;
    let mut second = cut(&new, "new.geojson")?;
    second.extend(["-r".to_owned(), resampling(&new_raster).to_owned()]);
    gdal_app::warp_into(&new_raster, &composite, &second)?;

    let output_path = output.to_str().ok_or_else(|| {
        RasterError::Unsuitable(format!("output path {} is not UTF-8", output.display()))
    })?;
    let written = gdal_app::translate(&composite, output_path, &options.translate_args())?;
    let description = cog::describe(&written)?;
    Ok(Merged {
        description,
        footprint: old.footprint.union(new.footprint),
    })
}

/// The bands of `raster` that are not its alpha band.
fn data_bands(raster: &gdal::Dataset) -> Result<usize, RasterError> {
    let count = raster.raster_count();
    let last = raster
        .rasterband(count)
        .map_err(|e| RasterError::gdal(format!("reading band {count}"), e))?;
    let alpha = last.color_interpretation() == gdal::raster::ColorInterpretation::AlphaBand;
    Ok(count - usize::from(alpha))
}

/// A footprint as a GeoJSON feature collection (longitude/latitude), for `-cutline`.
fn geojson(footprint: &MultiPolygon<f64>) -> String {
    let ring = |ring: &LineString<f64>| {
        let positions: Vec<String> = ring
            .coords()
            .map(|c| format!("[{},{}]", c.x, c.y))
            .collect();
        format!("[{}]", positions.join(","))
    };
    let polygons: Vec<String> = footprint
        .iter()
        .map(|polygon| {
            let rings: Vec<String> = std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .map(ring)
                .collect();
            format!("[{}]", rings.join(","))
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{}},"geometry":{{"type":"MultiPolygon","coordinates":[{}]}}}}]}}"#,
        polygons.join(",")
    )
}

/// Files written beside the output while merging, removed when done.
struct Scratch {
    prefix: PathBuf,
    files: std::cell::RefCell<Vec<PathBuf>>,
}

impl Scratch {
    fn new(output: &Path) -> Self {
        Self {
            prefix: output.to_path_buf(),
            files: Default::default(),
        }
    }

    /// `<output>.<name>`, removed with this.
    fn file(&self, name: &str) -> PathBuf {
        let mut path = self.prefix.clone().into_os_string();
        path.push(format!(".{name}"));
        let path = PathBuf::from(path);
        self.files.borrow_mut().push(path.clone());
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for file in self.files.get_mut().drain(..) {
            let _ = std::fs::remove_file(file);
        }
    }
}
