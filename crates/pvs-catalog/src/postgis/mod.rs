//! The PostGIS backend.

pub(crate) mod migrations;
mod redact;
mod search;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use deadpool_postgres::{
    Client, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Transaction,
};
use geo_types::{Geometry, MultiPolygon};
use geozero::wkb::Wkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use crate::catalog::register_valid;
use crate::changes::{self, MAX_CHANGES};
use crate::{
    Bbox, Catalog, CatalogError, ChangeCursor, Changes, Collection, CollectionInfo, KeepRule,
    Product, ProductQuery, Registration, Result, Sort,
};
use migrations::{MIGRATIONS, migrate};
use redact::redact_password;
use search::Filter;

/// How many connections [`PostgisCatalog::connect`] keeps at most.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long opening a connection may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The columns of a product, in the order [`product_from_row`] reads them.
const PRODUCT_COLUMNS: &str = "id, collection, product_type, ST_AsBinary(footprint), begin_time, \
                               end_time, location, metadata, properties";

/// A [`Catalog`] in a PostgreSQL database with PostGIS, through a connection pool.
///
/// Connecting applies the schema migrations the database lacks (see the crate docs). Clones
/// share the pool.
#[derive(Clone)]
pub struct PostgisCatalog {
    pool: Pool,
    /// The database URL without its password, for messages.
    url: String,
}

