//! The contract every catalog backend must pass: one suite, run against PostGIS by this
//! crate's tests and against every other backend by theirs.
//!
//! Each function takes a fresh, empty [`Catalog`] (its own database, so tests run in
//! parallel) and panics, saying what differed, when the backend breaks the contract.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use futures::future::join_all;
use geo_types::{LineString, MultiPolygon, Polygon, polygon};
use serde_json::json;

use crate::{
    Bbox, Catalog, CatalogError, Collection, KeepRule, MAX_LIMIT, Product, ProductQuery,
    Registration, TimeFilter, TimeRelation,
};

/// 2024-01-01T00:00:00Z plus `hours`.
fn hours(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + TimeDelta::hours(hours)
}

fn rect(west: f64, south: f64, east: f64, north: f64) -> Polygon<f64> {
    polygon![
        (x: west, y: south),
        (x: east, y: south),
        (x: east, y: north),
        (x: west, y: north),
    ]
}

/// The edges of a box: `(west, south, east, north)`.
type Edges = (f64, f64, f64, f64);

/// A footprint made of boxes.
fn boxes(parts: &[Edges]) -> MultiPolygon<f64> {
    MultiPolygon(
        parts
            .iter()
            .map(|&(west, south, east, north)| rect(west, south, east, north))
            .collect(),
    )
}

fn bbox(west: f64, south: f64, east: f64, north: f64) -> Bbox {
    Bbox::new(west, south, east, north)
        .unwrap_or_else(|error| panic!("test bbox is invalid: {error}"))
}

/// A self-intersecting ("bow tie") footprint.
fn bowtie() -> MultiPolygon<f64> {
    MultiPolygon(vec![polygon![
        (x: 0.0, y: 0.0),
        (x: 1.0, y: 1.0),
        (x: 1.0, y: 0.0),
        (x: 0.0, y: 1.0),
    ]])
}

fn product(
    id: &str,
    collection: &str,
    footprint: MultiPolygon<f64>,
    begin: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Product {
    Product {
        id: id.to_owned(),
        collection: collection.to_owned(),
        product_type: None,
        footprint,
        begin,
        end,
        location: format!("products/{id}/image.tif"),
        metadata: json!({}),
        properties: serde_json::Map::new(),
    }
}

async fn create_collection(catalog: &dyn Catalog, name: &str) {
    let collection = Collection::new(name).unwrap();
    catalog
        .upsert_collection(&collection)
        .await
        .unwrap_or_else(|error| panic!("creating collection `{name}`: {error}"));
}

async fn register(catalog: &dyn Catalog, product: &Product) -> Registration {
    catalog
        .register(product)
        .await
        .unwrap_or_else(|error| panic!("registering `{}`: {error}", product.id))
}

async fn register_all(catalog: &dyn Catalog, products: &[Product]) {
    for product in products {
        register(catalog, product).await;
    }
}

/// `query`'s results, checked to be in search order (begin desc, then id).
async fn search(catalog: &dyn Catalog, query: &ProductQuery) -> Vec<Product> {
    let products = catalog
        .search(query)
        .await
        .unwrap_or_else(|error| panic!("search {query:?}: {error}"));
    for pair in products.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            a.begin > b.begin || (a.begin == b.begin && a.id < b.id),
            "results must be ordered by begin desc then id: `{}` ({}) came before `{}` ({}) for {query:?}",
            a.id,
            a.begin,
            b.id,
            b.begin
        );
    }
    let total = catalog
        .count(query)
        .await
        .unwrap_or_else(|error| panic!("count {query:?}: {error}"));
    let (page, counted) = catalog
        .search_counted(query)
        .await
        .unwrap_or_else(|error| panic!("search_counted {query:?}: {error}"));
    assert_eq!(
        (ids(&page), counted),
        (ids(&products), total),
        "search_counted answers what search and count answer, for {query:?}"
    );
    products
}

fn ids(products: &[Product]) -> Vec<String> {
    products.iter().map(|product| product.id.clone()).collect()
}

/// Every product matching `query` (without limit) has one of the `expected` ids, and
/// `count` agrees.
async fn assert_finds(catalog: &dyn Catalog, query: ProductQuery, expected: &[&str]) {
    let query = query.with_limit(MAX_LIMIT);
    let found: BTreeSet<String> = ids(&search(catalog, &query).await).into_iter().collect();
    let expected: BTreeSet<String> = expected.iter().map(|id| id.to_string()).collect();
    assert_eq!(found, expected, "products found by {query:?}");
    let count = catalog
        .count(&query)
        .await
        .unwrap_or_else(|error| panic!("count {query:?}: {error}"));
    assert_eq!(count, expected.len() as u64, "count of {query:?}");
}

fn assert_invalid<T: std::fmt::Debug>(result: crate::Result<T>, what: &str) {
    match result {
        Err(CatalogError::Invalid { .. }) => {}
        other => panic!("{what} must be refused as invalid, got {other:?}"),
    }
}

/// Collections are created, replaced by name, listed by name with their product count,
/// extent and time range; invalid ones are refused. The catalog answers pings.
pub async fn collections_are_upserted_and_listed(catalog: &dyn Catalog) {
    catalog.ping().await.expect("ping");
    assert!(catalog.collections().await.unwrap().is_empty());
    assert_eq!(catalog.collection("S2_L1C").await.unwrap(), None);

    let s2 = Collection {
        name: "S2_L1C".to_owned(),
        product_type: Some("S2MSI1C".to_owned()),
        metadata: json!({"title": "Sentinel-2 L1C", "bands": [4, 3, 2]}),
    };
    catalog.upsert_collection(&s2).await.unwrap();
    assert_eq!(
        catalog.collection("S2_L1C").await.unwrap(),
        Some(s2.clone())
    );
    let renamed = Collection {
        product_type: None,
        metadata: json!({"title": "renamed"}),
        ..s2
    };
    catalog.upsert_collection(&renamed).await.unwrap();
    assert_eq!(
        catalog.collection("S2_L1C").await.unwrap(),
        Some(renamed.clone()),
        "an upsert replaces product type and metadata"
    );
    create_collection(catalog, "empty-1").await;
    create_collection(catalog, "A.first").await;

    register_all(
        catalog,
        &[
            product(
                "one",
                "S2_L1C",
                boxes(&[(0.1, 0.2, 10.3, 10.4)]),
                hours(0),
                hours(1),
            ),
            product(
                "two",
                "S2_L1C",
                boxes(&[(20.0, -5.7, 30.0, 5.0), (40.0, 40.0, 41.9, 41.3)]),
                hours(5),
                hours(8),
            ),
        ],
    )
    .await;

    let list = catalog.collections().await.unwrap();
    let names: Vec<&str> = list
        .iter()
        .map(|info| info.collection.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["A.first", "S2_L1C", "empty-1"],
        "ordered by name, byte order"
    );
    let s2 = &list[1];
    assert_eq!(s2.collection, renamed);
    assert_eq!(s2.product_count, 2);
    assert_eq!(
        s2.bbox,
        Some(bbox(0.1, -5.7, 41.9, 41.3)),
        "extent of the footprints"
    );
    assert_eq!((s2.begin, s2.end), (Some(hours(0)), Some(hours(8))));
    let empty = &list[2];
    assert_eq!(empty.product_count, 0);
    assert_eq!((empty.bbox, empty.begin, empty.end), (None, None, None));

    for (name, metadata) in [
        ("bad name", json!({})),
        ("", json!({})),
        (&"n".repeat(65), json!({})),
        ("fine", json!("not an object")),
    ] {
        let collection = Collection {
            name: name.to_owned(),
            product_type: None,
            metadata,
        };
        assert_invalid(
            catalog.upsert_collection(&collection).await,
            &format!("collection {name:?}"),
        );
    }
    create_collection(catalog, &"n".repeat(64)).await;
    assert_eq!(catalog.collections().await.unwrap().len(), 4);
}

