//! Vector drawing into map images: product footprints as outlines, and error messages as
//! text (WMS `EXCEPTIONS=INIMAGE`).

use gdal::spatial_ref::CoordTransform;
use geo::MultiPolygon;

use crate::render::{Rgba, View};
use crate::{RasterError, clip};

/// Edges are cut into steps of at most this many degrees before projecting, so that a
/// footprint's edges bend as they should in the view's CRS.
const DENSIFY_DEGREES: f64 = 0.25;

/// Draws the outlines of `footprints` (EPSG:4326 longitude/latitude) into a transparent
/// image of `view`, `thickness` pixels wide in `colour` (RGBA).
///
/// Edges running along the antimeridian (where the catalog splits a footprint) are left
/// out: they are cuts, not borders. Points the view's CRS cannot represent are skipped.
pub fn outlines(
    footprints: &[MultiPolygon<f64>],
    view: &View,
    colour: [u8; 4],
    thickness: usize,
) -> Result<Rgba, RasterError> {
    crate::render::check_view(view)?;
    let mut image = Rgba::transparent(view.width, view.height);
    let transform = if view.epsg == 4326 {
        None
    } else {
        let wgs84 = crate::crs::srs(4326)?;
        let target = crate::crs::srs(view.epsg)?;
        Some(CoordTransform::new(&wgs84, &target).map_err(|e| {
            RasterError::Georef(format!("no transformation to EPSG:{}: {e}", view.epsg))
        })?)
    };
    let [x0, y0, x1, y1] = view.bbox;
    let to_pixel = |lon: f64, lat: f64| -> Option<(f64, f64)> {
        let (x, y) = match &transform {
            None => (lon, lat),
            Some(transform) => {
                let (mut xs, mut ys, mut zs) = ([lon], [lat], [0.0]);
                transform.transform_coords(&mut xs, &mut ys, &mut zs).ok()?;
                (xs[0], ys[0])
            }
        };
        let px = (x - x0) / (x1 - x0) * view.width as f64;
        let py = (y1 - y) / (y1 - y0) * view.height as f64;
        (px.is_finite() && py.is_finite()).then_some((px, py))
    };
    for polygon in footprints.iter().flat_map(|m| m.0.iter()) {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for edge in ring.lines() {
                let (a, b) = (edge.start, edge.end);
                let on_antimeridian =
                    a.x.abs() >= 180.0 - 1e-9 && b.x.abs() >= 180.0 - 1e-9 && a.x == b.x;
                if on_antimeridian {
                    continue;
                }
                let length = (b.x - a.x).hypot(b.y - a.y);
                let steps = ((length / DENSIFY_DEGREES).ceil() as usize).clamp(1, 10_000);
                let mut previous = to_pixel(a.x, a.y);
                for i in 1..=steps {
                    let t = i as f64 / steps as f64;
                    let next = to_pixel(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t);
                    if let (Some(p), Some(q)) = (previous, next) {
                        image.line(p, q, colour, thickness);
                    }
                    previous = next;
                }
            }
        }
    }
    Ok(image)
}

/// An image of `view` with `areas` (EPSG:4326 multi-polygons, split at the antimeridian)
/// filled in `colour` (RGBA): every pixel whose centre lies in one of them (tested as the
/// mosaic tests footprints, [`crate::clip`]).
pub fn areas(
    areas: &[MultiPolygon<f64>],
    view: &View,
    colour: [u8; 4],
) -> Result<Rgba, RasterError> {
    crate::render::check_view(view)?;
    let mut image = Rgba::transparent(view.width, view.height);
    if areas.is_empty() {
        return Ok(image);
    }
    // Pixels are tested against an empty image: every one is still to draw.
    let blank = Rgba::transparent(view.width, view.height);
    let lon_lat = clip::LonLat::new(view)?;
    let mut inside = Vec::new();
    for area in areas {
        let footprint = clip::Footprint::new(area);
        let all = match clip::inside(&lon_lat, &footprint, &blank, &mut inside) {
            clip::Coverage::All => true,
            clip::Coverage::Nothing => continue,
            clip::Coverage::Some => false,
        };
        for (index, pixel) in image.pixels.chunks_exact_mut(4).enumerate() {
            if all || inside[index] {
                pixel.copy_from_slice(&colour);
            }
        }
    }
    Ok(image)
}

impl Rgba {
    /// Draws a straight line between two pixel positions (may lie outside the image: the
    /// line is clipped), `thickness` pixels wide.
    pub(crate) fn line(
        &mut self,
        from: (f64, f64),
        to: (f64, f64),
        colour: [u8; 4],
        thickness: usize,
    ) {
        let margin = thickness as f64 + 1.0;
        let Some((from, to)) = clip(
            from,
            to,
            (-margin, -margin),
            (self.width as f64 + margin, self.height as f64 + margin),
        ) else {
            return;
        };
        let length = (to.0 - from.0).hypot(to.1 - from.1);
        let steps = (length * 2.0).ceil().max(1.0) as usize;
        let half = thickness as f64 / 2.0;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let x = from.0 + (to.0 - from.0) * t - half;
            let y = from.1 + (to.1 - from.1) * t - half;
            for dy in 0..thickness.max(1) {
                for dx in 0..thickness.max(1) {
                    self.set((x + dx as f64).round(), (y + dy as f64).round(), colour);
                }
            }
        }
    }

    fn set(&mut self, x: f64, y: f64, colour: [u8; 4]) {
        if x < 0.0 || y < 0.0 || x >= self.width as f64 || y >= self.height as f64 {
            return;
        }
        let i = (y as usize * self.width + x as usize) * 4;
        self.pixels[i..i + 4].copy_from_slice(&colour);
    }
}

