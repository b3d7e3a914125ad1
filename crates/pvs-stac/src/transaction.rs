//! The Transaction extension: Items in and out through the registrar's queues, behind the
//! write credentials of ingestion (`INGEST_TOKEN` / `INGEST_BASIC_AUTH`, the ingestor's
//! [`Auth`]).
//!
//! Each write is checked at once (credentials, the collection, the Item with
//! `pvs_model::parse_item`, whether the id is taken) and then queued, answered `202
//! Accepted`: the registrar registers (or removes) the product, as it does every product,
//! and the Item appears in searches once it has.
//!
//! - `POST /stac/collections/{c}/items`: a new Item (409 if its id is registered) onto
//!   `register_queue`, as its JSON with `collection` set;
//! - `PUT /stac/collections/{c}/items/{id}`: a replacement of a registered Item (404 if it is
//!   not; 400 if the Item's id or collection differ from the path), the same way;
//! - `DELETE /stac/collections/{c}/items/{id}`: the id onto `deregister_queue`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pvs_ingestor::Auth;
use pvs_model::{ItemError, parse_item};
use pvs_queue::{QueueName, WorkQueue};
use serde_json::{Value, json};

use crate::{Answer, ApiError, Stac};

/// Where writes go, and who may write.
pub struct Transactions {
    /// The queue the registrar reads.
    pub queue: Arc<dyn WorkQueue>,
    /// The credentials a write must carry (none required when open).
    pub auth: Auth,
}

/// The transactions of `state`, once the request's credentials are checked.
fn writer<'a>(state: &'a Stac, headers: &HeaderMap) -> Result<&'a Transactions, ApiError> {
    let transactions = state
        .transactions
        .as_ref()
        .expect("the write routes exist only with transactions");
    let given = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if transactions.auth.allows(given) {
        Ok(transactions)
    } else {
        Err(ApiError::unauthorized(transactions.auth.challenge()))
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

/// Reads, checks and queues one Item of `collection`; `id` is the id of the path (`PUT`).
async fn queue_item(
    state: &Stac,
    transactions: &Transactions,
    collection: &str,
    body: Body,
    id: Option<&str>,
    headers: &HeaderMap,
) -> Answer {
    state.check_collection(collection).await?;
    let body = crate::read_body(body).await?;
    let mut registration = parse_item(&body, Some(collection)).map_err(refused)?;
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
    let existing = state
        .catalog
        .get(&registration.id)
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
        (Some(id), Some(product)) if product.collection != collection => {
            return Err(ApiError::invalid(
                "collection",
                format!(
                    "the item {id:?} belongs to the collection {:?}",
                    product.collection
                ),
            ));
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

/// `POST /stac/collections/{c}/items`.
pub async fn create(
    State(state): State<Arc<Stac>>,
    headers: HeaderMap,
    Path(collection): Path<String>,
    body: Body,
) -> Answer {
    let transactions = writer(&state, &headers)?;
    queue_item(&state, transactions, &collection, body, None, &headers).await
}

/// `PUT /stac/collections/{c}/items/{id}`.
pub async fn replace(
    State(state): State<Arc<Stac>>,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
    body: Body,
) -> Answer {
    let transactions = writer(&state, &headers)?;
    queue_item(&state, transactions, &collection, body, Some(&id), &headers).await
}

/// `DELETE /stac/collections/{c}/items/{id}`.
pub async fn delete(
    State(state): State<Arc<Stac>>,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
) -> Answer {
    let transactions = writer(&state, &headers)?;
    let product = state.product(&collection, &id).await?;
    transactions
        .queue
        .push(QueueName::Deregister, &product.id)
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
