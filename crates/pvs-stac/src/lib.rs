//! The pvs STAC API: STAC API 1.0 (Core, Collections, Features, Item Search, with the Sort,
//! Fields, Filter and, where a queue is given, Transaction extensions) over the product
//! catalog, under `/stac`. It never draws: Items link to the renderer's WMS (`/ows`) and,
//! where the tile cache is reachable, its WMTS and XYZ tiles; their COG is served here with
//! HTTP range requests, from object storage.
//!
//! - `GET /stac`: the landing page; `/stac/conformance`; `/stac/api` (OpenAPI 3.0);
//! - `GET /stac/collections`, `/stac/collections/{id}`;
//! - `GET /stac/collections/{id}/items`, `/stac/collections/{id}/items/{itemId}` and its
//!   assets `.../data` (the COG) and `.../metadata` (the product's metadata document);
//! - `GET`/`POST /stac/search`;
//! - `GET /stac/queryables`, `/stac/collections/{id}/queryables`;
//! - with [`Transactions`]: `POST /stac/collections/{id}/items`, `PUT`, `PATCH` and
//!   `DELETE /stac/collections/{id}/items/{itemId}`, which check the Item and queue it for
//!   the registrar (`register_queue`, `deregister_queue`).
//!
//! Requests are read in `search` ([`Search::from_query`], [`Search::from_body`]; CQL2 into
//! the catalog's filter in `cql`, `datetime`, `geometry`), answers written by `item`,
//! `collection`, `fields`; see `docs/stac.md`.

#![forbid(unsafe_code)]

mod assets;
mod collection;
mod conformance;
mod cql;
mod datetime;
mod error;
mod fields;
mod geometry;
mod item;
mod openapi;
mod queryables;
mod search;
mod transaction;
mod urls;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pvs_access::http::Reader;
use pvs_catalog::{Catalog, Field, Filter, Literal, MAX_LIMIT, Product, ProductQuery};
use pvs_service::public_url::PublicUrl;
use pvs_storage::Storage;
use serde_json::{Map, Value, json};
use stac::Link;

pub use error::ApiError;
pub use search::{Scope, Search};
pub use transaction::Transactions;
pub use urls::TilesUrl;

use geometry::Region;
use item::{GEOJSON, JSON};
use urls::Urls;

/// The largest request body read (a search or an Item), in bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What the STAC API needs: the catalog it reads, the storage the COGs are served from, how
/// it names itself and the map services, and, when writes are allowed, the queue they go to.
#[derive(Clone)]
pub struct Stac {
    /// The catalog read.
    pub catalog: Arc<dyn Catalog>,
    /// The object storage of the COGs (`Product::location`).
    pub storage: Storage,
    /// The service title (the landing page's).
    pub title: String,
    /// How the answers name the service (`PUBLIC_URL`, else the proxy's headers and `Host`).
    pub public_url: PublicUrl,
    /// The renderer's largest WMS `WIDTH`/`HEIGHT` (the GetMap links ask for no more).
    pub wms_max_size: usize,
    /// Where the tile cache is reached, for WMTS and XYZ links; `None`: no such links.
    pub tiles: Option<TilesUrl>,
    /// Writes (the Transaction extension), when enabled.
    pub transactions: Option<Transactions>,
}

impl pvs_access::http::ReadView for Stac {
    fn for_reader(&self, readable: &pvs_access::Readable) -> Self {
        Self {
            catalog: readable.view(&self.catalog),
            ..self.clone()
        }
    }
}

impl Stac {
    fn urls(&self, headers: &HeaderMap) -> Urls {
        Urls::new(
            self.public_url.resolve(headers),
            self.tiles.as_ref(),
            self.wms_max_size,
        )
    }

    /// The collection `name`, or 404.
    async fn check_collection(&self, name: &str) -> Result<(), ApiError> {
        match self.catalog.collection(name).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(ApiError::unknown_collection(name)),
            Err(error) => Err(ApiError::server("the catalog", error)),
        }
    }

    /// The product `id` of `collection`, or 404.
    async fn product(&self, collection: &str, id: &str) -> Result<Product, ApiError> {
        self.check_collection(collection).await?;
        match self.catalog.get(collection, id).await {
            Ok(Some(product)) => Ok(product),
            Ok(None) => Err(ApiError::not_found(format!(
                "item: no item {id:?} in collection {collection:?}"
            ))),
            Err(error) => Err(ApiError::server("the catalog", error)),
        }
    }
}