/// What is registered comes back as it was: odd ids, multipolygons with holes, exact
/// coordinates, nested metadata; times rounded down to the microsecond, also before 1970 and
/// 2000.
pub async fn products_round_trip(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    let with_hole = Polygon::new(
        LineString::from(vec![
            (12.345678901234567, 41.1),
            (13.000000000000002, 41.1),
            (13.000000000000002, 42.9),
            (12.345678901234567, 42.9),
            (12.345678901234567, 41.1),
        ]),
        vec![LineString::from(vec![
            (12.5, 41.5),
            (12.75, 41.5),
            (12.75, 42.5),
            (12.5, 41.5),
        ])],
    );
    let detailed = Product {
        id: "S2A_MSIL1C_20240101T101010_N0510 #1/ü".to_owned(),
        collection: "S2".to_owned(),
        product_type: Some("S2MSI1C".to_owned()),
        footprint: MultiPolygon(vec![with_hole, rect(-1e-9, -89.5, 1e-9, -89.0)]),
        begin: hours(0) + TimeDelta::nanoseconds(123_456_789),
        end: hours(1) + TimeDelta::nanoseconds(999),
        location: "products/S2A/image.tif".to_owned(),
        metadata: json!({
            "cloud_cover": 12.5,
            "orbit": 12345,
            "ratio": 0.1,
            "platform": "Sentinel-2A",
            "nested": {"list": [1, "two", null, true, {"deep": []}]},
            "unicode": "é ✓ 𝄞",
        }),
        properties: json!({
            "eo:cloud_cover": 12.5,
            "platform": "Sentinel-2A",
            "sat:absolute_orbit": 12345,
            "eo:snow_cover": null,
            "instruments": ["msi"],
            "unicode": "é ✓ 𝄞",
        })
        .as_object()
        .cloned()
        .unwrap(),
    };
    let instant = Product {
        product_type: None,
        ..product(
            "instant",
            "S2",
            boxes(&[(-180.0, -90.0, 180.0, 90.0)]),
            Utc.with_ymd_and_hms(1995, 6, 1, 12, 0, 0).unwrap() + TimeDelta::nanoseconds(999),
            Utc.with_ymd_and_hms(1995, 6, 1, 12, 0, 0).unwrap() + TimeDelta::nanoseconds(999),
        )
    };
    let old = product(
        "old",
        "S2",
        boxes(&[(1.0, 1.0, 2.0, 2.0)]),
        Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap() - TimeDelta::nanoseconds(1),
        Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap(),
    );
    for product in [&detailed, &instant, &old] {
        assert_eq!(register(catalog, product).await, Registration::Inserted);
    }

    let stored = |product: &Product, begin: DateTime<Utc>, end: DateTime<Utc>| Product {
        begin,
        end,
        ..product.clone()
    };
    let expected = [
        stored(
            &detailed,
            hours(0) + TimeDelta::microseconds(123_456),
            hours(1),
        ),
        stored(
            &instant,
            Utc.with_ymd_and_hms(1995, 6, 1, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1995, 6, 1, 12, 0, 0).unwrap(),
        ),
        stored(
            &old,
            Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap() - TimeDelta::microseconds(1),
            Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap(),
        ),
    ];
    for product in &expected {
        assert_eq!(
            catalog
                .get(&product.collection, &product.id)
                .await
                .unwrap()
                .as_ref(),
            Some(product),
            "product read back (times rounded down to the microsecond)"
        );
    }
    assert_eq!(
        search(catalog, &ProductQuery::new()).await,
        expected,
        "search returns the stored products, newest first"
    );
    assert_eq!(catalog.get("S2", "S2A_MSIL1C").await.unwrap(), None);
}

/// Registering an id again in its collection replaces the product and returns the one
/// replaced.
pub async fn register_inserts_then_replaces(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    let first = product(
        "P1",
        "S2",
        boxes(&[(0.0, 0.0, 1.0, 1.0)]),
        hours(0),
        hours(1),
    );
    assert_eq!(register(catalog, &first).await, Registration::Inserted);

    let second = Product {
        product_type: Some("GRD".to_owned()),
        footprint: boxes(&[(5.0, 5.0, 6.0, 6.0)]),
        begin: hours(2),
        end: hours(3),
        location: "elsewhere.tif".to_owned(),
        metadata: json!({"version": 2}),
        ..first.clone()
    };
    let registration = register(catalog, &second).await;
    assert_eq!(
        registration,
        Registration::Replaced {
            previous: Box::new(first.clone())
        }
    );
    assert_eq!(registration.previous(), Some(&first));
    assert_eq!(catalog.get("S2", "P1").await.unwrap(), Some(second.clone()));
    assert_finds(catalog, ProductQuery::new(), &["P1"]).await;
    assert_finds(
        catalog,
        ProductQuery::new().with_bbox(bbox(0.0, 0.0, 1.0, 1.0)),
        &[],
    )
    .await;
    assert_finds(
        catalog,
        ProductQuery::new().with_bbox(bbox(5.5, 5.5, 5.6, 5.6)),
        &["P1"],
    )
    .await;
    assert_eq!(info_of(catalog, "S2").await.product_count, 1);

    assert_eq!(
        register(catalog, &second).await,
        Registration::Replaced {
            previous: Box::new(second),
        },
        "registering the same product again replaces it with itself"
    );
}

/// Deregistering returns the removed product; afterwards it is gone from everywhere and its
/// id can be registered again.
pub async fn deregister_returns_the_product(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    assert_eq!(catalog.deregister("S2", "missing").await.unwrap(), None);
    let gone = product(
        "gone",
        "S2",
        boxes(&[(0.0, 0.0, 1.0, 1.0)]),
        hours(0),
        hours(1),
    );
    let kept = product(
        "kept",
        "S2",
        boxes(&[(0.0, 0.0, 1.0, 1.0)]),
        hours(0),
        hours(1),
    );
    register_all(catalog, &[gone.clone(), kept.clone()]).await;

    assert_eq!(catalog.deregister("S1", "gone").await.unwrap(), None);
    assert_eq!(
        catalog.deregister("S2", "gone").await.unwrap(),
        Some(gone.clone())
    );
    assert_eq!(catalog.get("S2", "gone").await.unwrap(), None);
    assert_eq!(catalog.deregister("S2", "gone").await.unwrap(), None);
    assert_eq!(catalog.get("S2", "kept").await.unwrap(), Some(kept));
    assert_finds(catalog, ProductQuery::new(), &["kept"]).await;
    assert_eq!(catalog.collections().await.unwrap()[0].product_count, 1);

    assert_eq!(register(catalog, &gone).await, Registration::Inserted);
    assert_finds(catalog, ProductQuery::new(), &["gone", "kept"]).await;
}

/// The summary of collection `name` in [`Catalog::collections`].
async fn info_of(catalog: &dyn Catalog, name: &str) -> crate::CollectionInfo {
    catalog
        .collections()
        .await
        .unwrap()
        .into_iter()
        .find(|info| info.collection.name == name)
        .unwrap_or_else(|| panic!("collection `{name}` is listed"))
}

/// The products of two collections whose names share a prefix (`S2`, `S2_L1C`): in `S2` one
/// product a day from day 0 to day 5 (each a day long, further east each day), in `S2_L1C`
/// one product over the same days.
fn removal_products() -> Vec<Product> {
    let mut products: Vec<Product> = (0..6)
        .map(|day| {
            let west = f64::from(day) * 10.0;
            product(
                &format!("s2-{day}"),
                "S2",
                boxes(&[(west, f64::from(day), west + 5.0, 20.0 + f64::from(day))]),
                hours(i64::from(day) * 24),
                hours(i64::from(day) * 24 + 23),
            )
        })
        .collect();
    products.push(product(
        "l1c",
        "S2_L1C",
        boxes(&[(-50.0, -50.0, -40.0, -40.0)]),
        hours(0),
        hours(6 * 24),
    ));
    products
}

/// Removing the products of a query page by page takes exactly those matching (here: a
/// collection's products intersecting a time range), returns them in search order, and
/// leaves the others, of that collection and of another one with a name sharing its prefix.
/// Each page is at most the query's limit; an empty page ends it.
pub async fn deregister_matching_removes_pages_of_a_query(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    create_collection(catalog, "S2_L1C").await;
    register_all(catalog, &removal_products()).await;
    // Day 1 at 12:00 to day 3 at 23:30: intersects days 1, 2 and 3 (day 1 ends at 23:00).
    let range = TimeFilter::new(
        hours(36),
        hours(3 * 24 + 23) + TimeDelta::minutes(30),
        TimeRelation::Intersects,
    )
    .unwrap();
    let query = ProductQuery::new()
        .with_collection("S2")
        .with_time(range)
        .with_limit(2);
    let first = catalog.deregister_matching(&query).await.unwrap();
    assert_eq!(
        ids(&first),
        ["s2-3", "s2-2"],
        "the first page, newest first"
    );
    let second = catalog.deregister_matching(&query).await.unwrap();
    assert_eq!(ids(&second), ["s2-1"]);
    assert_eq!(second[0], removal_products()[1], "returned as registered");
    assert!(
        catalog
            .deregister_matching(&query)
            .await
            .unwrap()
            .is_empty()
    );
    for id in ["s2-1", "s2-2", "s2-3"] {
        assert_eq!(catalog.get("S2", id).await.unwrap(), None, "{id} removed");
    }
    assert_finds(
        catalog,
        ProductQuery::new(),
        &["s2-0", "s2-4", "s2-5", "l1c"],
    )
    .await;
    // The spatial index forgot them too.
    assert_finds(
        catalog,
        ProductQuery::new().with_bbox(bbox(0.0, 0.0, 39.0, 30.0)),
        &["s2-0"],
    )
    .await;
    // A removed id can be registered again.
    assert_eq!(
        register(catalog, &removal_products()[2]).await,
        Registration::Inserted
    );
    // An invalid query removes nothing.
    let invalid = ProductQuery::new().with_geometry(bowtie());
    assert_invalid(
        catalog.deregister_matching(&invalid).await,
        "a bow tie query",
    );
    assert_eq!(catalog.count(&ProductQuery::new()).await.unwrap(), 5);
}

