//! What one reader may see of the catalog: [`Readable`] names the collections, and
//! [`Readable::view`] wraps a catalog so that every read answers as if the other collections
//! did not exist. The read services (WMS, WCS, OpenSearch, STAC) read through such a view
//! for each request, so that a restricted collection and its products are hidden from
//! capabilities, searches and maps by the same rule everywhere.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{
    Catalog, ChangeCursor, Changes, Collection, CollectionInfo, Field, Filter, KeepRule, Literal,
    Product, ProductQuery, Registration, Result,
};

/// The collections a reader may see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Readable {
    /// Every collection.
    #[default]
    All,
    /// Only these.
    Only(BTreeSet<String>),
    /// Every collection but these.
    AllBut(BTreeSet<String>),
}

impl Readable {
    /// Whether the reader may see `collection`.
    pub fn allows(&self, collection: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.contains(collection),
            Self::AllBut(names) => !names.contains(collection),
        }
    }

    /// `catalog` as this reader sees it: the catalog itself when every collection is
    /// readable, else a view whose reads leave out the other collections. Writes go through
    /// unchanged (whether a client may write is decided before).
    pub fn view(&self, catalog: &Arc<dyn Catalog>) -> Arc<dyn Catalog> {
        match self {
            Self::All => catalog.clone(),
            _ => Arc::new(self.view_of(catalog.clone())),
        }
    }

    /// `catalog` (an `Arc` or a reference) as this reader sees it, as [`Readable::view`].
    pub fn view_of<'a, C>(&self, catalog: C) -> impl Catalog + use<'a, C>
    where
        C: Deref<Target = dyn Catalog + 'a> + Send + Sync,
    {
        View {
            inner: catalog,
            readable: self.clone(),
        }
    }

    /// The filter keeping only readable products (`None`: every product, or no product at
    /// all when [`Readable::Only`] names none, which [`View`] answers without asking).
    fn filter(&self) -> Option<Filter> {
        let names = |names: &BTreeSet<String>| Filter::In {
            field: Field::Collection,
            values: names.iter().cloned().map(Literal::Text).collect(),
        };
        match self {
            Self::All => None,
            Self::Only(set) if set.is_empty() => None,
            Self::AllBut(set) if set.is_empty() => None,
            Self::Only(set) => Some(names(set)),
            Self::AllBut(set) => Some(Filter::Not(Box::new(names(set)))),
        }
    }

    /// Whether no collection at all is readable.
    fn is_nothing(&self) -> bool {
        matches!(self, Self::Only(set) if set.is_empty())
    }
}

/// A catalog whose reads see only the readable collections.
struct View<C> {
    inner: C,
    readable: Readable,
}

impl<C> View<C> {
    /// `query` narrowed to the readable collections, or `None` when it can find nothing.
    fn narrow(&self, query: &ProductQuery) -> Option<ProductQuery> {
        if self.readable.is_nothing() {
            return None;
        }
        if let Some(collection) = &query.collection {
            // One collection: readable or not, no filter needed.
            return self.readable.allows(collection).then(|| query.clone());
        }
        let mut narrowed = query.clone();
        if let Some(readable) = self.readable.filter() {
            narrowed.filter = Some(match narrowed.filter.take() {
                Some(filter) => Filter::And(vec![readable, filter]),
                None => readable,
            });
        }
        Some(narrowed)
    }
}

#[async_trait]
impl<'a, C> Catalog for View<C>
where
    C: Deref<Target = dyn Catalog + 'a> + Send + Sync,
{
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn upsert_collection(&self, collection: &Collection) -> Result<()> {
        self.inner.upsert_collection(collection).await
    }

    async fn collection(&self, name: &str) -> Result<Option<Collection>> {
        if !self.readable.allows(name) {
            return Ok(None);
        }
        self.inner.collection(name).await
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        let mut collections = self.inner.collections().await?;
        collections.retain(|info| self.readable.allows(&info.collection.name));
        Ok(collections)
    }

    async fn register_unless(
        &self,
        product: &Product,
        keep: Arc<KeepRule>,
    ) -> Result<Registration> {
        self.inner.register_unless(product, keep).await
    }

    async fn register_batch(&self, products: &[Product]) -> Vec<Result<Registration>> {
        self.inner.register_batch(products).await
    }

    async fn deregister(&self, collection: &str, id: &str) -> Result<Option<Product>> {
        self.inner.deregister(collection, id).await
    }

    async fn deregister_matching(&self, query: &ProductQuery) -> Result<Vec<Product>> {
        self.inner.deregister_matching(query).await
    }

    async fn delete_collection(&self, name: &str) -> Result<Option<u64>> {
        self.inner.delete_collection(name).await
    }

    async fn get(&self, collection: &str, id: &str) -> Result<Option<Product>> {
        if !self.readable.allows(collection) {
            return Ok(None);
        }
        self.inner.get(collection, id).await
    }

    async fn search(&self, query: &ProductQuery) -> Result<Vec<Product>> {
        query.validate()?;
        match self.narrow(query) {
            Some(query) => self.inner.search(&query).await,
            None => Ok(Vec::new()),
        }
    }

    async fn count(&self, query: &ProductQuery) -> Result<u64> {
        query.validate()?;
        match self.narrow(query) {
            Some(query) => self.inner.count(&query).await,
            None => Ok(0),
        }
    }

    async fn search_counted(&self, query: &ProductQuery) -> Result<(Vec<Product>, u64)> {
        query.validate()?;
        match self.narrow(query) {
            Some(query) => self.inner.search_counted(&query).await,
            None => Ok((Vec::new(), 0)),
        }
    }

    async fn changes(&self, collection: &str, cursor: Option<&ChangeCursor>) -> Result<Changes> {
        self.inner.changes(collection, cursor).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn allows_follows_the_variant() {
        assert!(Readable::All.allows("A"));
        assert!(Readable::Only(set(&["A"])).allows("A"));
        assert!(!Readable::Only(set(&["A"])).allows("B"));
        assert!(!Readable::AllBut(set(&["A"])).allows("A"));
        assert!(Readable::AllBut(set(&["A"])).allows("B"));
    }

    #[test]
    fn the_filter_matches_exactly_the_readable_collections() {
        use chrono::{TimeZone, Utc};
        use geo_types::{MultiPolygon, polygon};
        let product = |collection: &str| Product {
            id: "p".to_owned(),
            collection: collection.to_owned(),
            product_type: None,
            footprint: MultiPolygon(vec![polygon![
                (x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)
            ]]),
            begin: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            location: "x.tif".to_owned(),
            metadata: serde_json::json!({}),
            properties: Default::default(),
        };
        for readable in [
            Readable::Only(set(&["A", "C"])),
            Readable::AllBut(set(&["A", "C"])),
        ] {
            let filter = readable.filter().expect("a filter");
            filter.validate().expect("a valid filter");
            for name in ["A", "B", "C", "D"] {
                assert_eq!(
                    filter.matches(&product(name)),
                    readable.allows(name),
                    "{readable:?} {name}"
                );
            }
        }
    }
}
