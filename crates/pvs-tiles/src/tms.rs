//! The two tile matrix sets of the cache, as OGC 17-083r4 (Two Dimensional Tile Matrix Set)
//! defines them: `WebMercatorQuad` (EPSG:3857, 1 × 1 tiles at zoom 0, the
//! `GoogleMapsCompatible` well-known scale set) and `WorldCRS84Quad` (CRS84, 2 × 1 tiles at
//! zoom 0). Tiles are 256 × 256 pixels; rows count down from the top. Each set is also read
//! under the names MapCache and its clients give the same pyramid ([`TileMatrixSet::aliases`]).

use std::f64::consts::PI;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// Side of a tile, in pixels.
pub const TILE_SIZE: u32 = 256;

/// The deepest zoom level served.
pub const MAX_ZOOM: u8 = 24;

/// Half the side of the Web Mercator square, in metres (π × 6,378,137).
pub const MERCATOR_HALF: f64 = 20_037_508.342_789_244;

/// The latitude where the Web Mercator square ends.
pub const MERCATOR_MAX_LAT: f64 = 85.051_128_779_806_59;

/// The size of a pixel in OGC's scale denominators: 0.28 mm.
const PIXEL_METRES: f64 = 0.000_28;

/// Metres per degree on the WGS 84 equator (the equatorial circumference / 360), as OGC and
/// GDAL use to give degree-based matrix sets a scale.
const METRES_PER_DEGREE: f64 = 2.0 * PI * 6_378_137.0 / 360.0;

/// A tile matrix set the cache serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileMatrixSet {
    /// EPSG:3857, one tile at zoom 0.
    WebMercatorQuad,
    /// CRS84 (longitude, latitude), two tiles side by side at zoom 0.
    WorldCRS84Quad,
}

/// One tile: zoom level, column (from the west) and row (from the north).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Zoom level (the tile matrix identifier).
    pub z: u8,
    /// Column, from 0 at the west edge.
    pub x: u32,
    /// Row, from 0 at the north edge.
    pub y: u32,
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// A rectangle of tiles at one zoom level (both ranges inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileRange {
    /// Zoom level.
    pub z: u8,
    /// Columns.
    pub x: RangeInclusive<u32>,
    /// Rows.
    pub y: RangeInclusive<u32>,
}

impl TileRange {
    /// How many tiles the range holds.
    pub fn len(&self) -> u64 {
        let span = |r: &RangeInclusive<u32>| u64::from(r.end() - r.start()) + 1;
        span(&self.x) * span(&self.y)
    }

    /// Always false: a range holds at least one tile.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `tile` is in the range.
    pub fn contains(&self, tile: Tile) -> bool {
        tile.z == self.z && self.x.contains(&tile.x) && self.y.contains(&tile.y)
    }

    /// Every tile of the range, row by row.
    pub fn tiles(&self) -> impl Iterator<Item = Tile> + '_ {
        let z = self.z;
        self.y
            .clone()
            .flat_map(move |y| self.x.clone().map(move |x| Tile { z, x, y }))
    }
}

/// Why a tile address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The zoom level is deeper than [`MAX_ZOOM`].
    #[error("zoom level {z} is beyond the deepest level {MAX_ZOOM}")]
    Zoom {
        /// The refused zoom level.
        z: u8,
    },
    /// The column or row is outside the matrix.
    #[error(
        "tile {tile} is outside {tms}: at zoom {z} columns run 0 to {last_x} and rows 0 to {last_y}",
        z = tile.z
    )]
    OutOfRange {
        /// The refused tile.
        tile: Tile,
        /// The matrix set.
        tms: TileMatrixSet,
        /// The last column.
        last_x: u32,
        /// The last row.
        last_y: u32,
    },
}

impl TileMatrixSet {
    /// Both matrix sets.
    pub const ALL: [TileMatrixSet; 2] = [Self::WebMercatorQuad, Self::WorldCRS84Quad];

