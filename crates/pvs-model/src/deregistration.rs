//! The `deregister_queue` message: a product id, as PVS sends it (the id is removed from every
//! collection that has it), or a JSON object `{"collection": "...", "id": "..."}` naming the
//! collection too (ids are unique per collection; the STAC API's `DELETE` sends this form).

use serde::{Deserialize, Serialize};

/// One product (or one id in every collection) to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deregistration {
    /// The collection to remove the id from; `None`: from every collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// The product id.
    pub id: String,
}

impl Deregistration {
    /// Reads a message: a JSON object with `id` (and `collection`), else the trimmed text as
    /// an id. A JSON object that is not of this shape is taken as an id too, and then found
    /// nowhere: the registrar answers "no such product" naming it.
    pub fn parse(message: &str) -> Self {
        let trimmed = message.trim();
        if trimmed.starts_with('{')
            && let Ok(message) = serde_json::from_str::<Deregistration>(trimmed)
        {
            return message;
        }
        Deregistration {
            collection: None,
            id: trimmed.to_owned(),
        }
    }

    /// The message: the JSON form with a collection, else the id alone (PVS's form).
    pub fn to_message(&self) -> String {
        match self.collection {
            Some(_) => serde_json::to_string(self).expect("a deregistration serialises"),
            None => self.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_and_json_objects() {
        assert_eq!(
            Deregistration::parse("  S2A_1 \n"),
            Deregistration {
                collection: None,
                id: "S2A_1".to_owned()
            }
        );
        let scoped = Deregistration {
            collection: Some("S2".to_owned()),
            id: "a/{b}".to_owned(),
        };
        assert_eq!(scoped.to_message(), r#"{"collection":"S2","id":"a/{b}"}"#);
        assert_eq!(Deregistration::parse(&scoped.to_message()), scoped);
        assert_eq!(
            Deregistration::parse(r#"{"id":"x"}"#),
            Deregistration {
                collection: None,
                id: "x".to_owned()
            }
        );
        for odd in [r#"{"id": 1}"#, r#"{"id":"x","extra":1}"#, "{not json"] {
            assert_eq!(Deregistration::parse(odd).id, odd, "taken as an id");
        }
        let plain = Deregistration {
            collection: None,
            id: "P".to_owned(),
        };
        assert_eq!(plain.to_message(), "P");
    }
}
