//! From a browse's geolocation to GDAL georeferencing: a geotransform, ground control points
//! or the image's own, in x/y (easting/northing, longitude/latitude) order.

use gdal::spatial_ref::SpatialRef;
use pvs_model::{Geolocation, ReferenceSystem};

use crate::RasterError;

/// EPSG:4326.
pub const WGS84: u32 = 4326;

/// A ground control point: pixel position (0 0 = top-left corner of the top-left pixel) and
/// its coordinates, x/y in GDAL's traditional GIS order (longitude first for EPSG:4326).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlPoint {
    /// Pixel column.
    pub pixel: f64,
    /// Pixel row.
    pub line: f64,
    /// Easting or longitude.
    pub x: f64,
    /// Northing or latitude.
    pub y: f64,
}

/// How the image is placed on the Earth, ready for GDAL.
#[derive(Debug, Clone, PartialEq)]
pub enum Georeferencing {
    /// An affine transform in `EPSG:<epsg>` (GDAL's order: origin x, pixel width, row
    /// rotation, origin y, column rotation, pixel height). North-up when the pixel height is
    /// negative; a mirrored image has a positive one (or a negative pixel width).
    Affine {
        /// EPSG code.
        epsg: u32,
        /// The geotransform.
        transform: [f64; 6],
    },
    /// Tie points in `EPSG:<epsg>`, to be warped (thin plate spline, exact at the points).
    /// Geographic longitudes are unwrapped to be continuous, so a set crossing the
    /// antimeridian has longitudes beyond ±180 rather than a jump of 360°.
    ControlPoints {
        /// EPSG code.
        epsg: u32,
        /// The points.
        points: Vec<ControlPoint>,
    },
    /// `modelInGeotiff`: the image's own georeferencing.
    Embedded,
}

impl Georeferencing {
    /// The georeferencing of an image of `width` × `height` pixels with `geolocation` in
    /// `reference_system`.
    pub fn new(
        geolocation: &Geolocation,
        reference_system: ReferenceSystem,
        width: u32,
        height: u32,
    ) -> Result<Self, RasterError> {
        if let Geolocation::ModelInGeotiff = geolocation {
            return Ok(Georeferencing::Embedded);
        }
        let ReferenceSystem::Epsg(epsg) = reference_system else {
            return Err(RasterError::Georef(
                "reference system RAW is only allowed with modelInGeotiff".into(),
            ));
        };
        let order = AxisOrder::of(epsg)?;
        match geolocation {
            Geolocation::Rectified { ll, ur } => {
                let (ll, ur) = (order.to_xy(*ll), order.to_xy(*ur));
                let (w, h) = (f64::from(width), f64::from(height));
                if ll.0 == ur.0 || ll.1 == ur.1 {
                    return Err(RasterError::Georef(format!(
                        "rectified corners {ll:?} and {ur:?} enclose no area"
                    )));
                }
                Ok(Georeferencing::Affine {
                    epsg,
                    transform: [ll.0, (ur.0 - ll.0) / w, 0.0, ur.1, 0.0, (ll.1 - ur.1) / h],
                })
            }
            Geolocation::Footprint { .. } | Geolocation::RegularGrid { .. } => {
                let mut points: Vec<ControlPoint> = geolocation
                    .tie_points(width, height)
                    .into_iter()
                    .map(|tie| {
                        let (x, y) = order.to_xy(tie.coords);
                        ControlPoint {
                            pixel: tie.column,
                            line: tie.row,
                            x,
                            y,
                        }
                    })
                    .collect();
                if points.len() < 3 {
                    return Err(RasterError::Georef(format!(
                        "{} tie points; at least 3 are needed",
                        points.len()
                    )));
                }
                // Grids may overshoot the image by up to one step (Sentinel-1 browses): such
                // nodes are clamped onto the border, as ngEO's `regular_grid_clipping` does.
                let slack = match geolocation {
                    Geolocation::RegularGrid {
                        col_step, row_step, ..
                    } => col_step.max(*row_step),
                    _ => 1.0,
                };
                let (w, h) = (f64::from(width), f64::from(height));
                for point in &mut points {
                    let inside = (-slack..=w + slack).contains(&point.pixel)
                        && (-slack..=h + slack).contains(&point.line);
                    if !inside {
                        return Err(RasterError::Georef(format!(
                            "tie point at pixel ({}, {}) lies outside the {width} × {height} image",
                            point.pixel, point.line
                        )));
                    }
                    point.pixel = point.pixel.clamp(0.0, w);
                    point.line = point.line.clamp(0.0, h);
                }
                if order.geographic {
                    unwrap_longitudes(&mut points);
                }
                Ok(Georeferencing::ControlPoints { epsg, points })
            }
            Geolocation::ModelInGeotiff => unreachable!("handled above"),
        }
    }

