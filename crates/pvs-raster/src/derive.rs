//! What a raster alone tells: the acquisition time from its file name or tags, and the
//! footprint of its valid pixels. Used for products that come without a browse report or a
//! metadata document.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use gdal::Dataset;
use gdal::Metadata;
use gdal::raster::Buffer;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use geo::{Coord, LineString, MultiPolygon, Polygon, Simplify, Validation};
use pvs_model::footprint_from_lon_lat;

use crate::RasterError;

/// Acquisition start and end from a file name, as EO products name them: timestamps
/// `YYYYMMDDTHHMMSS` or `YYYYMMDD_HHMMSS` (a valid date and time, not part of a longer run
/// of digits). One timestamp: start = end; two: start and end (end = start when the second
/// is earlier). Without a timestamp, a date `YYYYMMDD` alone gives that whole day.
pub fn time_from_name(name: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let bytes = name.as_bytes();
    let digit_run = |at: usize, len: usize| {
        bytes.len() >= at + len && bytes[at..at + len].iter().all(u8::is_ascii_digit)
    };
    let bounded = |start: usize, end: usize| {
        (start == 0 || !bytes[start - 1].is_ascii_digit())
            && (end == bytes.len() || !bytes[end].is_ascii_digit())
    };
    let date_at = |at: usize| {
        let text = std::str::from_utf8(&bytes[at..at + 8]).ok()?;
        NaiveDate::parse_from_str(text, "%Y%m%d").ok()
    };
    let mut stamps = Vec::new();
    let mut dates = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        if !digit_run(at, 8) || (at > 0 && bytes[at - 1].is_ascii_digit()) {
            at += 1;
            continue;
        }
        let separated = bytes.len() > at + 8 && matches!(bytes[at + 8], b'T' | b'_');
        if separated && digit_run(at + 9, 6) && bounded(at, at + 15) {
            let time = std::str::from_utf8(&bytes[at + 9..at + 15])
                .ok()
                .and_then(|t| NaiveTime::parse_from_str(t, "%H%M%S").ok());
            if let (Some(date), Some(time)) = (date_at(at), time) {
                stamps.push(Utc.from_utc_datetime(&NaiveDateTime::new(date, time)));
                at += 15;
                continue;
            }
        }
        if bounded(at, at + 8)
            && let Some(date) = date_at(at)
        {
            dates.push(date);
        }
        at += 8;
    }
    match stamps.as_slice() {
        [] => {
            let date = *dates.first()?;
            let start = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?);
            let end = Utc.from_utc_datetime(&date.and_hms_opt(23, 59, 59)?);
            Some((start, end))
        }
        [one] => Some((*one, *one)),
        [start, end, ..] => Some((*start, if end >= start { *end } else { *start })),
    }
}

/// Acquisition start and end from a raster's metadata: `ACQUISITION_START_TIME` /
/// `ACQUISITION_END_TIME` (ISO 8601), else the TIFF tag `TIFFTAG_DATETIME`
/// (`YYYY:MM:DD HH:MM:SS`, start = end).
pub fn time_from_tags(dataset: &Dataset) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let iso = |item: &str| {
        let value = dataset.metadata_item(item, "")?;
        pvs_model::parse_date_time(value.trim()).ok()
    };
    if let Some(start) = iso("ACQUISITION_START_TIME") {
        let end = iso("ACQUISITION_END_TIME").filter(|end| *end >= start);
        return Some((start, end.unwrap_or(start)));
    }
    let value = dataset.metadata_item("TIFFTAG_DATETIME", "")?;
    let time = NaiveDateTime::parse_from_str(value.trim(), "%Y:%m:%d %H:%M:%S").ok()?;
    let time = Utc.from_utc_datetime(&time);
    Some((time, time))
}

/// Longest side of the grid the valid-data mask is read at, in cells.
const MASK_GRID: usize = 512;

