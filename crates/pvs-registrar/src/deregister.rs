//! Deregistration: a product removed from the catalog, its cached tiles deleted, its
//! invalidation record pushed, its id forgotten in the registration sets.

use pvs_catalog::Product;
use pvs_queue::Stage;

use crate::{RegisterError, Registrar};

impl Registrar {
    /// Removes product `id` from the catalog: its cached tiles are deleted (with a tile
    /// store), its invalidation record is pushed to `invalidate_queue`, and it is forgotten in
    /// the registration sets. `None` when there was no such product. When the tiles cannot be
    /// deleted the product is gone from the catalog all the same, and the error says so.
    pub async fn deregister(&self, id: &str) -> Result<Option<Product>, RegisterError> {
        let removed =
            self.catalog
                .deregister(id)
                .await
                .map_err(|source| RegisterError::Catalog {
                    id: id.to_owned(),
                    source,
                })?;
        if let Some(product) = &removed {
            self.after_removal(product).await?;
        } else {
            tracing::warn!(
                product = id,
                "deregistration of an unknown product: nothing to do"
            );
        }
        Ok(removed)
    }

    /// What follows the removal of `product` from the catalog: its cached tiles deleted, its
    /// invalidation record pushed, its id forgotten in the registration sets.
    pub(crate) async fn after_removal(&self, product: &Product) -> Result<(), RegisterError> {
        self.invalidate(&product.id, &[product]).await?;
        self.publish_invalidation(product, "deregistered").await?;
        self.queue.forget(Stage::Register, &product.id).await?;
        tracing::info!(product = %product.id, "product deregistered");
        Ok(())
    }
}