/// Liang–Barsky: the part of the segment inside the rectangle, if any.
fn clip(
    from: (f64, f64),
    to: (f64, f64),
    min: (f64, f64),
    max: (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, from.0 - min.0),
        (dx, max.0 - from.0),
        (-dy, from.1 - min.1),
        (dy, max.1 - from.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some((
        (from.0 + t0 * dx, from.1 + t0 * dy),
        (from.0 + t1 * dx, from.1 + t1 * dy),
    ))
}

/// Glyphs of a 5 × 7 pixel font for `' '` to `` '`' `` (lower case is drawn as upper case),
/// then `{`, `|`, `}`, `~`: seven rows, the five low bits of each from left to right.
const GLYPHS: [[u8; 7]; 69] = [
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // ' '
    [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04], // !
    [0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00], // "
    [0x0A, 0x1F, 0x0A, 0x0A, 0x1F, 0x0A, 0x00], // #
    [0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04], // $
    [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], // %
    [0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D], // &
    [0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00], // '
    [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], // (
    [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08], // )
    [0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00], // *
    [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00], // +
    [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08], // ,
    [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00], // -
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C], // .
    [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00], // /
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], // 0
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E], // 1
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], // 2
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E], // 3
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], // 4
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E], // 5
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], // 6
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08], // 7
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], // 8
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C], // 9
    [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00], // :
    [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08], // ;
    [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02], // <
    [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00], // =
    [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08], // >
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04], // ?
    [0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E], // @
    [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11], // A
    [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E], // B
    [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], // C
    [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C], // D
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], // E
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10], // F
    [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], // G
    [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], // H
    [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], // I
    [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C], // J
    [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], // K
    [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F], // L
    [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], // M
    [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11], // N
    [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], // O
    [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10], // P
    [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], // Q
    [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11], // R
    [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], // S
    [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04], // T
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], // U
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04], // V
    [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], // W
    [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11], // X
    [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], // Y
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F], // Z
    [0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E], // [
    [0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00], // \
    [0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E], // ]
    [0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00], // ^
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F], // _
    [0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00], // `
    [0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02], // {
    [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04], // |
    [0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08], // }
    [0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00], // ~
];

/// Pixels a character advances; lines are 10 pixels apart.
const ADVANCE: usize = 6;
const LINE_HEIGHT: usize = 10;

fn glyph(c: char) -> &'static [u8; 7] {
    let c = c.to_ascii_uppercase();
    let index = match c {
        ' '..='`' => c as usize - ' ' as usize,
        '{'..='~' => 65 + (c as usize - '{' as usize),
        _ => '?' as usize - ' ' as usize,
    };
    &GLYPHS[index]
}

