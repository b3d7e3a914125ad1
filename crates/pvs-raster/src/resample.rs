//! One product drawn into a map view, under what newer products already drew there.
//!
//! GDAL reads only the window of the overview level that matches the view's resolution
//! (range reads on object storage); pvs maps each output pixel to the source and samples it
//! bilinearly, as GDAL's warper does with `-r bilinear`, weighting the four neighbours by
//! their validity (alpha band, mask or nodata). Pixels that newer products already cover
//! are neither read nor sampled.
//!
//! Output pixels are mapped to source pixels through PROJ only at the nodes of a grid every
//! [`STEP`] pixels, and interpolated in between. A cell whose centre lies too far from the
//! interpolation, or that touches a point PROJ cannot transform, is mapped pixel by pixel.
//! Too far is [`MAX_ERROR`] times what one output pixel spans in the source (about a pixel
//! of the overview read), and at least that fraction of a full-resolution pixel: GDAL's
//! approximate transformer allows an eighth of a pixel too.
//!
//! A product is drawn only inside its footprint (see [`crate::clip`]): the caller passes
//! which output pixels its footprint covers, and the others are neither read nor drawn,
//! whatever the raster holds there. A COG's box is larger than its footprint (a swath
//! across a pole or both meridians fills a fraction of it), and a raster warped from tie
//! points may hold extrapolated pixels outside the footprint.
//!
//! Geographic sources whose longitudes run past ±180° (antimeridian products) are reached
//! from either side: a longitude outside the source is moved by 360° when that brings it in
//! (the same place on the Earth). Where the moved longitude lands is still only drawn when
//! it lies in the footprint, so the move can no longer show a raster's pixels over
//! longitudes its product does not cover (a raster 360° wide, as tie points spanning more
//! than 180° were once warped into, showed a second copy of its image half a turn away).
//! A longitude inside the source is never moved.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gdal::Dataset;
use gdal::raster::{ColorInterpretation, GdalDataType, GdalType, RasterBand};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};

use crate::RasterError;
use crate::expression::Expression;
use crate::render::{Rgba, View};
use crate::style::Style;

/// Output pixels between the nodes mapped through PROJ.
pub(crate) const STEP: usize = 16;
/// The largest error of the interpolated mapping, as a fraction of what one output pixel
/// spans in the source (at least of one source pixel).
pub(crate) const MAX_ERROR: f64 = 0.125;
/// The most pixels (per band) read from one product for one view; a view needing more
/// reads a coarser overview.
const MAX_WINDOW: usize = 4096 * 4096;
/// An overview is used when its pixels are at most this much larger than the view needs.
const OVERVIEW_TOLERANCE: f64 = 1.05;

/// Draws `dataset` into `image` (of `view`) under its non-opaque pixels, with `style`; only
/// into the pixels whose entry in `inside` is true, when given (one per pixel, row by row).
pub(crate) fn draw_under(
    image: &mut Rgba,
    dataset: &Dataset,
    view: &View,
    style: &Style,
    inside: Option<&[bool]>,
) -> Result<(), RasterError> {
    let source = Source::of(dataset, view.epsg)?;
    let bands = Bands::of(dataset, style)?;
    let map = PixelMap::new(&source, view);
    let mut target = ToDraw { image, inside };
    let Some(read) = Read::plan(dataset, &source, &map, &target)? else {
        return Ok(());
    };
    let mask = read.mask(dataset)?;
    let mask = mask.as_deref();
    if bands.plain {
        let data: Vec<Vec<u8>> = bands
            .read
            .iter()
            .map(|b| read.band(dataset, *b))
            .collect::<Result<_, _>>()?;
        sample(&mut target, &map, &read, mask, |weights, indices| {
            let value = |band: &Vec<u8>| {
                let value: f32 = weights
                    .iter()
                    .zip(indices)
                    .map(|(w, i)| w * f32::from(band[*i]))
                    .sum();
                round(value)
            };
            Some(match data.as_slice() {
                [grey] => [value(grey), value(grey), value(grey), 255],
                _ => [value(&data[0]), value(&data[1]), value(&data[2]), 255],
            })
        });
    } else {
        let data: Vec<Vec<f32>> = bands
            .read
            .iter()
            .map(|b| read.band(dataset, *b))
            .collect::<Result<_, _>>()?;
        // Band values by band number (index 0 unused), the channels' values, and the
        // expressions' stack.
        let mut values = vec![f64::NAN; bands.read.last().map_or(1, |last| last + 1)];
        let mut channels = vec![0.0; bands.channels.len()];
        let mut stack = Vec::with_capacity(
            bands
                .channels
                .iter()
                .map(Expression::stack_size)
                .max()
                .unwrap_or(1),
        );
        sample(&mut target, &map, &read, mask, |weights, indices| {
            for (band, data) in bands.read.iter().zip(&data) {
                // Invalid neighbours (weight 0) may hold NaN: left out, not multiplied.
                values[*band] = weights
                    .iter()
                    .zip(indices)
                    .filter(|(w, _)| **w > 0.0)
                    .map(|(w, i)| f64::from(w * data[*i]))
                    .sum();
            }
            for (value, channel) in channels.iter_mut().zip(&bands.channels) {
                *value = match channel.as_band() {
                    Some(band) => values[band],
                    None => channel.evaluate(&values, &mut stack),
                };
            }
            style.colour(&channels)
        });
    }
    Ok(())
}

