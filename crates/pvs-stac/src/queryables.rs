//! The queryables: a JSON Schema of what a `filter` may name (and `sortby` sort on), the
//! product columns and the catalog's queryable properties (`pvs_catalog::Field::all`).

use pvs_catalog::{Field, Kind};
use serde_json::{Map, Value, json};

/// The JSON Schema of the queryables, `$id` being its own URL; the same for every collection
/// (the catalog's queryables are not per collection).
pub fn schema(id: &str, collection: Option<&str>) -> Value {
    let mut properties = Map::new();
    for field in Field::all() {
        let mut schema = match field.kind() {
            Kind::Number => json!({"type": "number"}),
            Kind::Text => json!({"type": "string"}),
            Kind::Timestamp => json!({"type": "string", "format": "date-time"}),
            Kind::TextArray => json!({"type": "array", "items": {"type": "string"}}),
        };
        let description = match field {
            Field::Id => "the Item id",
            Field::Collection => "the collection id",
            Field::ProductType => "the product type",
            Field::Start => "the start of the acquisition (also named start_datetime)",
            Field::End => "the end of the acquisition",
            Field::Property(_) => "a property of the Item, absent on some",
        };
        schema["description"] = json!(description);
        // `datetime` names the start of the acquisition, as `start_datetime` does.
        if field == Field::Start {
            properties.insert("datetime".to_owned(), schema.clone());
        }
        properties.insert(field.name().to_owned(), schema);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": id,
        "type": "object",
        "title": match collection {
            Some(collection) => format!("Queryables of the collection {collection}"),
            None => "Queryables of every collection".to_owned(),
        },
        "properties": properties,
        "additionalProperties": false,
    })
}