/// The routes under `/stac` (see the crate documentation).
pub fn routes(state: Arc<Stac>) -> Router {
    let items = get(collection_items);
    let item = get(collection_item);
    let (items, item) = match state.transactions {
        Some(_) => (
            items.post(transaction::create),
            item.put(transaction::replace)
                .patch(transaction::patch)
                .delete(transaction::delete),
        ),
        None => (items, item),
    };
    Router::new()
        .route("/stac", get(landing))
        .route("/stac/", get(landing))
        .route("/stac/conformance", get(conformance_page))
        .route("/stac/api", get(openapi_document))
        .route("/stac/queryables", get(queryables_all))
        .route("/stac/collections", get(collections))
        .route("/stac/collections/{collection}", get(collection_page))
        .route(
            "/stac/collections/{collection}/queryables",
            get(queryables_collection),
        )
        .route("/stac/collections/{collection}/items", items)
        .route("/stac/collections/{collection}/items/{item}", item)
        .route(
            "/stac/collections/{collection}/items/{item}/data",
            get(assets::data),
        )
        .route(
            "/stac/collections/{collection}/items/{item}/metadata",
            get(assets::metadata),
        )
        .route("/stac/search", get(search_get).post(search_post))
        .with_state(state)
}

/// A JSON answer.
fn json_response(content_type: &'static str, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).expect("answers serialise");
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// What a handler answers: a document, or the JSON error.
type Answer = Result<Response, ApiError>;

async fn landing(Reader(state): Reader<Stac>, headers: HeaderMap) -> Answer {
    let urls = state.urls(&headers);
    let collections = state
        .catalog
        .collections()
        .await
        .map_err(|error| ApiError::server("the catalog", error))?;
    let mut catalog = stac::Catalog::new(
        "pvs",
        format!(
            "{}: STAC API over the products registered in pvs",
            state.title
        ),
    );
    catalog.title = Some(state.title.clone());
    catalog.links = vec![
        Link::self_(urls.root()).r#type(JSON.to_owned()),
        Link::root(urls.root()).r#type(JSON.to_owned()),
        Link::new(urls.stac("/conformance"), "conformance").r#type(JSON.to_owned()),
        Link::new(urls.stac("/collections"), "data").r#type(JSON.to_owned()),
        Link::new(urls.stac("/search"), "search")
            .r#type(GEOJSON.to_owned())
            .method("GET"),
        Link::new(urls.stac("/search"), "search")
            .r#type(GEOJSON.to_owned())
            .method("POST"),
        Link::new(urls.stac("/api"), "service-desc").r#type(openapi::MEDIA_TYPE.to_owned()),
        Link::new(urls.stac("/queryables"), collection::QUERYABLES_REL)
            .r#type(collection::SCHEMA.to_owned()),
    ];
    for info in &collections {
        catalog.links.push(
            Link::child(urls.collection(&info.collection.name))
                .r#type(JSON.to_owned())
                .title(info.collection.name.clone()),
        );
    }
    let root = stac::api::Root {
        catalog,
        conformance: stac::api::Conformance {
            conforms_to: conformance::classes(state.transactions.is_some()),
        },
    };
    Ok(json_response(JSON, &root))
}

async fn conformance_page(Reader(state): Reader<Stac>) -> Response {
    json_response(
        JSON,
        &stac::api::Conformance {
            conforms_to: conformance::classes(state.transactions.is_some()),
        },
    )
}

async fn openapi_document(Reader(state): Reader<Stac>, headers: HeaderMap) -> Response {
    let urls = state.urls(&headers);
    json_response(
        openapi::MEDIA_TYPE,
        &openapi::document(&urls, &state.title, state.transactions.is_some()),
    )
}

async fn queryables_all(Reader(state): Reader<Stac>, headers: HeaderMap) -> Response {
    let urls = state.urls(&headers);
    json_response(
        collection::SCHEMA,
        &queryables::schema(&urls.stac("/queryables"), None),
    )
}

async fn queryables_collection(
    Reader(state): Reader<Stac>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    state.check_collection(&name).await?;
    let urls = state.urls(&headers);
    Ok(json_response(
        collection::SCHEMA,
        &queryables::schema(
            &format!("{}/queryables", urls.collection(&name)),
            Some(&name),
        ),
    ))
}

async fn collections(Reader(state): Reader<Stac>, headers: HeaderMap) -> Answer {
    let urls = state.urls(&headers);
    let infos = state
        .catalog
        .collections()
        .await
        .map_err(|error| ApiError::server("the catalog", error))?;
    let collections: Vec<_> = infos
        .iter()
        .map(|info| collection::collection(&urls, info))
        .collect();
    let body = json!({
        "collections": collections,
        "links": [
            Link::self_(urls.stac("/collections")).r#type(JSON.to_owned()),
            Link::root(urls.root()).r#type(JSON.to_owned()),
            Link::parent(urls.root()).r#type(JSON.to_owned()),
        ],
    });
    Ok(json_response(JSON, &body))
}

async fn collection_page(
    Reader(state): Reader<Stac>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    // The summary (extent, times) comes with the list of collections.
    let infos = state
        .catalog
        .collections()
        .await
        .map_err(|error| ApiError::server("the catalog", error))?;
    let info = infos
        .iter()
        .find(|info| info.collection.name == name)
        .ok_or_else(|| ApiError::unknown_collection(&name))?;
    Ok(json_response(
        JSON,
        &collection::collection(&state.urls(&headers), info),
    ))
}

async fn collection_item(
    Reader(state): Reader<Stac>,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
) -> Answer {
    let product = state.product(&collection, &id).await?;
    Ok(json_response(
        GEOJSON,
        &item::item(&state.urls(&headers), &product),
    ))
}

async fn collection_items(
    Reader(state): Reader<Stac>,
    headers: HeaderMap,
    Path(collection): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (mut search, given) = Search::from_query(query.as_deref().unwrap_or(""), Scope::Items)?;
    if search.collections.iter().any(|name| *name != collection) {
        return Err(ApiError::invalid(
            "collections",
            format!(
                "the items of {collection:?} are searched here; search other collections on /stac/search"
            ),
        ));
    }
    search.collections = vec![collection.clone()];
    let urls = state.urls(&headers);
    let page = run(&state, &search).await?;
    let mut links = vec![
        Link::root(urls.root()).r#type(JSON.to_owned()),
        Link::parent(urls.collection(&collection)).r#type(JSON.to_owned()),
        Link::collection(urls.collection(&collection)).r#type(JSON.to_owned()),
    ];
    let paging = Paging::Get {
        endpoint: urls.items(&collection),
        given,
    };
    links.extend(paging.links(&search, &page));
    Ok(item_collection(&urls, &search, page, links))
}

async fn search_get(
    Reader(state): Reader<Stac>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    let (search, given) = Search::from_query(query.as_deref().unwrap_or(""), Scope::Search)?;
    let urls = state.urls(&headers);
    let page = run(&state, &search).await?;
    let mut links = vec![Link::root(urls.root()).r#type(JSON.to_owned())];
    let paging = Paging::Get {
        endpoint: urls.stac("/search"),
        given,
    };
    links.extend(paging.links(&search, &page));
    Ok(item_collection(&urls, &search, page, links))
}

async fn search_post(Reader(state): Reader<Stac>, headers: HeaderMap, body: Body) -> Answer {
    let body = read_body(body).await?;
    let (search, body) = Search::from_body(&body)?;
    let urls = state.urls(&headers);
    let page = run(&state, &search).await?;
    let mut links = vec![Link::root(urls.root()).r#type(JSON.to_owned())];
    let paging = Paging::Post {
        endpoint: urls.stac("/search"),
        body,
    };
    links.extend(paging.links(&search, &page));
    Ok(item_collection(&urls, &search, page, links))
}

/// Reads a request body of at most [`MAX_BODY_BYTES`].
async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            if pvs_service::http::is_body_timeout(&e) {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeout",
                    format!("body: stopped arriving ({e}; HTTP_BODY_TIMEOUT)"),
                );
            }
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!(
                    "body: larger than the {MAX_BODY_BYTES} bytes accepted (or not fully received)"
                ),
            )
        })
}