fn round(value: f32) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

/// What is known of the source's georeferencing.
struct Source {
    width: usize,
    height: usize,
    /// Georeferenced coordinates to full-resolution pixel coordinates (the inverse of the
    /// geotransform).
    inverse: [f64; 6],
    /// For a geographic source, its longitude range.
    longitudes: Option<(f64, f64)>,
    /// From the view's CRS to the source's; `None` when they are the same.
    transform: Option<Rc<CoordTransform>>,
}

impl Source {
    fn of(dataset: &Dataset, epsg: u32) -> Result<Self, RasterError> {
        let (width, height) = dataset.raster_size();
        let gt = dataset.geo_transform().map_err(|_| {
            RasterError::Unsuitable("the raster has no geotransform to draw it with".into())
        })?;
        let determinant = gt[1] * gt[5] - gt[2] * gt[4];
        if !(determinant.is_finite() && determinant != 0.0) {
            return Err(RasterError::Unsuitable(format!(
                "the raster's geotransform {gt:?} cannot be inverted"
            )));
        }
        let inverse = [
            gt[0],
            gt[5] / determinant,
            -gt[2] / determinant,
            gt[3],
            -gt[4] / determinant,
            gt[1] / determinant,
        ];
        let wkt = dataset.projection();
        if wkt.is_empty() {
            return Err(RasterError::Unsuitable(
                "the raster has no coordinate reference system".into(),
            ));
        }
        let (transform, geographic) = transform_to(&wkt, epsg)?;
        let longitudes = geographic.then(|| {
            let xs = [0.0, width as f64]
                .into_iter()
                .flat_map(|px| [0.0, height as f64].map(|py| gt[0] + gt[1] * px + gt[2] * py));
            xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            })
        });
        Ok(Self {
            width,
            height,
            inverse,
            longitudes,
            transform,
        })
    }
}

/// Maps output pixel positions to positions in some plane, for a [`PixelMap`].
pub(crate) trait Mapping {
    /// Maps output pixel positions (`us`, `vs`: columns and rows, pixel edges at integers)
    /// in place; NaN where there is none.
    fn map(&self, view: &View, us: &mut [f64], vs: &mut [f64]);

    /// How far (in the plane's units) the interpolation may be from the exact position,
    /// given what one output pixel spans in the plane (`scale`).
    fn tolerance(&self, scale: f64) -> f64;

    /// Whether a grid cell with these corner positions must be mapped pixel by pixel
    /// whatever its centre says.
    fn doubtful(&self, _corners: &[(f64, f64); 4]) -> bool {
        false
    }
}

