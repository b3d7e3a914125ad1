//! Reading and writing collections and products on a connection (blocking).

use chrono::{DateTime, Utc};
use geo::BoundingRect;
use geo_types::{Geometry, MultiPolygon};
use geozero::ToGeo;
use geozero::wkb::Wkb;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::Value;

use super::{schema, search};
use crate::changes::{self, MAX_CHANGES};
use crate::postgis::footprint_wkb;
use crate::{
    Bbox, CatalogError, ChangeCursor, Changes, Collection, CollectionInfo, KeepRule, Product,
    ProductQuery, Registration, Result,
};

/// The columns of a product, in the order [`read_product`] reads them.
pub(super) const PRODUCT_COLUMNS: &str =
    "id, collection, product_type, footprint, begin_time, end_time, location, metadata, properties";

/// A closure turning an SQLite error into [`CatalogError::Backend`] while doing `context`.
pub(super) fn backend(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> CatalogError {
    let context = context.into();
    move |error| {
        let reason = error.to_string();
        if is_unavailable(&error) {
            CatalogError::Unavailable { context, reason }
        } else {
            CatalogError::Backend { context, reason }
        }
    }
}

/// Whether SQLite failed for a reason that may pass: the disk full, the database busy or
/// locked, an I/O error.
fn is_unavailable(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        error.sqlite_error_code(),
        Some(DiskFull | DatabaseBusy | DatabaseLocked | SystemIoFailure)
    )
}

/// `time` as stored: microseconds since the epoch, finer digits rounded down.
pub(super) fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// Now, as stored.
fn now() -> i64 {
    to_micros(Utc::now())
}

/// Creates `collection` or replaces its product type and metadata.
pub(super) fn upsert_collection(connection: &Connection, collection: &Collection) -> Result<()> {
    let now = now();
    connection
        .prepare_cached(
            "INSERT INTO collections (name, product_type, metadata, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?4) \
             ON CONFLICT (name) DO UPDATE SET product_type = excluded.product_type, \
             metadata = excluded.metadata, updated_at = excluded.updated_at",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                collection.name,
                collection.product_type,
                collection.metadata.to_string(),
                now
            ])
        })
        .map_err(backend(format!("storing collection `{}`", collection.name)))?;
    Ok(())
}

/// The collection `name`, if it exists.
pub(super) fn collection(connection: &Connection, name: &str) -> Result<Option<Collection>> {
    let context = || format!("reading collection `{name}`");
    let row = connection
        .prepare_cached("SELECT name, product_type, metadata FROM collections WHERE name = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([name], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .optional()
        })
        .map_err(backend(context()))?;
    row.map(|(name, product_type, metadata)| {
        Ok(Collection {
            metadata: parse_metadata(&metadata).map_err(|reason| CatalogError::Backend {
                context: context(),
                reason,
            })?,
            name,
            product_type,
        })
    })
    .transpose()
}

/// Every collection with the summary of its products, by name (byte order).
pub(super) fn collections(connection: &Connection) -> Result<Vec<CollectionInfo>> {
    let mut statement = connection
        .prepare_cached(
            "SELECT c.name, c.product_type, c.metadata, count(p.pk), min(p.west), min(p.south), \
             max(p.east), max(p.north), min(p.begin_time), max(p.end_time) \
             FROM collections c LEFT JOIN products p ON p.collection = c.name \
             GROUP BY c.name ORDER BY c.name",
        )
        .map_err(backend("listing collections"))?;
    let mut rows = statement
        .query([])
        .map_err(backend("listing collections"))?;
    let mut list = Vec::new();
    while let Some(row) = rows.next().map_err(backend("listing collections"))? {
        list.push(collection_info(row)?);
    }
    Ok(list)
}

fn collection_info(row: &Row) -> Result<CollectionInfo> {
    let name: String = row.get(0).map_err(backend("listing collections"))?;
    let context = format!("listing collection `{name}`");
    let corrupt = |reason: String| CatalogError::Backend {
        context: context.clone(),
        reason,
    };
    let get = |index| -> Result<Option<f64>> { row.get(index).map_err(backend(&context)) };
    let bbox = match [get(4)?, get(5)?, get(6)?, get(7)?] {
        [Some(west), Some(south), Some(east), Some(north)] => {
            Some(Bbox::new(west, south, east, north).map_err(|error| corrupt(error.to_string()))?)
        }
        _ => None,
    };
    let time = |index| -> Result<Option<DateTime<Utc>>> {
        row.get::<_, Option<i64>>(index)
            .map_err(backend(&context))?
            .map(|micros| from_micros(micros).map_err(corrupt))
            .transpose()
    };
    let metadata: String = row.get(2).map_err(backend(&context))?;
    let count: i64 = row.get(3).map_err(backend(&context))?;
    Ok(CollectionInfo {
        collection: Collection {
            product_type: row.get(1).map_err(backend(&context))?,
            metadata: parse_metadata(&metadata).map_err(corrupt)?,
            name,
        },
        product_count: u64::try_from(count).unwrap_or_default(),
        bbox,
        begin: time(8)?,
        end: time(9)?,
    })
}

