//! Where a product may show in a map view: the output pixels whose centre lies inside its
//! footprint (EPSG:4326 longitude/latitude, split at the antimeridian, as the catalog keeps
//! it). A product's raster is larger than its footprint (its box, or more: a swath across a
//! pole or both meridians fills a fraction of it, and a raster warped from tie points may
//! hold extrapolated pixels), so nothing of it is drawn outside.
//!
//! The view's pixel centres are mapped to longitude/latitude once per map, through PROJ at
//! the nodes of a grid (as the drawing maps them to the source, see [`crate::resample`]),
//! interpolated in between and mapped pixel by pixel where the interpolation is off by more
//! than an eighth of a pixel, fails, or cannot hold (a cell spanning more than 90° of
//! longitude: across the antimeridian, around a pole). Each product's footprint is then
//! tested at the centres still to draw, by crossing number (even-odd, so holes are holes),
//! against its edges sorted into latitude bands, so that a test looks at a few edges only.
//! Most often no edge of the footprint comes near the view (a tile inside a product, or
//! far from it): then one point tells for every pixel.

use std::cell::RefCell;
use std::rc::Rc;

use gdal::spatial_ref::CoordTransform;
use geo::MultiPolygon;

use crate::RasterError;
use crate::render::{Rgba, View};
use crate::resample::{MAX_ERROR, Mapping, PixelMap, STEP, to_crs, transform_to};

/// The longitude/latitude of a view's pixel centres.
pub(crate) struct LonLat {
    map: PixelMap,
    width: usize,
    /// `[west, south, east, north]` holding every pixel centre, when they all have a
    /// longitude/latitude within ±180°.
    bounds: Option<[f64; 4]>,
}

impl LonLat {
    pub(crate) fn new(view: &View) -> Result<Self, RasterError> {
        let (transform, _) = transform_to(&wgs84_wkt()?, view.epsg)?;
        let geographic = Geographic { transform };
        let map = PixelMap::new(&geographic, view);
        let bounds = map.bounds().filter(|b| b[0] >= -180.0 && b[2] <= 180.0);
        Ok(Self {
            map,
            width: view.width,
            bounds,
        })
    }
}

thread_local! {
    static WGS84_WKT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// EPSG:4326 as WKT (the key of the cached transformations).
fn wgs84_wkt() -> Result<String, RasterError> {
    if let Some(wkt) = WGS84_WKT.with(|w| w.borrow().clone()) {
        return Ok(wkt);
    }
    let wkt = crate::crs::srs(4326)?
        .to_wkt()
        .map_err(|e| RasterError::Unsuitable(format!("EPSG:4326: {e}")))?;
    WGS84_WKT.with(|w| *w.borrow_mut() = Some(wkt.clone()));
    Ok(wkt)
}

/// From the view to longitude/latitude (degrees).
struct Geographic {
    /// `None`: the view is in EPSG:4326.
    transform: Option<Rc<CoordTransform>>,
}

impl Mapping for Geographic {
    fn map(&self, view: &View, us: &mut [f64], vs: &mut [f64]) {
        to_crs(view, self.transform.as_deref(), us, vs);
        for (x, y) in us.iter_mut().zip(vs.iter_mut()) {
            if !(x.is_finite() && y.is_finite()) {
                (*x, *y) = (f64::NAN, f64::NAN);
            }
        }
    }

    fn tolerance(&self, scale: f64) -> f64 {
        MAX_ERROR * scale
    }

    /// Longitudes wrap at the antimeridian and turn around the poles: a cell whose corners
    /// are that far apart in longitude is no plane to interpolate in.
    fn doubtful(&self, corners: &[(f64, f64); 4]) -> bool {
        let (west, east) = corners
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(w, e), c| {
                (w.min(c.0), e.max(c.0))
            });
        east - west > 90.0
    }
}

/// A footprint ready to be tested at many points.
pub(crate) struct Footprint {
    /// Every ring's edges: `[x0, y0, x1, y1]` (the horizontal ones count no crossing).
    edges: Vec<[f64; 4]>,
    /// Per latitude band (from `south`, `band` high), the edges reaching into it.
    bands: Vec<Vec<u32>>,
    south: f64,
    north: f64,
    band: f64,
}