/// Output pixel positions to the view's CRS (in place), then through `transform` when
/// given; points PROJ cannot transform are left not finite (HUGE_VAL).
pub(crate) fn to_crs(
    view: &View,
    transform: Option<&CoordTransform>,
    us: &mut [f64],
    vs: &mut [f64],
) {
    let [x0, y0, x1, y1] = view.bbox;
    let (sx, sy) = (
        (x1 - x0) / view.width as f64,
        (y1 - y0) / view.height as f64,
    );
    for (u, v) in us.iter_mut().zip(vs.iter_mut()) {
        *u = x0 + *u * sx;
        *v = y1 - *v * sy;
    }
    if let Some(transform) = transform {
        // Points PROJ cannot transform come back as HUGE_VAL; the others are done.
        let _ = transform.transform_coords(us, vs, &mut []);
    }
}

impl Mapping for Source {
    /// To full-resolution source pixel positions.
    fn map(&self, view: &View, us: &mut [f64], vs: &mut [f64]) {
        to_crs(view, self.transform.as_deref(), us, vs);
        let [ox, a, b, oy, d, e] = self.inverse;
        for (x, y) in us.iter_mut().zip(vs.iter_mut()) {
            if !(x.is_finite() && y.is_finite()) {
                (*x, *y) = (f64::NAN, f64::NAN);
                continue;
            }
            if let Some((west, east)) = self.longitudes {
                if *x < west && *x + 360.0 <= east {
                    *x += 360.0;
                } else if *x > east && *x - 360.0 >= west {
                    *x -= 360.0;
                }
            }
            let (dx, dy) = (*x - ox, *y - oy);
            (*x, *y) = (a * dx + b * dy, d * dx + e * dy);
        }
    }

    /// At least that fraction of a full-resolution pixel too, as GDAL allows.
    fn tolerance(&self, scale: f64) -> f64 {
        MAX_ERROR * scale.max(1.0)
    }
}

thread_local! {
    /// Coordinate transformations by source CRS (WKT) and view EPSG code: PROJ's set-up
    /// costs more than transforming a few hundred points.
    static TRANSFORMS: RefCell<HashMap<(String, u32), Transform>> = RefCell::new(HashMap::new());
}

/// A cached transformation (`None`: the same CRS) and whether the source is geographic.
pub(crate) type Transform = (Option<Rc<CoordTransform>>, bool);

/// Transformations kept per thread at most.
const MAX_TRANSFORMS: usize = 64;

pub(crate) fn transform_to(wkt: &str, epsg: u32) -> Result<Transform, RasterError> {
    let key = (wkt.to_owned(), epsg);
    if let Some(found) = TRANSFORMS.with(|t| t.borrow().get(&key).cloned()) {
        return Ok(found);
    }
    let gis_order = |mut srs: SpatialRef| {
        srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        srs
    };
    let source = SpatialRef::from_wkt(wkt)
        .map(gis_order)
        .map_err(|e| RasterError::Unsuitable(format!("the raster's CRS: {e}")))?;
    let target = crate::crs::srs(epsg).map_err(|e| RasterError::Unsuitable(e.to_string()))?;
    let transform = if source == target {
        None
    } else {
        let transform = CoordTransform::new(&target, &source).map_err(|e| {
            RasterError::Unsuitable(format!("no transformation from EPSG:{epsg}: {e}"))
        })?;
        Some(Rc::new(transform))
    };
    let found = (transform, source.is_geographic());
    TRANSFORMS.with(|t| {
        let mut t = t.borrow_mut();
        if t.len() >= MAX_TRANSFORMS {
            t.clear();
        }
        t.insert(key, found.clone());
    });
    Ok(found)
}

/// Where each output pixel's centre falls in the source (full-resolution pixel
/// coordinates, NaN: nowhere) or another plane (a [`Mapping`]), row by row: interpolated
/// between the grid's nodes, or mapped exactly in the cells that need it.
pub(crate) struct PixelMap {
    width: usize,
    /// Node positions across and down (output pixel edges).
    node_us: Vec<f64>,
    node_vs: Vec<f64>,
    /// The nodes' source positions, row by row.
    nodes: Vec<(f64, f64)>,
    /// Per cell (row by row), the exact positions of its pixels (row by row within the
    /// cell) when it is mapped pixel by pixel.
    exact: Vec<Option<Vec<(f64, f64)>>>,
    /// Source pixels per output pixel (the median over the grid's cells, the smaller of
    /// the two directions).
    scale: f64,
}