/// A collection's extent (box, times) and product count follow its products: after removals
/// they are those of the remaining products, smaller than before; with none left, there is
/// no extent. Another collection's summary is unchanged.
pub async fn collection_extent_shrinks_after_removals(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    create_collection(catalog, "S2_L1C").await;
    register_all(catalog, &removal_products()).await;
    let before = info_of(catalog, "S2").await;
    assert_eq!(before.product_count, 6);
    assert_eq!(before.bbox, Some(bbox(0.0, 0.0, 55.0, 25.0)));
    assert_eq!(
        (before.begin, before.end),
        (Some(hours(0)), Some(hours(5 * 24 + 23)))
    );
    let l1c = info_of(catalog, "S2_L1C").await;

    // The first and the last two days go: days 1 to 3 remain.
    let ends = [
        TimeFilter::new(hours(0), hours(1), TimeRelation::Intersects).unwrap(),
        TimeFilter::new(hours(4 * 24), hours(6 * 24), TimeRelation::Intersects).unwrap(),
    ];
    for time in ends {
        let query = ProductQuery::new().with_collection("S2").with_time(time);
        assert!(
            !catalog
                .deregister_matching(&query)
                .await
                .unwrap()
                .is_empty()
        );
    }
    let after = info_of(catalog, "S2").await;
    assert_eq!(after.product_count, 3);
    assert_eq!(
        after.bbox,
        Some(bbox(10.0, 1.0, 35.0, 23.0)),
        "the box of days 1 to 3"
    );
    assert_eq!(
        (after.begin, after.end),
        (Some(hours(24)), Some(hours(3 * 24 + 23)))
    );
    assert_eq!(
        info_of(catalog, "S2_L1C").await,
        l1c,
        "the other collection"
    );

    // One product removed by id shrinks it too.
    catalog.deregister("S2", "s2-3").await.unwrap().unwrap();
    let after = info_of(catalog, "S2").await;
    assert_eq!(after.bbox, Some(bbox(10.0, 1.0, 25.0, 22.0)));
    assert_eq!(after.end, Some(hours(2 * 24 + 23)));

    let rest = ProductQuery::new().with_collection("S2");
    assert_eq!(catalog.deregister_matching(&rest).await.unwrap().len(), 2);
    let empty = info_of(catalog, "S2").await;
    assert_eq!(empty.product_count, 0);
    assert_eq!((empty.bbox, empty.begin, empty.end), (None, None, None));
}

/// Deleting a collection removes it with all its products (by id, place and time) and
/// nothing of another collection, even one whose name starts with its name; it can then be
/// created again and its ids registered anew. An unknown collection is `None`.
pub async fn delete_collection_removes_it_and_its_products(catalog: &dyn Catalog) {
    assert_eq!(catalog.delete_collection("S2").await.unwrap(), None);
    create_collection(catalog, "S2").await;
    create_collection(catalog, "S2_L1C").await;
    create_collection(catalog, "empty").await;
    register_all(catalog, &removal_products()).await;

    assert_eq!(catalog.delete_collection("S2").await.unwrap(), Some(6));
    assert_eq!(catalog.collection("S2").await.unwrap(), None);
    let names: Vec<String> = catalog
        .collections()
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.collection.name)
        .collect();
    assert_eq!(names, ["S2_L1C", "empty"]);
    assert_eq!(catalog.get("S2", "s2-0").await.unwrap(), None);
    assert_finds(catalog, ProductQuery::new(), &["l1c"]).await;
    assert_finds(
        catalog,
        ProductQuery::new().with_bbox(bbox(-180.0, -90.0, 180.0, 90.0)),
        &["l1c"],
    )
    .await;
    assert_finds(
        catalog,
        ProductQuery::new().with_time(TimeFilter::instant(hours(30))),
        &["l1c"],
    )
    .await;
    assert_eq!(catalog.delete_collection("S2").await.unwrap(), None);
    assert_eq!(catalog.delete_collection("empty").await.unwrap(), Some(0));

    // Registering into the deleted collection is refused until it exists again.
    let s2_0 = removal_products()[0].clone();
    assert_eq!(
        catalog.register(&s2_0).await,
        Err(CatalogError::UnknownCollection("S2".to_owned()))
    );
    create_collection(catalog, "S2").await;
    assert_eq!(register(catalog, &s2_0).await, Registration::Inserted);
    assert_finds(
        catalog,
        ProductQuery::new().with_bbox(bbox(0.0, 0.0, 5.0, 20.0)),
        &["s2-0"],
    )
    .await;
    assert_eq!(info_of(catalog, "S2").await.product_count, 1);
}

/// A product of a collection that does not exist is refused, also when a replacement would
/// move an existing product there; nothing changes.
pub async fn unknown_collection_is_refused(catalog: &dyn Catalog) {
    let orphan = product(
        "P",
        "nope",
        boxes(&[(0.0, 0.0, 1.0, 1.0)]),
        hours(0),
        hours(1),
    );
    match catalog.register(&orphan).await {
        Err(CatalogError::UnknownCollection(name)) => assert_eq!(name, "nope"),
        other => panic!("a product of an unknown collection must be refused, got {other:?}"),
    }
    assert_eq!(catalog.get("nope", "P").await.unwrap(), None);
    assert!(
        catalog.collections().await.unwrap().is_empty(),
        "no collection is created"
    );

    create_collection(catalog, "S2").await;
    let product = Product {
        collection: "S2".to_owned(),
        ..orphan.clone()
    };
    register(catalog, &product).await;
    assert!(matches!(
        catalog.register(&orphan).await,
        Err(CatalogError::UnknownCollection(_))
    ));
    assert_eq!(catalog.get("S2", "P").await.unwrap(), Some(product));
    assert_finds(catalog, ProductQuery::new(), &["P"]).await;
}

/// Invalid products are refused with [`CatalogError::Invalid`] and nothing is stored; an
/// invalid replacement leaves the stored product as it was.
pub async fn invalid_products_are_refused(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    let good = product(
        "P",
        "S2",
        boxes(&[(0.0, 0.0, 1.0, 1.0)]),
        hours(0),
        hours(1),
    );
    let cases = [
        (
            "an empty id",
            Product {
                id: String::new(),
                ..good.clone()
            },
        ),
        (
            "an id with a control character",
            Product {
                id: "a\u{7}b".to_owned(),
                ..good.clone()
            },
        ),
        (
            "an id of 256 characters",
            Product {
                id: "x".repeat(256),
                ..good.clone()
            },
        ),
        (
            "a collection name with a space",
            Product {
                collection: "S 2".to_owned(),
                ..good.clone()
            },
        ),
        (
            "begin after end",
            Product {
                begin: hours(2),
                ..good.clone()
            },
        ),
        (
            "an empty footprint",
            Product {
                footprint: MultiPolygon(vec![]),
                ..good.clone()
            },
        ),
        (
            "a longitude over 180",
            Product {
                footprint: boxes(&[(170.0, 0.0, 181.0, 1.0)]),
                ..good.clone()
            },
        ),
        (
            "a latitude under -90",
            Product {
                footprint: boxes(&[(0.0, -91.0, 1.0, 1.0)]),
                ..good.clone()
            },
        ),
        (
            "a NaN coordinate",
            Product {
                footprint: boxes(&[(0.0, 0.0, f64::NAN, 1.0)]),
                ..good.clone()
            },
        ),
        (
            "an infinite coordinate",
            Product {
                footprint: boxes(&[(0.0, 0.0, f64::INFINITY, 1.0)]),
                ..good.clone()
            },
        ),
        (
            "a self-intersecting footprint",
            Product {
                footprint: bowtie(),
                ..good.clone()
            },
        ),
        (
            "overlapping polygons",
            Product {
                footprint: boxes(&[(0.0, 0.0, 2.0, 2.0), (1.0, 1.0, 3.0, 3.0)]),
                ..good.clone()
            },
        ),
        (
            "an empty location",
            Product {
                location: String::new(),
                ..good.clone()
            },
        ),
        (
            "metadata that is not an object",
            Product {
                metadata: json!([1, 2]),
                ..good.clone()
            },
        ),
        (
            "metadata with a NUL character",
            Product {
                metadata: json!({"a": "x\u{0}"}),
                ..good.clone()
            },
        ),
    ];
    for (what, product) in &cases {
        assert_invalid(
            catalog.register(product).await,
            &format!("a product with {what}"),
        );
    }
    assert_finds(catalog, ProductQuery::new(), &[]).await;
    assert_eq!(catalog.collections().await.unwrap()[0].product_count, 0);

    let longest = Product {
        id: "é".repeat(255),
        ..good.clone()
    };
    assert_eq!(
        register(catalog, &longest).await,
        Registration::Inserted,
        "an id of 255 characters"
    );
    register(catalog, &good).await;
    for (what, product) in cases.iter().filter(|(_, product)| product.id == "P") {
        assert_invalid(
            catalog.register(product).await,
            &format!("a replacement with {what}"),
        );
    }
    assert_eq!(
        catalog.get("S2", "P").await.unwrap(),
        Some(good),
        "a refused replacement changes nothing"
    );
    assert_finds(catalog, ProductQuery::new(), &["P", &"é".repeat(255)]).await;
}