/// Pieces the long side of the raster is cut into, at least, before projection: enough to
/// follow the curve a straight edge in a projected CRS makes in EPSG:4326.
const DENSIFY_PIECES: f64 = 32.0;

/// The footprint of a raster's valid pixels, in EPSG:4326 (lon/lat, split at the
/// antimeridian by [`pvs_model::footprint_from_lon_lat`]).
///
/// Valid pixels are those of the mask GDAL gives band 1 (the alpha band, the nodata value,
/// or every pixel). The mask is read downsampled to at most [`MASK_GRID`] cells on the long
/// side (GDAL uses the mask's overviews when there are some). For each row of cells, the
/// first and last valid cells give the outline: down the left edges, up the right edges,
/// pixel edges rather than centres, so that the valid cells are inside it (rows without a
/// valid cell between valid rows take the span above; separate valid areas are joined into
/// one polygon). The outline is simplified to within half a cell, mapped to the raster's
/// CRS with the geotransform, densified and projected to EPSG:4326.
///
/// Errors: no geotransform or CRS ([`RasterError::Georef`]), no valid pixel
/// ([`RasterError::Unsuitable`]), a mask that cannot be read ([`RasterError::Gdal`]), an
/// outline that does not project to a valid footprint ([`RasterError::Georef`]).
pub fn valid_data_footprint(dataset: &Dataset) -> Result<MultiPolygon<f64>, RasterError> {
    let gt = dataset.geo_transform().map_err(|e| {
        RasterError::Georef(format!(
            "the raster has no geotransform (it is not georeferenced): {e}"
        ))
    })?;
    let mut srs = dataset
        .spatial_ref()
        .map_err(|e| RasterError::Georef(format!("the raster has no CRS: {e}")))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let (width, height) = dataset.raster_size();
    if width == 0 || height == 0 || dataset.raster_count() == 0 {
        return Err(RasterError::Unsuitable(format!(
            "the raster has {} bands of {width} × {height} pixels",
            dataset.raster_count()
        )));
    }
    let grid = MaskGrid::read(dataset, width, height)?;
    let (first_row, spans) = grid.row_spans().ok_or_else(|| {
        RasterError::Unsuitable("the raster has no valid pixel: its mask is empty".into())
    })?;
    let outline = simplified(outline_of(first_row, &spans));
    // Cells to pixels of the full raster, then to the CRS.
    let (cell_w, cell_h) = (
        width as f64 / grid.width as f64,
        height as f64 / grid.height as f64,
    );
    let max_edge = grid.width.max(grid.height) as f64 / DENSIFY_PIECES;
    let crs_ring: Vec<(f64, f64)> = densify(&outline, max_edge)
        .into_iter()
        .map(|c| {
            let (column, row) = (c.x * cell_w, c.y * cell_h);
            (
                gt[0] + column * gt[1] + row * gt[2],
                gt[3] + column * gt[4] + row * gt[5],
            )
        })
        .collect();
    let lon_lat = to_wgs84(&srs, crs_ring)?;
    footprint_from_lon_lat(&lon_lat)
        .map_err(|e| RasterError::Georef(format!("the outline in EPSG:4326: {e}")))
}

/// The valid-data mask at a reduced resolution: `cells[row * width + column]`, non-zero
/// where valid.
struct MaskGrid {
    width: usize,
    height: usize,
    cells: Vec<u8>,
}

impl MaskGrid {
    /// Reads the mask of band 1 at most [`MASK_GRID`] cells on the long side.
    fn read(dataset: &Dataset, width: usize, height: usize) -> Result<Self, RasterError> {
        let scale = (width.max(height) as f64 / MASK_GRID as f64).max(1.0);
        let grid_w = ((width as f64 / scale).round() as usize).clamp(1, width);
        let grid_h = ((height as f64 / scale).round() as usize).clamp(1, height);
        let band = dataset
            .rasterband(1)
            .map_err(|e| RasterError::gdal("reading band 1", e))?;
        let mask = band
            .open_mask_band()
            .map_err(|e| RasterError::gdal("opening the mask of band 1", e))?;
        let buffer: Buffer<u8> = mask
            .read_as((0, 0), (width, height), (grid_w, grid_h), None)
            .map_err(|e| RasterError::gdal("reading the mask of band 1", e))?;
        let (_, cells) = buffer.into_shape_and_vec();
        Ok(Self {
            width: grid_w,
            height: grid_h,
            cells,
        })
    }

