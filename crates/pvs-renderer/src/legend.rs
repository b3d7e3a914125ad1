//! `GetLegendGraphic`: the colour ramp of a layer drawn through a colormap (its own, or the
//! one `STYLE` names), low values on the left (or at the bottom when the legend is taller
//! than wide).

use pvs_ogc::{Exception, Params};
use pvs_raster::render::{Format, Rgba, encode};
use pvs_raster::style::Colormap;

use crate::Renderer;
use crate::draw::Restyle;
use crate::layers::Layer;
use crate::wms::Failure;

/// The default width of a legend.
pub(crate) const WIDTH: usize = 256;
/// The default height of a legend.
pub(crate) const HEIGHT: usize = 20;
/// The largest side of a legend.
const MAX_SIDE: usize = 1024;

/// A checked GetLegendGraphic request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegendRequest {
    /// The layer (`LAYER`).
    pub layer: String,
    /// The style whose colour ramp is drawn (`STYLE`); `None`: the layer's own.
    pub style: Option<String>,
    /// The legend's width (`WIDTH`, 1 to 1024; default 256).
    pub width: usize,
    /// The legend's height (`HEIGHT`, 1 to 1024; default 20).
    pub height: usize,
}

impl LegendRequest {
    /// Reads the parameters of a GetLegendGraphic (`LAYER`, optional `STYLE`, `FORMAT`
    /// image/png, optional `WIDTH` and `HEIGHT`); the exception names the parameter at fault.
    pub fn parse(params: &Params) -> Result<Self, Exception> {
        let layer = params.require("layer")?;
        if let Some(format) = params.get("format")
            && !matches!(format.to_ascii_lowercase().as_str(), "image/png" | "png")
        {
            return Err(Exception::new(
                "InvalidFormat",
                "format",
                format!("FORMAT {format:?}: legends are image/png"),
            ));
        }
        let side = |key: &str, default: usize| match params.get(key) {
            None => Ok(default),
            Some(_) => crate::params::size(params, key, MAX_SIDE),
        };
        Ok(Self {
            layer: layer.to_owned(),
            style: params.get("style").map(str::to_owned),
            width: side("width", WIDTH)?,
            height: side("height", HEIGHT)?,
        })
    }
}

/// Answers `GetLegendGraphic` ([`LegendRequest`]) with a PNG.
pub(crate) async fn get_legend_graphic(
    renderer: &Renderer,
    params: &Params,
) -> Result<Vec<u8>, Failure> {
    let LegendRequest {
        layer: name,
        style,
        width,
        height,
    } = LegendRequest::parse(params)?;
    let layer = Layer::resolve(renderer, &name).await?;
    let restyle = Restyle {
        style,
        ..Restyle::default()
    };
    let drawing = renderer.drawing(&layer, &restyle)?;
    let single = drawing
        .style
        .as_ref()
        .filter(|style| style.channels().is_some_and(|c| c.len() == 1));
    let Some(style) = single else {
        return Err(Exception::new(
            "InvalidParameterValue",
            "layer",
            format!("the layer {name:?} is not drawn through one colour ramp: it has no legend"),
        )
        .into());
    };
    let image = ramp(style.colormap().unwrap_or(Colormap::Grey), width, height);
    encode(&image, Format::Png, [255, 255, 255])
        .map_err(|e| Failure::Server(format!("encoding the legend: {e}")))
}

/// The ramp of `colormap`, `width` × `height`: along the longer side, low to high.
fn ramp(colormap: Colormap, width: usize, height: usize) -> Rgba {
    let mut image = Rgba::transparent(width, height);
    let vertical = height > width;
    let length = if vertical { height } else { width };
    for y in 0..height {
        for x in 0..width {
            let position = if vertical { height - 1 - y } else { x };
            let value = (position * 255)
                .checked_div(length - 1)
                .unwrap_or(0)
                .min(255);
            let [r, g, b] = colormap.colour(value as u8);
            let i = (y * width + x) * 4;
            image.pixels[i..i + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_run_low_to_high() {
        let wide = ramp(Colormap::Viridis, 256, 4);
        assert_eq!(wide.pixel(0, 2)[..3], Colormap::Viridis.colour(0));
        assert_eq!(wide.pixel(255, 2)[..3], Colormap::Viridis.colour(255));
        assert_eq!(wide.pixel(128, 0)[..3], Colormap::Viridis.colour(128));
        let tall = ramp(Colormap::Grey, 3, 100);
        assert_eq!(tall.pixel(1, 99), [0, 0, 0, 255], "low at the bottom");
        assert_eq!(tall.pixel(1, 0), [255, 255, 255, 255], "high at the top");
        let dot = ramp(Colormap::Grey, 1, 1);
        assert_eq!(dot.pixel(0, 0), [0, 0, 0, 255]);
    }
}