async fn register_shapes(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    register_all(
        catalog,
        &[
            product(
                "A",
                "S2",
                boxes(&[(0.0, 0.0, 10.0, 10.0)]),
                hours(0),
                hours(1),
            ),
            product(
                "B",
                "S2",
                boxes(&[(20.0, 20.0, 30.0, 30.0)]),
                hours(1),
                hours(2),
            ),
            product(
                "C",
                "S2",
                boxes(&[(-50.0, -50.0, -40.0, -40.0)]),
                hours(2),
                hours(3),
            ),
            product(
                "T",
                "S2",
                MultiPolygon(vec![
                    polygon![(x: 40.0, y: 0.0), (x: 50.0, y: 0.0), (x: 40.0, y: 10.0)],
                ]),
                hours(3),
                hours(4),
            ),
        ],
    )
    .await;
}

/// A bbox finds the products whose footprint (not just its envelope) intersects it,
/// boundaries included; boxes may be lines or points.
pub async fn search_by_bbox(catalog: &dyn Catalog) {
    register_shapes(catalog).await;
    let cases: [(Edges, &[&str]); 9] = [
        ((5.0, 5.0, 25.0, 25.0), &["A", "B"]),
        ((10.0, 10.0, 20.0, 20.0), &["A", "B"]),
        ((10.5, 10.5, 19.5, 19.5), &[]),
        ((5.0, 5.0, 5.0, 5.0), &["A"]),
        ((0.0, 25.0, 35.0, 25.0), &["B"]),
        ((-180.0, -90.0, 180.0, 90.0), &["A", "B", "C", "T"]),
        ((48.0, 8.0, 50.0, 10.0), &[]),
        ((44.0, 4.0, 46.0, 6.0), &["T"]),
        ((-45.0, -45.0, -45.0, -45.0), &["C"]),
    ];
    for ((west, south, east, north), expected) in cases {
        assert_finds(
            catalog,
            ProductQuery::new().with_bbox(bbox(west, south, east, north)),
            expected,
        )
        .await;
    }
}

/// A geometry finds the products whose footprint intersects it; holes count.
pub async fn search_by_geometry(catalog: &dyn Catalog) {
    register_shapes(catalog).await;
    let triangle = MultiPolygon(vec![
        polygon![(x: 0.0, y: 0.0), (x: 25.0, y: 0.0), (x: 0.0, y: 25.0)],
    ]);
    let frame = |outer: Edges, hole: Edges| {
        MultiPolygon(vec![Polygon::new(
            rect(outer.0, outer.1, outer.2, outer.3).exterior().clone(),
            vec![rect(hole.0, hole.1, hole.2, hole.3).exterior().clone()],
        )])
    };
    let cases: [(MultiPolygon<f64>, &[&str]); 5] = [
        (triangle, &["A"]),
        (
            boxes(&[(-45.0, -45.0, -44.0, -44.0), (29.0, 29.0, 35.0, 35.0)]),
            &["B", "C"],
        ),
        (
            frame((-1.0, -1.0, 11.0, 11.0), (1.0, 1.0, 9.0, 9.0)),
            &["A"],
        ),
        (
            frame((15.0, 15.0, 35.0, 35.0), (19.0, 19.0, 31.0, 31.0)),
            &[],
        ),
        (
            boxes(&[(-180.0, -90.0, 180.0, 90.0)]),
            &["A", "B", "C", "T"],
        ),
    ];
    for (geometry, expected) in cases {
        assert_finds(
            catalog,
            ProductQuery::new().with_geometry(geometry),
            expected,
        )
        .await;
    }
    assert_invalid(
        catalog
            .search(&ProductQuery::new().with_geometry(bowtie()))
            .await,
        "a search with a self-intersecting geometry",
    );
    assert_invalid(
        catalog
            .count(&ProductQuery::new().with_geometry(MultiPolygon(vec![])))
            .await,
        "a count with an empty geometry",
    );
}

/// The footprints within a box or geometry (their boundary included) and those disjoint
/// from it, across the antimeridian too; intersection is the default.
pub async fn search_by_spatial_relation(catalog: &dyn Catalog) {
    register_shapes(catalog).await;
    register(
        catalog,
        &product(
            "D",
            "S2",
            boxes(&[(175.0, 0.0, 180.0, 5.0), (-180.0, 0.0, -175.0, 5.0)]),
            hours(4),
            hours(5),
        ),
    )
    .await;
    use crate::SpatialRelation::{Disjoint, Intersects, Within};
    let all = ["A", "B", "C", "D", "T"];
    let cases: [(Edges, crate::SpatialRelation, &[&str]); 12] = [
        ((-1.0, -1.0, 11.0, 11.0), Within, &["A"]),
        ((0.0, 0.0, 10.0, 10.0), Within, &["A"]),
        ((5.0, 5.0, 25.0, 25.0), Within, &[]),
        ((5.0, 5.0, 25.0, 25.0), Intersects, &["A", "B"]),
        ((5.0, 5.0, 25.0, 25.0), Disjoint, &["C", "D", "T"]),
        ((10.0, 10.0, 20.0, 20.0), Disjoint, &["C", "D", "T"]),
        ((5.0, 5.0, 5.0, 5.0), Within, &[]),
        // Across the antimeridian: both halves of D inside.
        ((170.0, -1.0, -170.0, 6.0), Within, &["D"]),
        ((176.0, -1.0, -170.0, 6.0), Within, &[]),
        ((170.0, -1.0, -170.0, 6.0), Disjoint, &["A", "B", "C", "T"]),
        // From 0° east to -180°: the eastern hemisphere and the line at -180°, which holds
        // nothing (D's western half lies beyond it).
        ((0.0, -90.0, -180.0, 90.0), Within, &["A", "B", "T"]),
        (
            (0.0, -90.0, -180.0, 90.0),
            Intersects,
            &["A", "B", "D", "T"],
        ),
    ];
    for ((west, south, east, north), spatial, expected) in cases {
        assert_finds(
            catalog,
            ProductQuery::new()
                .with_bbox(bbox(west, south, east, north))
                .with_spatial_relation(spatial),
            expected,
        )
        .await;
    }
    let around_a_and_b = boxes(&[(-1.0, -1.0, 11.0, 11.0), (19.0, 19.0, 31.0, 31.0)]);
    for (spatial, expected) in [
        (Within, &["A", "B"][..]),
        (Intersects, &["A", "B"]),
        (Disjoint, &["C", "D", "T"]),
    ] {
        assert_finds(
            catalog,
            ProductQuery::new()
                .with_geometry(around_a_and_b.clone())
                .with_spatial_relation(spatial),
            expected,
        )
        .await;
    }
    // The relation applies to the box and the geometry alike; without either it is moot.
    assert_finds(
        catalog,
        ProductQuery::new().with_spatial_relation(Disjoint),
        &all,
    )
    .await;
}

/// Every time relation, on closed intervals: shared end points count, a microsecond apart
/// does not.
pub async fn search_by_time_relation(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    let micro = TimeDelta::microseconds(1);
    let intervals = [
        ("before", hours(0), hours(5)),
        ("just_before", hours(10) - micro, hours(10) - micro),
        ("touch_start", hours(5), hours(10)),
        ("overlap_start", hours(5), hours(15)),
        ("inside", hours(12), hours(18)),
        ("equal", hours(10), hours(20)),
        ("inside_start", hours(10), hours(15)),
        ("inside_end", hours(15), hours(20)),
        ("instant_start", hours(10), hours(10)),
        ("covering", hours(5), hours(25)),
        ("overlap_end", hours(15), hours(25)),
        ("touch_end", hours(20), hours(25)),
        ("just_after", hours(20) + micro, hours(30)),
    ];
    let products: Vec<Product> = intervals
        .iter()
        .map(|&(id, begin, end)| product(id, "S2", boxes(&[(0.0, 0.0, 1.0, 1.0)]), begin, end))
        .collect();
    register_all(catalog, &products).await;

    let all_but = |excluded: &[&str]| -> Vec<&str> {
        intervals
            .iter()
            .map(|&(id, _, _)| id)
            .filter(|id| !excluded.contains(id))
            .collect()
    };
    let cases: Vec<(TimeRelation, Vec<&str>)> = vec![
        (
            TimeRelation::Intersects,
            all_but(&["before", "just_before", "just_after"]),
        ),
        (
            TimeRelation::During,
            vec![
                "inside",
                "equal",
                "inside_start",
                "inside_end",
                "instant_start",
            ],
        ),
        (TimeRelation::Contains, vec!["equal", "covering"]),
        (TimeRelation::Equals, vec!["equal"]),
        (
            TimeRelation::Disjoint,
            vec!["before", "just_before", "just_after"],
        ),
    ];
    for (relation, expected) in cases {
        let filter = TimeFilter::new(hours(10), hours(20), relation).unwrap();
        let reference: Vec<&str> = intervals
            .iter()
            .filter(|&&(_, begin, end)| filter.matches(begin, end))
            .map(|&(id, _, _)| id)
            .collect();
        assert_eq!(reference, expected, "TimeFilter::matches for {relation}");
        assert_finds(catalog, ProductQuery::new().with_time(filter), &expected).await;
    }

    let at_15 = TimeFilter::instant(hours(15));
    assert_finds(
        catalog,
        ProductQuery::new().with_time(at_15),
        &[
            "overlap_start",
            "inside",
            "equal",
            "inside_start",
            "inside_end",
            "covering",
            "overlap_end",
        ],
    )
    .await;
    let at_10 = TimeFilter::new(hours(10), hours(10), TimeRelation::Equals).unwrap();
    assert_finds(
        catalog,
        ProductQuery::new().with_time(at_10),
        &["instant_start"],
    )
    .await;
    let sub_micro = TimeFilter::instant(hours(10) - TimeDelta::nanoseconds(1));
    assert_finds(
        catalog,
        ProductQuery::new().with_time(sub_micro),
        &["just_before", "touch_start", "overlap_start", "covering"],
    )
    .await;
}