    /// The identifier used in capabilities, requests and tile keys.
    pub fn id(self) -> &'static str {
        match self {
            Self::WebMercatorQuad => "WebMercatorQuad",
            Self::WorldCRS84Quad => "WorldCRS84Quad",
        }
    }

    /// Other names read for the set wherever one is named (requests, the seeder), each the
    /// same pyramid: the names of MapCache's built-in grids (`GoogleMapsCompatible`,
    /// `WGS84`), the well-known scale set MapCache's `WGS84` grid announces
    /// (`GoogleCRS84Quad`: OGC's scale set of that name has one tile at zoom 0, but MapCache's
    /// grid and the PRISM View Server clients naming it have two), and Web Mercator's EPSG
    /// codes. An alias is never stored: tiles are keyed by [`id`](Self::id).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::WebMercatorQuad => &["GoogleMapsCompatible", "EPSG:3857", "EPSG:900913"],
            Self::WorldCRS84Quad => &["WGS84", "GoogleCRS84Quad"],
        }
    }

    /// The name of MapCache's built-in grid with the same pyramid.
    pub fn mapcache_grid(self) -> &'static str {
        match self {
            Self::WebMercatorQuad => "GoogleMapsCompatible",
            Self::WorldCRS84Quad => "WGS84",
        }
    }

    /// The EPSG code of the CRS (4326 for CRS84, whose axes are longitude, latitude).
    pub fn epsg(self) -> u32 {
        match self {
            Self::WebMercatorQuad => 3857,
            Self::WorldCRS84Quad => 4326,
        }
    }

    /// The CRS as WMTS capabilities name it.
    pub fn crs_urn(self) -> &'static str {
        match self {
            Self::WebMercatorQuad => "urn:ogc:def:crs:EPSG::3857",
            Self::WorldCRS84Quad => "urn:ogc:def:crs:OGC:1.3:CRS84",
        }
    }

    /// The WMTS well-known scale set the matrix set follows, if any.
    pub fn well_known_scale_set(self) -> Option<&'static str> {
        match self {
            Self::WebMercatorQuad => Some("urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"),
            // GoogleCRS84Quad has one tile at zoom 0; WorldCRS84Quad has two.
            Self::WorldCRS84Quad => None,
        }
    }

    /// The matrix set's extent in its CRS: `[min x, min y, max x, max y]`.
    pub fn extent(self) -> [f64; 4] {
        match self {
            Self::WebMercatorQuad => [-MERCATOR_HALF, -MERCATOR_HALF, MERCATOR_HALF, MERCATOR_HALF],
            Self::WorldCRS84Quad => [-180.0, -90.0, 180.0, 90.0],
        }
    }

    /// Columns and rows of the matrix at zoom `z` (at most [`MAX_ZOOM`]).
    pub fn matrix_size(self, z: u8) -> (u32, u32) {
        let n = 1u32 << z.min(MAX_ZOOM);
        match self {
            Self::WebMercatorQuad => (n, n),
            Self::WorldCRS84Quad => (2 * n, n),
        }
    }

    /// Size of a pixel at zoom `z`, in CRS units (metres or degrees).
    pub fn resolution(self, z: u8) -> f64 {
        let [x0, _, x1, _] = self.extent();
        let (columns, _) = self.matrix_size(z);
        (x1 - x0) / f64::from(columns) / f64::from(TILE_SIZE)
    }

    /// The scale denominator of zoom `z` (0.28 mm pixels).
    pub fn scale_denominator(self, z: u8) -> f64 {
        let metres_per_unit = match self {
            Self::WebMercatorQuad => 1.0,
            Self::WorldCRS84Quad => METRES_PER_DEGREE,
        };
        self.resolution(z) * metres_per_unit / PIXEL_METRES
    }

    /// Checks that `tile` is in the matrix set.
    pub fn check(self, tile: Tile) -> Result<(), TileError> {
        if tile.z > MAX_ZOOM {
            return Err(TileError::Zoom { z: tile.z });
        }
        let (columns, rows) = self.matrix_size(tile.z);
        if tile.x >= columns || tile.y >= rows {
            return Err(TileError::OutOfRange {
                tile,
                tms: self,
                last_x: columns - 1,
                last_y: rows - 1,
            });
        }
        Ok(())
    }

    /// The tile's bounds in the matrix set's CRS: `[min x, min y, max x, max y]`.
    pub fn bounds(self, tile: Tile) -> [f64; 4] {
        let [x0, _, _, y1] = self.extent();
        let side = self.resolution(tile.z) * f64::from(TILE_SIZE);
        let west = x0 + f64::from(tile.x) * side;
        let north = y1 - f64::from(tile.y) * side;
        [west, north - side, west + side, north]
    }

    /// The tile's bounds in longitude and latitude: `[west, south, east, north]`.
    pub fn wgs84_bounds(self, tile: Tile) -> [f64; 4] {
        let [x0, y0, x1, y1] = self.bounds(tile);
        match self {
            Self::WorldCRS84Quad => [x0, y0, x1, y1],
            Self::WebMercatorQuad => [
                x0 / MERCATOR_HALF * 180.0,
                mercator_lat(y0),
                x1 / MERCATOR_HALF * 180.0,
                mercator_lat(y1),
            ],
        }
    }

    /// The tiles at zoom `z` that a longitude/latitude box `[west, south, east, north]`
    /// overlaps with a positive area (a box touching a tile only along its edge does not
    /// take it). A box with `west > east` crosses the antimeridian and gives two ranges.
    /// Latitudes beyond the matrix set's extent are clamped to it (a box wholly beyond
    /// gives the edge row). Empty if the box is not finite, has `south > north`, or has no
    /// width or height and lies on a tile boundary.
    pub fn tiles(self, bbox: [f64; 4], z: u8) -> Vec<TileRange> {
        let [west, south, east, north] = bbox;
        if !bbox.iter().all(|v| v.is_finite()) || south > north || z > MAX_ZOOM {
            return Vec::new();
        }
        if west > east {
            return [[west, south, 180.0, north], [-180.0, south, east, north]]
                .into_iter()
                .flat_map(|part| self.tiles(part, z))
                .collect();
        }
        let (columns, rows) = self.matrix_size(z);
        let (max_lat, y_of): (f64, fn(f64) -> f64) = match self {
            Self::WebMercatorQuad => (MERCATOR_MAX_LAT, |lat| {
                // The fraction of the square from the top.
                let phi = lat.to_radians();
                (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / PI) / 2.0
            }),
            Self::WorldCRS84Quad => (90.0, |lat| (90.0 - lat) / 180.0),
        };
        // A box beyond the extent's latitudes is moved onto its edge row (as morecantile
        // does): the edge tiles are the nearest the matrix set has.
        let (west, east) = (west.clamp(-180.0, 180.0), east.clamp(-180.0, 180.0));
        let (south, north) = (
            south.clamp(-max_lat, max_lat),
            north.clamp(-max_lat, max_lat),
        );
        let x_of = |lon: f64| (lon + 180.0) / 360.0;
        let first = |fraction: f64, count: u32| {
            // The cell holding the fraction; a fraction on a boundary belongs to the next.
            ((fraction * f64::from(count)).floor().max(0.0) as u32).min(count - 1)
        };
        let last = |fraction: f64, count: u32| {
            // The cell ending at or after the fraction; one on a boundary ends the cell before.
            let cell = (fraction * f64::from(count)).ceil() - 1.0;
            (cell.max(0.0) as u32).min(count - 1)
        };
        let x = first(x_of(west), columns)..=last(x_of(east), columns);
        let y = first(y_of(north), rows)..=last(y_of(south), rows);
        if x.is_empty() || y.is_empty() {
            // A box of no width or height lying on a tile boundary.
            return Vec::new();
        }
        vec![TileRange { z, x, y }]
    }
}

