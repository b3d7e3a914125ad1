//! The Transaction extension: Items in and out through the registrar's queues, for requests
//! whose [`Access`] may write (the access policy's `write` grant, or the ingestion
//! credentials `INGEST_TOKEN` / `INGEST_BASIC_AUTH`; open when none is set).
//!
//! Each write is checked at once (credentials, the collection, the Item with
//! `pvs_model::parse_item`, the kinds of its queryable properties, whether the id is taken) and then queued, answered `202
//! Accepted`: the registrar registers (or removes) the product, as it does every product,
//! and the Item appears in searches once it has.
//!
//! - `POST /stac/collections/{c}/items`: a new Item (409 if its id is registered) onto
//!   `register_queue`, as its JSON with `collection` set;
//! - `PUT /stac/collections/{c}/items/{id}`: a replacement of a registered Item (404 if it is
//!   not; 400 if the Item's id or collection differ from the path; an Item without `id` takes
//!   the path's), the same way;
//! - `PATCH /stac/collections/{c}/items/{id}`: the registered Item with a JSON merge patch
//!   applied, the same way;
//! - `DELETE /stac/collections/{c}/items/{id}`: the collection and id onto `deregister_queue`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pvs_access::Access;
use pvs_catalog::Property;
use pvs_model::{Deregistration, ItemError, parse_item};
use pvs_queue::{QueueName, WorkQueue};
use serde_json::{Map, Value, json};

use crate::{Answer, ApiError, Stac, read_body};

/// Where writes go (who may write is the request's [`Access`]).
#[derive(Clone)]
pub struct Transactions {
    /// The queue the registrar reads.
    pub queue: Arc<dyn WorkQueue>,
}

/// The transactions of `state`, once the request's [`Access`] is checked (the access
/// policy's `write` grant).
fn writer<'a>(state: &'a Stac, access: &Access) -> Result<&'a Transactions, ApiError> {
    let transactions = state
        .transactions
        .as_ref()
        .expect("the write routes exist only with transactions");
    if access.can_write() {
        Ok(transactions)
    } else if access.is_anonymous() {
        Err(ApiError::unauthorized(
            "Bearer realm=\"pvs\", Basic realm=\"pvs\"",
        ))
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "these credentials may not write",
        ))
    }
}

/// An Item refused by `parse_item`, naming its field.
fn refused(error: ItemError) -> ApiError {
    let description = match error {
        ItemError::Field { field, reason } => format!("{field}: {reason}"),
        other => format!("body: {other}"),
    };
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidItem", description)
}

/// `202 Accepted`, with the Item's URL in `Location` and a short JSON body.
fn accepted(location: Option<String>, body: Value) -> Response {
    let mut response = (StatusCode::ACCEPTED, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::item::JSON),
    );
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}

/// Checks and queues one Item (its JSON, `body`) of `collection`; `id` is the id of the path
/// (`PUT`, `PATCH`), which must then be registered.
async fn queue_item(
    state: &Stac,
    transactions: &Transactions,
    collection: &str,
    body: &[u8],
    id: Option<&str>,
    headers: &HeaderMap,
) -> Answer {
    let mut registration = parse_item(body, Some(collection)).map_err(refused)?;
    if let Some(id) = id
        && registration.id != id
    {
        return Err(ApiError::invalid(
            "id",
            format!(
                "the Item's id {:?} is not the {id:?} of the path",
                registration.id
            ),
        ));
    }
    check_property_kinds(&registration.properties)?;
    let existing = state
        .catalog
        .get(collection, &registration.id)
        .await
        .map_err(|error| ApiError::server("the catalog", error))?;
    match (id, existing) {
        (None, Some(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!(
                    "id: an item {:?} is already registered; replace it with PUT",
                    registration.id
                ),
            ));
        }
        (Some(id), None) => {
            return Err(ApiError::not_found(format!(
                "item: no item {id:?} in collection {collection:?} to replace"
            )));
        }
        _ => {}
    }
    registration.item.insert(
        "collection".to_owned(),
        Value::String(collection.to_owned()),
    );
    transactions
        .queue
        .push(QueueName::Register, &registration.to_json())
        .await
        .map_err(|error| ApiError::server("the queue", error))?;
    tracing::info!(id = %registration.id, collection, "STAC Item queued for registration");
    let urls = state.urls(headers);
    Ok(accepted(
        Some(urls.item(collection, &registration.id)),
        json!({
            "id": registration.id,
            "collection": collection,
            "status": "queued",
            "queue": QueueName::Register.key(),
        }),
    ))
}