/// Products split at the antimeridian are found from either side and by boxes that cross it.
pub async fn antimeridian(catalog: &dyn Catalog) {
    create_collection(catalog, "S1").await;
    register_all(
        catalog,
        &[
            product(
                "X",
                "S1",
                boxes(&[(170.0, -10.0, 180.0, 10.0), (-180.0, -10.0, -170.0, 10.0)]),
                hours(0),
                hours(1),
            ),
            product(
                "W",
                "S1",
                boxes(&[(-165.0, -5.0, -162.0, 5.0)]),
                hours(1),
                hours(2),
            ),
            product(
                "E",
                "S1",
                boxes(&[(160.0, -5.0, 163.0, 5.0)]),
                hours(2),
                hours(3),
            ),
            product(
                "F",
                "S1",
                boxes(&[(0.0, 0.0, 1.0, 1.0)]),
                hours(3),
                hours(4),
            ),
        ],
    )
    .await;
    let cases: [(Edges, &[&str]); 8] = [
        ((175.0, -5.0, 179.0, 5.0), &["X"]),
        ((-179.0, -5.0, -175.0, 5.0), &["X"]),
        ((178.0, -5.0, -178.0, 5.0), &["X"]),
        ((179.5, 20.0, -179.5, 30.0), &[]),
        ((161.0, -5.0, -163.0, 5.0), &["E", "X", "W"]),
        ((164.0, -5.0, -166.0, 5.0), &["X"]),
        ((-180.0, -1.0, -180.0, 1.0), &["X"]),
        ((180.0, -1.0, 180.0, 1.0), &["X"]),
    ];
    for ((west, south, east, north), expected) in cases {
        assert_finds(
            catalog,
            ProductQuery::new().with_bbox(bbox(west, south, east, north)),
            expected,
        )
        .await;
    }
    assert_finds(
        catalog,
        ProductQuery::new().with_geometry(boxes(&[(-172.0, -1.0, -171.0, 1.0)])),
        &["X"],
    )
    .await;
    let info = &catalog.collections().await.unwrap()[0];
    assert_eq!(info.bbox, Some(bbox(-180.0, -10.0, 180.0, 10.0)));
}

/// Collection and id filters, alone and combined with the others.
pub async fn search_by_collection_and_ids(catalog: &dyn Catalog) {
    create_collection(catalog, "S1").await;
    create_collection(catalog, "S2").await;
    let square = boxes(&[(0.0, 0.0, 1.0, 1.0)]);
    register_all(
        catalog,
        &[
            product("a1", "S1", square.clone(), hours(0), hours(1)),
            product(
                "a2",
                "S1",
                boxes(&[(5.0, 5.0, 6.0, 6.0)]),
                hours(2),
                hours(3),
            ),
            product("b1", "S2", square.clone(), hours(0), hours(1)),
            product("b2", "S2", square.clone(), hours(2), hours(3)),
            product(
                "b3",
                "S2",
                boxes(&[(5.0, 5.0, 6.0, 6.0)]),
                hours(4),
                hours(5),
            ),
        ],
    )
    .await;
    assert_finds(
        catalog,
        ProductQuery::new().with_collection("S1"),
        &["a1", "a2"],
    )
    .await;
    assert_finds(
        catalog,
        ProductQuery::new().with_collection("S2"),
        &["b1", "b2", "b3"],
    )
    .await;
    assert_finds(catalog, ProductQuery::new().with_collection("S3"), &[]).await;
    assert_finds(
        catalog,
        ProductQuery::new().with_ids(["a1", "b2", "missing"]),
        &["a1", "b2"],
    )
    .await;
    assert_finds(
        catalog,
        ProductQuery::new().with_ids(Vec::<String>::new()),
        &[],
    )
    .await;
    assert_finds(
        catalog,
        ProductQuery::new()
            .with_collection("S1")
            .with_ids(["a1", "b2"]),
        &["a1"],
    )
    .await;
    let combined = ProductQuery::new()
        .with_collection("S2")
        .with_bbox(bbox(0.5, 0.5, 0.6, 0.6))
        .with_time(TimeFilter::new(hours(1), hours(2), TimeRelation::Intersects).unwrap());
    assert_finds(catalog, combined, &["b1", "b2"]).await;
}

/// Pages (offset/limit) follow begin desc then id (byte order), and together hold every
/// product exactly once; limits above the maximum are cut, not refused.
pub async fn paging_is_stable_and_complete(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    let prefixes = ["A", "a", "B", "é", "_"];
    let products: Vec<Product> = (0..37)
        .map(|i: i64| {
            let id = format!("{}{:02}", prefixes[i as usize % prefixes.len()], 36 - i);
            product(
                &id,
                "S2",
                boxes(&[(0.0, 0.0, 1.0, 1.0)]),
                hours(i % 7),
                hours(i % 7 + 1),
            )
        })
        .collect();
    register_all(catalog, &products).await;
    let mut expected: Vec<(DateTime<Utc>, String)> = products
        .iter()
        .map(|product| (product.begin, product.id.clone()))
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

    let all = search(catalog, &ProductQuery::new().with_limit(MAX_LIMIT)).await;
    assert_eq!(
        ids(&all),
        expected,
        "order: begin desc, then id in byte order"
    );
    for page_size in [1u32, 5, 10, 36, 37, 50] {
        let mut paged = Vec::new();
        loop {
            let query = ProductQuery::new()
                .with_limit(page_size)
                .with_offset(paged.len() as u64);
            let page = search(catalog, &query).await;
            assert!(
                page.len() <= page_size as usize,
                "a page holds at most `limit` products"
            );
            let done = page.len() < page_size as usize;
            paged.extend(ids(&page));
            if done {
                break;
            }
        }
        assert_eq!(paged, expected, "pages of {page_size}");
    }
    assert_eq!(
        search(catalog, &ProductQuery::new()).await.len(),
        37,
        "the default limit is above 37"
    );
    assert!(
        search(catalog, &ProductQuery::new().with_limit(0))
            .await
            .is_empty()
    );
    assert!(
        search(catalog, &ProductQuery::new().with_offset(37))
            .await
            .is_empty()
    );
    assert!(
        search(catalog, &ProductQuery::new().with_offset(u64::MAX))
            .await
            .is_empty()
    );
    let huge = ProductQuery {
        limit: u32::MAX,
        ..ProductQuery::default()
    };
    assert_eq!(
        search(catalog, &huge).await.len(),
        37,
        "a huge limit is cut, not refused"
    );
    let page = ProductQuery::new().with_limit(3).with_offset(30);
    assert_eq!(
        catalog.count(&page).await.unwrap(),
        37,
        "count ignores limit and offset"
    );
    let filtered =
        ProductQuery::new().with_time(TimeFilter::instant(hours(3) + TimeDelta::minutes(30)));
    let expected_filtered: Vec<String> = all
        .iter()
        .filter(|product| product.begin == hours(3))
        .map(|product| product.id.clone())
        .collect();
    assert_eq!(ids(&search(catalog, &filtered).await), expected_filtered);
}

/// A batch registers every good product, reports each refused one, and keeps batch order
/// for repeated ids.
pub async fn register_batch_keeps_good_products(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    assert!(catalog.register_batch(&[]).await.is_empty());
    let square = boxes(&[(0.0, 0.0, 1.0, 1.0)]);
    let good1 = product("good1", "S2", square.clone(), hours(0), hours(1));
    let good2 = product("good2", "S2", square.clone(), hours(1), hours(2));
    let good1_again = Product {
        location: "second.tif".to_owned(),
        ..good1.clone()
    };
    let batch = [
        good1.clone(),
        Product {
            id: "bad_geometry".to_owned(),
            footprint: bowtie(),
            ..good1.clone()
        },
        good2.clone(),
        product("orphan", "nope", square.clone(), hours(0), hours(1)),
        good1_again.clone(),
        Product {
            id: "bad\nid".to_owned(),
            ..good2.clone()
        },
    ];
    let results = catalog.register_batch(&batch).await;
    assert_eq!(results.len(), batch.len(), "one result per product");
    assert_eq!(results[0], Ok(Registration::Inserted));
    assert!(
        matches!(results[1], Err(CatalogError::Invalid { .. })),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2], Ok(Registration::Inserted));
    assert_eq!(
        results[3],
        Err(CatalogError::UnknownCollection("nope".to_owned()))
    );
    assert_eq!(
        results[4],
        Ok(Registration::Replaced {
            previous: Box::new(good1)
        })
    );
    assert!(
        matches!(results[5], Err(CatalogError::Invalid { .. })),
        "{:?}",
        results[5]
    );
    assert_eq!(catalog.get("S2", "good1").await.unwrap(), Some(good1_again));
    assert_eq!(
        catalog.get("S2", "good2").await.unwrap(),
        Some(good2.clone())
    );
    assert_finds(catalog, ProductQuery::new(), &["good1", "good2"]).await;

    let good3 = product("good3", "S2", square, hours(2), hours(3));
    let results = catalog.register_batch(&[good2.clone(), good3]).await;
    assert_eq!(
        results,
        [
            Ok(Registration::Replaced {
                previous: Box::new(good2)
            }),
            Ok(Registration::Inserted)
        ]
    );
}