impl Footprint {
    pub(crate) fn new(footprint: &MultiPolygon<f64>) -> Self {
        let mut edges = Vec::new();
        for polygon in footprint {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for line in ring.lines() {
                    let (a, b) = (line.start, line.end);
                    edges.push([a.x, a.y, b.x, b.y]);
                }
            }
        }
        let (south, north) = edges
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(s, n), e| {
                (s.min(e[1]).min(e[3]), n.max(e[1]).max(e[3]))
            });
        let count = edges.len().clamp(1, 1024);
        let band = if north > south {
            (north - south) / count as f64
        } else {
            1.0
        };
        let mut bands = vec![Vec::new(); count];
        let index = |y: f64| (((y - south) / band) as usize).min(count - 1);
        for (i, e) in edges.iter().enumerate() {
            let (low, high) = (e[1].min(e[3]), e[1].max(e[3]));
            for b in &mut bands[index(low)..=index(high)] {
                b.push(i as u32);
            }
        }
        Self {
            edges,
            bands,
            south,
            north,
            band,
        }
    }

    /// Whether an edge comes into the box `[west, south, east, north]` (within ±180°); when
    /// none does, every point of the box is inside, or every point is outside.
    fn near(&self, [west, south, east, north]: [f64; 4]) -> bool {
        if !(west >= -180.0 && east <= 180.0) {
            return true;
        }
        if north < self.south || south > self.north {
            return false;
        }
        let band =
            |y: f64| (((y - self.south) / self.band).max(0.0) as usize).min(self.bands.len() - 1);
        self.bands[band(south)..=band(north)]
            .iter()
            .flatten()
            .any(|&i| {
                let e = self.edges[i as usize];
                e[0].min(e[2]) <= east
                    && e[0].max(e[2]) >= west
                    && e[1].min(e[3]) <= north
                    && e[1].max(e[3]) >= south
            })
    }

    /// Whether the point (longitude, latitude; any longitude, taken modulo 360°) lies
    /// inside.
    pub(crate) fn contains(&self, lon: f64, lat: f64) -> bool {
        if !(lat >= self.south && lat < self.north) {
            return false;
        }
        let lon = if (-180.0..180.0).contains(&lon) {
            lon
        } else {
            lon - 360.0 * ((lon + 180.0) / 360.0).floor()
        };
        let band = (((lat - self.south) / self.band) as usize).min(self.bands.len() - 1);
        let mut inside = false;
        for &i in &self.bands[band] {
            let [x0, y0, x1, y1] = self.edges[i as usize];
            if (y0 > lat) != (y1 > lat) && lon < x0 + (lat - y0) * (x1 - x0) / (y1 - y0) {
                inside = !inside;
            }
        }
        inside
    }
}

/// Which pixels of a view a footprint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// Every pixel's centre.
    All,
    /// None.
    Nothing,
    /// Those marked in the `inside` given to [`inside`].
    Some,
}

/// Which pixels of `image` still to draw (not opaque) have their centre in `footprint`:
/// all, none, or those it sets in `inside` (one per pixel, row by row).
pub(crate) fn inside(
    lon_lat: &LonLat,
    footprint: &Footprint,
    image: &Rgba,
    inside: &mut Vec<bool>,
) -> Coverage {
    // No edge near the pixel centres (all of them, or a grid cell's): all are on the same
    // side, which one point tells.
    let uniform = |bounds: Option<[f64; 4]>| {
        let [west, south, east, north] = bounds.filter(|b| !footprint.near(*b))?;
        Some(footprint.contains((west + east) / 2.0, (south + north) / 2.0))
    };
    match uniform(lon_lat.bounds) {
        Some(true) => return Coverage::All,
        Some(false) => return Coverage::Nothing,
        None => {}
    }
    let (across, down) = lon_lat.map.cells();
    let cells: Vec<Option<bool>> = (0..down)
        .flat_map(|j| (0..across).map(move |i| (i, j)))
        .map(|(i, j)| uniform(lon_lat.map.cell_bounds(i, j)))
        .collect();
    let width = lon_lat.width;
    inside.clear();
    inside.resize(image.pixels.len() / 4, false);
    let mut positions = vec![(f64::NAN, f64::NAN); width];
    let mut any = false;
    let rows = image
        .pixels
        .chunks_exact(width * 4)
        .zip(inside.chunks_exact_mut(width));
    for (row, (pixels, inside)) in rows.enumerate() {
        if pixels.chunks_exact(4).all(|p| p[3] == 255) {
            continue;
        }
        let cells = &cells[(row / STEP).min(down - 1) * across..][..across];
        lon_lat
            .map
            .row_in(row, &mut positions, |i| cells[i].is_none());
        let pixels = pixels.chunks(STEP * 4).zip(positions.chunks(STEP));
        for ((pixels, positions), (inside, cell)) in pixels.zip(inside.chunks_mut(STEP).zip(cells))
        {
            let pixels = pixels.chunks_exact(4).zip(positions).zip(inside);
            for ((pixel, position), inside) in pixels {
                *inside = pixel[3] != 255
                    && cell.unwrap_or_else(|| footprint.contains(position.0, position.1));
                any |= *inside;
            }
        }
    }
    if any {
        Coverage::Some
    } else {
        Coverage::Nothing
    }
}

