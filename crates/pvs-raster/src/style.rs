//! How a collection's data become colours: band selection, a value range stretched to
//! 0..255, and a colormap for single-band data.

use std::fmt;
use std::str::FromStr;

/// Colormaps for single-band data, each a ramp through a few anchor colours, linearly
/// interpolated into 256 entries (close to the matplotlib maps of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colormap {
    /// Black to white.
    Grey,
    /// Dark blue through green to yellow.
    Viridis,
    /// Black through purple and orange to pale yellow.
    Magma,
    /// Blue (sea) through green and brown to white (peaks).
    Terrain,
    /// Red through yellow to green (diverging).
    RdYlGn,
}

impl Colormap {
    /// Every colormap, by the name the configuration uses.
    pub const ALL: [(&'static str, Colormap); 5] = [
        ("grey", Colormap::Grey),
        ("viridis", Colormap::Viridis),
        ("magma", Colormap::Magma),
        ("terrain", Colormap::Terrain),
        ("rdylgn", Colormap::RdYlGn),
    ];

    fn anchors(self) -> &'static [[u8; 3]] {
        match self {
            Colormap::Grey => &[[0, 0, 0], [255, 255, 255]],
            Colormap::Viridis => &[
                [68, 1, 84],
                [72, 40, 120],
                [62, 74, 137],
                [49, 104, 142],
                [38, 130, 142],
                [31, 158, 137],
                [53, 183, 121],
                [109, 205, 89],
                [180, 222, 44],
                [253, 231, 37],
            ],
            Colormap::Magma => &[
                [0, 0, 4],
                [28, 16, 68],
                [79, 18, 123],
                [129, 37, 129],
                [181, 54, 122],
                [229, 80, 100],
                [251, 135, 97],
                [254, 194, 135],
                [252, 253, 191],
            ],
            Colormap::Terrain => &[
                [51, 51, 153],
                [0, 153, 255],
                [0, 204, 102],
                [204, 230, 128],
                [204, 190, 125],
                [128, 92, 84],
                [255, 255, 255],
            ],
            Colormap::RdYlGn => &[
                [165, 0, 38],
                [215, 48, 39],
                [244, 109, 67],
                [253, 174, 97],
                [254, 224, 139],
                [255, 255, 191],
                [217, 239, 139],
                [166, 217, 106],
                [102, 189, 99],
                [26, 152, 80],
                [0, 104, 55],
            ],
        }
    }

    /// The colour of `value` (0..255).
    pub fn colour(self, value: u8) -> [u8; 3] {
        let anchors = self.anchors();
        let steps = (anchors.len() - 1) as u32;
        let position = u32::from(value) * steps;
        let index = (position / 255) as usize;
        if index >= anchors.len() - 1 {
            return anchors[anchors.len() - 1];
        }
        let fraction = position % 255;
        let (a, b) = (anchors[index], anchors[index + 1]);
        let mix = |a: u8, b: u8| {
            ((u32::from(a) * (255 - fraction) + u32::from(b) * fraction + 127) / 255) as u8
        };
        [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
    }
}

impl FromStr for Colormap {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Colormap::ALL
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, colormap)| *colormap)
            .ok_or_else(|| {
                let known: Vec<&str> = Colormap::ALL.iter().map(|(n, _)| *n).collect();
                format!("colormap {name:?}: one of {}", known.join(", "))
            })
    }
}

impl fmt::Display for Colormap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Colormap::ALL
            .iter()
            .find(|(_, c)| c == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

/// How a layer's data are drawn. The default draws 8-bit data as stored: grey, grey and
/// alpha, RGB or RGBA.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Style {
    /// Bands to show (1-based): one (grey or colormap) or three (RGB); `None`: as stored.
    pub bands: Option<Vec<u32>>,
    /// The value range stretched to 0..255; `None`: values are clamped to 0..255.
    pub rescale: Option<[f64; 2]>,
    /// Colormap for a single band.
    pub colormap: Option<Colormap>,
}