/// Many concurrent registrations of one id all succeed and behave as if run one after the
/// other: one insert, then each replaces the one before; exactly one product remains.
pub async fn concurrent_registrations_of_one_id(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    let versions: Vec<Product> = (0..32)
        .map(|i| Product {
            location: format!("version-{i}.tif"),
            ..product(
                "same",
                "S2",
                boxes(&[(0.0, 0.0, 1.0, 1.0)]),
                hours(0),
                hours(1),
            )
        })
        .collect();
    let results = join_all(versions.iter().map(|version| catalog.register(version))).await;
    let mut replaced = Vec::new();
    let mut inserted = 0;
    for (version, result) in versions.iter().zip(results) {
        match result {
            Ok(Registration::Inserted) => inserted += 1,
            Ok(Registration::Replaced { previous }) => replaced.push(previous.location),
            Ok(Registration::Kept { reason }) => panic!("nothing keeps a product: {reason}"),
            Err(error) => panic!(
                "concurrent registration of `{}` failed: {error}",
                version.location
            ),
        }
    }
    assert_eq!(inserted, 1, "exactly one registration inserts");
    let last = catalog
        .get("S2", "same")
        .await
        .unwrap()
        .expect("the product exists");
    replaced.push(last.location);
    replaced.sort();
    let mut all: Vec<String> = versions
        .iter()
        .map(|version| version.location.clone())
        .collect();
    all.sort();
    assert_eq!(
        replaced, all,
        "every version but the last is replaced exactly once (registrations are serialised)"
    );
    assert_finds(catalog, ProductQuery::new(), &["same"]).await;
}

/// Ids are unique per collection (as ngEO's browse identifiers per browse layer): the same id
/// in two collections is two products, each replaced, read and removed on its own; a query by
/// ids finds both, newest first, then by collection.
pub async fn ids_are_unique_per_collection(catalog: &dyn Catalog) {
    create_collection(catalog, "S1").await;
    create_collection(catalog, "S2").await;
    let in_s2 = product(
        "P",
        "S2",
        boxes(&[(0.0, 0.0, 1.0, 1.0)]),
        hours(0),
        hours(1),
    );
    let in_s1 = product(
        "P",
        "S1",
        boxes(&[(5.0, 5.0, 6.0, 6.0)]),
        hours(0),
        hours(1),
    );
    assert_eq!(register(catalog, &in_s2).await, Registration::Inserted);
    assert_eq!(
        register(catalog, &in_s1).await,
        Registration::Inserted,
        "the same id in another collection is another product, not a move"
    );
    assert_eq!(catalog.get("S2", "P").await.unwrap(), Some(in_s2.clone()));
    assert_eq!(catalog.get("S1", "P").await.unwrap(), Some(in_s1.clone()));
    let both = catalog
        .search(&ProductQuery::new().with_ids(["P"]))
        .await
        .unwrap();
    assert_eq!(
        both,
        [in_s1.clone(), in_s2.clone()],
        "same time: by collection"
    );
    assert_finds(catalog, ProductQuery::new().with_collection("S2"), &["P"]).await;
    assert_eq!(info_of(catalog, "S1").await.product_count, 1);
    assert_eq!(info_of(catalog, "S2").await.product_count, 1);

    // Replacing one leaves the other.
    let newer = Product {
        begin: hours(4),
        end: hours(5),
        location: "newer.tif".to_owned(),
        ..in_s2.clone()
    };
    assert_eq!(
        register(catalog, &newer).await,
        Registration::Replaced {
            previous: Box::new(in_s2.clone())
        }
    );
    assert_eq!(catalog.get("S1", "P").await.unwrap(), Some(in_s1.clone()));
    let both = catalog
        .search(&ProductQuery::new().with_ids(["P"]))
        .await
        .unwrap();
    assert_eq!(both, [newer.clone(), in_s1.clone()], "newest first");

    // A batch with the id in both collections registers both.
    let results = catalog
        .register_batch(&[in_s1.clone(), in_s2.clone()])
        .await;
    assert_eq!(
        results,
        [
            Ok(Registration::Replaced {
                previous: Box::new(in_s1.clone())
            }),
            Ok(Registration::Replaced {
                previous: Box::new(newer)
            }),
        ]
    );

    // Removing one leaves the other; a removal by ids takes the id from every collection.
    assert_eq!(
        catalog.deregister("S1", "P").await.unwrap(),
        Some(in_s1.clone())
    );
    assert_eq!(catalog.get("S2", "P").await.unwrap(), Some(in_s2.clone()));
    register(catalog, &in_s1).await;
    let removed = catalog
        .deregister_matching(&ProductQuery::new().with_ids(["P"]))
        .await
        .unwrap();
    assert_eq!(removed, [in_s1, in_s2]);
    assert_finds(catalog, ProductQuery::new(), &[]).await;
}

/// [`Catalog::register_unless`]: the rule is asked about the product registered under the
/// same collection and id (never on an insert); a kept product stays as it was and the answer
/// says why; otherwise it is replaced. The rule is decided inside the registration: many
/// concurrent registrations of versions, each keeping a newer version over an older one, end
/// with the newest version whatever order they run in.
pub async fn register_unless_decides_atomically(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    let version = |n: u64| Product {
        metadata: json!({ "version": n }),
        location: format!("version-{n}.tif"),
        ..product(
            "same",
            "S2",
            boxes(&[(0.0, 0.0, 1.0, 1.0)]),
            hours(0),
            hours(1),
        )
    };
    let of = |product: &Product| product.metadata["version"].as_u64().expect("a version");
    let keep_newer = |n: u64| -> Arc<KeepRule> {
        Arc::new(move |existing: &Product| {
            let there = of(existing);
            (there > n).then(|| format!("version {there} is newer than {n}"))
        })
    };
    let refuse_all: Arc<KeepRule> = Arc::new(|_: &Product| panic!("no product to ask about"));
    assert_eq!(
        catalog.register_unless(&version(5), refuse_all).await,
        Ok(Registration::Inserted)
    );
    assert_eq!(
        catalog.register_unless(&version(3), keep_newer(3)).await,
        Ok(Registration::Kept {
            reason: "version 5 is newer than 3".to_owned()
        })
    );
    assert_eq!(catalog.get("S2", "same").await.unwrap(), Some(version(5)));
    assert_eq!(
        catalog.register_unless(&version(7), keep_newer(7)).await,
        Ok(Registration::Replaced {
            previous: Box::new(version(5))
        })
    );

    // 24 versions registered at once, in a shuffled order.
    let order: Vec<u64> = (0..24u64).map(|i| (i * 7) % 24 + 8).collect();
    let versions: Vec<Product> = order.iter().map(|&n| version(n)).collect();
    let results = join_all(
        order
            .iter()
            .zip(&versions)
            .map(|(&n, product)| catalog.register_unless(product, keep_newer(n))),
    )
    .await;
    for (n, result) in order.iter().zip(&results) {
        assert!(result.is_ok(), "version {n}: {result:?}");
    }
    assert_eq!(
        catalog.get("S2", "same").await.unwrap(),
        Some(version(31)),
        "the newest version wins: no older one came between a decision and its write"
    );
    assert_finds(catalog, ProductQuery::new(), &["same"]).await;
}

/// Concurrent batches over the same ids, in opposite orders, all succeed.
pub async fn concurrent_batches_do_not_conflict(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    let batches: Vec<Vec<Product>> = (0..6)
        .map(|batch| {
            let mut products: Vec<Product> = (0..20)
                .map(|i| Product {
                    location: format!("batch-{batch}.tif"),
                    ..product(
                        &format!("p{i:02}"),
                        "S2",
                        boxes(&[(0.0, 0.0, 1.0, 1.0)]),
                        hours(i),
                        hours(i),
                    )
                })
                .collect();
            if batch % 2 == 1 {
                products.reverse();
            }
            products
        })
        .collect();
    let results = join_all(batches.iter().map(|batch| catalog.register_batch(batch))).await;
    let mut inserts = BTreeSet::new();
    for (batch, results) in batches.iter().zip(&results) {
        for (product, result) in batch.iter().zip(results) {
            match result {
                Ok(Registration::Inserted) => {
                    assert!(
                        inserts.insert(product.id.clone()),
                        "`{}` inserted twice",
                        product.id
                    )
                }
                Ok(Registration::Replaced { .. }) => {}
                Ok(Registration::Kept { reason }) => panic!("nothing keeps a product: {reason}"),
                Err(error) => panic!("concurrent batch failed for `{}`: {error}", product.id),
            }
        }
    }
    assert_eq!(inserts.len(), 20, "each id is inserted once");
    assert_eq!(catalog.count(&ProductQuery::new()).await.unwrap(), 20);
}

