//! The queue loop: `register_queue` and `deregister_queue` consumed reliably, each message's
//! outcome recorded in the status sets and for its browse report.

use std::sync::Arc;

use pvs_model::{Deregistration, RegistrationOutcome};
use pvs_queue::{QueueName, Stage};

use crate::item::{is_item_message, item_id_hint};
use crate::{RegisterError, Registered, Registrar};

impl Registrar {
    /// Handles one `register_queue` message (the storage key of a metadata document, a STAC
    /// Item: see [`Registrar::route_item`], or the prefix of a product folder, as the PRISM
    /// View Server sends them), recording the outcome in the status sets.
    /// Only queue errors are returned (the message must then be retried); a product that
    /// cannot be registered is recorded as failed. `Ok(None)` when nothing was registered:
    /// it failed, or a STAC Item was handed to the preprocessor.
    pub async fn handle(&self, message: &str) -> Result<Option<Registered>, pvs_queue::QueueError> {
        // A document that cannot be read is recorded under the name it would have had; a
        // STAC Item that cannot be registered under its id.
        // With the metadata, the collection it goes to when the metadata does not tell it.
        let read = if is_item_message(message) {
            self.take_item(message)
                .await
                .map(|item| item.map(|metadata| (metadata, None)))
        } else if message.trim().ends_with(".json") {
            self.read_message(message)
                .await
                .map(|metadata| Some((metadata, None)))
        } else {
            // A product folder, as the PRISM View Server puts them on the queue.
            self.prefix_metadata(message).await.map(Some)
        };
        let (metadata, result) = match read {
            Ok(None) => return Ok(None),
            Ok(Some((metadata, collection))) => {
                self.queue
                    .mark_started(Stage::Register, &metadata.id)
                    .await?;
                let result = self.register_into(&metadata, collection.as_deref()).await;
                (Some(metadata), result)
            }
            Err(e) => (None, Err(e)),
        };
        let id = match &metadata {
            Some(metadata) => metadata.id.clone(),
            None if is_item_message(message) => item_id_hint(message),
            None => id_hint(message),
        };
        let outcome = match result {
            Ok(registered) => {
                self.queue.mark_succeeded(Stage::Register, &id).await?;
                tracing::info!(product = %id, replaced = registered.replaced, merged = registered.merged_with.is_some(), seeded = registered.seeded, "product registered");
                let collection = registered.product.collection.clone();
                let outcome = match &registered.merged_with {
                    Some(with) => RegistrationOutcome::Merged {
                        collection,
                        with: with.clone(),
                    },
                    None => RegistrationOutcome::Success {
                        collection,
                        replaced: registered.replaced,
                    },
                };
                Ok((registered, outcome))
            }
            Err(RegisterError::Queue(e)) => return Err(e),
            Err(RegisterError::Skipped { reason, .. }) => {
                tracing::info!(product = %id, reason = %reason, "skipped");
                self.queue.mark_succeeded(Stage::Register, &id).await?;
                Err(RegistrationOutcome::Skipped { reason })
            }
            Err(e) => {
                tracing::warn!(product = %id, error = %e, "registration failed");
                self.queue
                    .mark_failed_item(
                        Stage::Register,
                        &id,
                        &e.to_string(),
                        QueueName::Register,
                        message,
                    )
                    .await?;
                Err(RegistrationOutcome::Failure {
                    reason: e.to_string(),
                })
            }
        };
        if let Some(metadata) = &metadata {
            let recorded = match &outcome {
                Ok((_, o)) | Err(o) => o,
            };
            self.record_for_report(&metadata.source.report.name, &id, recorded)
                .await?;
        }
        Ok(outcome.ok().map(|(registered, _)| registered))
    }

    /// Consumes `register_queue` with `workers` consumers (`name-0`, `name-1`...; each takes
    /// one message at a time, so documents are read and products registered `workers` at a
    /// time) and `deregister_queue` (as `name-deregister`; messages are product ids) until
    /// `shutdown` is set. Items of dead consumers are recovered at start-up and every minute.
    pub async fn run(
        self: Arc<Self>,
        name: &str,
        workers: usize,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), pvs_queue::QueueError> {
        let mut loops = Vec::new();
        for i in 0..workers.max(1) {
            loops.push(tokio::spawn(self.clone().consume(
                QueueName::Register,
                format!("{name}-{i}"),
                shutdown.clone(),
            )));
        }
        loops.push(tokio::spawn(self.consume(
            QueueName::Deregister,
            format!("{name}-deregister"),
            shutdown,
        )));
        pvs_queue::join_workers(loops, "registrar").await
    }

    async fn consume(
        self: Arc<Self>,
        queue: QueueName,
        name: String,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), pvs_queue::QueueError> {
        pvs_queue::consume(self.queue.as_ref(), queue, &name, shutdown, |payload| {
            let this = self.clone();
            async move {
                match queue {
                    QueueName::Deregister => {
                        let message = Deregistration::parse(&payload);
                        match this
                            .deregister(message.collection.as_deref(), &message.id)
                            .await
                        {
                            Err(RegisterError::Queue(e)) => Err(e),
                            Err(e) => {
                                tracing::warn!(error = %e, "deregistration failed");
                                let id: String = message.id.chars().take(255).collect();
                                this.queue
                                    .mark_failed_item(
                                        Stage::Register,
                                        &id,
                                        &e.to_string(),
                                        QueueName::Deregister,
                                        &payload,
                                    )
                                    .await
                            }
                            Ok(_) => Ok(()),
                        }
                    }
                    _ => this.handle(&payload).await.map(drop),
                }
            }
        })
        .await
    }
}

/// The id a message is recorded under before its document is read: the document's file
/// stem (`<collection>/<id>/<id>.json` → `<id>`), or the message itself.
fn id_hint(message: &str) -> String {
    let trimmed = message.trim();
    let file = trimmed.rsplit('/').next().unwrap_or(trimmed);
    let stem = file.strip_suffix(".json").unwrap_or(file);
    let stem: String = stem.chars().take(255).collect();
    if stem.is_empty() {
        "(empty message)".to_owned()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_messages() {
        assert_eq!(id_hint("SAR/b_id_1/b_id_1.json"), "b_id_1");
        assert_eq!(id_hint("x"), "x");
        assert_eq!(id_hint("  "), "(empty message)");
    }
}