/// Registers `products` (already validated) in one transaction, each in its own savepoint,
/// in order; one result per product. If the transaction cannot be committed, every product
/// gets that error: nothing of it was kept.
pub(super) fn register_all(
    connection: &mut Connection,
    products: &[&Product],
) -> Vec<Result<Registration>> {
    register_in_transaction(connection, products, &|_| None)
        .unwrap_or_else(|error| products.iter().map(|_| Err(error.clone())).collect())
}

/// Registers `product` (already validated) unless `keep` keeps the one registered under its
/// collection and id ([`Catalog::register_unless`](crate::Catalog::register_unless)).
pub(super) fn register_one(
    connection: &mut Connection,
    product: &Product,
    keep: &KeepRule,
) -> Result<Registration> {
    register_in_transaction(connection, &[product], keep)?
        .pop()
        .expect("one result per product")
}

/// [`register_all`] with `keep`; an error means the transaction failed.
fn register_in_transaction(
    connection: &mut Connection,
    products: &[&Product],
    keep: &KeepRule,
) -> Result<Vec<Result<Registration>>> {
    let mut transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("starting a registration"))?;
    let mut results = Vec::with_capacity(products.len());
    for product in products {
        let savepoint = transaction
            .savepoint()
            .map_err(backend("starting a savepoint"))?;
        let result = write_product(&savepoint, product, keep);
        if result.is_ok() {
            savepoint
                .commit()
                .map_err(backend("releasing a savepoint"))?;
        }
        // A savepoint dropped without commit is rolled back.
        results.push(result);
    }
    transaction
        .commit()
        .map_err(backend("committing a registration"))?;
    // The registrations are committed whatever happens to the statistics.
    if let Err(error) = schema::optimize(connection, false) {
        tracing::warn!(%error, "cannot update the catalog's query statistics");
    }
    Ok(results)
}

/// Inserts `product`, or replaces the product with its collection and id and returns it
/// (unless `keep` keeps that one).
fn write_product(
    connection: &Connection,
    product: &Product,
    keep: &KeepRule,
) -> Result<Registration> {
    let context = || format!("registering product `{}`", product.id);
    let known = connection
        .prepare_cached("SELECT 1 FROM collections WHERE name = ?1")
        .and_then(|mut statement| statement.exists([&product.collection]))
        .map_err(backend(context()))?;
    if !known {
        return Err(CatalogError::UnknownCollection(product.collection.clone()));
    }
    let footprint = footprint_wkb("footprint", &product.footprint)?;
    let extent = product.footprint.bounding_rect().ok_or_else(|| {
        CatalogError::invalid(format!("product {:?}", product.id), "footprint is empty")
    })?;
    let previous = find(connection, &product.collection, &product.id)?;
    if let Some(reason) = previous.as_ref().and_then(|(_, previous)| keep(previous)) {
        return Ok(Registration::Kept { reason });
    }
    let (begin, end) = (to_micros(product.begin), to_micros(product.end));
    let (west, south) = (extent.min().x, extent.min().y);
    let (east, north) = (extent.max().x, extent.max().y);
    let metadata = product.metadata.to_string();
    let properties = Value::Object(product.properties.clone()).to_string();
    let now = now();
    let values = params![
        product.id,
        product.collection,
        product.product_type,
        footprint,
        west,
        south,
        east,
        north,
        begin,
        end,
        product.location,
        metadata,
        now,
        properties,
    ];
    let pk = match &previous {
        Some((pk, _)) => {
            connection
                .prepare_cached(
                    "UPDATE products SET product_type = ?3, footprint = ?4, \
                     west = ?5, south = ?6, east = ?7, north = ?8, begin_time = ?9, \
                     end_time = ?10, location = ?11, metadata = ?12, updated_at = ?13, \
                     properties = ?14 WHERE id = ?1 AND collection = ?2",
                )
                .and_then(|mut statement| statement.execute(values))
                .map_err(backend(context()))?;
            remove_parts(connection, *pk).map_err(backend(context()))?;
            *pk
        }
        None => connection
            .prepare_cached(
                "INSERT INTO products (id, collection, product_type, footprint, west, south, \
                 east, north, begin_time, end_time, location, metadata, registered_at, \
                 updated_at, properties) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14) \
                 RETURNING pk",
            )
            .and_then(|mut statement| statement.query_row(values, |row| row.get(0)))
            .map_err(backend(context()))?,
    };
    insert_parts(connection, pk, &product.footprint, (begin, end)).map_err(backend(context()))?;
    Ok(match previous {
        Some((_, previous)) => Registration::Replaced {
            previous: Box::new(previous),
        },
        None => Registration::Inserted,
    })
}