/// Products with varied properties for the filter and sort contracts: cloud cover (some
/// missing, some `null`), platform (some missing), product type (some absent), times,
/// instruments (string arrays, some empty, missing or `null`) and creation times (RFC 3339
/// in several forms, some naming the same instant).
fn varied_products() -> Vec<Product> {
    let instruments: [&[&str]; 4] = [&["msi"], &["MSI", "olci"], &[], &["msi-x", "sar"]];
    let created = [
        "2024-01-01T00:00:00Z",
        "2024-01-01T02:00:00+02:00",
        "2024-01-01T00:00:00.000001Z",
        "2023-12-31T23:59:59.999999Z",
        "2023-12-31T23:00:00.5-01:30",
        "1969-12-31T23:59:59.5Z",
        "2024-01-01T00:00:00.25+00:00",
    ];
    let platforms = [
        "sentinel-2a",
        "sentinel-2b",
        "Sentinel-2A",
        "landsat-8",
        "s2_x%",
    ];
    (0..40i64)
        .map(|i| {
            let mut product = product(
                &format!("P{:02}", (i * 7) % 40),
                if i % 3 == 0 { "S1" } else { "S2" },
                boxes(&[(0.0, 0.0, 1.0, 1.0)]),
                hours(i % 9),
                hours(i % 9 + i % 2),
            );
            if i % 4 != 0 {
                product.product_type = Some(format!("TYPE_{}", i % 3));
            }
            let mut properties = serde_json::Map::new();
            match i % 5 {
                0 => {}
                1 => {
                    properties.insert("eo:cloud_cover".into(), json!(null));
                }
                _ => {
                    properties.insert("eo:cloud_cover".into(), json!((i * 13 % 101) as f64 / 2.0));
                }
            }
            if i % 6 != 0 {
                properties.insert(
                    "platform".into(),
                    json!(platforms[i as usize % platforms.len()]),
                );
            }
            properties.insert("sat:absolute_orbit".into(), json!(1000 + i % 4));
            match i % 7 {
                0 => {}
                1 => {
                    properties.insert("instruments".into(), json!(null));
                }
                _ => {
                    properties.insert("instruments".into(), json!(instruments[i as usize % 4]));
                }
            }
            if i % 8 != 0 {
                properties.insert("created".into(), json!(created[i as usize % created.len()]));
            }
            properties.insert("free:list".into(), json!([i, "x"]));
            product.properties = properties;
            product
        })
        .collect()
}

/// Filters on columns and properties find exactly the products [`Filter::matches`] accepts
/// (SQL's three-valued logic included), `count` agrees, and properties round-trip.
pub async fn filters_agree_with_the_reference(catalog: &dyn Catalog) {
    use crate::{Comparison, Field, Filter, Literal};
    create_collection(catalog, "S1").await;
    create_collection(catalog, "S2").await;
    let products = varied_products();
    register_all(catalog, &products).await;
    let original = products.iter().find(|p| p.id == "P07").unwrap();
    let stored = catalog
        .get(&original.collection, "P07")
        .await
        .unwrap()
        .expect("P07 is registered");
    assert_eq!(
        stored.properties, original.properties,
        "properties round-trip"
    );

    let field = |name: &str| Field::parse(name).unwrap();
    let number = Literal::Number;
    let text = |value: &str| Literal::Text(value.to_owned());
    let compare = |name: &str, op, value| Filter::Compare {
        field: field(name),
        op,
        value,
    };
    let contains = |element: &str| Filter::Contains {
        property: crate::Property::find("instruments").unwrap(),
        element: element.to_owned(),
    };
    let instant = |text: &str| {
        Literal::Timestamp(
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc),
        )
    };
    let cloud_below_20 = compare("eo:cloud_cover", Comparison::Lt, number(20.0));
    let filters = vec![
        cloud_below_20.clone(),
        compare("eo:cloud_cover", Comparison::Ge, number(25.5)),
        compare("eo:cloud_cover", Comparison::Eq, number(6.5)),
        compare("eo:cloud_cover", Comparison::Ne, number(6.5)),
        Filter::Not(Box::new(cloud_below_20.clone())),
        Filter::IsNull(field("eo:cloud_cover")),
        Filter::Not(Box::new(Filter::IsNull(field("platform")))),
        compare("platform", Comparison::Eq, text("sentinel-2a")),
        compare("platform", Comparison::Gt, text("sentinel")),
        compare("platform", Comparison::Lt, text("Sentinel-3")),
        Filter::Like {
            field: field("platform"),
            pattern: "sentinel-2%".into(),
        },
        Filter::Like {
            field: field("platform"),
            pattern: "s2\\_x\\%".into(),
        },
        Filter::Like {
            field: field("id"),
            pattern: "P_5".into(),
        },
        Filter::In {
            field: field("platform"),
            values: vec![text("landsat-8"), text("Sentinel-2A")],
        },
        Filter::In {
            field: field("sat:absolute_orbit"),
            values: vec![number(1001.0), number(1003.0)],
        },
        Filter::Between {
            field: field("eo:cloud_cover"),
            low: number(10.0),
            high: number(30.0),
        },
        Filter::Between {
            field: field("datetime"),
            low: Literal::Timestamp(hours(2)),
            high: Literal::Timestamp(hours(4)),
        },
        compare("end_datetime", Comparison::Gt, Literal::Timestamp(hours(7))),
        compare("collection", Comparison::Eq, text("S1")),
        compare("product:type", Comparison::Le, text("TYPE_1")),
        Filter::IsNull(field("product:type")),
        Filter::Or(vec![
            cloud_below_20.clone(),
            compare("platform", Comparison::Eq, text("landsat-8")),
        ]),
        Filter::And(vec![
            Filter::Not(Box::new(cloud_below_20.clone())),
            Filter::Or(vec![
                Filter::IsNull(field("platform")),
                compare("collection", Comparison::Ne, text("S2")),
            ]),
        ]),
        Filter::And(vec![]),
        Filter::Or(vec![]),
        contains("msi"),
        contains("MSI"),
        contains("ms"),
        Filter::Not(Box::new(contains("msi"))),
        Filter::Or(vec![contains("sar"), contains("olci")]),
        Filter::IsNull(field("instruments")),
        // Timestamps stored as properties compare as instants, whatever their RFC 3339 form.
        compare("created", Comparison::Eq, instant("2024-01-01T00:00:00Z")),
        compare("created", Comparison::Gt, instant("2024-01-01T00:00:00Z")),
        compare(
            "created",
            Comparison::Lt,
            instant("2024-01-01T00:00:00.000001Z"),
        ),
        compare("created", Comparison::Ge, instant("2024-01-01T00:30:00.5Z")),
        compare("created", Comparison::Le, instant("1970-01-01T00:00:00Z")),
        Filter::Between {
            field: field("created"),
            low: instant("2023-12-31T23:59:59.999999Z"),
            high: instant("2024-01-01T00:00:00.000001Z"),
        },
        Filter::In {
            field: field("created"),
            values: vec![
                instant("1969-12-31T23:59:59.5Z"),
                instant("2024-01-01T00:00:00.25Z"),
            ],
        },
        Filter::IsNull(field("created")),
    ];
    // The reference itself: two forms of one instant are equal.
    let midnight = compare("created", Comparison::Eq, instant("2024-01-01T00:00:00Z"));
    let forms: BTreeSet<&str> = products
        .iter()
        .filter(|product| midnight.matches(product))
        .map(|product| product.properties["created"].as_str().unwrap())
        .collect();
    assert_eq!(
        forms,
        BTreeSet::from(["2024-01-01T00:00:00Z", "2024-01-01T02:00:00+02:00"])
    );
    for filter in filters {
        let expected: Vec<&str> = products
            .iter()
            .filter(|product| filter.matches(product))
            .map(|product| product.id.as_str())
            .collect();
        assert_finds(catalog, ProductQuery::new().with_filter(filter), &expected).await;
    }
    // With the other filters of a query.
    let filter = compare("eo:cloud_cover", Comparison::Le, number(40.0));
    let expected: Vec<&str> = products
        .iter()
        .filter(|p| p.collection == "S2" && filter.matches(p))
        .map(|p| p.id.as_str())
        .collect();
    let query = ProductQuery::new()
        .with_collection("S2")
        .with_bbox(bbox(0.5, 0.5, 2.0, 2.0))
        .with_filter(filter);
    assert_finds(catalog, query, &expected).await;

    let invalid = compare("platform", Comparison::Eq, number(1.0));
    assert_invalid(
        catalog
            .search(&ProductQuery::new().with_filter(invalid.clone()))
            .await,
        "a filter comparing text with a number",
    );
    assert_invalid(
        catalog
            .count(&ProductQuery::new().with_filter(invalid))
            .await,
        "a filter comparing text with a number",
    );
    let invalid = [
        (
            compare("instruments", Comparison::Eq, text("msi")),
            "a string array compared with a string",
        ),
        (
            Filter::Contains {
                property: crate::Property::find("platform").unwrap(),
                element: "x".to_owned(),
            },
            "an element of a string",
        ),
    ];
    for (filter, what) in invalid {
        assert_invalid(
            catalog
                .search(&ProductQuery::new().with_filter(filter))
                .await,
            what,
        );
    }
    let by_instruments = ProductQuery::new().with_sort(vec![crate::Sort {
        field: field("instruments"),
        descending: false,
    }]);
    assert_invalid(
        catalog.search(&by_instruments).await,
        "a sort by a string array",
    );
}