/// The latitude of a Web Mercator northing.
fn mercator_lat(y: f64) -> f64 {
    (2.0 * (y / MERCATOR_HALF * PI).exp().atan() - PI / 2.0).to_degrees()
}

impl fmt::Display for TileMatrixSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// An unknown tile matrix set name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tile matrix set {0:?}: {accepted}", accepted = accepted_names())]
pub struct UnknownTileMatrixSet(pub String);

/// The names read, for error messages: `WebMercatorQuad (also …) or WorldCRS84Quad (also …)`.
fn accepted_names() -> String {
    TileMatrixSet::ALL
        .map(|tms| format!("{tms} (also {})", tms.aliases().join(", ")))
        .join(" or ")
}

impl FromStr for TileMatrixSet {
    type Err = UnknownTileMatrixSet;

    /// The identifier or one of its [aliases](TileMatrixSet::aliases), in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|tms| {
                std::iter::once(tms.id())
                    .chain(tms.aliases().iter().copied())
                    .any(|name| name.eq_ignore_ascii_case(s))
            })
            .ok_or_else(|| UnknownTileMatrixSet(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_zero_matrices() {
        assert_eq!(TileMatrixSet::WebMercatorQuad.matrix_size(0), (1, 1));
        assert_eq!(TileMatrixSet::WorldCRS84Quad.matrix_size(0), (2, 1));
        assert_eq!(TileMatrixSet::WorldCRS84Quad.matrix_size(3), (16, 8));
        // The published scale denominators (OGC 17-083r4, annex D).
        let close = |a: f64, b: f64| (a - b).abs() / b < 1e-9;
        assert!(close(
            TileMatrixSet::WebMercatorQuad.scale_denominator(0),
            559_082_264.028_717_8
        ));
        assert!(close(
            TileMatrixSet::WorldCRS84Quad.scale_denominator(0),
            279_541_132.014_358_9
        ));
    }

    #[test]
    fn bounds_of_known_tiles() {
        let tms = TileMatrixSet::WebMercatorQuad;
        let [w, s, e, n] = tms.wgs84_bounds(Tile { z: 0, x: 0, y: 0 });
        assert!((w + 180.0).abs() < 1e-9 && (e - 180.0).abs() < 1e-9);
        assert!((n - MERCATOR_MAX_LAT).abs() < 1e-9 && (s + MERCATOR_MAX_LAT).abs() < 1e-9);
        let [w, s, e, n] = TileMatrixSet::WorldCRS84Quad.bounds(Tile { z: 1, x: 3, y: 1 });
        assert_eq!([w, s, e, n], [90.0, -90.0, 180.0, 0.0]);
    }

    #[test]
    fn a_box_on_tile_edges_takes_only_the_tiles_inside() {
        let tms = TileMatrixSet::WorldCRS84Quad;
        // Exactly the tile z1 (1, 0): 90°W..0°, 0..90°N.
        let ranges = tms.tiles([-90.0, 0.0, 0.0, 90.0], 1);
        assert_eq!(
            ranges,
            vec![TileRange {
                z: 1,
                x: 1..=1,
                y: 0..=0
            }]
        );
        let world = tms.tiles([-180.0, -90.0, 180.0, 90.0], 2);
        assert_eq!(world[0].len(), 32);
    }

    #[test]
    fn antimeridian_boxes_give_two_ranges() {
        let tms = TileMatrixSet::WebMercatorQuad;
        let ranges = tms.tiles([170.0, -10.0, -170.0, 10.0], 3);
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0].x, 7..=7);
        assert_eq!(ranges[1].x, 0..=0);
    }

    #[test]
    fn poles_are_clamped_and_bad_boxes_give_nothing() {
        let tms = TileMatrixSet::WebMercatorQuad;
        let ranges = tms.tiles([-10.0, 86.0, 10.0, 90.0], 4);
        assert_eq!(
            ranges,
            vec![TileRange {
                z: 4,
                x: 7..=8,
                y: 0..=0
            }],
            "the edge row"
        );
        assert!(
            tms.tiles([0.0, 5.0, 0.0, 6.0], 2).is_empty(),
            "no width, on a boundary"
        );
        let ranges = tms.tiles([-10.0, 80.0, 10.0, 90.0], 2);
        assert_eq!(ranges[0].y, 0..=0);
        assert!(tms.tiles([f64::NAN, 0.0, 1.0, 1.0], 2).is_empty());
        assert!(tms.tiles([0.0, 5.0, 1.0, 1.0], 2).is_empty());
    }

    #[test]
    fn out_of_range_tiles_are_refused_with_the_limits() {
        let tms = TileMatrixSet::WorldCRS84Quad;
        let error = tms.check(Tile { z: 2, x: 8, y: 0 }).unwrap_err();
        assert!(error.to_string().contains("columns run 0 to 7"), "{error}");
        assert!(tms.check(Tile { z: 2, x: 7, y: 3 }).is_ok());
        assert!(tms.check(Tile { z: 30, x: 0, y: 0 }).is_err());
    }

    #[test]
    fn names_and_aliases() {
        for tms in TileMatrixSet::ALL {
            assert_eq!(tms.id().parse::<TileMatrixSet>(), Ok(tms));
        }
        // MapCache's grid names and the scale set its WGS84 grid announces, in any case (as
        // the identifiers are read).
        for (name, tms) in [
            ("GoogleMapsCompatible", TileMatrixSet::WebMercatorQuad),
            ("EPSG:900913", TileMatrixSet::WebMercatorQuad),
            ("WGS84", TileMatrixSet::WorldCRS84Quad),
            ("wgs84", TileMatrixSet::WorldCRS84Quad),
            ("GoogleCRS84Quad", TileMatrixSet::WorldCRS84Quad),
            ("GOOGLECRS84QUAD", TileMatrixSet::WorldCRS84Quad),
        ] {
            assert_eq!(name.parse::<TileMatrixSet>(), Ok(tms), "{name}");
            assert_eq!(name.parse::<TileMatrixSet>().unwrap().id(), tms.id());
        }
        for tms in TileMatrixSet::ALL {
            assert!(tms.aliases().contains(&tms.mapcache_grid()));
        }
        for unknown in ["EPSG:4326", "WGS 84", "WGS84 ", "GoogleCRS84", "", "g"] {
            let error = unknown.parse::<TileMatrixSet>().unwrap_err().to_string();
            assert!(
                error.contains("WorldCRS84Quad (also WGS84, GoogleCRS84Quad)"),
                "{unknown:?}: {error}"
            );
        }
        let long = "x".repeat(10_000);
        let error = long.parse::<TileMatrixSet>().unwrap_err();
        assert!(error.to_string().len() < 300);
    }
}
