//! How a browse image is placed on the Earth: the reference system and the five
//! geolocation forms of a browse report, with coordinates kept exactly as written.

use std::fmt;
use std::str::FromStr;

use geo::Coord;
use serde::{Deserialize, Serialize};

use crate::footprint::{Footprint, FootprintError, footprint_from_lon_lat, valid_polygon};

/// EPSG code of WGS 84 geographic coordinates (latitude first in its axis order).
pub const WGS84: u32 = 4326;

/// The `referenceSystemIdentifier` of a browse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ReferenceSystem {
    /// `EPSG:<code>`; reports also write `EPSG: <code>`.
    Epsg(u32),
    /// `RAW`: no CRS of its own (only with `modelInGeotiff`).
    Raw,
}

/// Lowest and highest codes of the EPSG dataset's code space. Whether a code inside it is
/// defined is only known to PROJ (the preprocessor's GDAL checks that).
const EPSG_CODES: std::ops::RangeInclusive<u32> = 1024..=32766;

impl FromStr for ReferenceSystem {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value == "RAW" {
            return Ok(ReferenceSystem::Raw);
        }
        let code = value
            .strip_prefix("EPSG:")
            .map(|code| code.trim_start_matches(' '))
            .filter(|code| !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("{value:?} is neither EPSG:<code> nor RAW"))?;
        match code.parse::<u32>() {
            Ok(code) if EPSG_CODES.contains(&code) => Ok(ReferenceSystem::Epsg(code)),
            _ => Err(format!(
                "{value:?}: EPSG code outside the EPSG code space {}..={}",
                EPSG_CODES.start(),
                EPSG_CODES.end()
            )),
        }
    }
}

impl TryFrom<String> for ReferenceSystem {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        value.parse()
    }
}

impl From<ReferenceSystem> for String {
    fn from(value: ReferenceSystem) -> String {
        value.to_string()
    }
}

impl fmt::Display for ReferenceSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReferenceSystem::Epsg(code) => write!(f, "EPSG:{code}"),
            ReferenceSystem::Raw => f.write_str("RAW"),
        }
    }
}

/// A pixel position in a `colRowList`: a number, or the image width/height written as
/// `ncol`/`nrow` (ngEO-Light reports), known only once the image is read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pixel {
    /// A pixel offset (column or row; fractions allowed).
    At(f64),
    /// `ncol` or `nrow`.
    Size(ImageSize),
}

/// The `ncol`/`nrow` tokens of a `colRowList`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageSize {
    /// `ncol`: the image width in pixels.
    #[serde(rename = "ncol")]
    Width,
    /// `nrow`: the image height in pixels.
    #[serde(rename = "nrow")]
    Height,
}

impl Pixel {
    /// The offset in pixels for an image of `width` × `height`.
    pub fn resolve(self, width: u32, height: u32) -> f64 {
        match self {
            Pixel::At(value) => value,
            Pixel::Size(ImageSize::Width) => f64::from(width),
            Pixel::Size(ImageSize::Height) => f64::from(height),
        }
    }
}

/// The geolocation of a browse. Coordinate pairs are in the axis order of the browse's
/// CRS, exactly as written: `(lat, lon)` for EPSG:4326, `(x, y)` for UTM or EPSG:3857.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Geolocation {
    /// `rectifiedBrowse`: the outer corners of the lower-left and upper-right pixels. A
    /// report with `ll` > `ur` on an axis describes a mirrored image; the footprint is the
    /// same box.
    Rectified {
        /// Lower-left corner.
        ll: (f64, f64),
        /// Upper-right corner.
        ur: (f64, f64),
    },
    /// `footprint`: a closed ring of tie points; `col_row[i]` (pixel column, row; 0 0 is the
    /// top-left corner) is at `coords[i]`.
    Footprint {
        /// Pixel positions.
        col_row: Vec<(Pixel, Pixel)>,
        /// Coordinates of the same nodes.
        coords: Vec<(f64, f64)>,
    },
    /// `regularGrid`: a grid of tie points for swath imagery. `lines` has `row_node_number`
    /// lists of `col_node_number` pairs; node `k` of list `i` is at pixel column
    /// `i · row_step` and row `k · col_step` (so the first pair is the top-left pixel; the
    /// ngEO corpus and its reference implementation read the grid this way).
    RegularGrid {
        /// Nodes per coordinate list (down the image).
        col_node_number: u32,
        /// Number of coordinate lists (across the image).
        row_node_number: u32,
        /// Pixel rows between two nodes of a list.
        col_step: f64,
        /// Pixel columns between two lists.
        row_step: f64,
        /// The coordinate lists.
        lines: Vec<Vec<(f64, f64)>>,
    },
    /// `modelInGeotiff`: the GeoTIFF's own georeferencing applies.
    ModelInGeotiff,
}