/// Sorting by columns and properties orders as [`Sort::compare`](crate::Sort::compare) does
/// (missing values last, ties by id), and pages with a sort are stable and complete.
pub async fn sorts_agree_with_the_reference(catalog: &dyn Catalog) {
    use crate::{Field, Sort};
    create_collection(catalog, "S1").await;
    create_collection(catalog, "S2").await;
    let products = varied_products();
    register_all(catalog, &products).await;
    let sort = |name: &str, descending| Sort {
        field: Field::parse(name).unwrap(),
        descending,
    };
    let sorts = vec![
        vec![sort("eo:cloud_cover", false)],
        vec![sort("eo:cloud_cover", true)],
        vec![sort("platform", false), sort("datetime", true)],
        vec![sort("datetime", false)],
        vec![
            sort("end_datetime", true),
            sort("sat:absolute_orbit", false),
        ],
        vec![sort("id", true)],
        vec![sort("product:type", false)],
        vec![sort("created", false)],
        vec![sort("created", true), sort("platform", false)],
    ];
    for order in sorts {
        let mut expected = products.clone();
        expected.sort_by(|a, b| Sort::compare(&order, a, b));
        let expected = ids(&expected);
        let query = ProductQuery::new()
            .with_sort(order.clone())
            .with_limit(MAX_LIMIT);
        let found = catalog.search(&query).await.unwrap();
        assert_eq!(ids(&found), expected, "order of {order:?}");
        let mut paged = Vec::new();
        loop {
            let page = catalog
                .search(
                    &ProductQuery::new()
                        .with_sort(order.clone())
                        .with_limit(7)
                        .with_offset(paged.len() as u64),
                )
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            paged.extend(ids(&page));
        }
        assert_eq!(paged, expected, "pages of 7 sorted by {order:?}");
    }
}

/// The change feed records every write of a collection's products, by every path, with the
/// box of each footprint before and after; a cursor reads each change once and only its
/// collection's.
pub async fn changes_record_every_write(catalog: &dyn Catalog) {
    create_collection(catalog, "S2").await;
    create_collection(catalog, "S1").await;
    let start = catalog.changes("S2", None).await.unwrap();
    assert_eq!(start.areas, vec![], "no cursor: no areas");
    assert!(!start.lost);
    let mut cursor = start.cursor;
    // Reads the areas since the cursor, sorted (the order of one read is not promised).
    let mut read = async |collection: &str| {
        let changes = catalog.changes(collection, Some(&cursor)).await.unwrap();
        assert!(!changes.lost, "nothing was pruned");
        cursor = changes.cursor;
        let mut areas: Vec<[f64; 4]> = changes
            .areas
            .iter()
            .map(|b| [b.west(), b.south(), b.east(), b.north()])
            .collect();
        areas.sort_by(|a, b| a.partial_cmp(b).unwrap());
        areas
    };

    let first = product(
        "a",
        "S2",
        boxes(&[(0.0, 0.0, 1.0, 1.0)]),
        hours(0),
        hours(1),
    );
    register(catalog, &first).await;
    register(
        catalog,
        &product(
            "b",
            "S1",
            boxes(&[(5.0, 5.0, 6.0, 6.0)]),
            hours(0),
            hours(1),
        ),
    )
    .await;
    assert_eq!(read("S2").await, vec![[0.0, 0.0, 1.0, 1.0]], "an insert");
    assert_eq!(read("S2").await, Vec::<[f64; 4]>::new(), "each change once");

    let moved = product(
        "a",
        "S2",
        boxes(&[(2.0, 2.0, 4.0, 3.0)]),
        hours(2),
        hours(3),
    );
    register(catalog, &moved).await;
    assert_eq!(
        read("S2").await,
        vec![[0.0, 0.0, 1.0, 1.0], [2.0, 2.0, 4.0, 3.0]],
        "a replacement: before and after"
    );

    let batch = [
        product(
            "c",
            "S2",
            boxes(&[(10.0, 10.0, 11.0, 12.0)]),
            hours(0),
            hours(1),
        ),
        product(
            "d",
            "S2",
            boxes(&[(179.0, 0.0, 180.0, 1.0), (-180.0, 0.0, -179.0, 1.0)]),
            hours(0),
            hours(1),
        ),
    ];
    register_all(catalog, &batch).await;
    assert_eq!(
        read("S2").await,
        vec![[-180.0, 0.0, 180.0, 1.0], [10.0, 10.0, 11.0, 12.0]],
        "a batch; a footprint split at the antimeridian spans every longitude"
    );

    catalog.deregister("S2", "c").await.unwrap();
    assert_eq!(
        read("S2").await,
        vec![[10.0, 10.0, 11.0, 12.0]],
        "a removal"
    );
    let removed = catalog
        .deregister_matching(&ProductQuery::new().with_collection("S2").with_ids(["a"]))
        .await
        .unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(
        read("S2").await,
        vec![[2.0, 2.0, 4.0, 3.0]],
        "a removal by query"
    );

    // A reader of the other collection sees only its own.
    let other = catalog.changes("S1", None).await.unwrap().cursor;
    catalog.deregister("S1", "b").await.unwrap();
    let changes = catalog.changes("S1", Some(&other)).await.unwrap();
    assert_eq!(changes.areas.len(), 1);
    assert_eq!(read("S2").await, Vec::<[f64; 4]>::new());

    // Deleting the collection removes its products: each is a change.
    catalog.delete_collection("S2").await.unwrap();
    assert_eq!(read("S2").await, vec![[-180.0, 0.0, 180.0, 1.0]]);
}

/// A reader's view ([`crate::Readable`]) answers as if the collections it may not read did not
/// exist: not listed, not found by name, no product of theirs in any search or count, however
/// the search is narrowed (by collection, ids, filter, page).
pub async fn readable_views_hide_other_collections(catalog: &dyn Catalog) {
    use crate::Readable;
    for name in ["OPEN", "SECRET", "OTHER"] {
        create_collection(catalog, name).await;
    }
    let square = boxes(&[(0.0, 0.0, 1.0, 1.0)]);
    register_all(
        catalog,
        &[
            product("o1", "OPEN", square.clone(), hours(0), hours(1)),
            product("s1", "SECRET", square.clone(), hours(1), hours(2)),
            product("shared", "SECRET", square.clone(), hours(2), hours(3)),
            product("shared", "OPEN", square.clone(), hours(0), hours(1)),
            product("x1", "OTHER", square.clone(), hours(3), hours(4)),
        ],
    )
    .await;
    let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect();
    for readable in [
        Readable::AllBut(names(&["SECRET"])),
        Readable::Only(names(&["OPEN", "OTHER"])),
    ] {
        let view = readable.view_of(catalog);
        let listed: Vec<String> = view
            .collections()
            .await
            .unwrap()
            .into_iter()
            .map(|info| info.collection.name)
            .collect();
        assert_eq!(listed, ["OPEN", "OTHER"], "{readable:?}");
        assert!(view.collection("SECRET").await.unwrap().is_none());
        assert!(view.collection("OPEN").await.unwrap().is_some());
        assert!(view.get("SECRET", "s1").await.unwrap().is_none());
        assert!(view.get("OPEN", "o1").await.unwrap().is_some());
        assert_finds(&view, ProductQuery::new(), &["x1", "shared", "o1"]).await;
        assert_finds(&view, ProductQuery::new().with_collection("SECRET"), &[]).await;
        assert_finds(
            &view,
            ProductQuery::new().with_ids(["s1", "shared"]),
            &["shared"],
        )
        .await;
        let shared = view
            .search(&ProductQuery::new().with_ids(["shared"]))
            .await
            .unwrap();
        assert_eq!(shared[0].collection, "OPEN");
        assert_eq!(view.count(&ProductQuery::new()).await.unwrap(), 3);
        assert_eq!(
            view.count(&ProductQuery::new().with_collection("SECRET"))
                .await
                .unwrap(),
            0
        );
        let (page, total) = view
            .search_counted(&ProductQuery::new().with_limit(1).with_offset(1))
            .await
            .unwrap();
        assert_eq!((page.len(), total), (1, 3));
        // A filter of the query's own is kept.
        let filter = crate::Filter::Compare {
            field: crate::Field::Id,
            op: crate::Comparison::Eq,
            value: crate::Literal::Text("s1".to_owned()),
        };
        assert_finds(&view, ProductQuery::new().with_filter(filter), &[]).await;
    }
    // Nothing readable: nothing found, and the catalog never asked a filter of no values.
    let nothing = Readable::Only(Default::default()).view_of(catalog);
    assert!(nothing.collections().await.unwrap().is_empty());
    assert_finds(&nothing, ProductQuery::new(), &[]).await;
    assert_eq!(nothing.count(&ProductQuery::new()).await.unwrap(), 0);
    // Everything readable: the catalog itself.
    let all = Readable::All.view_of(catalog);
    assert_eq!(all.count(&ProductQuery::new()).await.unwrap(), 5);
    assert_finds(
        &all,
        ProductQuery::new().with_collection("SECRET"),
        &["s1", "shared"],
    )
    .await;
}