impl std::fmt::Debug for PostgisCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgisCatalog")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PostgisCatalog {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db` or
    /// `host=... dbname=...`) with up to [`DEFAULT_POOL_SIZE`] connections and brings its
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with_pool_size(url, DEFAULT_POOL_SIZE).await
    }

    /// Like [`PostgisCatalog::connect`], with at most `pool_size` connections.
    pub async fn connect_with_pool_size(url: &str, pool_size: usize) -> Result<Self> {
        let redacted = redact_password(url);
        let connection_error = |reason: String| CatalogError::Connection {
            url: redacted.clone(),
            reason,
        };
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| connection_error(describe(&error)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("pvs-catalog");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|error| connection_error(error.to_string()))?;
        let catalog = Self {
            pool,
            url: redacted.clone(),
        };
        let mut client = catalog.client().await?;
        migrate(&mut client).await?;
        Ok(catalog)
    }

    /// The migrations recorded in the database, `(version, name)` in version order.
    pub async fn applied_migrations(&self) -> Result<Vec<(i32, String)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT version, name FROM pvs_schema_migrations ORDER BY version",
                &[],
            )
            .await
            .map_err(backend("reading the applied migrations"))?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// The migrations embedded in this build, `(version, name)` in version order.
    pub fn embedded_migrations() -> Vec<(i32, &'static str)> {
        MIGRATIONS
            .iter()
            .map(|migration| (migration.version, migration.name))
            .collect()
    }

    async fn client(&self) -> Result<Client> {
        self.pool.get().await.map_err(|error| {
            let reason = match error {
                PoolError::Backend(error) => describe(&error),
                other => other.to_string(),
            };
            CatalogError::Connection {
                url: self.url.clone(),
                reason,
            }
        })
    }

    /// Registers `product` in `transaction` (a transaction or a savepoint), leaving it
    /// unusable on error: the caller rolls it back.
    async fn write_product(
        transaction: &Transaction<'_>,
        product: &Product,
        footprint: &[u8],
        keep: &KeepRule,
    ) -> Result<Registration, WriteError> {
        let insert = transaction
            .prepare_cached(
                "INSERT INTO products (id, collection, product_type, footprint, begin_time, \
                 end_time, location, metadata, properties) \
                 VALUES ($1, $2, $3, ST_GeomFromWKB($4, 4326), $5, $6, $7, $8, $9) \
                 ON CONFLICT (collection, id) DO NOTHING RETURNING id",
            )
            .await?;
        let select = transaction
            .prepare_cached(&format!(
                "SELECT {PRODUCT_COLUMNS} FROM products WHERE collection = $1 AND id = $2 \
                 FOR UPDATE"
            ))
            .await?;
        let update = transaction
            .prepare_cached(
                "UPDATE products SET product_type = $3, \
                 footprint = ST_GeomFromWKB($4, 4326), begin_time = $5, end_time = $6, \
                 location = $7, metadata = $8, properties = $9, updated_at = now() \
                 WHERE id = $1 AND collection = $2",
            )
            .await?;
        let (begin, end) = (to_micros(product.begin), to_micros(product.end));
        let properties = serde_json::Value::Object(product.properties.clone());
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
            &product.id,
            &product.collection,
            &product.product_type,
            &footprint,
            &begin,
            &end,
            &product.location,
            &product.metadata,
            &properties,
        ];
        // Insert, or else lock and replace the existing row (unless `keep` keeps it). ON
        // CONFLICT DO NOTHING waits for a concurrent registration of the same collection and
        // id to commit, after which the row is visible to the next statement; only a
        // concurrent deregistration between the two statements makes the loop go round again.
        for _ in 0..10 {
            if transaction.query_opt(&insert, &params).await?.is_some() {
                return Ok(Registration::Inserted);
            }
            let key: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
                [&product.collection, &product.id];
            if let Some(row) = transaction.query_opt(&select, &key).await? {
                let previous = product_from_row(&row)?;
                if let Some(reason) = keep(&previous) {
                    return Ok(Registration::Kept { reason });
                }
                transaction.execute(&update, &params).await?;
                return Ok(Registration::Replaced {
                    previous: Box::new(previous),
                });
            }
        }
        Err(WriteError::Refused(CatalogError::Backend {
            context: format!("registering product `{}`", product.id),
            reason: "the product was inserted and deleted concurrently too many times".to_owned(),
        }))
    }

    /// Turns a failed write into the error to report. `client` is where the write ran, its
    /// transaction or savepoint already rolled back.
    async fn explain(
        client: &tokio_postgres::Client,
        product: &Product,
        footprint: &[u8],
        error: WriteError,
    ) -> CatalogError {
        let context = || format!("registering product `{}`", product.id);
        match error {
            WriteError::Refused(error) => error,
            WriteError::Database(error) => match error.as_db_error() {
                Some(db) if *db.code() == SqlState::FOREIGN_KEY_VIOLATION => {
                    CatalogError::UnknownCollection(product.collection.clone())
                }
                Some(db)
                    if *db.code() == SqlState::CHECK_VIOLATION
                        && db.constraint() == Some("products_footprint_valid") =>
                {
                    let reason = client
                        .query_one(
                            "SELECT ST_IsValidReason(ST_GeomFromWKB($1, 4326))",
                            &[&footprint],
                        )
                        .await
                        .map(|row| row.get::<_, String>(0))
                        .unwrap_or_else(|error| describe(&error));
                    CatalogError::invalid(
                        format!("product {:?}", product.id),
                        format!("footprint is not a valid geometry for PostGIS: {reason}"),
                    )
                }
                _ => backend(context())(error),
            },
        }
    }

    /// Registers `products` (already validated, listed by `order`) in one transaction,
    /// each in its own savepoint. An error means the whole transaction failed.
    async fn register_in_transaction(
        &self,
        products: &[Product],
        order: &[usize],
    ) -> Result<Vec<(usize, Result<Registration>)>> {
        let mut results = Vec::with_capacity(order.len());
        let mut client = self.client().await?;
        let mut transaction = client
            .transaction()
            .await
            .map_err(backend("starting a registration batch"))?;
        for &index in order {
            let product = &products[index];
            let footprint = match footprint_wkb("footprint", &product.footprint) {
                Ok(footprint) => footprint,
                Err(error) => {
                    results.push((index, Err(error)));
                    continue;
                }
            };
            let savepoint = transaction
                .savepoint("product")
                .await
                .map_err(backend("starting a savepoint"))?;
            match Self::write_product(&savepoint, product, &footprint, &|_| None).await {
                Ok(registration) => {
                    savepoint
                        .commit()
                        .await
                        .map_err(backend("releasing a savepoint"))?;
                    results.push((index, Ok(registration)));
                }
                Err(error) => {
                    savepoint
                        .rollback()
                        .await
                        .map_err(backend("rolling back a savepoint"))?;
                    let error =
                        Self::explain(transaction.client(), product, &footprint, error).await;
                    results.push((index, Err(error)));
                }
            }
        }
        transaction
            .commit()
            .await
            .map_err(backend("committing a registration batch"))?;
        Ok(results)
    }

    fn search_sql(filter: &Filter, order: &str, limit: &str, offset: &str) -> String {
        format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE {} \
             ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            filter.clause
        )
    }
}

