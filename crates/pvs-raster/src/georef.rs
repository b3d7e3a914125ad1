//! From a browse's geolocation to GDAL georeferencing: a geotransform, ground control points
//! or the image's own, in x/y (easting/northing, longitude/latitude) order.

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
                let grid_step = match geolocation {
                    Geolocation::RegularGrid {
                        col_step, row_step, ..
                    } => Some(col_step.max(*row_step)),
                    _ => None,
                };
                check_tie_points(&mut points, width, height, grid_step)?;
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
            Georeferencing::Affine { transform, .. } => affine_needs_warp(transform),
            Georeferencing::ControlPoints { .. } => true,
            Georeferencing::Embedded => false,
        }
    }

    /// Attaches this georeferencing to `dataset` (a writable copy, e.g. an in-memory VRT).
    pub(crate) fn apply(&self, dataset: &mut gdal::Dataset) -> Result<(), RasterError> {
        match self {
            Georeferencing::Affine { epsg, transform } => {
                dataset
                    .set_spatial_ref(&crate::crs::srs(*epsg)?)
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
                    .set_gcps(gcps, &crate::crs::srs(*epsg)?)
                    .map_err(|e| RasterError::gdal("setting the tie points", e))
            }
            Georeferencing::Embedded => Ok(()),
        }
    }
}

/// Whether an image with the geotransform `transform` must be resampled to be north-up:
/// rotation terms, or a mirrored axis (pixel width negative, pixel height positive).
pub(crate) fn affine_needs_warp(transform: &[f64; 6]) -> bool {
    transform[1] <= 0.0 || transform[5] >= 0.0 || transform[2] != 0.0 || transform[4] != 0.0
}

/// Refuses a geotransform that places no image: a value that is not a finite number, or a
/// singular matrix (pixels of no area: a zero pixel size, or rows along columns).
pub(crate) fn check_affine(transform: &[f64; 6]) -> Result<(), RasterError> {
    if transform.iter().any(|v| !v.is_finite()) {
        return Err(RasterError::Georef(format!(
            "the geotransform {transform:?} has a value that is not a finite number"
        )));
    }
    let determinant = transform[1] * transform[5] - transform[2] * transform[4];
    let scale = transform[1].hypot(transform[2]) * transform[4].hypot(transform[5]);
    if determinant.abs() <= COLLINEAR * scale || scale == 0.0 {
        return Err(RasterError::Georef(format!(
            "the geotransform {transform:?} is singular: its pixels have no area"
        )));
    }
    Ok(())
}

/// How thin a point set may be before it counts as collinear: the spread (standard
/// deviation) across its main direction against the spread along it; for a geotransform,
/// the sine of the angle between a pixel's edges.
const COLLINEAR: f64 = 1e-6;

/// Checks the tie points of a `footprint` or `regularGrid` geolocation for an image of
/// `width` × `height` pixels and makes them ready for GDAL. Tie points may lie outside the
/// image (the original ngEO server hands them to GDAL as they are, which extrapolates), within
/// reason:
///
/// - every value must be a finite number;
/// - identical tie points count once; two tie points at the same pixel with different
///   coordinates are refused;
/// - at least 3 tie points, neither their pixel positions nor their coordinates all on one
///   line (no transformation could be fitted);
/// - every tie point lies within the image enlarged by its own width and height on each side
///   (column in [−width, 2 × width], row in [−height, 2 × height]), and the image lies within
///   the box of the tie points' pixel positions enlarged by its own size on each side: beyond
///   that, a fit from the tie points says little about where the image is (extrapolating
///   over more than the fitted span), and the report most likely names another image;
/// - a regular grid whose nodes all lie within one grid step (`grid_step`) of the image, as
///   Sentinel-1 grids do, has the nodes beyond the border clamped onto it, as ngEO's
///   `regular_grid_clipping`; a grid reaching further is used as it is, like a footprint.
pub(crate) fn check_tie_points(
    points: &mut Vec<ControlPoint>,
    width: u32,
    height: u32,
    grid_step: Option<f64>,
) -> Result<(), RasterError> {
    let georef = |message: String| Err(RasterError::Georef(message));
    if let Some(p) = points
        .iter()
        .find(|p| ![p.pixel, p.line, p.x, p.y].iter().all(|v| v.is_finite()))
    {
        return georef(format!(
            "tie point at pixel ({}, {}), coordinates ({}, {}): not a finite number",
            p.pixel, p.line, p.x, p.y
        ));
    }
    let mut distinct: Vec<ControlPoint> = Vec::with_capacity(points.len());
    let mut seen = std::collections::HashMap::with_capacity(points.len());
    for p in points.iter() {
        match seen.insert((p.pixel.to_bits(), p.line.to_bits()), (p.x, p.y)) {
            None => distinct.push(*p),
            Some(xy) if xy == (p.x, p.y) => {}
            Some((x, y)) => {
                return georef(format!(
                    "two tie points at pixel ({}, {}) with different coordinates: ({x}, {y}) and ({}, {})",
                    p.pixel, p.line, p.x, p.y
                ));
            }
        }
    }
    *points = distinct;
    if points.len() < 3 {
        return georef(format!(
            "{} distinct tie points; at least 3 are needed",
            points.len()
        ));
    }
    if collinear(points.iter().map(|p| (p.pixel, p.line))) {
        return georef(format!(
            "the {} tie points' pixel positions lie on one line: they place no image",
            points.len()
        ));
    }
    if collinear(points.iter().map(|p| (p.x, p.y))) {
        return georef(format!(
            "the {} tie points' coordinates lie on one line: they place no image",
            points.len()
        ));
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let within = |p: &ControlPoint, slack_x: f64, slack_y: f64| {
        (-slack_x..=w + slack_x).contains(&p.pixel) && (-slack_y..=h + slack_y).contains(&p.line)
    };
    if let Some(step) = grid_step
        && points.iter().all(|p| within(p, step, step))
    {
        for p in points.iter_mut() {
            p.pixel = p.pixel.clamp(0.0, w);
            p.line = p.line.clamp(0.0, h);
        }
    }
    if let Some(p) = points.iter().find(|p| !within(p, w, h)) {
        return georef(format!(
            "tie point at pixel ({}, {}) lies more than the image's size outside the {width} × {height} image (columns -{width}..{}, rows -{height}..{} accepted)",
            p.pixel,
            p.line,
            2 * u64::from(width),
            2 * u64::from(height)
        ));
    }
    let [c0, r0, c1, r1] = points.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| {
            [
                b[0].min(p.pixel),
                b[1].min(p.line),
                b[2].max(p.pixel),
                b[3].max(p.line),
            ]
        },
    );
    let (span_c, span_r) = (c1 - c0, r1 - r0);
    if 0.0 < c0 - span_c || w > c1 + span_c || 0.0 < r0 - span_r || h > r1 + span_r {
        return georef(format!(
            "the tie points span pixels ({c0}, {r0}) to ({c1}, {r1}): the {width} × {height} image reaches beyond them by more than their span"
        ));
    }
    Ok(())
}