/// The queryable properties must be of their kind, as the catalog will require: refused now,
/// naming the property, rather than by the registrar later.
fn check_property_kinds(properties: &Map<String, Value>) -> Result<(), ApiError> {
    for (name, value) in properties {
        let Some(property) = Property::find(name) else {
            continue;
        };
        if !value.is_null() && !property.accepts(value) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidItem",
                format!(
                    "properties.{name}: must be a {}, not {value}",
                    property.kind().as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// The Item JSON of a `PUT`: the body, with the path's `id` when it has none (the
/// Transaction extension populates `id` and `collection` from the URI).
fn with_path_id(body: &[u8], id: &str) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut item)) if !item.contains_key("id") => {
            item.insert("id".to_owned(), Value::String(id.to_owned()));
            serde_json::to_vec(&item).expect("JSON serialises")
        }
        _ => body.to_vec(),
    }
}

/// Applies a JSON merge patch (RFC 7386) to `target`.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        unreachable!("made an object above")
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// `POST /stac/collections/{c}/items`.
pub async fn create(
    State(state): State<Arc<Stac>>,
    access: Access,
    headers: HeaderMap,
    Path(collection): Path<String>,
    body: Body,
) -> Answer {
    let transactions = writer(&state, &access)?;
    state.check_collection(&collection).await?;
    let body = read_body(body).await?;
    queue_item(&state, transactions, &collection, &body, None, &headers).await
}

/// `PUT /stac/collections/{c}/items/{id}`.
pub async fn replace(
    State(state): State<Arc<Stac>>,
    access: Access,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
    body: Body,
) -> Answer {
    let transactions = writer(&state, &access)?;
    state.check_collection(&collection).await?;
    let body = with_path_id(&read_body(body).await?, &id);
    queue_item(
        &state,
        transactions,
        &collection,
        &body,
        Some(&id),
        &headers,
    )
    .await
}

/// `PATCH /stac/collections/{c}/items/{id}`: the registered Item with a JSON merge patch
/// (RFC 7386) applied, queued as `PUT` queues it. The Item patched is the one pvs answers,
/// but with its COG as the `data` asset's storage key (and without pvs's own links and
/// pictures), so that the registrar registers the same COG again.
pub async fn patch(
    State(state): State<Arc<Stac>>,
    access: Access,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
    body: Body,
) -> Answer {
    let transactions = writer(&state, &access)?;
    let patch: Value = serde_json::from_slice(&read_body(body).await?)
        .map_err(|error| ApiError::invalid("body", format!("not JSON: {error}")))?;
    if !patch.is_object() {
        return Err(ApiError::invalid(
            "body",
            "a merge patch of an Item is a JSON object",
        ));
    }
    for (member, expected) in [("id", id.as_str()), ("collection", collection.as_str())] {
        if let Some(given) = patch.get(member)
            && given != expected
        {
            return Err(ApiError::invalid(
                member,
                format!("the patch sets {given}, not the {expected:?} of the path"),
            ));
        }
    }
    let product = state.product(&collection, &id).await?;
    let mut item = Value::Object(crate::item::item(&state.urls(&headers), &product));
    item["links"] = json!([]);
    item["assets"] = json!({"data": {
        "href": product.location,
        "type": crate::item::COG_TYPE,
        "roles": ["data"],
    }});
    merge(&mut item, &patch);
    let body = serde_json::to_vec(&item).expect("JSON serialises");
    queue_item(
        &state,
        transactions,
        &collection,
        &body,
        Some(&id),
        &headers,
    )
    .await
}

/// `DELETE /stac/collections/{c}/items/{id}`.
pub async fn delete(
    State(state): State<Arc<Stac>>,
    access: Access,
    Path((collection, id)): Path<(String, String)>,
) -> Answer {
    let transactions = writer(&state, &access)?;
    let product = state.product(&collection, &id).await?;
    transactions
        .queue
        .push(
            QueueName::Deregister,
            &Deregistration {
                collection: Some(product.collection.clone()),
                id: product.id.clone(),
            }
            .to_message(),
        )
        .await
        .map_err(|error| ApiError::server("the queue", error))?;
    tracing::info!(id = %product.id, collection, "STAC Item queued for removal");
    Ok(accepted(
        None,
        json!({
            "id": product.id,
            "collection": collection,
            "status": "queued",
            "queue": QueueName::Deregister.key(),
        }),
    ))
}