    /// The first row with a valid cell, and from it to the last such row each row's valid
    /// columns `first..last + 1` (a row without valid cells in between takes the span
    /// above). `None` when no cell is valid.
    fn row_spans(&self) -> Option<(usize, Vec<(usize, usize)>)> {
        let raw: Vec<Option<(usize, usize)>> = self
            .cells
            .chunks_exact(self.width)
            .map(|line| {
                let first = line.iter().position(|&v| v > 0)?;
                let last = line.iter().rposition(|&v| v > 0)?;
                Some((first, last + 1))
            })
            .collect();
        let top = raw.iter().position(Option::is_some)?;
        let bottom = raw.iter().rposition(Option::is_some)?;
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(bottom + 1 - top);
        for span in &raw[top..=bottom] {
            let span = match (span, spans.last()) {
                (Some(span), _) => *span,
                (None, Some(above)) => *above,
                (None, None) => unreachable!("the top row has a valid cell"),
            };
            spans.push(span);
        }
        Some((top, spans))
    }
}

/// The closed outline, in cell units, of the cells of `spans` (row `top + i` covers columns
/// `spans[i].0..spans[i].1`): down the left side, up the right side, one point per side on
/// each boundary between rows, at the outer edge of the two rows it separates. Each row's
/// cells are inside (a slanted edge runs outside the cell corners, not through them), and
/// the polygon is simple: every row boundary crosses it once, left of right.
fn outline_of(top: usize, spans: &[(usize, usize)]) -> Polygon<f64> {
    // Boundary `k` (y = top + k) lies between rows k - 1 and k of `spans`.
    let boundary = |k: usize| {
        let above = spans[k.saturating_sub(1)];
        let below = spans[k.min(spans.len() - 1)];
        (above.0.min(below.0) as f64, above.1.max(below.1) as f64)
    };
    let boundaries: Vec<(f64, (f64, f64))> = (0..=spans.len())
        .map(|k| ((top + k) as f64, boundary(k)))
        .collect();
    let left = boundaries.iter().map(|&(y, (x, _))| Coord { x, y });
    let right = boundaries.iter().rev().map(|&(y, (_, x))| Coord { x, y });
    Polygon::new(LineString::new(left.chain(right).collect()), Vec::new())
}

/// `outline` simplified (Ramer–Douglas–Peucker) to within half a cell, or as it is when the
/// simplification would make it invalid. Its closed exterior ring.
fn simplified(outline: Polygon<f64>) -> Vec<Coord<f64>> {
    let simple = outline.simplify(0.5);
    let chosen = if simple.exterior().0.len() >= 4 && simple.is_valid() {
        simple
    } else {
        outline
    };
    let (exterior, _) = chosen.into_inner();
    exterior.0
}

/// Inserts points into the edges of the closed ring `ring` so that none is longer than
/// `max_edge`.
fn densify(ring: &[Coord<f64>], max_edge: f64) -> Vec<Coord<f64>> {
    let mut out = Vec::with_capacity(ring.len() * 2);
    for pair in ring.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let length = (to.x - from.x).hypot(to.y - from.y);
        let steps = (length / max_edge).ceil().max(1.0) as usize;
        for i in 0..steps {
            let t = i as f64 / steps as f64;
            out.push(Coord {
                x: from.x + (to.x - from.x) * t,
                y: from.y + (to.y - from.y) * t,
            });
        }
    }
    out.extend(ring.last().copied());
    out
}

