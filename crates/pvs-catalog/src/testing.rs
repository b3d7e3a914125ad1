//! Test support (feature `contract`): a PostgreSQL database of its own for one test.
//!
//! Each [`TestDatabase`] is `pvs_test_<uuid>`, created through the admin connection of
//! `PVS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and dropped
//! (with its connections) when the value is dropped, also when the test fails. Tests of any
//! crate that needs a real catalog use it, so they run in parallel without seeing each other.

use tokio_postgres::NoTls;

use crate::PostgisCatalog;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin connection URL of the test server.
pub fn admin_url() -> String {
    std::env::var("PVS_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// `url` with its database replaced by `database` (URL or key/value form).
pub fn with_database(url: &str, database: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (rest, query) = match rest.split_once('?') {
                Some((rest, query)) => (rest, format!("?{query}")),
                None => (rest, String::new()),
            };
            let authority = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{authority}/{database}{query}")
        }
        None => format!("{url} dbname={database}"),
    }
}

/// A plain connection to `url`; panics with the reason when it fails.
pub async fn connect_raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|error| panic!("connecting to the test server: {error}"));
    tokio::spawn(connection);
    client
}

/// A database of its own for one test, dropped (with its connections) when the test ends,
/// also when it fails.
pub struct TestDatabase {
    /// The database name.
    pub name: String,
    /// Its connection URL.
    pub url: String,
}

impl TestDatabase {
    /// Creates a new, empty database.
    pub async fn create() -> Self {
        let name = format!("pvs_test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect_raw(&admin_url()).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|error| panic!("creating test database {name}: {error}"));
        let url = with_database(&admin_url(), &name);
        Self { name, url }
    }

    /// The PostGIS catalog on it (migrations applied).
    pub async fn catalog(&self) -> PostgisCatalog {
        PostgisCatalog::connect_with_pool_size(&self.url, 8)
            .await
            .unwrap_or_else(|error| panic!("connecting the catalog: {error}"))
    }

    /// A plain connection to it.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect_raw(&self.url).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await; a thread with its own runtime can, whatever state the test's
        // runtime is in.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let admin = connect_raw(&admin_url()).await;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// A catalog that counts the queries made through it and passes each to `inner`: what a
/// request costs in catalog round trips (tests and benchmarks of the drawing path).
pub struct Counted<C> {
    /// The catalog queried.
    pub inner: C,
    searches: std::sync::atomic::AtomicUsize,
    lookups: std::sync::atomic::AtomicUsize,
}

impl<C> Counted<C> {
    /// Counts the queries made to `inner`.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            searches: Default::default(),
            lookups: Default::default(),
        }
    }

    /// The queries since the last call: product searches (`search`, `count`), and look-ups
    /// of one collection or product (`collection`, `get`).
    pub fn take(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::SeqCst;
        (self.searches.swap(0, SeqCst), self.lookups.swap(0, SeqCst))
    }

    fn searched(&self) {
        self.searches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn looked_up(&self) {
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl<C: crate::Catalog> crate::Catalog for Counted<C> {
    async fn ping(&self) -> crate::Result<()> {
        self.inner.ping().await
    }
    async fn upsert_collection(&self, collection: &crate::Collection) -> crate::Result<()> {
        self.inner.upsert_collection(collection).await
    }
    async fn collection(&self, name: &str) -> crate::Result<Option<crate::Collection>> {
        self.looked_up();
        self.inner.collection(name).await
    }
    async fn collections(&self) -> crate::Result<Vec<crate::CollectionInfo>> {
        self.inner.collections().await
    }
    async fn register_unless(
        &self,
        product: &crate::Product,
        keep: std::sync::Arc<crate::KeepRule>,
    ) -> crate::Result<crate::Registration> {
        self.inner.register_unless(product, keep).await
    }
    async fn register_batch(
        &self,
        products: &[crate::Product],
    ) -> Vec<crate::Result<crate::Registration>> {
        self.inner.register_batch(products).await
    }
    async fn deregister(
        &self,
        collection: &str,
        id: &str,
    ) -> crate::Result<Option<crate::Product>> {
        self.inner.deregister(collection, id).await
    }
    async fn deregister_matching(
        &self,
        query: &crate::ProductQuery,
    ) -> crate::Result<Vec<crate::Product>> {
        self.searched();
        self.inner.deregister_matching(query).await
    }
    async fn delete_collection(&self, name: &str) -> crate::Result<Option<u64>> {
        self.inner.delete_collection(name).await
    }
    async fn get(&self, collection: &str, id: &str) -> crate::Result<Option<crate::Product>> {
        self.looked_up();
        self.inner.get(collection, id).await
    }
    async fn search(&self, query: &crate::ProductQuery) -> crate::Result<Vec<crate::Product>> {
        self.searched();
        self.inner.search(query).await
    }
    async fn count(&self, query: &crate::ProductQuery) -> crate::Result<u64> {
        self.searched();
        self.inner.count(query).await
    }
    async fn changes(
        &self,
        collection: &str,
        cursor: Option<&crate::ChangeCursor>,
    ) -> crate::Result<crate::Changes> {
        self.inner.changes(collection, cursor).await
    }
}