impl PixelMap {
    pub(crate) fn new(source: &impl Mapping, view: &View) -> Self {
        let (width, height) = (view.width, view.height);
        let nodes = |size: usize| -> Vec<f64> {
            let mut nodes: Vec<f64> = (0..size).step_by(STEP).map(|n| n as f64).collect();
            nodes.push(size as f64);
            nodes
        };
        let (node_us, node_vs) = (nodes(width), nodes(height));
        let (columns, rows) = (node_us.len(), node_vs.len());
        let mut xs: Vec<f64> = node_vs
            .iter()
            .flat_map(|_| node_us.iter().copied())
            .collect();
        let mut ys: Vec<f64> = node_vs
            .iter()
            .flat_map(|v| std::iter::repeat_n(*v, columns))
            .collect();
        source.map(view, &mut xs, &mut ys);
        let nodes: Vec<(f64, f64)> = xs.into_iter().zip(ys).collect();
        let node = |i: usize, j: usize| nodes[j * columns + i];

        // The scale, from the cells whose nodes mapped.
        let mut scales = Vec::with_capacity((columns - 1) * (rows - 1));
        for j in 0..rows - 1 {
            for i in 0..columns - 1 {
                let (p00, p10, p01) = (node(i, j), node(i + 1, j), node(i, j + 1));
                let across = (p10.0 - p00.0).hypot(p10.1 - p00.1) / (node_us[i + 1] - node_us[i]);
                let down = (p01.0 - p00.0).hypot(p01.1 - p00.1) / (node_vs[j + 1] - node_vs[j]);
                let scale = across.min(down);
                if scale.is_finite() && scale > 0.0 {
                    scales.push(scale);
                }
            }
        }
        let scale = if scales.is_empty() {
            1.0
        } else {
            let middle = scales.len() / 2;
            *scales.select_nth_unstable_by(middle, f64::total_cmp).1
        };
        let tolerance = source.tolerance(scale);

        // Cells mapped pixel by pixel: a node failed, or the centre is off.
        let cells = (columns - 1) * (rows - 1);
        let mut centre_us = Vec::with_capacity(cells);
        let mut centre_vs = Vec::with_capacity(cells);
        for j in 0..rows - 1 {
            for i in 0..columns - 1 {
                centre_us.push((node_us[i] + node_us[i + 1]) / 2.0);
                centre_vs.push((node_vs[j] + node_vs[j + 1]) / 2.0);
            }
        }
        source.map(view, &mut centre_us, &mut centre_vs);
        let mut exact = Vec::with_capacity(cells);
        for j in 0..rows - 1 {
            for i in 0..columns - 1 {
                let corners = [
                    node(i, j),
                    node(i + 1, j),
                    node(i, j + 1),
                    node(i + 1, j + 1),
                ];
                let mean_x = corners.iter().map(|p| p.0).sum::<f64>() / 4.0;
                let mean_y = corners.iter().map(|p| p.1).sum::<f64>() / 4.0;
                let cell = j * (columns - 1) + i;
                let off = (centre_us[cell] - mean_x)
                    .abs()
                    .max((centre_vs[cell] - mean_y).abs());
                // NaN: a failed node or centre.
                if !(off.is_nan() || off > tolerance || source.doubtful(&corners)) {
                    exact.push(None);
                    continue;
                }
                let (u0, u1) = (node_us[i] as usize, node_us[i + 1] as usize);
                let (v0, v1) = (node_vs[j] as usize, node_vs[j + 1] as usize);
                let mut us = Vec::with_capacity((u1 - u0) * (v1 - v0));
                let mut vs = Vec::with_capacity((u1 - u0) * (v1 - v0));
                for row in v0..v1 {
                    for column in u0..u1 {
                        us.push(column as f64 + 0.5);
                        vs.push(row as f64 + 0.5);
                    }
                }
                source.map(view, &mut us, &mut vs);
                exact.push(Some(us.into_iter().zip(vs).collect()));
            }
        }
        Self {
            width,
            node_us,
            node_vs,
            nodes,
            exact,
            scale,
        }
    }

    /// The box `[min x, min y, max x, max y]` holding every pixel's position; `None` when
    /// some pixel has none (NaN). Interpolated positions lie between their cell's nodes.
    pub(crate) fn bounds(&self) -> Option<[f64; 4]> {
        let exact = self.exact.iter().flatten().flatten();
        bounds_of(self.nodes.iter().chain(exact))
    }

