//! `GET /api/status`: the ingest status operators read (and the web client shows): every work
//! queue with its waiting and in-process items, every stage with the sizes of its status sets
//! and its most recent failures with their reasons.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pvs_queue::{QueueName, Stage, Status, StatusSet, WorkQueue};
use serde_json::{Value, json};

/// How many failures per stage the answer lists (with their reasons).
const LISTED_FAILURES: usize = 20;

/// The route `GET /api/status`.
pub fn routes(queue: Arc<dyn WorkQueue>) -> Router {
    Router::new()
        .route("/api/status", get(status))
        .with_state(queue)
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Preprocess => "preprocess",
        Stage::Register => "register",
        Stage::Seed => "seed",
    }
}

async fn status(State(queue): State<Arc<dyn WorkQueue>>) -> Response {
    match report(queue.as_ref()).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": format!("the queue backend does not answer: {e}") })),
        )
            .into_response(),
    }
}

/// The status as JSON: `{"queues": [{name, waiting, processing}], "stages": [{name,
/// in_flight, succeeded, failed, failures: [{id, reason}]}]}`.
pub async fn report(queue: &dyn WorkQueue) -> pvs_queue::Result<Value> {
    let mut queues = Vec::new();
    for name in QueueName::ALL {
        let waiting = queue.len(name).await?;
        let processing: usize = queue
            .processing(name)
            .await?
            .iter()
            .map(|(_, items)| items.len())
            .sum();
        queues.push(json!({ "name": name.key(), "waiting": waiting, "processing": processing }));
    }
    let mut stages = Vec::new();
    for stage in Stage::ALL {
        let in_flight = queue.members(stage, StatusSet::InFlight).await?.len();
        let succeeded = queue.members(stage, StatusSet::Success).await?.len();
        let failed = queue.members(stage, StatusSet::Failure).await?;
        let mut failures = Vec::new();
        for id in failed.iter().take(LISTED_FAILURES) {
            let reason = match queue.status(stage, id).await? {
                Status::Failed { reason } => reason,
                _ => continue, // retried since the set was read
            };
            failures.push(json!({ "id": id, "reason": reason }));
        }
        stages.push(json!({
            "name": stage_name(stage),
            "in_flight": in_flight,
            "succeeded": succeeded,
            "failed": failed.len(),
            "failures": failures,
        }));
    }
    Ok(json!({ "queues": queues, "stages": stages }))
}
