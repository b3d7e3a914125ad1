//! Deregistration: a product removed from the catalog, its cached tiles deleted, its
//! invalidation record pushed, its id forgotten in the registration sets.

use pvs_catalog::{MAX_LIMIT, Product, ProductQuery};
use pvs_queue::Stage;

use crate::{RegisterError, Registrar};

impl Registrar {
    /// Removes product `id` from the catalog: from `collection`, or with `None` from every
    /// collection that has it (ids are unique per collection; a PVS `deregister_queue`
    /// message names the id alone). Each removed product's cached tiles are deleted (with a
    /// tile store), its invalidation record is pushed to `invalidate_queue`, and it is
    /// forgotten in the registration sets. Empty when there was no such product. When the
    /// tiles cannot be deleted the product is gone from the catalog all the same, and the
    /// error says so.
    pub async fn deregister(
        &self,
        collection: Option<&str>,
        id: &str,
    ) -> Result<Vec<Product>, RegisterError> {
        let catalog_error = |source| RegisterError::Catalog {
            id: id.to_owned(),
            source,
        };
        let removed = match collection {
            Some(collection) => self
                .catalog
                .deregister(collection, id)
                .await
                .map_err(catalog_error)?
                .into_iter()
                .collect(),
            None => self
                .catalog
                .deregister_matching(&ProductQuery::new().with_ids([id]).with_limit(MAX_LIMIT))
                .await
                .map_err(catalog_error)?,
        };
        if removed.is_empty() {
            tracing::warn!(
                product = id,
                collection,
                "deregistration of an unknown product: nothing to do"
            );
        }
        for product in &removed {
            self.after_removal(product).await?;
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