/// Indexes the box of each polygon of `footprint`, the footprint of the product `pk`, with
/// the product's time span `(begin, end)` in microseconds.
fn insert_parts(
    connection: &Connection,
    pk: i64,
    footprint: &MultiPolygon<f64>,
    (begin, end): (i64, i64),
) -> rusqlite::Result<()> {
    let mut part =
        connection.prepare_cached("INSERT INTO footprint_parts (product) VALUES (?1)")?;
    let mut index = connection.prepare_cached(
        "INSERT INTO footprint_boxes (part, min_x, max_x, min_y, max_y, min_t, max_t) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for rect in footprint.iter().filter_map(BoundingRect::bounding_rect) {
        part.execute([pk])?;
        let id = connection.last_insert_rowid();
        let (min, max) = (rect.min(), rect.max());
        index.execute(params![id, min.x, max.x, min.y, max.y, begin, end])?;
    }
    Ok(())
}

/// Removes the footprint boxes of the product `pk` from the index.
fn remove_parts(connection: &Connection, pk: i64) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "DELETE FROM footprint_boxes WHERE part IN \
             (SELECT part FROM footprint_parts WHERE product = ?1)",
        )?
        .execute([pk])?;
    connection
        .prepare_cached("DELETE FROM footprint_parts WHERE product = ?1")?
        .execute([pk])?;
    Ok(())
}

/// The row key and the product stored under `collection` and `id`, if any.
pub(super) fn find(
    connection: &Connection,
    collection: &str,
    id: &str,
) -> Result<Option<(i64, Product)>> {
    let context = || format!("reading product `{id}` of collection `{collection}`");
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {PRODUCT_COLUMNS}, pk FROM products WHERE collection = ?1 AND id = ?2"
        ))
        .map_err(backend(context()))?;
    let mut rows = statement
        .query([collection, id])
        .map_err(backend(context()))?;
    match rows.next().map_err(backend(context()))? {
        Some(row) => {
            let pk = row.get(9).map_err(backend(context()))?;
            Ok(Some((pk, read_product(row)?)))
        }
        None => Ok(None),
    }
}

/// Removes the product `id` of `collection` and returns it.
pub(super) fn deregister(
    connection: &mut Connection,
    collection: &str,
    id: &str,
) -> Result<Option<Product>> {
    let context = || format!("deregistering product `{id}` of collection `{collection}`");
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend(context()))?;
    let Some((pk, product)) = find(&transaction, collection, id)? else {
        return Ok(None);
    };
    remove_parts(&transaction, pk).map_err(backend(context()))?;
    transaction
        .execute("DELETE FROM products WHERE pk = ?1", [pk])
        .map_err(backend(context()))?;
    transaction.commit().map_err(backend(context()))?;
    Ok(Some(product))
}

/// Removes the products of the page `query` selects, in one transaction, and returns them in
/// search order.
pub(super) fn deregister_matching(
    connection: &mut Connection,
    query: &ProductQuery,
) -> Result<Vec<Product>> {
    let context = "deregistering the products of a query";
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend(context))?;
    let products = search::search(&transaction, query)?;
    for product in &products {
        let pk: i64 = transaction
            .prepare_cached("SELECT pk FROM products WHERE collection = ?1 AND id = ?2")
            .and_then(|mut statement| {
                statement.query_row([&product.collection, &product.id], |row| row.get(0))
            })
            .map_err(backend(context))?;
        remove_parts(&transaction, pk).map_err(backend(context))?;
        transaction
            .prepare_cached("DELETE FROM products WHERE pk = ?1")
            .and_then(|mut statement| statement.execute([pk]))
            .map_err(backend(context))?;
    }
    transaction.commit().map_err(backend(context))?;
    Ok(products)
}

/// Deletes the collection `name` with its products; how many products went with it, `None`
/// when there is no such collection.
pub(super) fn delete_collection(connection: &mut Connection, name: &str) -> Result<Option<u64>> {
    let context = || format!("deleting collection `{name}`");
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend(context()))?;
    let exists = transaction
        .prepare_cached("SELECT 1 FROM collections WHERE name = ?1")
        .and_then(|mut statement| statement.exists([name]))
        .map_err(backend(context()))?;
    if !exists {
        return Ok(None);
    }
    transaction
        .execute(
            "DELETE FROM footprint_boxes WHERE part IN (SELECT f.part FROM footprint_parts f \
             JOIN products p ON p.pk = f.product WHERE p.collection = ?1)",
            [name],
        )
        .map_err(backend(context()))?;
    transaction
        .execute(
            "DELETE FROM footprint_parts WHERE product IN \
             (SELECT pk FROM products WHERE collection = ?1)",
            [name],
        )
        .map_err(backend(context()))?;
    let products = transaction
        .execute("DELETE FROM products WHERE collection = ?1", [name])
        .map_err(backend(context()))?;
    transaction
        .execute("DELETE FROM collections WHERE name = ?1", [name])
        .map_err(backend(context()))?;
    transaction.commit().map_err(backend(context()))?;
    Ok(Some(u64::try_from(products).unwrap_or(u64::MAX)))
}