    /// Whether GDAL must resample the image (tie points, or a mirrored or rotated affine).
    pub fn needs_warp(&self) -> bool {
        match self {
            Georeferencing::Affine { transform, .. } => {
                transform[1] <= 0.0
                    || transform[5] >= 0.0
                    || transform[2] != 0.0
                    || transform[4] != 0.0
            }
            Georeferencing::ControlPoints { .. } => true,
            Georeferencing::Embedded => false,
        }
    }

    /// Attaches this georeferencing to `dataset` (a writable copy, e.g. an in-memory VRT).
    pub(crate) fn apply(&self, dataset: &mut gdal::Dataset) -> Result<(), RasterError> {
        match self {
            Georeferencing::Affine { epsg, transform } => {
                dataset
                    .set_spatial_ref(&srs(*epsg)?)
                    .map_err(|e| RasterError::gdal("setting the CRS", e))?;
                dataset
                    .set_geo_transform(transform)
                    .map_err(|e| RasterError::gdal("setting the geotransform", e))
            }
            Georeferencing::ControlPoints { epsg, points } => {
                let gcps = points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| gdal::Gcp {
                        id: (i + 1).to_string(),
                        info: String::new(),
                        pixel: p.pixel,
                        line: p.line,
                        x: p.x,
                        y: p.y,
                        z: 0.0,
                    })
                    .collect();
                dataset
                    .set_gcps(gcps, &srs(*epsg)?)
                    .map_err(|e| RasterError::gdal("setting the tie points", e))
            }
            Georeferencing::Embedded => Ok(()),
        }
    }
}

/// `EPSG:<epsg>` with x/y in GDAL's traditional GIS order (longitude first).
pub(crate) fn srs(epsg: u32) -> Result<SpatialRef, RasterError> {
    let mut srs = SpatialRef::from_epsg(epsg)
        .map_err(|e| RasterError::Georef(format!("EPSG:{epsg} is not a CRS GDAL knows: {e}")))?;
    srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// The report's coordinate pairs in `EPSG:<epsg>` in x/y order.
pub(crate) fn to_xy(epsg: u32, pairs: Vec<(f64, f64)>) -> Result<Vec<(f64, f64)>, RasterError> {
    let order = AxisOrder::of(epsg)?;
    Ok(pairs.into_iter().map(|pair| order.to_xy(pair)).collect())
}

/// The axis order of an EPSG CRS's coordinates as reports write them (the authority's).
#[derive(Debug, Clone, Copy)]
struct AxisOrder {
    /// Whether the first written value is the northing/latitude.
    swapped: bool,
    /// Whether the CRS is geographic (longitudes wrap).
    geographic: bool,
}

impl AxisOrder {
    fn of(epsg: u32) -> Result<Self, RasterError> {
        let srs = srs(epsg)?;
        // SAFETY: the handle is valid for the lifetime of `srs`.
        let (lat_long, northing_easting) = unsafe {
            (
                gdal_sys::OSREPSGTreatsAsLatLong(srs.to_c_hsrs()) != 0,
                gdal_sys::OSREPSGTreatsAsNorthingEasting(srs.to_c_hsrs()) != 0,
            )
        };
        Ok(Self {
            swapped: lat_long || northing_easting,
            geographic: srs.is_geographic(),
        })
    }

    fn to_xy(self, pair: (f64, f64)) -> (f64, f64) {
        if self.swapped { (pair.1, pair.0) } else { pair }
    }
}

/// Makes longitudes continuous from one point to the next by whole turns, then shifts the
/// set so that its westernmost longitude lies in [-180, 180).
fn unwrap_longitudes(points: &mut [ControlPoint]) {
    let Some(first) = points.first().map(|p| p.x) else {
        return;
    };
    // Unwrap against the first point: tie points of one browse span far less than 180°.
    for p in points.iter_mut() {
        p.x -= 360.0 * ((p.x - first) / 360.0).round();
    }
    let west = points.iter().map(|p| p.x).fold(f64::INFINITY, f64::min);
    let shift = -360.0 * ((west + 180.0) / 360.0).floor();
    for p in points.iter_mut() {
        p.x += shift;
    }
}
