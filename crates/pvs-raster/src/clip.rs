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

use std::cell::RefCell;
use std::rc::Rc;

use gdal::spatial_ref::{CoordTransform, SpatialRef};
use geo::MultiPolygon;

use crate::RasterError;
use crate::render::{Rgba, View};
use crate::resample::{MAX_ERROR, Mapping, PixelMap, to_crs, transform_to};

/// The longitude/latitude of a view's pixel centres.
pub(crate) struct LonLat {
    map: PixelMap,
    width: usize,
}

impl LonLat {
    pub(crate) fn new(view: &View) -> Result<Self, RasterError> {
        let (transform, _) = transform_to(&wgs84_wkt()?, view.epsg)?;
        let geographic = Geographic { transform };
        Ok(Self {
            map: PixelMap::new(&geographic, view),
            width: view.width,
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
    let wkt = SpatialRef::from_epsg(4326)
        .and_then(|srs| srs.to_wkt())
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
    /// Every ring's edges: `[x0, y0, x1, y1]`.
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
                    if a.y != b.y {
                        edges.push([a.x, a.y, b.x, b.y]);
                    }
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

    /// Whether the point (longitude, latitude; any longitude, taken modulo 360°) lies
    /// inside.
    pub(crate) fn contains(&self, lon: f64, lat: f64) -> bool {
        if !(lat >= self.south && lat < self.north) {
            return false;
        }
        let lon = lon - 360.0 * ((lon + 180.0) / 360.0).floor();
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

/// Sets `inside` (one per pixel of `image`, row by row) to whether the pixel is still to
/// draw (not opaque) and its centre lies in `footprint`; returns whether any is.
pub(crate) fn inside(
    lon_lat: &LonLat,
    footprint: &Footprint,
    image: &Rgba,
    inside: &mut Vec<bool>,
) -> bool {
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
        lon_lat.map.row(row, &mut positions);
        for ((pixel, position), inside) in pixels.chunks_exact(4).zip(&positions).zip(inside) {
            if pixel[3] != 255 && footprint.contains(position.0, position.1) {
                *inside = true;
                any = true;
            }
        }
    }
    any
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
}