    /// The grid's cells across and down: pixel (column, row) lies in cell
    /// (`column / STEP`, `(row / STEP).min(down - 1)`).
    pub(crate) fn cells(&self) -> (usize, usize) {
        (self.node_us.len() - 1, self.node_vs.len() - 1)
    }

    /// The box holding the positions of cell (`i`, `j`)'s pixels, as [`Self::bounds`].
    pub(crate) fn cell_bounds(&self, i: usize, j: usize) -> Option<[f64; 4]> {
        let columns = self.node_us.len();
        match &self.exact[j * (columns - 1) + i] {
            Some(exact) => bounds_of(exact),
            None => {
                let node = |i: usize, j: usize| &self.nodes[j * columns + i];
                bounds_of([
                    node(i, j),
                    node(i + 1, j),
                    node(i, j + 1),
                    node(i + 1, j + 1),
                ])
            }
        }
    }

    /// The source positions of row `row`'s pixels, into `out` (as long as a row).
    pub(crate) fn row(&self, row: usize, out: &mut [(f64, f64)]) {
        self.row_in(row, out, |_| true);
    }

    /// The source positions of row `row`'s pixels in the cells `wanted` (by their index
    /// across) wants, into `out` (as long as a row); the others are left as they are.
    pub(crate) fn row_in(
        &self,
        row: usize,
        out: &mut [(f64, f64)],
        wanted: impl Fn(usize) -> bool,
    ) {
        let columns = self.node_us.len();
        let j = (row / STEP).min(self.node_vs.len() - 2);
        let (v0, v1) = (self.node_vs[j], self.node_vs[j + 1]);
        let t = (row as f64 + 0.5 - v0) / (v1 - v0);
        for i in (0..columns - 1).filter(|i| wanted(*i)) {
            let (u0, u1) = (self.node_us[i], self.node_us[i + 1]);
            let pixels = &mut out[u0 as usize..u1 as usize];
            if let Some(exact) = &self.exact[j * (columns - 1) + i] {
                let cell_width = pixels.len();
                let first = (row - v0 as usize) * cell_width;
                pixels.copy_from_slice(&exact[first..first + cell_width]);
                continue;
            }
            let node = |i: usize, j: usize| self.nodes[j * columns + i];
            // The row's ends within the cell, then straight between them.
            let (p00, p10, p01, p11) = (
                node(i, j),
                node(i + 1, j),
                node(i, j + 1),
                node(i + 1, j + 1),
            );
            let left = (p00.0 + (p01.0 - p00.0) * t, p00.1 + (p01.1 - p00.1) * t);
            let right = (p10.0 + (p11.0 - p10.0) * t, p10.1 + (p11.1 - p10.1) * t);
            for (k, pixel) in pixels.iter_mut().enumerate() {
                let s = (k as f64 + 0.5) / (u1 - u0);
                *pixel = (
                    left.0 + (right.0 - left.0) * s,
                    left.1 + (right.1 - left.1) * s,
                );
            }
        }
    }

    /// Calls `each` with the source position of every pixel still to draw.
    fn for_each_to_draw(&self, to_draw: &ToDraw<'_>, mut each: impl FnMut((f64, f64))) {
        let mut positions = vec![(f64::NAN, f64::NAN); self.width];
        let rows = to_draw.image.pixels.chunks_exact(self.width * 4);
        for (row, pixels) in rows.enumerate() {
            let inside = to_draw
                .inside
                .map(|i| &i[row * self.width..(row + 1) * self.width]);
            if !any_to_draw(pixels, inside) {
                continue;
            }
            self.row(row, &mut positions);
            for (column, (pixel, position)) in pixels.chunks_exact(4).zip(&positions).enumerate() {
                if pixel[3] != 255 && inside.is_none_or(|i| i[column]) {
                    each(*position);
                }
            }
        }
    }
}

/// The pixels still to draw: those of `image` not opaque yet, and inside the footprint
/// (`inside`, one per pixel) when given.
struct ToDraw<'a> {
    image: &'a mut Rgba,
    inside: Option<&'a [bool]>,
}