/// A transparent image of `width` × `height` with `text` written on it in `colour`, from
/// the top left, wrapped at the image's width; what does not fit is cut.
pub fn message(width: usize, height: usize, text: &str, colour: [u8; 4]) -> Rgba {
    let mut image = Rgba::transparent(width, height);
    let columns = (width.saturating_sub(4) / ADVANCE).max(1);
    let chars: Vec<char> = text.chars().filter(|c| !c.is_control()).collect();
    for (line, row) in chars.chunks(columns).enumerate() {
        let top = 2 + line * LINE_HEIGHT;
        if top + 7 > height {
            break;
        }
        for (column, c) in row.iter().enumerate() {
            let left = 2 + column * ADVANCE;
            for (dy, bits) in glyph(*c).iter().enumerate() {
                for dx in 0..5 {
                    if bits & (0x10 >> dx) != 0 {
                        image.set((left + dx) as f64, (top + dy) as f64, colour);
                    }
                }
            }
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};

    fn count(image: &Rgba) -> usize {
        image.pixels.chunks_exact(4).filter(|p| p[3] != 0).count()
    }

    #[test]
    fn areas_fill_the_pixels_whose_centre_they_hold() {
        // A 2° square with a 1° hole in a 4° view of 40 × 40 pixels.
        let ring = |a: f64, b: f64| LineString::from(vec![(a, a), (b, a), (b, b), (a, b), (a, a)]);
        let holed = Polygon::new(ring(1.0, 3.0), vec![ring(1.5, 2.5)]);
        let view = View {
            epsg: 4326,
            bbox: [0.0, 0.0, 4.0, 4.0],
            width: 40,
            height: 40,
        };
        let colour = [0, 128, 255, 100];
        let image = areas(&[MultiPolygon(vec![holed])], &view, colour).unwrap();
        assert_eq!(image.pixel(12, 12), colour, "inside the ring");
        assert_eq!(image.pixel(20, 20)[3], 0, "in the hole");
        assert_eq!(image.pixel(5, 5)[3], 0, "outside");
        // 20 × 20 pixels minus the 10 × 10 hole.
        assert_eq!(count(&image), 300);
        let all = View {
            bbox: [1.2, 1.2, 1.4, 1.4],
            ..view.clone()
        };
        let square = MultiPolygon(vec![Polygon::new(ring(1.0, 3.0), vec![])]);
        assert_eq!(count(&areas(&[square], &all, colour).unwrap()), 1600);
        assert_eq!(count(&areas(&[], &view, colour).unwrap()), 0);
    }

    #[test]
    fn a_square_footprint_is_drawn_on_its_border_only() {
        // A 2° square in a 4° view of 40 × 40 pixels: its border runs from pixel 10 to 30.
        let square = Polygon::new(
            LineString::from(vec![
                (1.0, 1.0),
                (3.0, 1.0),
                (3.0, 3.0),
                (1.0, 3.0),
                (1.0, 1.0),
            ]),
            vec![],
        );
        let view = View {
            epsg: 4326,
            bbox: [0.0, 0.0, 4.0, 4.0],
            width: 40,
            height: 40,
        };
        let red = [255, 0, 0, 255];
        let image = outlines(&[MultiPolygon(vec![square])], &view, red, 1).unwrap();
        assert_eq!(image.pixel(10, 20), red, "west edge");
        assert_eq!(
            image.pixel(30, 20)[3],
            255,
            "east edge (rounded onto the border)"
        );
        assert_eq!(image.pixel(20, 10), red, "north edge");
        assert_eq!(image.pixel(20, 20)[3], 0, "inside stays transparent");
        assert_eq!(image.pixel(2, 2)[3], 0, "outside stays transparent");
        // Four edges of about 20 pixels each.
        let drawn = count(&image);
        assert!((76..=90).contains(&drawn), "{drawn} pixels");
    }

    #[test]
    fn cuts_along_the_antimeridian_are_not_drawn_and_web_mercator_works() {
        // The eastern half of a footprint split at 180°: its edge on 180° is a cut.
        let half = Polygon::new(
            LineString::from(vec![
                (178.0, 0.0),
                (180.0, 0.0),
                (180.0, 2.0),
                (178.0, 2.0),
                (178.0, 0.0),
            ]),
            vec![],
        );
        let view = View {
            epsg: 4326,
            bbox: [177.0, -1.0, 181.0, 3.0],
            width: 40,
            height: 40,
        };
        let image = outlines(
            &[MultiPolygon(vec![half.clone()])],
            &view,
            [0, 0, 0, 255],
            1,
        )
        .unwrap();
        assert_eq!(image.pixel(30, 20)[3], 0, "the cut at 180° is not drawn");
        assert_eq!(image.pixel(10, 20)[3], 255, "the edge at 178° is");
        let mercator = View {
            epsg: 3857,
            bbox: [19_700_000.0, -100_000.0, 20_100_000.0, 300_000.0],
            width: 40,
            height: 40,
        };
        let image = outlines(&[MultiPolygon(vec![half])], &mercator, [0, 0, 0, 255], 2).unwrap();
        assert!(count(&image) > 40, "{}", count(&image));
    }

    #[test]
    fn lines_far_outside_are_clipped_not_walked() {
        let mut image = Rgba::transparent(10, 10);
        image.line((-1e12, 5.0), (1e12, 5.0), [1, 2, 3, 255], 1);
        assert_eq!(image.pixel(0, 5), [1, 2, 3, 255]);
        assert_eq!(image.pixel(9, 5), [1, 2, 3, 255]);
        image.line((-1e12, -1e12), (-1e12, 1e12), [1, 2, 3, 255], 1);
        assert_eq!(count(&image), 10);
    }

    #[test]
    fn messages_are_legible_glyphs_wrapped_at_the_width() {
        let black = [0, 0, 0, 255];
        let image = message(64, 40, "HI", black);
        // 'H': the left column of its first row is set, the middle is not.
        assert_eq!(image.pixel(2, 2), black);
        assert_eq!(image.pixel(4, 2)[3], 0);
        // 'H' has 17 pixels on, 'I' 11.
        assert_eq!(count(&image), 17 + 11);
        // Lower case is drawn as upper case; other text differs.
        assert_eq!(message(64, 40, "hi", black), image);
        assert_ne!(message(64, 40, "HO", black), image);
        // Ten characters per 64-pixel line: the eleventh starts the second line.
        let wrapped = message(64, 40, "AAAAAAAAAAB", black);
        assert_eq!(wrapped.pixel(2, 12 + 6), black, "B's bottom-left");
        // Too small for a line: nothing, and no panic on odd input.
        assert_eq!(count(&message(3, 3, "ABC", black)), 0);
        assert!(count(&message(30, 30, "é\u{0}\n€", black)) > 0);
    }
}