/// Projects x/y points of `srs` (in traditional GIS order) to EPSG:4326 lon/lat.
fn to_wgs84(srs: &SpatialRef, points: Vec<(f64, f64)>) -> Result<Vec<(f64, f64)>, RasterError> {
    let wgs84 = crate::crs::srs(4326)?;
    let transform = CoordTransform::new(srs, &wgs84).map_err(|e| {
        RasterError::Georef(format!(
            "no transformation from the raster's CRS to EPSG:4326: {e}"
        ))
    })?;
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = points.into_iter().unzip();
    transform
        .transform_coords(&mut xs, &mut ys, &mut [])
        .map_err(|e| {
            RasterError::Georef(format!("transforming the outline to EPSG:4326 failed: {e}"))
        })?;
    Ok(xs.into_iter().zip(ys).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(value: &str) -> DateTime<Utc> {
        value.parse().unwrap()
    }

    #[test]
    fn times_from_names() {
        let one = |name: &str, at: &str| {
            assert_eq!(time_from_name(name), Some((utc(at), utc(at))), "{name}");
        };
        one("ASA_IM__0P_20100722_213840.jpg", "2010-07-22T21:38:40Z");
        one(
            "MER_FRS_1PNPDE20060822_092058_000001972050_00308_23408_0077_RGB_reduced.tif",
            "2006-08-22T09:20:58Z",
        );
        assert_eq!(
            time_from_name("S2A_MSIL2A_20230101T103021_N0509_R108_T32TQM_20230101T120000.tif"),
            Some((utc("2023-01-01T10:30:21Z"), utc("2023-01-01T12:00:00Z")))
        );
        // The second stamp earlier than the first: start = end.
        assert_eq!(
            time_from_name("X_20230101T120000_20230101T103021"),
            Some((utc("2023-01-01T12:00:00Z"), utc("2023-01-01T12:00:00Z")))
        );
        assert_eq!(
            time_from_name("mosaic_20200229.tif"),
            Some((utc("2020-02-29T00:00:00Z"), utc("2020-02-29T23:59:59Z")))
        );
    }

    #[test]
    fn names_without_a_valid_time() {
        for name in [
            "",
            "product.tif",
            "20101340_120000.tif",
            "99999999T999999",
            "20190229.tif",
            "1234567890123456789",
            "x201007221_213840",
            &"9".repeat(10_000),
            "2010-07-22",
        ] {
            assert_eq!(
                time_from_name(name),
                None,
                "{:?}",
                &name[..name.len().min(40)]
            );
        }
        // An invalid time falls back to the date.
        assert_eq!(
            time_from_name("A_20100722_996040"),
            Some((utc("2010-07-22T00:00:00Z"), utc("2010-07-22T23:59:59Z")))
        );
    }

    /// A grid from rows of `.` (invalid) and `#` (valid).
    fn grid(rows: &[&str]) -> MaskGrid {
        MaskGrid {
            width: rows[0].len(),
            height: rows.len(),
            cells: rows
                .iter()
                .flat_map(|row| row.bytes().map(|b| u8::from(b == b'#') * 255))
                .collect(),
        }
    }

    fn area(outline: &[Coord<f64>]) -> f64 {
        use geo::Area;
        Polygon::new(LineString::new(outline.to_vec()), Vec::new()).unsigned_area()
    }

    #[test]
    fn a_full_grid_is_its_rectangle() {
        let mask = grid(&["###", "###"]);
        let (top, spans) = mask.row_spans().unwrap();
        assert_eq!((top, spans.as_slice()), (0, &[(0, 3), (0, 3)][..]));
        let outline = simplified(outline_of(top, &spans));
        assert_eq!(outline.len(), 5, "{outline:?}");
        assert_eq!(area(&outline), 6.0);
    }

    #[test]
    fn an_empty_grid_has_no_spans() {
        assert!(grid(&["...", "..."]).row_spans().is_none());
    }

    /// Asserts that `outline` is valid and holds the centre of every valid cell of `mask`.
    fn covers_every_valid_cell(mask: &MaskGrid, outline: &[Coord<f64>]) {
        use geo::Contains;
        let polygon = Polygon::new(LineString::new(outline.to_vec()), Vec::new());
        assert!(polygon.is_valid(), "{outline:?}");
        for (i, &v) in mask.cells.iter().enumerate() {
            let (x, y) = ((i % mask.width) as f64 + 0.5, (i / mask.width) as f64 + 0.5);
            if v > 0 {
                assert!(polygon.contains(&geo::Point::new(x, y)), "({x}, {y})");
            }
        }
    }

    #[test]
    fn separate_areas_and_gaps_make_one_simple_outline() {
        let mask = grid(&[
            "......", // empty top row: skipped
            "....##", // right
            "......", // gap: takes the span above
            "##....", // left, not touching the row above
            "......", // empty bottom row: skipped
        ]);
        let (top, spans) = mask.row_spans().unwrap();
        assert_eq!(top, 1);
        assert_eq!(spans, vec![(4, 6), (4, 6), (0, 2)]);
        let outline = simplified(outline_of(top, &spans));
        covers_every_valid_cell(&mask, &outline);
        assert!(area(&outline) < 18.0, "{}", area(&outline));
    }

    #[test]
    fn a_staircase_becomes_a_straight_edge_outside_the_cells() {
        // A right triangle of 64 rows.
        let rows: Vec<String> = (1..=64)
            .map(|i| format!("{}{}", "#".repeat(i), ".".repeat(64 - i)))
            .collect();
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let mask = grid(&rows);
        let (top, spans) = mask.row_spans().unwrap();
        let outline = simplified(outline_of(top, &spans));
        assert!(outline.len() <= 6, "{outline:?}");
        covers_every_valid_cell(&mask, &outline);
        // The triangle's 64 * 65 / 2 cells, plus at most one cell per row.
        let area = area(&outline);
        assert!((2080.0..=2080.0 + 64.0).contains(&area), "{area}");
    }

    #[test]
    fn a_disc_is_followed_within_a_cell() {
        let inside = |x: usize, y: usize| {
            let (dx, dy) = (x as f64 + 0.5 - 50.0, y as f64 + 0.5 - 50.0);
            dx.hypot(dy) <= 40.0
        };
        let rows: Vec<String> = (0..100)
            .map(|y| {
                (0..100)
                    .map(|x| if inside(x, y) { '#' } else { '.' })
                    .collect()
            })
            .collect();
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let mask = grid(&rows);
        let (top, spans) = mask.row_spans().unwrap();
        let full = outline_of(top, &spans);
        let outline = simplified(full.clone());
        assert!(outline.len() < full.exterior().0.len(), "not simplified");
        covers_every_valid_cell(&mask, &outline);
        let disc = std::f64::consts::PI * 40.0 * 40.0;
        let area = area(&outline);
        assert!((area - disc).abs() / disc < 0.05, "{area} vs {disc}");
    }

    #[test]
    fn a_single_cell_stays_a_square() {
        let mask = grid(&["...", ".#.", "..."]);
        let (top, spans) = mask.row_spans().unwrap();
        let outline = simplified(outline_of(top, &spans));
        covers_every_valid_cell(&mask, &outline);
        assert_eq!(area(&outline), 1.0, "{outline:?}");
    }

    #[test]
    fn densify_splits_long_edges_only() {
        let ring = [
            Coord { x: 0.0, y: 0.0 },
            Coord { x: 40.0, y: 0.0 },
            Coord { x: 40.0, y: 1.0 },
            Coord { x: 0.0, y: 0.0 },
        ];
        let dense = densify(&ring, 16.0);
        // 40 → 3 pieces, 1 → 1, ~40 → 3, plus the closing point.
        assert_eq!(dense.len(), 3 + 1 + 3 + 1);
        assert_eq!(dense.first(), dense.last());
        assert!(
            dense
                .windows(2)
                .all(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y) <= 16.0)
        );
    }
}