#[cfg(test)]
mod tests {
    use geo::{LineString, Polygon};

    use super::*;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
        Polygon::new(
            LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
            Vec::new(),
        )
    }

    #[test]
    fn points_are_tested_against_every_piece_and_hole() {
        let mut outer = square(170.0, -10.0, 180.0, 10.0);
        outer.interiors_push(LineString::from(vec![
            (174.0, -2.0),
            (176.0, -2.0),
            (176.0, 2.0),
            (174.0, 2.0),
            (174.0, -2.0),
        ]));
        let footprint = Footprint::new(&MultiPolygon::new(vec![
            outer,
            square(-180.0, -10.0, -170.0, 10.0),
        ]));
        assert!(footprint.contains(172.0, 5.0));
        assert!(!footprint.contains(175.0, 0.0), "in the hole");
        assert!(footprint.contains(-175.0, 0.0));
        assert!(footprint.contains(185.0, 0.0), "185° is -175°");
        assert!(!footprint.contains(0.0, 0.0));
        assert!(!footprint.contains(172.0, 10.5));
        assert!(!footprint.contains(-169.0, 0.0));
    }

    /// Whole cells decided by one point agree with testing every pixel.
    #[test]
    fn cells_away_from_edges_are_decided_at_once() {
        let zigzag = Polygon::new(
            LineString::from(vec![
                (-20.0, 60.0),
                (40.0, 62.0),
                (10.0, 70.0),
                (60.0, 80.0),
                (-30.0, 84.0),
                (-20.0, 60.0),
            ]),
            Vec::new(),
        );
        let footprint = Footprint::new(&MultiPolygon::new(vec![zigzag]));
        for view in [
            View {
                epsg: 4326,
                bbox: [-40.0, 55.0, 70.0, 90.0],
                width: 300,
                height: 100,
            },
            View {
                epsg: 3857,
                bbox: [-4e6, 7e6, 8e6, 1.9e7],
                width: 200,
                height: 250,
            },
            View {
                epsg: 3413,
                bbox: [-4e6, -4e6, 4e6, 4e6],
                width: 256,
                height: 256,
            },
        ] {
            let lon_lat = LonLat::new(&view).unwrap();
            let image = Rgba::transparent(view.width, view.height);
            let mut inside_ = Vec::new();
            assert_eq!(
                inside(&lon_lat, &footprint, &image, &mut inside_),
                Coverage::Some
            );
            let mut positions = vec![(f64::NAN, f64::NAN); view.width];
            let mut count = 0;
            for row in 0..view.height {
                lon_lat.map.row(row, &mut positions);
                for (column, (lon, lat)) in positions.iter().enumerate() {
                    let expected = footprint.contains(*lon, *lat);
                    assert_eq!(
                        inside_[row * view.width + column],
                        expected,
                        "EPSG:{} pixel ({column}, {row}) at {lon}, {lat}",
                        view.epsg
                    );
                    count += usize::from(expected);
                }
            }
            assert!(count > 1000, "EPSG:{}: {count}", view.epsg);
        }
    }
}
