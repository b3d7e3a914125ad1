//! The WMS layers: a collection (its products mosaicked), `<collection>__outlines` (their
//! footprints drawn) and one layer per product (that product alone).

use pvs_catalog::{Product, ProductQuery};
use pvs_raster::style::Style;

use crate::Renderer;
use crate::draw::RenderError;

/// What a layer name stands for.
#[derive(Debug, Clone)]
pub(crate) enum Layer {
    /// The products of a collection, newest on top.
    Collection(String),
    /// The footprints of a collection's products.
    Outlines(String),
    /// One product.
    Product(Box<Product>),
}

impl Layer {
    /// Finds the layer called `name`: a collection first, then a collection's outlines,
    /// then a product id; else [`RenderError::UnknownLayer`].
    pub(crate) async fn resolve(renderer: &Renderer, name: &str) -> Result<Layer, RenderError> {
        if exists(renderer, name).await? {
            return Ok(Layer::Collection(name.to_owned()));
        }
        if let Some(outlined) = pvs_ogc::layer::outlined_collection(name)
            && exists(renderer, outlined).await?
        {
            return Ok(Layer::Outlines(outlined.to_owned()));
        }
        match renderer.catalog.get(name).await {
            Ok(Some(product)) => Ok(Layer::Product(Box::new(product))),
            // A name the catalog refuses as an id (too long, ...) is no layer either.
            Ok(None) | Err(pvs_catalog::CatalogError::Invalid { .. }) => {
                Err(RenderError::UnknownLayer(name.to_owned()))
            }
            Err(e) => Err(RenderError::Catalog(e)),
        }
    }

    /// The products this layer is drawn from, before the box and time are added.
    pub(crate) fn query(&self) -> ProductQuery {
        match self {
            Layer::Collection(collection) | Layer::Outlines(collection) => {
                ProductQuery::new().with_collection(collection.clone())
            }
            Layer::Product(product) => ProductQuery::new().with_ids([product.id.clone()]),
        }
    }

    /// The collection whose style draws this layer.
    pub(crate) fn collection(&self) -> &str {
        match self {
            Layer::Collection(collection) | Layer::Outlines(collection) => collection,
            Layer::Product(product) => &product.collection,
        }
    }

    /// The style of the layer's collection (the configured one, or data as stored).
    pub(crate) fn style<'a>(&self, renderer: &'a Renderer) -> &'a Style {
        static PLAIN: std::sync::OnceLock<Style> = std::sync::OnceLock::new();
        renderer
            .settings
            .styles
            .get(self.collection())
            .unwrap_or_else(|| PLAIN.get_or_init(Style::default))
    }
}

/// Whether the catalog has the collection `name`.
async fn exists(renderer: &Renderer, name: &str) -> Result<bool, RenderError> {
    renderer
        .catalog
        .collection(name)
        .await
        .map(|c| c.is_some())
        .map_err(RenderError::Catalog)
}