/// A ground control point: a pixel position and its coordinates in the browse's CRS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TiePoint {
    /// Pixel column (x).
    pub column: f64,
    /// Pixel row (line, y).
    pub row: f64,
    /// The coordinate pair, in the CRS's axis order as written.
    pub coords: (f64, f64),
}

impl Geolocation {
    /// The closed outline of the browse in native coordinates (CRS axis order as written):
    /// the box of a rectified browse, the footprint ring, or the outer ring of a regular
    /// grid (down the first list, along the last nodes, up the last list, back along the
    /// first nodes). `None` for `modelInGeotiff`.
    pub fn outline(&self) -> Option<Vec<(f64, f64)>> {
        match self {
            Geolocation::Rectified { ll, ur } => {
                let (a_min, a_max) = (ll.0.min(ur.0), ll.0.max(ur.0));
                let (b_min, b_max) = (ll.1.min(ur.1), ll.1.max(ur.1));
                Some(vec![
                    (a_min, b_min),
                    (a_max, b_min),
                    (a_max, b_max),
                    (a_min, b_max),
                    (a_min, b_min),
                ])
            }
            Geolocation::Footprint { coords, .. } => Some(coords.clone()),
            Geolocation::RegularGrid { lines, .. } => {
                let (first, last) = (lines.first()?, lines.last()?);
                let mut ring = first.clone();
                ring.extend(lines[1..].iter().filter_map(|line| line.last().copied()));
                ring.extend(last.iter().rev().skip(1).copied());
                ring.extend(
                    lines[..lines.len() - 1]
                        .iter()
                        .rev()
                        .filter_map(|line| line.first().copied()),
                );
                Some(ring)
            }
            Geolocation::ModelInGeotiff => None,
        }
    }

    /// The tie points (GCPs) of a `footprint` or `regularGrid` geolocation for an image of
    /// `width` × `height` pixels, without the closing node of a footprint ring. Empty for
    /// the other forms.
    pub fn tie_points(&self, width: u32, height: u32) -> Vec<TiePoint> {
        match self {
            Geolocation::Footprint { col_row, coords } => col_row
                .iter()
                .zip(coords)
                .take(coords.len().saturating_sub(1))
                .map(|(&(column, row), &coords)| TiePoint {
                    column: column.resolve(width, height),
                    row: row.resolve(width, height),
                    coords,
                })
                .collect(),
            Geolocation::RegularGrid {
                col_step,
                row_step,
                lines,
                ..
            } => lines
                .iter()
                .enumerate()
                .flat_map(|(i, line)| {
                    line.iter().enumerate().map(move |(k, &coords)| TiePoint {
                        column: i as f64 * row_step,
                        row: k as f64 * col_step,
                        coords,
                    })
                })
                .collect(),
            Geolocation::Rectified { .. } | Geolocation::ModelInGeotiff => Vec::new(),
        }
    }

    /// Derives the footprint in the given reference system: computed for EPSG:4326 (pairs
    /// are `lat lon`), handed over for reprojection for other EPSG codes, left to the raster
    /// for `modelInGeotiff`.
    pub fn footprint(&self, crs: ReferenceSystem) -> Result<Footprint, FootprintError> {
        let Some(outline) = self.outline() else {
            return Ok(Footprint::FromRaster);
        };
        match crs {
            ReferenceSystem::Epsg(WGS84) => {
                let lon_lat: Vec<(f64, f64)> =
                    outline.iter().map(|&(lat, lon)| (lon, lat)).collect();
                footprint_from_lon_lat(&lon_lat).map(Footprint::Wgs84)
            }
            ReferenceSystem::Epsg(epsg) => {
                check_native_ring(&outline)?;
                Ok(Footprint::NeedsReprojection {
                    epsg,
                    ring: outline,
                })
            }
            ReferenceSystem::Raw => Err(FootprintError::NoReferenceSystem),
        }
    }
}