#[async_trait]
impl Catalog for PostgisCatalog {
    async fn ping(&self) -> Result<()> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(backend("answering a ping"))?;
        Ok(())
    }

    async fn upsert_collection(&self, collection: &Collection) -> Result<()> {
        collection.validate()?;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO collections (name, product_type, metadata) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET product_type = excluded.product_type, \
                 metadata = excluded.metadata, updated_at = now()",
                &[
                    &collection.name,
                    &collection.product_type,
                    &collection.metadata,
                ],
            )
            .await
            .map_err(backend(format!("storing collection `{}`", collection.name)))?;
        Ok(())
    }

    async fn collection(&self, name: &str) -> Result<Option<Collection>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT name, product_type, metadata FROM collections WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(backend(format!("reading collection `{name}`")))?;
        Ok(row.map(|row| Collection {
            name: row.get(0),
            product_type: row.get(1),
            metadata: row.get(2),
        }))
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        let client = self.client().await?;
        // ST_3DExtent computes in double precision (ST_Extent's box2d is single precision).
        let rows = client
            .query(
                "SELECT c.name, c.product_type, c.metadata, s.count, ST_XMin(s.extent), \
                 ST_YMin(s.extent), ST_XMax(s.extent), ST_YMax(s.extent), s.begin_time, s.end_time \
                 FROM collections c, LATERAL (SELECT count(*) AS count, \
                 ST_3DExtent(footprint) AS extent, min(begin_time) AS begin_time, \
                 max(end_time) AS end_time FROM products p WHERE p.collection = c.name) s \
                 ORDER BY c.name",
                &[],
            )
            .await
            .map_err(backend("listing collections"))?;
        rows.iter()
            .map(|row| {
                let name: String = row.get(0);
                let count: i64 = row.get(3);
                let extent: [Option<f64>; 4] = [row.get(4), row.get(5), row.get(6), row.get(7)];
                let bbox = match extent {
                    [Some(west), Some(south), Some(east), Some(north)] => {
                        Some(Bbox::new(west, south, east, north).map_err(|error| {
                            CatalogError::Backend {
                                context: format!("listing collection `{name}`"),
                                reason: error.to_string(),
                            }
                        })?)
                    }
                    _ => None,
                };
                Ok(CollectionInfo {
                    collection: Collection {
                        name,
                        product_type: row.get(1),
                        metadata: row.get(2),
                    },
                    product_count: u64::try_from(count).unwrap_or_default(),
                    bbox,
                    begin: row.get(8),
                    end: row.get(9),
                })
            })
            .collect()
    }

    async fn register_unless(
        &self,
        product: &Product,
        keep: Arc<KeepRule>,
    ) -> Result<Registration> {
        product.validate()?;
        let footprint = footprint_wkb("footprint", &product.footprint)?;
        let context = || format!("registering product `{}`", product.id);
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(backend(context()))?;
        match Self::write_product(&transaction, product, &footprint, &*keep).await {
            Ok(registration) => {
                transaction.commit().await.map_err(backend(context()))?;
                Ok(registration)
            }
            Err(error) => {
                transaction.rollback().await.map_err(backend(context()))?;
                Err(Self::explain(&client, product, &footprint, error).await)
            }
        }
    }

    async fn register_batch(&self, products: &[Product]) -> Vec<Result<Registration>> {
        register_valid(products, |mut order| async move {
            // Rows are locked in key order, so that concurrent batches cannot deadlock; the
            // sort is stable, so a repeated key is registered in batch order.
            order.sort_by(|&a, &b| {
                (&products[a].collection, &products[a].id)
                    .cmp(&(&products[b].collection, &products[b].id))
            });
            self.register_in_transaction(products, &order).await
        })
        .await
    }

    async fn deregister(&self, collection: &str, id: &str) -> Result<Option<Product>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "DELETE FROM products WHERE collection = $1 AND id = $2 \
                     RETURNING {PRODUCT_COLUMNS}"
                ),
                &[&collection, &id],
            )
            .await
            .map_err(backend(format!(
                "deregistering product `{id}` of collection `{collection}`"
            )))?;
        row.as_ref().map(product_from_row).transpose()
    }

    async fn deregister_matching(&self, query: &ProductQuery) -> Result<Vec<Product>> {
        let context = "deregistering the products of a query";
        let mut filter = Filter::new(query)?;
        let limit = filter.param(i64::from(query.effective_limit()));
        let offset = filter.param(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let order = Sort::sql(&query.sort, &search::Postgis);
        // The page is read and locked, then deleted: the products come back in search order,
        // and a concurrent replacement of one of them waits for the deletion.
        let select = format!(
            "{} FOR UPDATE",
            Self::search_sql(&filter, &order, &limit, &offset)
        );
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(backend(context))?;
        let rows = transaction
            .query(&select, &filter.params())
            .await
            .map_err(backend(context))?;
        let products = rows
            .iter()
            .map(product_from_row)
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<&str> = products.iter().map(|product| product.id.as_str()).collect();
        let collections: Vec<&str> = products
            .iter()
            .map(|product| product.collection.as_str())
            .collect();
        transaction
            .execute(
                "DELETE FROM products WHERE (collection, id) IN \
                 (SELECT * FROM unnest($1::text[], $2::text[]))",
                &[&collections, &ids],
            )
            .await
            .map_err(backend(context))?;
        transaction.commit().await.map_err(backend(context))?;
        Ok(products)
    }

    async fn delete_collection(&self, name: &str) -> Result<Option<u64>> {
        let context = format!("deleting collection `{name}`");
        let mut client = self.client().await?;
        let transaction = client
            .transaction()
            .await
            .map_err(backend(context.as_str()))?;
        // Locking the row first makes a concurrent registration into the collection (whose
        // foreign key check shares that lock) either finish first or find it gone.
        let exists = transaction
            .query_opt(
                "SELECT 1 FROM collections WHERE name = $1 FOR UPDATE",
                &[&name],
            )
            .await
            .map_err(backend(context.as_str()))?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let products = transaction
            .execute("DELETE FROM products WHERE collection = $1", &[&name])
            .await
            .map_err(backend(context.as_str()))?;
        transaction
            .execute("DELETE FROM collections WHERE name = $1", &[&name])
            .await
            .map_err(backend(context.as_str()))?;
        transaction
            .commit()
            .await
            .map_err(backend(context.as_str()))?;
        Ok(Some(products))
    }

    async fn get(&self, collection: &str, id: &str) -> Result<Option<Product>> {
        let context = || format!("reading product `{id}` of collection `{collection}`");
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {PRODUCT_COLUMNS} FROM products WHERE collection = $1 AND id = $2"
            ))
            .await
            .map_err(backend(context()))?;
        let row = client
            .query_opt(&statement, &[&collection, &id])
            .await
            .map_err(backend(context()))?;
        row.as_ref().map(product_from_row).transpose()
    }

    async fn changes(&self, collection: &str, cursor: Option<&ChangeCursor>) -> Result<Changes> {
        let context = || format!("reading the changes of collection `{collection}`");
        let mut client = self.client().await?;
        // One snapshot for the transaction horizon and the rows read.
        let transaction = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(backend(context()))?;
        let horizon = transaction
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, \
                 (SELECT max(seq) FROM product_changes), (SELECT min(seq) FROM product_changes)",
                &[],
            )
            .await
            .map_err(backend(context()))?;
        let xmin: i64 = horizon.get(0);
        let newest: Option<i64> = horizon.get(1);
        let oldest: Option<i64> = horizon.get(2);
        // Every change of a transaction from the last horizon on: those of transactions that
        // were still running then, and all later ones.
        let from = cursor.map_or(xmin, |cursor| cursor.position);
        let limit = i64::try_from(MAX_CHANGES + 1).expect("a small number");
        let rows = transaction
            .query(
                "SELECT seq, xid::text::bigint, west, south, east, north FROM product_changes \
                 WHERE xid >= $1::text::xid8 AND collection = $2 ORDER BY seq LIMIT $3",
                &[&from.to_string(), &collection, &limit],
            )
            .await
            .map_err(backend(context()))?;
        transaction.commit().await.map_err(backend(context()))?;
        let mut next = ChangeCursor {
            position: xmin,
            high: newest.unwrap_or(0),
            seen: Default::default(),
        };
        let mut areas = Vec::new();
        for row in &rows {
            let (seq, xid): (i64, i64) = (row.get(0), row.get(1));
            if xid >= xmin {
                next.seen.insert(seq);
            }
            if cursor.is_some_and(|cursor| !cursor.seen.contains(&seq)) {
                areas.push(changes::area(
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.get(5),
                ));
            }
        }
        let lost = cursor
            .is_some_and(|cursor| rows.len() > MAX_CHANGES || changes::pruned(cursor, oldest));
        Ok(Changes {
            areas,
            cursor: next,
            lost,
        })
    }

    async fn search(&self, query: &ProductQuery) -> Result<Vec<Product>> {
        let mut filter = Filter::new(query)?;
        let limit = filter.param(i64::from(query.effective_limit()));
        let offset = filter.param(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let order = Sort::sql(&query.sort, &search::Postgis);
        let sql = Self::search_sql(&filter, &order, &limit, &offset);
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&sql)
            .await
            .map_err(backend("searching products"))?;
        let rows = client
            .query(&statement, &filter.params())
            .await
            .map_err(backend("searching products"))?;
        rows.iter().map(product_from_row).collect()
    }

    async fn count(&self, query: &ProductQuery) -> Result<u64> {
        let filter = Filter::new(query)?;
        let sql = format!("SELECT count(*) FROM products WHERE {}", filter.clause);
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&sql)
            .await
            .map_err(backend("counting products"))?;
        let count: i64 = client
            .query_one(&statement, &filter.params())
            .await
            .map_err(backend("counting products"))?
            .get(0);
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