/// Whether a row (its RGBA `pixels` and its part of `inside`) has a pixel to draw.
fn any_to_draw(pixels: &[u8], inside: Option<&[bool]>) -> bool {
    match inside {
        None => pixels.chunks_exact(4).any(|p| p[3] != 255),
        Some(inside) => pixels
            .chunks_exact(4)
            .zip(inside)
            .any(|(p, i)| *i && p[3] != 255),
    }
}

/// The box `[min x, min y, max x, max y]` of `positions`; `None` when one is NaN.
fn bounds_of<'a>(positions: impl IntoIterator<Item = &'a (f64, f64)>) -> Option<[f64; 4]> {
    let mut bounds = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for &(x, y) in positions {
        if x.is_nan() || y.is_nan() {
            return None;
        }
        bounds = [
            bounds[0].min(x),
            bounds[1].min(y),
            bounds[2].max(x),
            bounds[3].max(y),
        ];
    }
    Some(bounds)
}

/// Which bands are read, and how they are drawn.
struct Bands {
    /// The channels: the style's, or the data's first band or first three.
    channels: Vec<Expression>,
    /// The bands (1-based) the channels read, each once, in increasing order (for the plain
    /// path: the channels' bands in channel order).
    read: Vec<usize>,
    /// 8-bit data drawn as stored: sampled as bytes.
    plain: bool,
}

impl Bands {
    fn of(dataset: &Dataset, style: &Style) -> Result<Self, RasterError> {
        let count = dataset.raster_count();
        let band = |index| {
            dataset
                .rasterband(index)
                .map_err(|e| RasterError::gdal(format!("reading band {index}"), e))
        };
        if count == 0 {
            return Err(RasterError::Unsuitable("the raster has no bands".into()));
        }
        let has_alpha =
            count > 1 && band(count)?.color_interpretation() == ColorInterpretation::AlphaBand;
        let data_bands = if has_alpha { count - 1 } else { count };
        let channels: Vec<Expression> = match style.channels() {
            Some(channels) => channels.to_vec(),
            None if data_bands < 3 => vec![Expression::band(1)],
            None => (1..=3).map(Expression::band).collect(),
        };
        let mut read: Vec<usize> = channels.iter().flat_map(Expression::bands).collect();
        read.sort_unstable();
        read.dedup();
        if let Some(missing) = read.iter().find(|b| **b > data_bands) {
            return Err(RasterError::Unsuitable(format!(
                "band {missing} is asked for, but the raster has {data_bands} data band(s)"
            )));
        }
        let bytes = read
            .iter()
            .map(|b| Ok(band(*b)?.band_type() == GdalDataType::UInt8))
            .collect::<Result<Vec<bool>, RasterError>>()?;
        let plain = style.is_plain() && bytes.iter().all(|b| *b);
        if plain {
            // As stored: one band or the first three, sampled in channel order.
            read = channels.iter().filter_map(Expression::as_band).collect();
        }
        Ok(Self {
            channels,
            read,
            plain,
        })
    }
}

/// The window read from one overview level (0: full resolution).
struct Read {
    level: usize,
    /// Overview pixels per full-resolution pixel, across and down.
    ratio: (f64, f64),
    /// The level's size.
    size: (usize, usize),
    /// The window's first column and row, and its size.
    origin: (usize, usize),
    window: (usize, usize),
}