/// One page of a search.
struct Page {
    products: Vec<Product>,
    /// How many products match in all.
    matched: u64,
}

/// Runs a search on the catalog.
async fn run(state: &Stac, search: &Search) -> Result<Page, ApiError> {
    // Unknown collections are the request's fault, not an empty answer.
    match search.collections.as_slice() {
        [] => {}
        [one] => state.check_collection(one).await?,
        many => {
            let known = state
                .catalog
                .collections()
                .await
                .map_err(|error| ApiError::server("the catalog", error))?;
            if let Some(unknown) = many
                .iter()
                .find(|name| !known.iter().any(|info| &info.collection.name == *name))
            {
                return Err(ApiError::unknown_collection(unknown));
            }
        }
    }
    let mut query = ProductQuery::new().with_sort(search.sort.clone());
    match search.collections.as_slice() {
        [] => {}
        [one] => query = query.with_collection(one.clone()),
        many => {
            query.filter = Some(Filter::In {
                field: Field::Collection,
                values: many.iter().cloned().map(Literal::Text).collect(),
            })
        }
    }
    if let Some(filter) = &search.filter {
        query.filter = Some(match query.filter.take() {
            Some(collections) => Filter::And(vec![collections, filter.clone()]),
            None => filter.clone(),
        });
    }
    if !search.ids.is_empty() {
        query = query.with_ids(search.ids.iter().cloned());
    }
    if let Some(bbox) = search.bbox {
        query = query.with_bbox(bbox);
    }
    if let Some(time) = search.time {
        query = query.with_time(time);
    }
    let catalog = |error| ApiError::catalog("filter", error);
    match &search.region {
        None => {}
        Some(Region::Area(area)) => {
            ProductQuery::new()
                .with_geometry(area.clone())
                .validate()
                .map_err(|error| ApiError::catalog("intersects", error))?;
            query = query.with_geometry(area.clone());
        }
        Some(Region::Exact(geometry)) => {
            // The footprints meeting the geometry's box, each tested against the geometry.
            let query = query
                .with_bbox(Region::candidate_box(geometry)?)
                .with_limit(MAX_LIMIT)
                .with_offset(0);
            let candidates = state.catalog.count(&query).await.map_err(catalog)?;
            if candidates > u64::from(MAX_LIMIT) {
                return Err(ApiError::invalid(
                    "intersects",
                    format!(
                        "{candidates} products meet the box of the geometry, more than the {MAX_LIMIT} tested one by one; use a polygon, or narrow the search"
                    ),
                ));
            }
            let mut products = state.catalog.search(&query).await.map_err(catalog)?;
            products.retain(|product| Region::meets(geometry, &product.footprint));
            let matched = products.len() as u64;
            let page = products
                .into_iter()
                .skip(usize::try_from(search.offset).unwrap_or(usize::MAX))
                .take(search.limit as usize)
                .collect();
            return Ok(Page {
                products: page,
                matched,
            });
        }
    }
    let query = query.with_limit(search.limit).with_offset(search.offset);
    let (products, matched) = state
        .catalog
        .search_counted(&query)
        .await
        .map_err(catalog)?;
    Ok(Page { products, matched })
}