/// The checks that do not need a projection: finite, closed, a valid polygon with an area.
fn check_native_ring(ring: &[(f64, f64)]) -> Result<(), FootprintError> {
    if ring.len() < 4 {
        return Err(FootprintError::TooFewPositions(ring.len()));
    }
    if let Some(index) = ring
        .iter()
        .position(|&(a, b)| !a.is_finite() || !b.is_finite())
    {
        return Err(FootprintError::NotFinite { index });
    }
    if ring.first() != ring.last() {
        return Err(FootprintError::NotClosed);
    }
    valid_polygon(ring.iter().map(|&(x, y)| Coord { x, y }).collect()).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_systems_parse_and_print() {
        assert_eq!("EPSG:4326".parse(), Ok(ReferenceSystem::Epsg(4326)));
        assert_eq!(" EPSG: 4326 ".parse(), Ok(ReferenceSystem::Epsg(4326)));
        assert_eq!("EPSG:32650".parse(), Ok(ReferenceSystem::Epsg(32650)));
        assert_eq!("RAW".parse(), Ok(ReferenceSystem::Raw));
        for bad in [
            "",
            "EPSG:",
            "EPSG:abc",
            "EPSG:999999",
            "EPSG:900913",
            "epsg:4326",
            "INVALID",
            "EPSG:-4326",
            "EPSG :4326",
            "EPSG:43 26",
        ] {
            assert!(bad.parse::<ReferenceSystem>().is_err(), "{bad:?}");
        }
        assert_eq!(ReferenceSystem::Epsg(4326).to_string(), "EPSG:4326");
    }

    #[test]
    fn regular_grid_outline_walks_the_border_once() {
        // 3 lists of 2 nodes: pairs are (list, node).
        let lines: Vec<Vec<(f64, f64)>> = (0..3)
            .map(|i| (0..2).map(|k| (f64::from(i), f64::from(k))).collect())
            .collect();
        let grid = Geolocation::RegularGrid {
            col_node_number: 2,
            row_node_number: 3,
            col_step: 10.0,
            row_step: 20.0,
            lines,
        };
        assert_eq!(
            grid.outline().unwrap(),
            vec![
                (0.0, 0.0),
                (0.0, 1.0),
                (1.0, 1.0),
                (2.0, 1.0),
                (2.0, 0.0),
                (1.0, 0.0),
                (0.0, 0.0)
            ]
        );
        let tie_points = grid.tie_points(40, 10);
        assert_eq!(tie_points.len(), 6);
        assert_eq!(
            tie_points[5],
            TiePoint {
                column: 40.0,
                row: 10.0,
                coords: (2.0, 1.0)
            }
        );
    }

    #[test]
    fn native_rings_are_checked_without_projection() {
        let rectified = Geolocation::Rectified {
            ll: (809_760.0, 3_990_200.0),
            ur: (699_960.0, 4_100_000.0),
        };
        let Footprint::NeedsReprojection { epsg, ring } =
            rectified.footprint(ReferenceSystem::Epsg(32650)).unwrap()
        else {
            panic!("a UTM box needs reprojection");
        };
        assert_eq!(epsg, 32650);
        assert_eq!(ring[0], (699_960.0, 3_990_200.0));
        assert_eq!(ring[2], (809_760.0, 4_100_000.0));
        let flat = Geolocation::Rectified {
            ll: (1.0, 2.0),
            ur: (1.0, 5.0),
        };
        assert_eq!(
            flat.footprint(ReferenceSystem::Epsg(3857)),
            Err(FootprintError::Empty)
        );
        assert_eq!(
            flat.footprint(ReferenceSystem::Raw),
            Err(FootprintError::NoReferenceSystem)
        );
    }
}
