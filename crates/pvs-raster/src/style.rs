//! How a collection's data become colours: band selection or band expressions, value ranges
//! stretched to 0..255, a no-data value, and a colormap for single-channel data.

use std::fmt;
use std::str::FromStr;

use crate::expression::Expression;

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

/// How a layer's data are drawn: its channels (bands or band expressions), the value ranges
/// stretched to 0..255, a no-data value and, for one channel, a colormap. The default draws
/// 8-bit data as stored: grey, grey and alpha, RGB or RGBA.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Style {
    /// One channel (grey or colormap), three (RGB) or four (RGBA); `None`: as stored.
    channels: Option<Vec<Expression>>,
    /// The value ranges stretched to 0..255: none (values clamped to 0..255), one for every
    /// channel, or one per channel.
    ranges: Vec<[f64; 2]>,
    /// Colormap for a single channel.
    colormap: Option<Colormap>,
    /// Pixels where a channel has this value are not drawn.
    nodata: Option<f64>,
}

impl Style {
    /// A style of bands (1-based): refused unless it selects one or three bands and its range
    /// is finite and increasing; a colormap needs a single band.
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
        }
        let channels = bands.map(|bands| {
            bands
                .iter()
                .map(|band| Expression::band(*band as usize))
                .collect()
        });
        Self::of_channels(channels, rescale.into_iter().collect(), None, colormap)
    }

    /// A style of channels (one, three or four expressions; `None`: the data as stored),
    /// refused with the reason unless: the ranges are none, one, or one per channel, each
    /// finite and increasing; the no-data value is finite; a colormap has a single channel.
    pub fn of_channels(
        channels: Option<Vec<Expression>>,
        ranges: Vec<[f64; 2]>,
        nodata: Option<f64>,
        colormap: Option<Colormap>,
    ) -> Result<Self, String> {
        let count = channels.as_ref().map(Vec::len);
        if let Some(count) = count {
            if !matches!(count, 1 | 3 | 4) {
                return Err(format!(
                    "{count} channels: one (grey), three (RGB) or four (RGBA)"
                ));
            }
            if colormap.is_some() && count != 1 {
                return Err(format!("a colormap needs a single channel, not {count}"));
            }
        }
        if ranges.len() > 1 && Some(ranges.len()) != count {
            return Err(format!(
                "{} ranges: one for every channel, or one per channel ({})",
                ranges.len(),
                count.map_or("as stored".to_owned(), |c| c.to_string())
            ));
        }
        for [low, high] in &ranges {
            if !(low.is_finite() && high.is_finite() && low < high) {
                return Err(format!(
                    "range [{low}, {high}]: two finite numbers, the first smaller"
                ));
            }
        }
        if let Some(nodata) = nodata
            && !nodata.is_finite()
        {
            return Err(format!("nodata {nodata}: a finite number"));
        }
        Ok(Self {
            channels,
            ranges,
            colormap,
            nodata,
        })
    }

    /// This style with other channels (WMS `dim_bands`); a colormap stays only for one.
    pub fn with_channels(mut self, channels: Vec<Expression>) -> Result<Self, String> {
        if channels.len() != 1 {
            self.colormap = None;
        }
        if self.ranges.len() > 1 && self.ranges.len() != channels.len() {
            self.ranges.clear();
        }
        Self::of_channels(Some(channels), self.ranges, self.nodata, self.colormap)
    }

    /// This style with other value ranges (WMS `dim_range`).
    pub fn with_ranges(self, ranges: Vec<[f64; 2]>) -> Result<Self, String> {
        Self::of_channels(self.channels, ranges, self.nodata, self.colormap)
    }

    /// This style drawn through `colormap` (WMS `STYLES`): it must have a single channel;
    /// data drawn as stored show their first band.
    pub fn with_colormap(self, colormap: Colormap) -> Result<Self, String> {
        let channels = self.channels.unwrap_or_else(|| vec![Expression::band(1)]);
        Self::of_channels(Some(channels), self.ranges, self.nodata, Some(colormap))
    }

    /// The channels, or `None` for the data as stored.
    pub fn channels(&self) -> Option<&[Expression]> {
        self.channels.as_deref()
    }

    /// The colormap, if any.
    pub fn colormap(&self) -> Option<Colormap> {
        self.colormap
    }

    /// The value range of `channel` (0-based), if values are stretched.
    pub fn range(&self, channel: usize) -> Option<[f64; 2]> {
        match self.ranges.as_slice() {
            [] => None,
            [every] => Some(*every),
            per_channel => per_channel.get(channel).copied(),
        }
    }

    /// Whether the data are drawn as stored (the fast 8-bit path).
    pub fn is_plain(&self) -> bool {
        self == &Style::default()
    }

    /// A value of `channel` as 0..255.
    pub(crate) fn scale(&self, channel: usize, value: f64) -> u8 {
        let scaled = match self.range(channel) {
            Some([low, high]) => (value - low) / (high - low) * 255.0,
            None => value,
        };
        if scaled.is_nan() {
            0
        } else {
            scaled.round().clamp(0.0, 255.0) as u8
        }
    }

    /// The colour and alpha of one pixel, from its channels' values (one, three or four);
    /// `None` (not drawn) where a value is not finite or is the no-data value.
    pub(crate) fn colour(&self, values: &[f64]) -> Option<[u8; 4]> {
        if values
            .iter()
            .any(|v| !v.is_finite() || Some(*v) == self.nodata)
        {
            return None;
        }
        Some(match values {
            [grey] => {
                let grey = self.scale(0, *grey);
                let [r, g, b] = match self.colormap {
                    Some(colormap) => colormap.colour(grey),
                    None => [grey; 3],
                };
                [r, g, b, 255]
            }
            [r, g, b] => [self.scale(0, *r), self.scale(1, *g), self.scale(2, *b), 255],
            [r, g, b, a] => [
                self.scale(0, *r),
                self.scale(1, *g),
                self.scale(2, *b),
                self.scale(3, *a),
            ],
            // Not allowed by `of_channels`.
            _ => [0, 0, 0, 0],
        })
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
        assert_eq!(style.scale(0, 1000.0), 0);
        assert_eq!(style.scale(0, 2000.0), 128);
        assert_eq!(style.scale(0, 3000.0), 255);
        assert_eq!(style.scale(0, -5.0), 0);
        assert_eq!(style.scale(0, 9e9), 255);
        assert_eq!(style.scale(0, f64::NAN), 0);
        assert_eq!(Style::default().scale(0, 300.0), 255);
        assert_eq!(style.colour(&[2000.0]), Some([128, 128, 128, 255]));
        assert_eq!(style.colour(&[f64::NAN]), None);
        assert_eq!(style.colour(&[f64::INFINITY]), None);
    }

    #[test]
    fn bad_styles_are_refused_with_the_reason() {
        assert!(Style::new(Some(vec![1, 2]), None, None).is_err());
        assert!(Style::new(Some(vec![0]), None, None).is_err());
        assert!(Style::new(Some(vec![1, 2, 3]), None, Some(Colormap::Magma)).is_err());
        assert!(Style::new(None, Some([5.0, 5.0]), None).is_err());
        assert!(Style::new(None, Some([f64::NAN, 5.0]), None).is_err());
        assert!(Style::new(Some(vec![2]), Some([0.0, 1.0]), Some(Colormap::Terrain)).is_ok());
        let band = |b| vec![Expression::band(b)];
        assert!(Style::of_channels(Some(vec![]), vec![], None, None).is_err());
        assert!(
            Style::of_channels(Some(band(1)), vec![[0.0, 1.0], [0.0, 2.0]], None, None).is_err()
        );
        assert!(Style::of_channels(Some(band(1)), vec![], Some(f64::NAN), None).is_err());
        assert!(Style::default().with_colormap(Colormap::Magma).is_ok());
        let rgb = Style::new(Some(vec![1, 2, 3]), None, None).unwrap();
        assert!(rgb.with_colormap(Colormap::Magma).is_err());
    }

    #[test]
    fn per_channel_ranges_nodata_and_alpha() {
        let channels = (1..=4).map(Expression::band).collect();
        let ranges = vec![[0.0, 10.0], [0.0, 20.0], [0.0, 40.0], [0.0, 1.0]];
        let style = Style::of_channels(Some(channels), ranges, Some(-1.0), None).unwrap();
        assert_eq!(
            style.colour(&[10.0, 10.0, 10.0, 0.5]),
            Some([255, 128, 64, 128])
        );
        assert_eq!(style.colour(&[10.0, -1.0, 10.0, 1.0]), None);
        assert_eq!(style.range(2), Some([0.0, 40.0]));
        let one = Style::new(Some(vec![1, 2, 3]), Some([0.0, 2.0]), None).unwrap();
        assert_eq!(one.range(2), Some([0.0, 2.0]));
        // dim_bands with another count drops per-channel ranges and the colormap.
        let grey = Style::new(Some(vec![1]), None, Some(Colormap::Viridis)).unwrap();
        let rgb = grey
            .with_channels((1..=3).map(Expression::band).collect())
            .unwrap();
        assert_eq!(rgb.colormap(), None);
        assert_eq!(rgb.channels().map(<[Expression]>::len), Some(3));
    }
}