/// The product in `row` (the [`PRODUCT_COLUMNS`]).
pub(super) fn read_product(row: &Row) -> Result<Product> {
    let footprint = read_footprint(row)?;
    product_from_row(row, footprint)
}

/// The footprint of the product in `row` (the [`PRODUCT_COLUMNS`]).
pub(super) fn read_footprint(row: &Row) -> Result<MultiPolygon<f64>> {
    let id: String = row.get(0).map_err(backend("reading a product"))?;
    let wkb: Vec<u8> = row
        .get(3)
        .map_err(backend(format!("reading product `{id}`")))?;
    let corrupt = |reason: String| CatalogError::Backend {
        context: format!("reading product `{id}`"),
        reason,
    };
    match Wkb(wkb).to_geo() {
        Ok(Geometry::MultiPolygon(footprint)) => Ok(footprint),
        Ok(other) => Err(corrupt(format!(
            "its footprint is a {other:?}, not a MultiPolygon"
        ))),
        Err(error) => Err(corrupt(format!("its footprint cannot be decoded: {error}"))),
    }
}

/// The product in `row` (the [`PRODUCT_COLUMNS`]), whose footprint was read already.
pub(super) fn product_from_row(row: &Row, footprint: MultiPolygon<f64>) -> Result<Product> {
    let id: String = row.get(0).map_err(backend("reading a product"))?;
    let context = format!("reading product `{id}`");
    let corrupt = |reason: String| CatalogError::Backend {
        context: context.clone(),
        reason,
    };
    let time = |index| -> Result<DateTime<Utc>> {
        from_micros(row.get(index).map_err(backend(&context))?).map_err(corrupt)
    };
    let metadata: String = row.get(7).map_err(backend(&context))?;
    let properties: String = row.get(8).map_err(backend(&context))?;
    Ok(Product {
        collection: row.get(1).map_err(backend(&context))?,
        product_type: row.get(2).map_err(backend(&context))?,
        footprint,
        begin: time(4)?,
        end: time(5)?,
        location: row.get(6).map_err(backend(&context))?,
        metadata: parse_metadata(&metadata).map_err(corrupt)?,
        properties: match parse_metadata(&properties).map_err(corrupt)? {
            Value::Object(properties) => properties,
            other => {
                return Err(corrupt(format!(
                    "its properties are not an object: {other}"
                )));
            }
        },
        id,
    })
}

fn from_micros(micros: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| format!("the stored time {micros} µs since 1970 is out of range"))
}

fn parse_metadata(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|error| format!("its metadata is not JSON: {error}"))
}

/// The changes of `collection` after `cursor` (see [`crate::Catalog::changes`]): SQLite
/// writes one transaction at a time, so a sequence number read is never passed by an earlier
/// one committing later.
pub(super) fn changes(
    connection: &Connection,
    collection: &str,
    cursor: Option<&ChangeCursor>,
) -> Result<Changes> {
    let context = || format!("reading the changes of collection `{collection}`");
    let transaction = connection
        .unchecked_transaction()
        .map_err(backend(context()))?;
    let (newest, oldest): (Option<i64>, Option<i64>) = transaction
        .query_row(
            "SELECT max(seq), min(seq) FROM product_changes",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(backend(context()))?;
    let newest = newest.unwrap_or(0);
    let next = ChangeCursor {
        position: newest,
        high: newest,
        seen: Default::default(),
    };
    let Some(cursor) = cursor else {
        return Ok(Changes {
            cursor: next,
            ..Changes::default()
        });
    };
    let mut statement = transaction
        .prepare_cached(
            "SELECT west, south, east, north FROM product_changes \
             WHERE seq > ?1 AND seq <= ?2 AND collection = ?3 ORDER BY seq LIMIT ?4",
        )
        .map_err(backend(context()))?;
    let areas = statement
        .query_map(
            params![cursor.position, newest, collection, MAX_CHANGES as i64 + 1],
            |row| {
                Ok(changes::area(
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                ))
            },
        )
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(backend(context()))?;
    let lost = areas.len() > MAX_CHANGES || changes::pruned(cursor, oldest);
    Ok(Changes {
        areas,
        cursor: next,
        lost,
    })
}
