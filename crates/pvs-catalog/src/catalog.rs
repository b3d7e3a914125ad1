//! The catalog interface every backend implements.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{
    ChangeCursor, Changes, Collection, CollectionInfo, KeepRule, Product, ProductQuery,
    Registration, Result,
};

/// The product registry: collections, and the products the renderer, the cache and
/// OpenSearch find by footprint and time.
///
/// Every backend passes the same contract suite (`pvs_catalog::contract`, feature
/// `contract`). Backends validate what they are given ([`Collection::validate`],
/// [`Product::validate`], [`ProductQuery::validate`]) and store nothing that is refused.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Checks that the backend answers (for readiness probes).
    async fn ping(&self) -> Result<()>;

    /// Creates a collection, or replaces the product type and metadata of an existing one.
    async fn upsert_collection(&self, collection: &Collection) -> Result<()>;

    /// The collection called `name`, if it exists.
    async fn collection(&self, name: &str) -> Result<Option<Collection>>;

    /// Every collection with a summary of its products, ordered by name (byte order).
    async fn collections(&self) -> Result<Vec<CollectionInfo>>;

    /// Stores a product, atomically: inserts it, or replaces the product with the same
    /// collection and id and returns the one it replaced. Concurrent registrations of one
    /// collection and id all succeed and leave exactly one product. A product of an unknown
    /// collection is refused with
    /// [`CatalogError::UnknownCollection`](crate::CatalogError::UnknownCollection); collections
    /// are never created implicitly.
    async fn register(&self, product: &Product) -> Result<Registration> {
        self.register_unless(product, Arc::new(|_: &Product| None))
            .await
    }

    /// Registers a product as [`Catalog::register`] does, unless `keep` keeps the product
    /// registered under its collection and id: then nothing changes and the answer is
    /// [`Registration::Kept`] with `keep`'s reason. `keep` is asked inside the registration's
    /// transaction, with the registered product locked, so that no other registration of that
    /// collection and id comes between the decision and the write (ngEO's replacement rules).
    async fn register_unless(&self, product: &Product, keep: Arc<KeepRule>)
    -> Result<Registration>;

    /// Registers several products, faster than one by one; returns one result per product,
    /// in order. A refused product does not prevent the others from being registered; a
    /// product whose collection and id appear earlier in the batch replaces the earlier one.
    async fn register_batch(&self, products: &[Product]) -> Vec<Result<Registration>>;

    /// Removes the product `id` of `collection` and returns it (so that its tiles can be
    /// invalidated), or `None` if there was no such product. (To remove an id from every
    /// collection, [`Catalog::deregister_matching`] a query by ids.)
    async fn deregister(&self, collection: &str, id: &str) -> Result<Option<Product>>;

    /// Removes, in one transaction, the products [`Catalog::search`] answers for `query` (at
    /// most [`ProductQuery::effective_limit`] of them, in its order) and returns them, so that
    /// their tiles can be invalidated. A large removal goes page by page: call again until
    /// nothing is returned (with offset 0: the removed products no longer match).
    async fn deregister_matching(&self, query: &ProductQuery) -> Result<Vec<Product>>;

    /// Deletes the collection `name` and every product it still holds, in one transaction,
    /// and returns how many products went with it; `None` when there is no such collection.
    /// A registration into the collection that runs at the same time either comes first
    /// (its product is deleted too) or is refused as of an unknown collection.
    async fn delete_collection(&self, name: &str) -> Result<Option<u64>>;

    /// The product `id` of `collection`, if registered. (The products of one id in any
    /// collection are found by a query by ids.)
    async fn get(&self, collection: &str, id: &str) -> Result<Option<Product>>;

    /// The products matching `query`, newest begin time first, then by id, then by
    /// collection; at most
    /// [`ProductQuery::effective_limit`] of them, after skipping `offset`.
    async fn search(&self, query: &ProductQuery) -> Result<Vec<Product>>;

    /// How many products match `query`, ignoring its limit and offset.
    async fn count(&self, query: &ProductQuery) -> Result<u64>;

    /// Where products of `collection` changed since `cursor`: the box of every footprint
    /// inserted, replaced (before and after) or removed, by any path, and the cursor to read
    /// on from. Without a cursor: no areas, and the cursor of now. Reading again from a
    /// cursor may repeat an area, never miss one: every change committed before this call
    /// began is in this answer or an earlier one from the same cursor chain.
    async fn changes(&self, collection: &str, cursor: Option<&ChangeCursor>) -> Result<Changes>;

    /// The page [`Catalog::search`] answers and the number [`Catalog::count`] answers, for
    /// a search that shows both (a page and its total). A backend may find both at once.
    async fn search_counted(&self, query: &ProductQuery) -> Result<(Vec<Product>, u64)> {
        let total = self.count(query).await?;
        let page = if query.offset < total {
            self.search(query).await?
        } else {
            Vec::new()
        };
        Ok((page, total))
    }
}

/// What every backend's [`Catalog::register_batch`] does around its own writing: each product
/// is validated first and a refused one gets its error; `write` is given the indexes of the
/// others and answers a result for each (as `(index, result)`); when `write` fails as a whole,
/// nothing of it was kept and each of those products gets that error.
pub(crate) async fn register_valid<W>(
    products: &[Product],
    write: impl FnOnce(Vec<usize>) -> W,
) -> Vec<Result<Registration>>
where
    W: Future<Output = Result<Vec<(usize, Result<Registration>)>>>,
{
    let mut results: Vec<Option<Result<Registration>>> = products
        .iter()
        .map(|product| product.validate().err().map(Err))
        .collect();
    let valid: Vec<usize> = (0..products.len())
        .filter(|&index| results[index].is_none())
        .collect();
    match write(valid.clone()).await {
        Ok(written) => {
            for (index, result) in written {
                results[index] = Some(result);
            }
        }
        Err(error) => {
            for index in valid {
                results[index] = Some(Err(error.clone()));
            }
        }
    }
    results
        .into_iter()
        .map(|result| result.expect("every product has a result"))
        .collect()
}