/// How the paging links of a search are written: the same `GET` with another `token`, or
/// the same `POST` body with another `token`.
enum Paging {
    Get {
        endpoint: String,
        given: Vec<(String, String)>,
    },
    Post {
        endpoint: String,
        body: Map<String, Value>,
    },
}

impl Paging {
    /// `self`, and `next` and `prev` where there are such pages.
    fn links(&self, search: &Search, page: &Page) -> Vec<Link> {
        let limit = u64::from(search.limit);
        let mut links = vec![self.link("self", (search.offset > 0).then_some(search.offset))];
        if search.offset + limit < page.matched {
            links.push(self.link("next", Some(search.offset + limit)));
        }
        if search.offset > 0 {
            let previous = search.offset.saturating_sub(limit);
            links.push(self.link("prev", (previous > 0).then_some(previous)));
        }
        links
    }

    fn link(&self, rel: &str, token: Option<u64>) -> Link {
        match self {
            Self::Get { endpoint, given } => {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in given {
                    query.append_pair(name, value);
                }
                if let Some(token) = token {
                    query.append_pair("token", &token.to_string());
                }
                let query = query.finish();
                let href = if query.is_empty() {
                    endpoint.clone()
                } else {
                    format!("{endpoint}?{query}")
                };
                Link::new(href, rel)
                    .r#type(GEOJSON.to_owned())
                    .method("GET")
            }
            Self::Post { endpoint, body } => {
                let mut body = body.clone();
                match token {
                    Some(token) => {
                        body.insert("token".to_owned(), Value::String(token.to_string()))
                    }
                    None => body.remove("token"),
                };
                let mut link = Link::new(endpoint, rel)
                    .r#type(GEOJSON.to_owned())
                    .method("POST");
                link.body = Some(body);
                link.merge = Some(false);
                link
            }
        }
    }
}

/// The answer of a search: a FeatureCollection of the page's Items (each cut to `fields`).
fn item_collection(urls: &Urls, search: &Search, page: Page, links: Vec<Link>) -> Response {
    let items: Vec<Map<String, Value>> = page
        .products
        .iter()
        .map(|product| search.fields.apply(item::item(urls, product)))
        .collect();
    let mut collection = stac::api::ItemCollection::from(items);
    collection.number_returned = Some(collection.items.len() as u64);
    collection.number_matched = Some(page.matched);
    collection.links = links;
    json_response(GEOJSON, &collection)
}
