//! The WMS layers: a collection (its products mosaicked), one product (that product alone),
//! each with a look (`pvs_ogc::layer`): `<name>` drawn as the collection's default,
//! `<name>__<browse type>`, `<name>__outlines` (the footprints), `<name>__outlined` (the
//! products with their footprints over them), `<name>__<mask type>` (the products' masks)
//! and `<name>__masked_<mask type>` (the products cut by their masks).

use pvs_catalog::{Product, ProductQuery};
use pvs_model::MaskType;
use pvs_ogc::layer::{Look, split};
use pvs_raster::style::Style;

use crate::draw::RenderError;
use crate::{Looks, Renderer};

/// What a layer draws.
#[derive(Debug, Clone)]
pub(crate) enum Kind<'a> {
    /// Its products in this style.
    Products(&'a Style),
    /// Its products in this style, their outlines over them.
    Outlined(&'a Style),
    /// Its products' outlines.
    Outlines,
    /// Its products' masks of this type.
    Masks(String, MaskType),
    /// Its products in this style, cut by their masks of this type.
    Masked(&'a Style, String, MaskType),
}

/// What a layer name stands for.
#[derive(Debug, Clone)]
pub(crate) enum Layer {
    /// The products of a collection, newest on top.
    Collection {
        /// The collection.
        name: String,
        /// How they are shown.
        look: Look,
    },
    /// One product.
    Product {
        /// The product.
        product: Box<Product>,
        /// How it is shown.
        look: Look,
    },
}

impl Layer {
    /// Finds the layer called `name`: a collection first, then a collection or a product with
    /// a look (`<name>__<suffix>`, split at the first `__`), then a product id; else
    /// [`RenderError::UnknownLayer`]. A browse type the collection does not have is unknown.
    pub(crate) async fn resolve(renderer: &Renderer, name: &str) -> Result<Layer, RenderError> {
        if exists(renderer, name).await? {
            return Ok(Layer::Collection {
                name: name.to_owned(),
                look: Look::Default,
            });
        }
        let (base, look) = split(name);
        let layer = if look == Look::Default {
            None
        } else if exists(renderer, base).await? {
            Some(Layer::Collection {
                name: base.to_owned(),
                look,
            })
        } else {
            product(renderer, base)
                .await?
                .map(|product| Layer::Product {
                    product: Box::new(product),
                    look,
                })
        };
        let layer = match layer {
            Some(layer) => layer,
            None => match product(renderer, name).await? {
                Some(product) => Layer::Product {
                    product: Box::new(product),
                    look: Look::Default,
                },
                None => return Err(RenderError::UnknownLayer(name.to_owned())),
            },
        };
        layer.kind(renderer).map(|_| layer)
    }

    /// The products this layer is drawn from, before the box and time are added.
    pub(crate) fn query(&self) -> ProductQuery {
        match self {
            Layer::Collection { name, .. } => ProductQuery::new().with_collection(name.clone()),
            Layer::Product { product, .. } => ProductQuery::new()
                .with_collection(product.collection.clone())
                .with_ids([product.id.clone()]),
        }
    }

    /// The collection whose looks draw this layer.
    pub(crate) fn collection(&self) -> &str {
        match self {
            Layer::Collection { name, .. } => name,
            Layer::Product { product, .. } => &product.collection,
        }
    }

    /// How the layer is shown.
    pub(crate) fn look(&self) -> &Look {
        match self {
            Layer::Collection { look, .. } | Layer::Product { look, .. } => look,
        }
    }

    /// What the layer draws: the products in a style (its browse type's, else its
    /// collection's default: the configured one, or data as stored), their outlines, or
    /// their masks; a browse or mask type the collection does not have is
    /// [`RenderError::UnknownLayer`].
    pub(crate) fn kind<'a>(&self, renderer: &'a Renderer) -> Result<Kind<'a>, RenderError> {
        static PLAIN: std::sync::OnceLock<Style> = std::sync::OnceLock::new();
        let looks = renderer.looks(self.collection());
        let default = looks
            .map(|looks| &looks.default)
            .unwrap_or_else(|| PLAIN.get_or_init(Style::default));
        let unknown = || {
            let base = match self {
                Layer::Collection { name, .. } => name.as_str(),
                Layer::Product { product, .. } => product.id.as_str(),
            };
            RenderError::UnknownLayer(self.look().layer_name(base))
        };
        let mask = |name: &str| looks.and_then(|looks| looks.masks.get(name));
        Ok(match self.look() {
            Look::Default => Kind::Products(default),
            Look::Outlined => Kind::Outlined(default),
            Look::Outlines => Kind::Outlines,
            Look::Named(name) => match looks.and_then(|looks| looks.browses.get(name)) {
                Some(style) => Kind::Products(style),
                None => Kind::Masks(name.clone(), *mask(name).ok_or_else(unknown)?),
            },
            Look::Masked(name) => {
                Kind::Masked(default, name.clone(), *mask(name).ok_or_else(unknown)?)
            }
        })
    }
}

impl Renderer {
    /// How `collection` is drawn, when configured.
    pub(crate) fn looks(&self, collection: &str) -> Option<&Looks> {
        self.shared.settings.styles.get(collection)
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

/// The product `id`, if there is one (as [`product_by_id`]).
async fn product(renderer: &Renderer, id: &str) -> Result<Option<Product>, RenderError> {
    match product_by_id(renderer, id).await {
        Ok(found) => Ok(found),
        // A name the catalog refuses as an id (too long, ...) is no layer either.
        Err(pvs_catalog::CatalogError::Invalid { .. }) => Ok(None),
        Err(e) => Err(RenderError::Catalog(e)),
    }
}

/// The product a WMS layer or a WCS coverage named `id` stands for. Ids are unique per
/// collection: when several collections have the id, it is the newest of those products
/// (the first a search by the id answers: newest begin time, then by collection).
pub(crate) async fn product_by_id(
    renderer: &Renderer,
    id: &str,
) -> Result<Option<Product>, pvs_catalog::CatalogError> {
    let query = ProductQuery::new().with_ids([id]).with_limit(1);
    Ok(renderer.catalog.search(&query).await?.into_iter().next())
}
