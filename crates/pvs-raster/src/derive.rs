//! What a raster alone tells: the acquisition time from its file name or tags, and the
//! footprint of its valid pixels. Used for products that come without a browse report or a
//! metadata document.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use gdal::Dataset;
use gdal::Metadata;
use gdal::raster::Buffer;
use geo::{Coord, LineString, MultiPolygon, Simplify};

use crate::RasterError;
use crate::convert::{densify, project_ring};

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

/// Longest side of the grid the valid-data mask is read at.
const MASK_GRID: usize = 512;

/// The footprint of a raster's valid pixels (its mask: alpha band, nodata, or every pixel),
/// in EPSG:4326, lon/lat, split at the antimeridian.
///
/// The mask is read at most [`MASK_GRID`] pixels on a side; for each row the first and last
/// valid columns give the outline (left edges down, right edges up), simplified to within a
/// cell of that grid, then projected.
pub fn valid_data_footprint(dataset: &Dataset) -> Result<MultiPolygon<f64>, RasterError> {
    let gt = dataset
        .geo_transform()
        .map_err(|e| RasterError::Georef(format!("the raster has no geotransform: {e}")))?;
    let mut srs = dataset
        .spatial_ref()
        .map_err(|e| RasterError::Georef(format!("the raster has no CRS: {e}")))?;
    srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    let (width, height) = dataset.raster_size();
    if width == 0 || height == 0 || dataset.raster_count() == 0 {
        return Err(RasterError::Unsuitable("the raster has no pixels".into()));
    }
    let scale = (width.max(height) as f64 / MASK_GRID as f64).max(1.0);
    let (grid_w, grid_h) = (
        ((width as f64 / scale).ceil() as usize).max(1),
        ((height as f64 / scale).ceil() as usize).max(1),
    );
    let band = dataset
        .rasterband(1)
        .map_err(|e| RasterError::gdal("reading band 1", e))?;
    let mask = band
        .open_mask_band()
        .map_err(|e| RasterError::gdal("reading the mask", e))?;
    let cells: Buffer<u8> = mask
        .read_as((0, 0), (width, height), (grid_w, grid_h), None)
        .map_err(|e| RasterError::gdal("reading the mask", e))?;
    let cells = cells.data();
    // Per row: first and last valid cell.
    let rows: Vec<Option<(usize, usize)>> = (0..grid_h)
        .map(|row| {
            let line = &cells[row * grid_w..(row + 1) * grid_w];
            let first = line.iter().position(|&v| v > 0)?;
            let last = line.iter().rposition(|&v| v > 0)?;
            Some((first, last + 1))
        })
        .collect();
    let (Some(top), Some(bottom)) = (
        rows.iter().position(Option::is_some),
        rows.iter().rposition(Option::is_some),
    ) else {
        return Err(RasterError::Unsuitable(
            "the raster has no valid pixel: its mask is empty".into(),
        ));
    };
    // Cell corners, in pixels of the full raster.
    let (cell_w, cell_h) = (width as f64 / grid_w as f64, height as f64 / grid_h as f64);
    let mut left = Vec::new();
    let mut right = Vec::new();
    for (row, span) in rows.iter().enumerate().take(bottom + 1).skip(top) {
        let (first, end) = span.unwrap_or_else(|| {
            // A gap inside the valid rows: keep the outline continuous.
            let above = rows[..row].iter().rev().flatten().next();
            *above.expect("the top row is valid")
        });
        for y in [row as f64, row as f64 + 1.0] {
            left.push(Coord {
                x: first as f64 * cell_w,
                y: y * cell_h,
            });
            right.push(Coord {
                x: end as f64 * cell_w,
                y: y * cell_h,
            });
        }
    }
    let mut ring = left;
    ring.extend(right.into_iter().rev());
    ring.push(ring[0]);
    let outline = LineString::new(ring).simplify(cell_w.max(cell_h) * 0.5);
    let pixels: Vec<(f64, f64)> = outline.0.iter().map(|c| (c.x, c.y)).collect();
    let to_crs = |(column, row): (f64, f64)| {
        (
            gt[0] + column * gt[1] + row * gt[2],
            gt[3] + column * gt[4] + row * gt[5],
        )
    };
    let ring: Vec<(f64, f64)> = densify(&pixels, 8).into_iter().map(to_crs).collect();
    let footprint = project_ring(&srs, &ring)?;
    Ok(footprint)
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
}