/// Why [`PostgisCatalog::write_product`] failed.
enum WriteError {
    /// Refused for a reason already known.
    Refused(CatalogError),
    /// The database refused a statement; [`PostgisCatalog::explain`] says why.
    Database(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for WriteError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Database(error)
    }
}

impl From<CatalogError> for WriteError {
    fn from(error: CatalogError) -> Self {
        Self::Refused(error)
    }
}

/// `time` rounded down to the microsecond, the precision of `timestamptz`. (The driver would
/// round times before 2000 up instead.)
pub(crate) fn to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(6)
}

/// `geometry` as WKB.
pub(crate) fn footprint_wkb(what: &str, geometry: &MultiPolygon<f64>) -> Result<Vec<u8>> {
    Geometry::MultiPolygon(geometry.clone())
        .to_wkb(CoordDimensions::xy())
        .map_err(|error| CatalogError::invalid(what, format!("cannot encode it as WKB: {error}")))
}

fn product_from_row(row: &Row) -> Result<Product> {
    let id: String = row.get(0);
    let wkb: Vec<u8> = row.get(3);
    let corrupt = |reason: String| CatalogError::Backend {
        context: format!("reading product `{id}`"),
        reason,
    };
    let footprint = match Wkb(wkb).to_geo() {
        Ok(Geometry::MultiPolygon(footprint)) => footprint,
        Ok(other) => {
            return Err(corrupt(format!(
                "its footprint is a {other:?}, not a MultiPolygon"
            )));
        }
        Err(error) => return Err(corrupt(format!("its footprint cannot be decoded: {error}"))),
    };
    Ok(Product {
        collection: row.get(1),
        product_type: row.get(2),
        footprint,
        begin: row.get(4),
        end: row.get(5),
        location: row.get(6),
        metadata: row.get(7),
        properties: match row.get(8) {
            serde_json::Value::Object(properties) => properties,
            other => {
                return Err(corrupt(format!(
                    "its properties are not an object: {other}"
                )));
            }
        },
        id,
    })
}

/// A closure turning a database error while doing `context` into
/// [`CatalogError::Unavailable`] when the database went away ([`is_unavailable`]), else
/// [`CatalogError::Backend`].
fn backend(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> CatalogError {
    let context = context.into();
    move |error| {
        let reason = describe(&error);
        if is_unavailable(&error) {
            CatalogError::Unavailable { context, reason }
        } else {
            CatalogError::Backend { context, reason }
        }
    }
}

/// Whether `error` says the database went away rather than refused the statement: the
/// connection closed or failed (an I/O error), or the server's SQLSTATE is of class 08
/// (connection exception), 53 (insufficient resources: disk full, out of memory, too many
/// connections) or 57P01–57P03 (shutting down, crashed, not accepting connections yet).
pub(crate) fn is_unavailable(error: &tokio_postgres::Error) -> bool {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        return code.starts_with("08")
            || code.starts_with("53")
            || matches!(code, "57P01" | "57P02" | "57P03");
    }
    if error.is_closed() {
        return true;
    }
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        if error.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// A database error as one line: the server's message, detail and hint with the SQLSTATE,
/// or the client's error with its causes.
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