impl Read {
    /// The overview matching the map's scale and the window its pixels need; `None` when
    /// none of them falls inside the source.
    fn plan(
        dataset: &Dataset,
        source: &Source,
        map: &PixelMap,
        to_draw: &ToDraw<'_>,
    ) -> Result<Option<Self>, RasterError> {
        let first = dataset
            .rasterband(1)
            .map_err(|e| RasterError::gdal("reading band 1", e))?;
        let overviews = first.overview_count().unwrap_or(0).max(0) as usize;
        let mut levels = vec![(0, (source.width, source.height))];
        for index in 0..overviews {
            if let Ok(overview) = first.overview(index) {
                levels.push((index + 1, overview.size()));
            }
        }
        // Finest first; the coarsest level whose pixels are not (much) larger than needed.
        levels.sort_by_key(|(_, (width, _))| std::cmp::Reverse(*width));
        let fits = |(_, (width, _)): &(usize, (usize, usize))| {
            source.width as f64 / *width as f64 <= map.scale * OVERVIEW_TOLERANCE
        };
        let start = levels.iter().rposition(fits).unwrap_or(0);
        for &(level, size) in &levels[start..] {
            let ratio = (
                size.0 as f64 / source.width as f64,
                size.1 as f64 / source.height as f64,
            );
            let Some((origin, window)) = window(map, to_draw, ratio, size) else {
                return Ok(None);
            };
            if window.0 * window.1 <= MAX_WINDOW {
                return Ok(Some(Self {
                    level,
                    ratio,
                    size,
                    origin,
                    window,
                }));
            }
        }
        Err(RasterError::Unsuitable(format!(
            "the view needs more than {MAX_WINDOW} pixels of the raster even at its coarsest \
             overview"
        )))
    }

    /// `index` (1-based) at the level, or its mask band.
    fn level_band<'d>(
        &self,
        dataset: &'d Dataset,
        index: usize,
    ) -> Result<RasterBand<'d>, RasterError> {
        let band = dataset
            .rasterband(index)
            .map_err(|e| RasterError::gdal(format!("reading band {index}"), e))?;
        match self.level {
            0 => Ok(band),
            level => band.overview(level - 1).map_err(|e| {
                RasterError::gdal(format!("reading overview {level} of band {index}"), e)
            }),
        }
    }

    fn read<T: GdalType + Copy>(
        &self,
        band: &RasterBand<'_>,
        what: &str,
    ) -> Result<Vec<T>, RasterError> {
        let origin = (self.origin.0 as isize, self.origin.1 as isize);
        band.read_as::<T>(origin, self.window, self.window, None)
            .map(|buffer| buffer.into_shape_and_vec().1)
            .map_err(|e| RasterError::gdal(format!("reading {what}"), e))
    }

    /// The window of band `index` (1-based), as `T` (GDAL converts, saturating for bytes).
    fn band<T: GdalType + Copy>(
        &self,
        dataset: &Dataset,
        index: usize,
    ) -> Result<Vec<T>, RasterError> {
        let band = self.level_band(dataset, index)?;
        self.read(&band, &format!("band {index}"))
    }

    /// The window of the source's validity (0 to 255: alpha band, mask or nodata); `None`
    /// when every pixel is valid.
    fn mask(&self, dataset: &Dataset) -> Result<Option<Vec<u8>>, RasterError> {
        let first = dataset
            .rasterband(1)
            .map_err(|e| RasterError::gdal("reading band 1", e))?;
        let flags = first
            .mask_flags()
            .map_err(|e| RasterError::gdal("reading the mask flags", e))?;
        if flags.is_all_valid() {
            return Ok(None);
        }
        let band = self.level_band(dataset, 1)?;
        let mask = band
            .open_mask_band()
            .map_err(|e| RasterError::gdal("opening the mask", e))?;
        self.read(&mask, "the mask").map(Some)
    }
}

/// The window of a level (first column and row, size) holding the neighbours of every
/// pixel still to draw that falls inside the source; `None` when none does.
fn window(
    map: &PixelMap,
    to_draw: &ToDraw<'_>,
    ratio: (f64, f64),
    size: (usize, usize),
) -> Option<((usize, usize), (usize, usize))> {
    let (mut low_x, mut low_y) = (f64::INFINITY, f64::INFINITY);
    let (mut high_x, mut high_y) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    map.for_each_to_draw(to_draw, |(x, y)| {
        let (x, y) = (x * ratio.0, y * ratio.1);
        if x >= 0.0 && y >= 0.0 && x < size.0 as f64 && y < size.1 as f64 {
            low_x = low_x.min(x);
            low_y = low_y.min(y);
            high_x = high_x.max(x);
            high_y = high_y.max(y);
        }
    });
    if !low_x.is_finite() {
        return None;
    }
    // The neighbours of a position p are the pixels floor(p - 0.5) and the next.
    let first = |low: f64| (low - 0.5).floor().max(0.0) as usize;
    let last = |high: f64, size: usize| (((high - 0.5).floor() + 1.0) as usize).min(size - 1);
    let (x0, y0) = (first(low_x), first(low_y));
    let (x1, y1) = (last(high_x, size.0), last(high_y, size.1));
    Some(((x0, y0), (x1 - x0 + 1, y1 - y0 + 1)))
}

