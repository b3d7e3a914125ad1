//! The OpenAPI 3.0 description of the STAC API (`/stac/api`, the landing page's
//! `service-desc`): every endpoint with its parameters and answers, the write endpoints only
//! where transactions are enabled.

use serde_json::{Map, Value, json};

use crate::item::COG_TYPE;
use crate::search::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::urls::Urls;

/// The media type of the document.
pub const MEDIA_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";

fn parameter(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn answer(description: &str, media_type: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {media_type: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
    })
}

fn errors() -> Map<String, Value> {
    let error = |description: &str| answer(description, "application/json", "Exception");
    let mut answers = Map::new();
    answers.insert(
        "400".to_owned(),
        error("A parameter or field is wrong; the description names it."),
    );
    answers.insert("404".to_owned(), error("No such collection or item."));
    answers.insert("500".to_owned(), error("A backend failed."));
    answers
}

fn operation(summary: &str, id: &str, parameters: Vec<Value>, ok: (&str, Value)) -> Value {
    let mut responses = errors();
    responses.insert(ok.0.to_owned(), ok.1);
    json!({"summary": summary, "operationId": id, "parameters": parameters, "responses": responses})
}

/// The document, with the server at the request's public URL.
pub fn document(urls: &Urls, title: &str, transactions: bool) -> Value {
    let string = json!({"type": "string"});
    let common = vec![
        parameter(
            "limit",
            &format!("Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."),
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        ),
        parameter(
            "bbox",
            "west,south,east,north in longitude/latitude (west > east crosses the antimeridian); 6 numbers with heights.",
            json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
        ),
        parameter(
            "datetime",
            "An RFC 3339 instant, or an interval start/end whose ends may be open (`..`).",
            string.clone(),
        ),
        parameter(
            "sortby",
            "Fields to sort on, comma-separated, `-` in front for descending.",
            string.clone(),
        ),
        parameter(
            "fields",
            "Members to include (or, with `-` in front, exclude), comma-separated.",
            string.clone(),
        ),
        parameter("filter", "A CQL2 filter on the queryables.", string.clone()),
        parameter(
            "filter-lang",
            "cql2-text (default) or cql2-json.",
            json!({"type": "string", "enum": ["cql2-text", "cql2-json"]}),
        ),
        parameter(
            "filter-crs",
            "Only http://www.opengis.net/def/crs/OGC/1.3/CRS84.",
            string.clone(),
        ),
        parameter(
            "token",
            "The paging token of a `next` or `prev` link.",
            string.clone(),
        ),
    ];
    let mut search = common.clone();
    search.extend([
        parameter(
            "intersects",
            "A GeoJSON geometry (at most 10000 positions).",
            string.clone(),
        ),
        parameter("ids", "Item ids, comma-separated.", string.clone()),
        parameter(
            "collections",
            "Collection ids, comma-separated.",
            string.clone(),
        ),
    ]);
    let collection_id = path_parameter("collectionId", "The collection id.");
    let item_id = path_parameter("itemId", "The item id.");
    let items_answer = (
        "200",
        answer("A page of Items.", "application/geo+json", "ItemCollection"),
    );

    let mut items = json!({
        "get": operation("The items of a collection", "getFeatures",
            std::iter::once(collection_id.clone()).chain(common).collect(), items_answer.clone()),
    });
    let mut item = json!({
        "get": operation("One item", "getFeature", vec![collection_id.clone(), item_id.clone()],
            ("200", answer("The Item.", "application/geo+json", "Item"))),
    });
    if transactions {
        let write = |summary: &str, id: &str, parameters: Vec<Value>, body: bool| {
            let mut operation = operation(
                summary,
                id,
                parameters,
                (
                    "202",
                    json!({
                        "description": "Checked and queued for the registrar.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }),
                ),
            );
            operation["responses"]["401"] =
                json!({"description": "The write credentials are missing or wrong."});
            operation["responses"]["409"] =
                json!({"description": "An item with this id exists (POST)."});
            operation["responses"]["413"] =
                json!({"description": "The body is larger than 1 MiB."});
            operation["security"] = json!([{"bearer": []}, {"basic": []}]);
            if body {
                operation["requestBody"] = json!({
                    "required": true,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                });
            }
            operation
        };
        items["post"] = write(
            "Add an item",
            "postFeature",
            vec![collection_id.clone()],
            true,
        );
        item["put"] = write(
            "Replace an item",
            "putFeature",
            vec![collection_id.clone(), item_id.clone()],
            true,
        );
        item["patch"] = write(
            "Patch an item (JSON merge patch, RFC 7386)",
            "patchFeature",
            vec![collection_id.clone(), item_id.clone()],
            true,
        );
        item["patch"]["requestBody"]["content"]["application/json"]["schema"] =
            json!({"type": "object", "description": "A JSON merge patch of the Item."});
        item["delete"] = write(
            "Remove an item",
            "deleteFeature",
            vec![collection_id.clone(), item_id.clone()],
            false,
        );
    }

    let document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": format!("{title}: STAC API"),
            "version": "1.0.0",
            "description": "STAC API 1.0 over the products registered in pvs (docs/stac.md).",
        },
        "servers": [{"url": urls.root()}],
        "paths": {
            "/": {"get": operation("The landing page", "getLandingPage", vec![],
                ("200", answer("The landing page.", "application/json", "LandingPage")))},
            "/conformance": {"get": operation("The conformance classes", "getConformanceDeclaration", vec![],
                ("200", answer("The classes.", "application/json", "Conformance")))},
            "/api": {"get": operation("This document", "getOpenApi", vec![],
                ("200", json!({"description": "OpenAPI 3.0", "content": {MEDIA_TYPE: {"schema": {"type": "object"}}}})))},
            "/queryables": {"get": operation("What filters may name", "getQueryables", vec![],
                ("200", json!({"description": "A JSON Schema.", "content": {"application/schema+json": {"schema": {"type": "object"}}}})))},
            "/collections": {"get": operation("The collections", "getCollections", vec![],
                ("200", answer("The collections.", "application/json", "Collections")))},
            "/collections/{collectionId}": {"get": operation("One collection", "describeCollection",
                vec![collection_id.clone()], ("200", answer("The collection.", "application/json", "Collection")))},
            "/collections/{collectionId}/queryables": {"get": operation("What filters may name", "getCollectionQueryables",
                vec![collection_id.clone()],
                ("200", json!({"description": "A JSON Schema.", "content": {"application/schema+json": {"schema": {"type": "object"}}}})))},
            "/collections/{collectionId}/items": items,
            "/collections/{collectionId}/items/{itemId}": item,
            "/collections/{collectionId}/items/{itemId}/data": {"get": operation(
                "The item's Cloud-Optimized GeoTIFF (HTTP range requests)", "getItemData",
                vec![collection_id.clone(), item_id.clone()],
                ("200", json!({"description": "The COG, or the part asked for with Range (206).",
                    "content": {COG_TYPE: {"schema": {"type": "string", "format": "binary"}}}})))},
            "/collections/{collectionId}/items/{itemId}/metadata": {"get": operation(
                "The item's metadata document", "getItemMetadata",
                vec![collection_id.clone(), item_id.clone()],
                ("200", json!({"description": "The document pvs stored with the product.",
                    "content": {"application/json": {"schema": {"type": "object"}}}})))},
            "/search": {
                "get": operation("Search items", "getItemSearch", search, items_answer.clone()),
                "post": {
                    "summary": "Search items",
                    "operationId": "postItemSearch",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchBody"}}}},
                    "responses": {
                        "200": items_answer.1,
                        "400": errors()["400"],
                        "404": errors()["404"],
                        "413": {"description": "The body is larger than 1 MiB."},
                        "500": errors()["500"],
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
            "schemas": {
                "Exception": {"type": "object", "required": ["code"], "properties": {
                    "code": {"type": "string"}, "description": {"type": "string"}}},
                "Link": {"type": "object", "required": ["href", "rel"], "properties": {
                    "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
                    "title": {"type": "string"}, "method": {"type": "string"}, "body": {"type": "object"}}},
                "Links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
                "LandingPage": {"type": "object", "required": ["id", "description", "links", "conformsTo"], "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                    "conformsTo": {"type": "array", "items": {"type": "string"}},
                    "links": {"$ref": "#/components/schemas/Links"}}},
                "Conformance": {"type": "object", "required": ["conformsTo"], "properties": {
                    "conformsTo": {"type": "array", "items": {"type": "string"}}}},
                "Collection": {"type": "object", "required": ["id", "description", "license", "extent", "links"],
                    "description": "A STAC Collection (https://schemas.stacspec.org/v1.1.0/collection-spec/json-schema/collection.json)."},
                "Collections": {"type": "object", "required": ["collections", "links"], "properties": {
                    "collections": {"type": "array", "items": {"$ref": "#/components/schemas/Collection"}},
                    "links": {"$ref": "#/components/schemas/Links"}}},
                "Item": {"type": "object", "required": ["type", "id", "geometry", "properties", "links", "assets"],
                    "description": "A STAC Item (https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json)."},
                "ItemCollection": {"type": "object", "required": ["type", "features"], "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                    "links": {"$ref": "#/components/schemas/Links"},
                    "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"}}},
                "SearchBody": {"type": "object", "additionalProperties": false, "properties": {
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    "bbox": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                    "datetime": {"type": "string"},
                    "intersects": {"type": "object", "description": "A GeoJSON geometry."},
                    "ids": {"type": "array", "items": {"type": "string"}},
                    "collections": {"type": "array", "items": {"type": "string"}},
                    "sortby": {"type": "array", "items": {"type": "object", "required": ["field", "direction"], "properties": {
                        "field": {"type": "string"}, "direction": {"type": "string", "enum": ["asc", "desc"]}}}},
                    "fields": {"type": "object", "properties": {
                        "include": {"type": "array", "items": {"type": "string"}},
                        "exclude": {"type": "array", "items": {"type": "string"}}}},
                    "filter": {"description": "CQL2 JSON (or text with filter-lang cql2-text)."},
                    "filter-lang": {"type": "string", "enum": ["cql2-json", "cql2-text"]},
                    "filter-crs": {"type": "string"},
                    "token": {"type": "string"}}},
            },
        },
    });
    document
}