impl Style {
    /// A style, refused unless it selects one or three bands (1-based) and its range is
    /// finite and increasing; a colormap needs a single band.
    pub fn new(
        bands: Option<Vec<u32>>,
        rescale: Option<[f64; 2]>,
        colormap: Option<Colormap>,
    ) -> Result<Self, String> {
        if let Some(bands) = &bands {
            if bands.len() != 1 && bands.len() != 3 {
                return Err(format!("bands {bands:?}: one band or three"));
            }
            if bands.contains(&0) {
                return Err(format!("bands {bands:?}: bands count from 1"));
            }
            if colormap.is_some() && bands.len() != 1 {
                return Err(format!("bands {bands:?}: a colormap needs a single band"));
            }
        }
        if let Some([low, high]) = rescale
            && !(low.is_finite() && high.is_finite() && low < high)
        {
            return Err(format!(
                "rescale [{low}, {high}]: two finite numbers, the first smaller"
            ));
        }
        Ok(Self {
            bands,
            rescale,
            colormap,
        })
    }

    /// Whether the data are drawn as stored (the fast 8-bit path).
    pub fn is_plain(&self) -> bool {
        self == &Style::default()
    }

    /// A value of the data as 0..255.
    pub(crate) fn scale(&self, value: f64) -> u8 {
        let scaled = match self.rescale {
            Some([low, high]) => (value - low) / (high - low) * 255.0,
            None => value,
        };
        if scaled.is_nan() {
            0
        } else {
            scaled.round().clamp(0.0, 255.0) as u8
        }
    }

    /// The colour of one pixel from the values of the selected bands (one or three).
    pub(crate) fn colour(&self, values: &[f64]) -> [u8; 3] {
        match values {
            [grey] => {
                let grey = self.scale(*grey);
                match self.colormap {
                    Some(colormap) => colormap.colour(grey),
                    None => [grey; 3],
                }
            }
            [r, g, b, ..] => [self.scale(*r), self.scale(*g), self.scale(*b)],
            // Not selected by a valid style (one band or three).
            [] | [_, _] => [0; 3],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormaps_run_from_their_first_anchor_to_their_last() {
        for (name, colormap) in Colormap::ALL {
            let anchors = colormap.anchors();
            assert_eq!(colormap.colour(0), anchors[0], "{name}");
            assert_eq!(colormap.colour(255), anchors[anchors.len() - 1], "{name}");
            assert_eq!(name.parse::<Colormap>().unwrap(), colormap);
            assert_eq!(colormap.to_string(), name);
        }
        // Grey is the identity; viridis halfway is between its middle anchors.
        assert_eq!(Colormap::Grey.colour(77), [77, 77, 77]);
        let middle = Colormap::Viridis.colour(128);
        assert!(middle[1] > 130 && middle[1] < 160, "{middle:?}");
        assert!("jet".parse::<Colormap>().unwrap_err().contains("viridis"));
    }

    #[test]
    fn rescale_stretches_and_clamps() {
        let style = Style::new(Some(vec![1]), Some([1000.0, 3000.0]), None).unwrap();
        assert_eq!(style.scale(1000.0), 0);
        assert_eq!(style.scale(2000.0), 128);
        assert_eq!(style.scale(3000.0), 255);
        assert_eq!(style.scale(-5.0), 0);
        assert_eq!(style.scale(9e9), 255);
        assert_eq!(style.scale(f64::NAN), 0);
        assert_eq!(Style::default().scale(300.0), 255);
        assert_eq!(style.colour(&[2000.0]), [128, 128, 128]);
    }

    #[test]
    fn bad_styles_are_refused_with_the_reason() {
        assert!(Style::new(Some(vec![1, 2]), None, None).is_err());
        assert!(Style::new(Some(vec![0]), None, None).is_err());
        assert!(Style::new(Some(vec![1, 2, 3]), None, Some(Colormap::Magma)).is_err());
        assert!(Style::new(None, Some([5.0, 5.0]), None).is_err());
        assert!(Style::new(None, Some([f64::NAN, 5.0]), None).is_err());
        assert!(Style::new(Some(vec![2]), Some([0.0, 1.0]), Some(Colormap::Terrain)).is_ok());
    }
}