/// Samples every pixel still to draw that falls inside the source, bilinearly, and draws
/// it under what is there. `colour` gets the four neighbours' weights (validity included,
/// summing to 1) and their indices in the window, and gives the colour and opacity, or `None`
/// (not drawn).
fn sample(
    to_draw: &mut ToDraw<'_>,
    map: &PixelMap,
    read: &Read,
    mask: Option<&[u8]>,
    mut colour: impl FnMut(&[f32; 4], &[usize; 4]) -> Option<[u8; 4]>,
) {
    let (ratio_x, ratio_y) = read.ratio;
    let (level_width, level_height) = (read.size.0 as f64, read.size.1 as f64);
    let (origin_x, origin_y) = (read.origin.0 as f64, read.origin.1 as f64);
    let (window_width, window_height) = (read.window.0 as isize, read.window.1 as isize);
    let mut positions = vec![(f64::NAN, f64::NAN); map.width];
    let (image, inside) = (&mut *to_draw.image, to_draw.inside);
    for (row, pixels) in image.pixels.chunks_exact_mut(map.width * 4).enumerate() {
        let inside = inside.map(|i| &i[row * map.width..(row + 1) * map.width]);
        if !any_to_draw(pixels, inside) {
            continue;
        }
        map.row(row, &mut positions);
        for (column, (target, &(x, y))) in pixels.chunks_exact_mut(4).zip(&positions).enumerate() {
            if target[3] == 255 || inside.is_some_and(|i| !i[column]) {
                continue;
            }
            let (x, y) = (x * ratio_x, y * ratio_y);
            if !(x >= 0.0 && y >= 0.0 && x < level_width && y < level_height) {
                continue;
            }
            let (fx, fy) = (x - 0.5 - origin_x, y - 0.5 - origin_y);
            let (left, top) = (fx.floor(), fy.floor());
            let (wx, wy) = ((fx - left) as f32, (fy - top) as f32);
            // Neighbours past the raster's edge are the edge's pixels.
            let in_columns = |c: isize| c.clamp(0, window_width - 1) as usize;
            let in_rows = |r: isize| r.clamp(0, window_height - 1) as usize;
            let (c0, c1) = (in_columns(left as isize), in_columns(left as isize + 1));
            let (r0, r1) = (in_rows(top as isize), in_rows(top as isize + 1));
            let stride = read.window.0;
            let indices = [
                r0 * stride + c0,
                r0 * stride + c1,
                r1 * stride + c0,
                r1 * stride + c1,
            ];
            let mut weights = [
                (1.0 - wx) * (1.0 - wy),
                wx * (1.0 - wy),
                (1.0 - wx) * wy,
                wx * wy,
            ];
            let mut alpha = 255.0;
            if let Some(mask) = mask {
                for (weight, index) in weights.iter_mut().zip(&indices) {
                    *weight *= f32::from(mask[*index]);
                }
                alpha = weights.iter().sum::<f32>();
                if alpha < 0.5 {
                    continue;
                }
                for weight in &mut weights {
                    *weight /= alpha;
                }
            }
            let Some([red, green, blue, opacity]) = colour(&weights, &indices) else {
                continue;
            };
            let alpha = round(alpha * f32::from(opacity) / 255.0);
            if alpha == 0 {
                continue;
            }
            if target[3] == 0 {
                target.copy_from_slice(&[red, green, blue, alpha]);
            } else {
                // Under what is there ("destination over").
                let top_alpha = u32::from(target[3]);
                let under_alpha = u32::from(alpha) * (255 - top_alpha) / 255;
                let out_alpha = top_alpha + under_alpha;
                if out_alpha == 0 {
                    continue;
                }
                for (value, under) in target[..3].iter_mut().zip([red, green, blue]) {
                    *value = ((u32::from(*value) * top_alpha + u32::from(under) * under_alpha)
                        / out_alpha) as u8;
                }
                target[3] = out_alpha as u8;
            }
        }
    }
}
