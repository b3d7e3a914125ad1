//! The queue loop: `register_queue` and `deregister_queue` consumed reliably, each message's
//! outcome recorded in the status sets and for its browse report.

use std::sync::Arc;

use pvs_model::{
    Deregistration, ItemRegistration, ProductMetadata, RegistrationOutcome, parse_item,
};
use pvs_queue::{QueueName, Stage};
use pvs_storage::{KeyError, StorageKey};

use crate::item::{is_item_message, item_id_hint};
use crate::{RegisterError, Registered, Registrar};

/// A `register_queue` message, read before anything is fetched.
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterMessage {
    /// A valid STAC Item (a JSON object, [`pvs_model::parse_item`]).
    Item(Box<ItemRegistration>),
    /// The storage key of a product's metadata document (`<collection>/<id>/<id>.json`).
    Document(StorageKey),
    /// A product folder (a storage prefix), as the PRISM View Server puts them on the queue;
    /// checked when it is listed.
    Folder(String),
}

impl RegisterMessage {
    /// Reads a message: a JSON object is a STAC Item, text ending in `.json` the storage key
    /// of a metadata document, anything else a product folder.
    pub fn parse(message: &str) -> Result<Self, RegisterError> {
        if is_item_message(message) {
            return parse_item(message.as_bytes(), None)
                .map(|item| Self::Item(Box::new(item)))
                .map_err(RegisterError::Item);
        }
        let trimmed = message.trim();
        if trimmed.ends_with(".json") {
            return trimmed.parse().map(Self::Document).map_err(|e: KeyError| {
                RegisterError::BadMessage(message.chars().take(200).collect(), e.to_string())
            });
        }
        Ok(Self::Folder(message.to_owned()))
    }

    /// The id a message is recorded under when no metadata could be read from it: a STAC
    /// Item's `id` (else the start of the message), a document's file stem
    /// (`<collection>/<id>/<id>.json` → `<id>`), or the message itself; at most 255
    /// characters, never empty.
    pub fn id_hint(message: &str) -> String {
        if is_item_message(message) {
            item_id_hint(message)
        } else {
            id_hint(message)
        }
    }
}

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
        // An unavailable storage, catalog or tile store is waited for (`self.retry`) before
        // anything is recorded as the product's failure.
        let read = self
            .retry
            .run(
                "reading a register_queue message",
                || self.read_queue_message(message),
                RegisterError::is_transient,
            )
            .await;
        let (metadata, result) = match read {
            Ok(None) => return Ok(None),
            Ok(Some((metadata, collection))) => {
                self.queue
                    .mark_started(Stage::Register, &metadata.id)
                    .await?;
                let result = self
                    .retry
                    .run(
                        &format!("registering product {}", metadata.id),
                        || self.register_into(&metadata, collection.as_deref()),
                        RegisterError::is_transient,
                    )
                    .await;
                (Some(metadata), result)
            }
            Err(e) => (None, Err(e)),
        };
        let id = match &metadata {
            Some(metadata) => metadata.id.clone(),
            None => RegisterMessage::id_hint(message),
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

    /// The metadata a `register_queue` message gives, with the collection it goes to when
    /// the metadata does not tell it; `None` when a STAC Item was handed to the
    /// preprocessor.
    async fn read_queue_message(
        &self,
        message: &str,
    ) -> Result<Option<(ProductMetadata, Option<String>)>, RegisterError> {
        match RegisterMessage::parse(message)? {
            RegisterMessage::Item(item) => Ok(self
                .take_item(&item)
                .await?
                .map(|metadata| (metadata, None))),
            RegisterMessage::Document(key) => Ok(Some((self.read_metadata(&key).await?, None))),
            RegisterMessage::Folder(prefix) => self.prefix_metadata(&prefix).await.map(Some),
        }
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
    fn messages_are_read_before_anything_is_fetched() {
        let document = RegisterMessage::parse(" SAR/b_id_1/b_id_1.json\n").unwrap();
        assert!(
            matches!(&document, RegisterMessage::Document(key) if key.as_str() == "SAR/b_id_1/b_id_1.json"),
            "{document:?}"
        );
        assert!(matches!(
            RegisterMessage::parse("SAR/b_id_1/"),
            Ok(RegisterMessage::Folder(_))
        ));
        assert!(matches!(
            RegisterMessage::parse("SAR/../x.json"),
            Err(RegisterError::BadMessage(..))
        ));
        assert!(matches!(
            RegisterMessage::parse(r#"{"id": "x"}"#),
            Err(RegisterError::Item(_))
        ));
        assert_eq!(RegisterMessage::id_hint(r#"{"id": "x"}"#), "x");
        assert_eq!(RegisterMessage::id_hint("SAR/b_id_1/b_id_1.json"), "b_id_1");
    }

    #[test]
    fn ids_from_messages() {
        assert_eq!(id_hint("SAR/b_id_1/b_id_1.json"), "b_id_1");
        assert_eq!(id_hint("x"), "x");
        assert_eq!(id_hint("  "), "(empty message)");
    }
}