/// Whether the points lie on one line (or are one point), within [`COLLINEAR`].
fn collinear(points: impl Iterator<Item = (f64, f64)> + Clone) -> bool {
    let n = points.clone().count() as f64;
    let (sx, sy) = points
        .clone()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (xx, yy, xy) = points.fold((0.0, 0.0, 0.0), |(xx, yy, xy), (x, y)| {
        let (dx, dy) = (x - mx, y - my);
        (xx + dx * dx, yy + dy * dy, xy + dx * dy)
    });
    // The eigenvalues of the covariance matrix: the variances along and across the points'
    // main direction.
    let half_trace = (xx + yy) / 2.0;
    let major = half_trace
        + (half_trace * half_trace - (xx * yy - xy * xy))
            .max(0.0)
            .sqrt();
    let minor = (xx * yy - xy * xy) / major;
    major == 0.0 || minor <= COLLINEAR * COLLINEAR * major
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
        let axes = crate::crs::axes(epsg)?;
        Ok(Self {
            swapped: axes.y_first,
            geographic: axes.geographic,
        })
    }

    fn to_xy(self, pair: (f64, f64)) -> (f64, f64) {
        if self.swapped { (pair.1, pair.0) } else { pair }
    }
}

/// Makes longitudes continuous across the image by whole turns, then shifts the set so that
/// its westernmost longitude lies in [-180, 180).
///
/// Each point is unwrapped against its nearest neighbour in the image (by pixel position)
/// among those before it, in the order given (a footprint's ring, a grid's rows): neighbours
/// in the image are less than 180° apart, whereas the whole set may span more than 180° (a
/// half-orbit swath across a pole, or across both meridians). Unwrapping every point
/// against one point instead puts some 360° off the others, and the warp then smears the
/// image across the whole turn.
fn unwrap_longitudes(points: &mut [ControlPoint]) {
    for i in 1..points.len() {
        let p = points[i];
        let nearest = points[..i]
            .iter()
            .min_by(|a, b| {
                let distance = |q: &ControlPoint| (q.pixel - p.pixel).hypot(q.line - p.line);
                distance(a).total_cmp(&distance(b))
            })
            .map_or(p.x, |q| q.x);
        points[i].x -= 360.0 * ((p.x - nearest) / 360.0).round();
    }
    let west = points.iter().map(|p| p.x).fold(f64::INFINITY, f64::min);
    let shift = -360.0 * ((west + 180.0) / 360.0).floor();
    for p in points.iter_mut() {
        p.x += shift;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geotransforms_that_place_no_image_are_refused() {
        let rotated = [500_000.0, 8.66, 5.0, 4_000_000.0, 5.0, -8.66];
        assert!(check_affine(&rotated).is_ok());
        assert!(affine_needs_warp(&rotated));
        assert!(!affine_needs_warp(&[0.0, 1.0, 0.0, 0.0, 0.0, -1.0]));
        for (transform, reason) in [
            ([0.0, f64::NAN, 0.0, 0.0, 0.0, -1.0], "not a finite number"),
            (
                [0.0, f64::INFINITY, 0.0, 0.0, 0.0, -1.0],
                "not a finite number",
            ),
            ([0.0, 0.0, 0.0, 0.0, 0.0, -1.0], "singular"),
            ([0.0, 1.0, 2.0, 0.0, 0.5, 1.0], "singular"),
            ([0.0; 6], "singular"),
        ] {
            let error = check_affine(&transform).unwrap_err().to_string();
            assert!(error.contains(reason), "{transform:?}: {error}");
        }
    }

    #[test]
    fn collinearity_is_relative_to_the_spread() {
        assert!(collinear([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)].into_iter()));
        assert!(collinear([(5.0, 5.0), (5.0, 5.0), (5.0, 5.0)].into_iter()));
        assert!(!collinear(
            [(0.0, 0.0), (1000.0, 0.0), (500.0, 0.01)].into_iter()
        ));
        assert!(collinear(
            [(0.0, 0.0), (1000.0, 0.0), (500.0, 1e-7)].into_iter()
        ));
    }
}
