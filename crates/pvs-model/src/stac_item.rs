//! STAC Items (STAC 1.0, 1.1) as a way to register a product: [`parse_item`] reads and
//! validates one into an [`ItemRegistration`], or says which field is wrong and why
//! ([`ItemError`]).
//!
//! The same function serves every way in: a JSON Item on `register_queue`, a `*.json` Item in
//! the ingestor's watch folder, and `POST /stac/collections/{id}/items`.

use std::fmt;

use chrono::{DateTime, Utc};
use geo::{MultiPolygon, Validation};
use geojson::{GeometryValue, Position};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::browse::FileName;
use crate::collections::{CollectionConfig, Collections};
use crate::footprint::footprint_from_rings;
use crate::item::{GeoJsonGeometry, ReportInfo};
use crate::product::{CogInfo, ProductMetadata, SourceInfo};

/// The largest Item accepted, in bytes (1 MiB): real Items are a few kilobytes.
pub const MAX_ITEM_BYTES: usize = 1 << 20;

/// The most positions an Item's geometry may have, over all its rings: the catalog's limit
/// for a footprint (checking a polygon's validity takes time growing with the square of its
/// positions, so larger geometries are refused before that check).
pub const MAX_ITEM_POSITIONS: usize = 10_000;

/// The longest Item id, in characters: the catalog's limit for a product id.
pub const MAX_ITEM_ID_CHARS: usize = 255;

/// The Item properties that become the product's times rather than its properties.
const TIME_PROPERTIES: [&str; 3] = ["datetime", "start_datetime", "end_datetime"];

/// Media types (before any `;` parameter) of the rasters pvs can make a COG of.
const RASTER_MEDIA_TYPES: [&str; 6] = [
    "image/tiff",
    "image/geotiff",
    "image/jp2",
    "image/png",
    "image/jpeg",
    "image/webp",
];

/// File extensions of rasters, for a data asset without a media type.
const RASTER_EXTENSIONS: [&str; 7] = [".tif", ".tiff", ".jp2", ".png", ".jpg", ".jpeg", ".webp"];

/// Roles of assets that are never the product's data, even if they are rasters.
const NOT_DATA_ROLES: [&str; 4] = ["thumbnail", "overview", "visual-thumbnail", "metadata"];

/// A valid STAC Item: what registering it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRegistration {
    /// The Item's id, the product id: 1 to [`MAX_ITEM_ID_CHARS`] letters, digits, `.`, `-`,
    /// `_`, `:` or `#`, not starting with `.` (it names storage keys).
    pub id: String,
    /// The collection: the one asked for, else the Item's `collection`.
    pub collection: String,
    /// The geometry as a valid EPSG:4326 lon/lat footprint, split at the antimeridian
    /// ([`crate::footprint_from_lon_lat`] for each ring).
    pub footprint: MultiPolygon<f64>,
    /// Start of the acquisition: `start_datetime`, else `datetime`.
    pub start: DateTime<Utc>,
    /// End of the acquisition: `end_datetime`, else `datetime`.
    pub end: DateTime<Utc>,
    /// The Item's properties as given, less `datetime`, `start_datetime` and `end_datetime`
    /// (`eo:cloud_cover`, `platform`, ...).
    pub properties: Map<String, Value>,
    /// The asset holding the product's raster.
    pub data: DataAsset,
    /// The Item JSON as given (a JSON object), with its `collection` member set to
    /// [`Self::collection`] when it had none: a message that names its collection.
    pub item: Map<String, Value>,
}

/// The asset of an Item that holds the product's raster.
#[derive(Debug, Clone, PartialEq)]
pub struct DataAsset {
    /// Its key in the Item's `assets`.
    pub name: String,
    /// Where it is.
    pub href: AssetHref,
    /// Its media type (`type`), if given.
    pub media_type: Option<String>,
}

/// Where a data asset is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetHref {
    /// A relative path: a storage key for an Item on the queue or posted over HTTP, a path
    /// relative to the Item file in the watch folder. Letters, digits and `-_:/.`, without
    /// empty, `.` or `..` segments (a leading `./` is dropped).
    Relative(FileName),
    /// An `s3://bucket/key` URL.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key in the bucket.
        key: String,
    },
    /// An `http://` or `https://` URL.
    Http(String),
}

impl fmt::Display for AssetHref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssetHref::Relative(path) => write!(f, "{path}"),
            AssetHref::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            AssetHref::Http(url) => f.write_str(url),
        }
    }
}

/// Why bytes are not a STAC Item pvs can register.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ItemError {
    /// Larger than [`MAX_ITEM_BYTES`].
    #[error("STAC Item of {0} bytes, more than the {MAX_ITEM_BYTES} accepted")]
    TooLarge(usize),
    /// Not JSON at all.
    #[error("STAC Item is not JSON: {0}")]
    Malformed(String),
    /// A field is missing or wrong.
    #[error("STAC Item field {field}: {reason}")]
    Field {
        /// The field, as a path: `geometry`, `properties.datetime`, `assets.data.href`...
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ItemError {
    /// The field at fault (`None` for an Item too large or not JSON).
    pub fn field(&self) -> Option<&str> {
        match self {
            ItemError::Field { field, .. } => Some(field),
            ItemError::TooLarge(_) | ItemError::Malformed(_) => None,
        }
    }

    fn field_error(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ItemError::Field {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Reads and validates a STAC Item.
///
/// `collection` is the collection the Item is registered into when the caller knows it
/// (the `{id}` of `POST /stac/collections/{id}/items`): the Item's own `collection`, if any,
/// must then be the same. Without it the Item's `collection` is required. Whether the
/// collection exists is for the caller to check.
///
/// Required: `type` `Feature`, `stac_version` 1.x, an `id`, a Polygon or MultiPolygon
/// `geometry` (lon/lat; a ring crossing the antimeridian is split there, polygons must not
/// overlap), `properties.datetime` or both `start_datetime` and `end_datetime` (RFC 3339), and
/// a data asset: the first asset with the role `data`, else the first raster (by media type,
/// else by the extension of its href) that is not a thumbnail, overview or metadata.
pub fn parse_item(json: &[u8], collection: Option<&str>) -> Result<ItemRegistration, ItemError> {
    if json.len() > MAX_ITEM_BYTES {
        return Err(ItemError::TooLarge(json.len()));
    }
    let value: Value =
        serde_json::from_slice(json).map_err(|error| ItemError::Malformed(error.to_string()))?;
    let Value::Object(object) = value else {
        return Err(ItemError::field_error(
            "(document)",
            "must be a JSON object (a GeoJSON Feature)",
        ));
    };
    check_envelope(&object)?;
    let footprint = footprint_of(object.get("geometry"))?;
    let properties = match object.get("properties") {
        Some(Value::Object(properties)) => properties,
        _ => {
            return Err(ItemError::field_error(
                "properties",
                "missing or not a JSON object",
            ));
        }
    };
    let (start, end) = times_of(properties)?;
    // Only now the typed view: the fields its deserialisation would refuse without naming
    // them have been checked above.
    let item: stac::Item = serde_json::from_value(Value::Object(object.clone()))
        .map_err(|error| ItemError::field_error("(item)", error.to_string()))?;
    check_id(&item.id)?;
    let collection = collection_of(item.collection.as_deref(), collection)?;
    let data = data_asset(&item.assets)?;
    let properties = properties
        .iter()
        .filter(|(name, _)| !TIME_PROPERTIES.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut object = object;
    // Named in the JSON too, so that the Item alone (a queue message) tells it; also over a
    // `"collection": null`, which `collection_of` took for no collection (found by the fuzz
    // target `stac_item`).
    object.insert("collection".to_owned(), Value::String(collection.clone()));
    Ok(ItemRegistration {
        id: item.id,
        collection,
        footprint,
        start,
        end,
        properties,
        data,
        item: object,
    })
}

impl ItemRegistration {
    /// The Item JSON (as given, naming its collection): the `register_queue` message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.item).expect("a JSON object always serialises")
    }

    /// The `preprocess_queue` message for this Item (its data is not a COG on storage):
    /// `{"item": {...}}`.
    pub fn preprocess_message(&self) -> String {
        serde_json::json!({ "item": self.item }).to_string()
    }

    /// The configuration of the Item's collection, and the browse type that selects it (so
    /// that a metadata document of the product, [`Self::metadata`], maps back to the same
    /// collection): the configured collection of that name or, when no collection is
    /// configured at all, one of that name with the defaults. `None`: not configured.
    pub fn collection_config(
        &self,
        collections: &Collections,
    ) -> Option<(String, CollectionConfig)> {
        if collections.collections.is_empty() {
            return collections.for_browse_type(&self.collection);
        }
        let config = collections.collections.get(&self.collection)?;
        let browse_type = config
            .browse_types
            .first()
            .cloned()
            .unwrap_or_else(|| self.collection.clone());
        Some((browse_type, config.clone()))
    }

    /// Where the product comes from, for its metadata document: the data asset's href, and a
    /// report of no name whose browse type is `browse_type` (see [`Self::collection_config`]).
    pub fn source_info(&self, browse_type: &str, at: DateTime<Utc>) -> SourceInfo {
        SourceInfo {
            file: self.data.href.to_string(),
            browse_identifier: None,
            report: ReportInfo {
                name: String::new(),
                responsible_org_name: String::new(),
                date_time: at,
                browse_type: browse_type.to_owned(),
            },
            merged_with: None,
        }
    }

    /// The metadata document of the product whose COG is `cog`: the Item's id, collection,
    /// footprint, times and properties, its source ([`Self::source_info`]), written at
    /// `processed_at`.
    pub fn metadata(
        &self,
        cog: CogInfo,
        browse_type: &str,
        processed_at: DateTime<Utc>,
    ) -> ProductMetadata {
        ProductMetadata {
            id: self.id.clone(),
            collection: self.collection.clone(),
            footprint: GeoJsonGeometry::from(&self.footprint),
            start: self.start,
            end: self.end,
            cog,
            source: self.source_info(browse_type, processed_at),
            processed_at,
            properties: self.properties.clone(),
            masks: Default::default(),
        }
    }

    /// Points the data asset at `href` (e.g. the storage key an asset beside an Item file was
    /// uploaded to), in [`Self::data`] and in the Item JSON alike.
    pub fn set_data_href(&mut self, href: AssetHref) {
        let text = href.to_string();
        if let Some(Value::Object(asset)) = self
            .item
            .get_mut("assets")
            .and_then(|assets| assets.get_mut(&self.data.name))
        {
            asset.insert("href".to_owned(), Value::String(text));
        }
        self.data.href = href;
    }
}

/// `type` and `stac_version`, which the typed view would refuse without naming them.
fn check_envelope(object: &Map<String, Value>) -> Result<(), ItemError> {
    match object.get("type") {
        Some(Value::String(kind)) if kind == "Feature" => {}
        Some(other) => {
            return Err(ItemError::field_error(
                "type",
                format!("must be \"Feature\" for an Item, not {other}"),
            ));
        }
        None => return Err(ItemError::field_error("type", "missing (\"Feature\")")),
    }
    match object.get("stac_version") {
        Some(Value::String(version)) if version.starts_with("1.") => Ok(()),
        Some(other) => Err(ItemError::field_error(
            "stac_version",
            format!("must be a STAC 1.x version such as \"1.1.0\", not {other}"),
        )),
        None => Err(ItemError::field_error("stac_version", "missing")),
    }
}

fn check_id(id: &str) -> Result<(), ItemError> {
    check_product_id(id).map_err(|reason| ItemError::field_error("id", reason))
}

/// Whether `id` can be a product id: 1 to [`MAX_ITEM_ID_CHARS`] letters, digits, `.`, `-`,
/// `_`, `:` or `#`, not starting with `.` (it names storage keys); if not, why.
pub(crate) fn check_product_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("missing or empty".to_owned());
    }
    let chars = id.chars().count();
    if chars > MAX_ITEM_ID_CHARS {
        return Err(format!(
            "{chars} characters, more than the {MAX_ITEM_ID_CHARS} allowed"
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '#');
    if id.starts_with('.') || !id.chars().all(allowed) {
        return Err(format!(
            "{id:?} may only contain letters, digits, '.', '-', '_', ':' or '#' and must not \
             start with '.' (it names the product's files on storage)"
        ));
    }
    Ok(())
}

fn collection_of(in_item: Option<&str>, asked: Option<&str>) -> Result<String, ItemError> {
    match (in_item, asked) {
        (Some(""), _) => Err(ItemError::field_error("collection", "empty")),
        (Some(in_item), Some(asked)) if in_item != asked => Err(ItemError::field_error(
            "collection",
            format!("the Item is of collection {in_item:?}, not {asked:?}"),
        )),
        (_, Some(asked)) => Ok(asked.to_owned()),
        (Some(in_item), None) => Ok(in_item.to_owned()),
        (None, None) => Err(ItemError::field_error(
            "collection",
            "missing: the Item must name its collection",
        )),
    }
}

/// The footprint of a Polygon or MultiPolygon geometry.
fn footprint_of(geometry: Option<&Value>) -> Result<MultiPolygon<f64>, ItemError> {
    let error = |reason: String| ItemError::field_error("geometry", reason);
    let geometry = match geometry {
        None | Some(Value::Null) => {
            return Err(error(
                "missing: a Polygon or MultiPolygon footprint is required".to_owned(),
            ));
        }
        Some(geometry) => geometry,
    };
    let geometry: geojson::Geometry = serde_json::from_value(geometry.clone())
        .map_err(|problem| error(format!("not a GeoJSON geometry: {problem}")))?;
    let polygons: Vec<&Vec<Vec<Position>>> = match &geometry.value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        other => {
            return Err(error(format!(
                "a {}, not a Polygon or MultiPolygon",
                other.type_name()
            )));
        }
    };
    let positions: usize = polygons
        .iter()
        .flat_map(|rings| rings.iter())
        .map(Vec::len)
        .sum();
    if positions > MAX_ITEM_POSITIONS {
        return Err(error(format!(
            "{positions} positions, more than the {MAX_ITEM_POSITIONS} accepted"
        )));
    }
    if polygons.is_empty() {
        return Err(error("a MultiPolygon without polygons".to_owned()));
    }
    let mut footprint = MultiPolygon::new(Vec::new());
    for (index, rings) in polygons.iter().enumerate() {
        let part = polygon_footprint(rings)
            .map_err(|(ring, reason)| error(format!("polygon {index}, ring {ring}: {reason}")))?;
        footprint.0.extend(part.0);
    }
    if let Err(problem) = footprint.check_validation() {
        return Err(error(format!(
            "its polygons do not form a valid footprint (they overlap?): {problem}"
        )));
    }
    Ok(footprint)
}

/// One GeoJSON polygon (exterior ring, then holes) as a footprint; on error, the ring at fault
/// and why.
fn polygon_footprint(rings: &[Vec<Position>]) -> Result<MultiPolygon<f64>, (usize, String)> {
    let rings = rings
        .iter()
        .enumerate()
        .map(|(index, ring)| {
            ring.iter()
                .enumerate()
                .map(|(position, coordinates)| match coordinates.as_slice() {
                    [lon, lat, ..] => Ok((*lon, *lat)),
                    short => Err((
                        index,
                        format!(
                            "position {position} has {} coordinate(s), not longitude and latitude",
                            short.len()
                        ),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    footprint_from_rings(&rings)
}

/// `start_datetime`/`end_datetime`, else `datetime` for both.
fn times_of(properties: &Map<String, Value>) -> Result<(DateTime<Utc>, DateTime<Utc>), ItemError> {
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, ItemError> {
        let field = format!("properties.{name}");
        match properties.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
                .map(|time| Some(time.with_timezone(&Utc)))
                .map_err(|problem| {
                    ItemError::field_error(
                        field,
                        format!(
                            "{text:?} is not an RFC 3339 date and time \
                             (YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)): {problem}"
                        ),
                    )
                }),
            Some(other) => Err(ItemError::field_error(
                field,
                format!("must be an RFC 3339 string, not {other}"),
            )),
        }
    };
    let datetime = time("datetime")?;
    let start = time("start_datetime")?;
    let end = time("end_datetime")?;
    match (start, end, datetime) {
        (Some(start), Some(end), _) if start > end => Err(ItemError::field_error(
            "properties.end_datetime",
            format!(
                "{} is before start_datetime {}",
                end.to_rfc3339(),
                start.to_rfc3339()
            ),
        )),
        (Some(start), Some(end), _) => Ok((start, end)),
        (Some(_), None, _) => Err(ItemError::field_error(
            "properties.end_datetime",
            "missing while start_datetime is given",
        )),
        (None, Some(_), _) => Err(ItemError::field_error(
            "properties.start_datetime",
            "missing while end_datetime is given",
        )),
        (None, None, Some(datetime)) => Ok((datetime, datetime)),
        (None, None, None) => Err(ItemError::field_error(
            "properties.datetime",
            "missing: an Item needs datetime, or start_datetime and end_datetime",
        )),
    }
}

/// The asset with the role `data`, else the first raster asset that is not a thumbnail,
/// overview or metadata.
fn data_asset<'a>(
    assets: impl IntoIterator<Item = (&'a String, &'a stac::Asset)> + Clone,
) -> Result<DataAsset, ItemError> {
    let with_role = assets
        .clone()
        .into_iter()
        .find(|(_, asset)| asset.roles.iter().any(|role| role == "data"));
    let raster = || {
        assets.clone().into_iter().find(|(_, asset)| {
            let excluded = asset
                .roles
                .iter()
                .any(|role| NOT_DATA_ROLES.contains(&role.as_str()));
            !excluded && is_raster(asset)
        })
    };
    let Some((name, asset)) = with_role.or_else(raster) else {
        return Err(ItemError::field_error(
            "assets",
            "no data asset: none has the role \"data\" or is a raster (GeoTIFF, JPEG 2000, \
             PNG, JPEG, WebP by its type or file extension)",
        ));
    };
    let href = asset_href(&asset.href)
        .map_err(|reason| ItemError::field_error(format!("assets.{name}.href"), reason))?;
    Ok(DataAsset {
        name: name.clone(),
        href,
        media_type: asset.r#type.clone(),
    })
}

fn is_raster(asset: &stac::Asset) -> bool {
    match &asset.r#type {
        Some(media_type) => {
            let essence = media_type.split(';').next().unwrap_or_default().trim();
            RASTER_MEDIA_TYPES
                .iter()
                .any(|raster| essence.eq_ignore_ascii_case(raster))
        }
        None => {
            let path = asset.href.split(['?', '#']).next().unwrap_or_default();
            let path = path.to_ascii_lowercase();
            RASTER_EXTENSIONS
                .iter()
                .any(|extension| path.ends_with(extension))
        }
    }
}

fn asset_href(href: &str) -> Result<AssetHref, String> {
    if href.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{href:?} contains whitespace"));
    }
    if let Some(rest) = href.strip_prefix("s3://") {
        return match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(AssetHref::S3 {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            }),
            _ => Err(format!("{href:?} is not s3://bucket/key")),
        };
    }
    if href.starts_with("http://") || href.starts_with("https://") {
        return Ok(AssetHref::Http(href.to_owned()));
    }
    if href.contains("://") {
        return Err(format!(
            "{href:?}: only s3://, http(s):// and relative paths are accepted"
        ));
    }
    let relative = href.strip_prefix("./").unwrap_or(href);
    FileName::new(relative).map(AssetHref::Relative)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, BoundingRect, CoordsIter};
    use proptest::prelude::*;
    use serde_json::json;

    /// A good Item (STAC 1.1, a COG asset with the role `data` and a thumbnail).
    fn good() -> Value {
        json!({
            "type": "Feature",
            "stac_version": "1.1.0",
            "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
            "id": "S2B_MSIL2A_20240501T103619_T32TLT",
            "collection": "S2L2A",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[6.0, 45.0], [7.0, 45.0], [7.0, 46.0], [6.0, 46.0], [6.0, 45.0]]]
            },
            "bbox": [6.0, 45.0, 7.0, 46.0],
            "properties": {
                "datetime": "2024-05-01T10:36:19.024Z",
                "eo:cloud_cover": 12.5,
                "platform": "sentinel-2b",
                "created": "2024-05-01T12:00:00Z"
            },
            "links": [],
            "assets": {
                "thumbnail": {"href": "thumb.png", "type": "image/png", "roles": ["thumbnail"]},
                "visual": {
                    "href": "s2/visual.tif",
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "roles": ["data"]
                }
            }
        })
    }

    fn parse(item: &Value, collection: Option<&str>) -> Result<ItemRegistration, ItemError> {
        parse_item(item.to_string().as_bytes(), collection)
    }

    /// `good()` changed at a JSON pointer (`None` removes the member).
    fn changed(pointer: &str, value: Option<Value>) -> Value {
        let mut item = good();
        let (parent, member) = pointer.rsplit_once('/').unwrap();
        let parent = item.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(value) => parent.insert(member.to_owned(), value),
            None => parent.remove(member),
        };
        item
    }

    /// Found by the fuzz target `stac_item`: an Item posted to a collection with
    /// `"collection": null` was accepted, but its queue message named no collection, so the
    /// registrar refused it.
    #[test]
    fn a_null_collection_is_the_one_asked_for_in_the_message_too() {
        for without in [
            changed("/collection", Some(Value::Null)),
            changed("/collection", None),
        ] {
            let registration = parse(&without, Some("S2L2A")).unwrap();
            assert_eq!(registration.collection, "S2L2A");
            let again = parse_item(registration.to_json().as_bytes(), None)
                .expect("the message names its collection");
            assert_eq!(again, registration);
        }
    }

    #[test]
    fn a_good_item_gives_its_registration() {
        let registration = parse(&good(), None).unwrap();
        assert_eq!(registration.id, "S2B_MSIL2A_20240501T103619_T32TLT");
        assert_eq!(registration.collection, "S2L2A");
        assert_eq!(registration.footprint.unsigned_area(), 1.0);
        let instant: DateTime<Utc> = "2024-05-01T10:36:19.024Z".parse().unwrap();
        assert_eq!((registration.start, registration.end), (instant, instant));
        assert_eq!(
            Value::Object(registration.properties.clone()),
            json!({"eo:cloud_cover": 12.5, "platform": "sentinel-2b",
                   "created": "2024-05-01T12:00:00Z"})
        );
        assert_eq!(registration.data.name, "visual");
        assert_eq!(
            registration.data.href,
            AssetHref::Relative(FileName::new("s2/visual.tif").unwrap())
        );
        assert_eq!(Value::Object(registration.item.clone()), good());
        // Asked for the collection the Item names: the same.
        assert_eq!(parse(&good(), Some("S2L2A")).unwrap(), registration);
    }

    #[test]
    fn an_interval_a_multipolygon_and_hrefs_of_every_kind() {
        let mut item = changed("/properties/datetime", Some(Value::Null));
        let properties = item["properties"].as_object_mut().unwrap();
        properties.insert("start_datetime".into(), json!("2024-05-01T10:00:00+02:00"));
        properties.insert("end_datetime".into(), json!("2024-05-01T08:30:00Z"));
        item["geometry"] = json!({"type": "MultiPolygon", "coordinates": [
            [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]],
            [[[2.0, 0.0], [3.0, 0.0], [3.0, 1.0], [2.0, 0.0]]]
        ]});
        item.as_object_mut().unwrap().remove("collection");
        let registration = parse(&item, Some("other")).unwrap();
        assert_eq!(registration.collection, "other");
        assert_eq!(registration.item["collection"], "other");
        assert_eq!(
            parse_item(registration.to_json().as_bytes(), None).unwrap(),
            registration
        );
        assert_eq!(registration.start.to_rfc3339(), "2024-05-01T08:00:00+00:00");
        assert_eq!(registration.end.to_rfc3339(), "2024-05-01T08:30:00+00:00");
        assert_eq!(registration.footprint.0.len(), 2);
        assert!(!registration.properties.contains_key("datetime"));

        for (href, expected) in [
            (
                "s3://bucket/a/b.tif",
                AssetHref::S3 {
                    bucket: "bucket".into(),
                    key: "a/b.tif".into(),
                },
            ),
            (
                "https://example.com/x.tif?sig=1",
                AssetHref::Http("https://example.com/x.tif?sig=1".into()),
            ),
            (
                "./x.tif",
                AssetHref::Relative(FileName::new("x.tif").unwrap()),
            ),
        ] {
            let item = changed("/assets/visual/href", Some(json!(href)));
            assert_eq!(parse(&item, None).unwrap().data.href, expected, "{href}");
        }
    }

    #[test]
    fn a_geometry_across_the_antimeridian_is_split_and_holes_are_kept() {
        let item = changed(
            "/geometry",
            Some(json!({"type": "Polygon", "coordinates": [[
                [170.0, 10.0], [-170.0, 10.0], [-170.0, 20.0], [170.0, 20.0], [170.0, 10.0]
            ]]})),
        );
        let footprint = parse(&item, None).unwrap().footprint;
        assert_eq!(footprint.0.len(), 2);
        assert!(footprint.coords_iter().all(|c| c.x.abs() <= 180.0));
        assert!((footprint.unsigned_area() - 200.0).abs() < 1e-6);

        let item = changed(
            "/geometry",
            Some(json!({"type": "Polygon", "coordinates": [
                [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]],
                [[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0], [1.0, 1.0]]
            ]})),
        );
        let footprint = parse(&item, None).unwrap().footprint;
        assert!((footprint.unsigned_area() - 15.0).abs() < 1e-6);
        let bounds = footprint.bounding_rect().unwrap();
        assert_eq!((bounds.min().x, bounds.max().y), (0.0, 4.0));
    }

    #[test]
    fn the_data_asset_is_the_data_role_else_the_first_raster() {
        let item = changed("/assets/visual/roles", None);
        let registration = parse(&item, None).unwrap();
        // The thumbnail is a PNG but never the data.
        assert_eq!(registration.data.name, "visual");

        let mut item = good();
        item["assets"] = json!({
            "metadata": {"href": "m.xml", "type": "application/xml"},
            "image": {"href": "b.JP2"},
            "data": {"href": "d.tif", "type": "image/tiff", "roles": ["data"]}
        });
        assert_eq!(parse(&item, None).unwrap().data.name, "data");
        item["assets"]["data"]["roles"] = json!([]);
        assert_eq!(parse(&item, None).unwrap().data.name, "image");
    }

    #[test]
    fn set_data_href_changes_the_item_too() {
        let mut registration = parse(&good(), None).unwrap();
        let key = AssetHref::Relative(FileName::new("incoming/s2/visual.tif").unwrap());
        registration.set_data_href(key.clone());
        assert_eq!(registration.data.href, key);
        assert_eq!(
            registration.item["assets"]["visual"]["href"],
            "incoming/s2/visual.tif"
        );
        let again = parse_item(registration.to_json().as_bytes(), None).unwrap();
        assert_eq!(again.data.href, key);
    }

    #[test]
    fn collection_metadata_and_messages() {
        let registration = parse(&good(), None).unwrap();
        // Without a configuration: a collection of its own name.
        let (browse_type, _) = registration
            .collection_config(&Collections::default())
            .unwrap();
        assert_eq!(browse_type, "S2L2A");
        let collections = Collections::from_toml(
            "[collections.S2L2A]\nbrowse_types = [\"S2_MSI\"]\n[collections.other]\n",
        )
        .unwrap();
        let (browse_type, config) = registration.collection_config(&collections).unwrap();
        assert_eq!(browse_type, "S2_MSI");
        assert_eq!(
            collections.for_browse_type(&browse_type).unwrap(),
            ("S2L2A".to_owned(), config)
        );
        let elsewhere = parse(&changed("/collection", Some(json!("S1"))), None).unwrap();
        assert_eq!(elsewhere.collection_config(&collections), None);

        let at: DateTime<Utc> = "2024-05-02T00:00:00Z".parse().unwrap();
        let cog = CogInfo {
            key: "s2/visual.tif".into(),
            size_bytes: 10,
            width: 1,
            height: 1,
            bands: 1,
            alpha: false,
            crs: "EPSG:4326".into(),
            bbox: [6.0, 45.0, 7.0, 46.0],
            resolution: [1.0, 1.0],
        };
        let metadata = registration.metadata(cog.clone(), "S2_MSI", at);
        assert_eq!(metadata.id, registration.id);
        assert_eq!(metadata.collection, "S2L2A");
        assert_eq!(
            MultiPolygon::from(&metadata.footprint),
            registration.footprint
        );
        assert_eq!(
            (metadata.start, metadata.end),
            (registration.start, registration.end)
        );
        assert_eq!(metadata.properties, registration.properties);
        assert_eq!(metadata.cog, cog);
        assert_eq!(metadata.source.file, "s2/visual.tif");
        assert_eq!(metadata.source.report.browse_type, "S2_MSI");

        let message: Value = serde_json::from_str(&registration.preprocess_message()).unwrap();
        assert_eq!(message, json!({ "item": good() }));
    }

    #[test]
    fn bad_items_name_their_field() {
        let point = json!({"type": "Point", "coordinates": [1.0, 2.0]});
        let open_ring = json!({"type": "Polygon",
            "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]});
        let short_position = json!({"type": "Polygon",
            "coordinates": [[[0.0, 0.0], [1.0], [1.0, 1.0], [0.0, 0.0]]]});
        let overlapping = json!({"type": "MultiPolygon", "coordinates": [
            [[[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]]],
            [[[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0], [1.0, 1.0]]]]});
        let huge: Vec<[f64; 2]> = (0..MAX_ITEM_POSITIONS)
            .map(|i| [i as f64 * 1e-4, 0.0])
            .chain([[0.0, 1.0], [0.0, 0.0]])
            .collect();
        let huge = json!({"type": "Polygon", "coordinates": [huge]});
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                changed("/type", Some(json!("Collection"))),
                "type",
                "Feature",
            ),
            (changed("/stac_version", None), "stac_version", "missing"),
            (
                changed("/stac_version", Some(json!("0.9.0"))),
                "stac_version",
                "1.x",
            ),
            (changed("/id", None), "id", "missing"),
            (changed("/id", Some(json!("a/b"))), "id", "may only contain"),
            (
                changed("/id", Some(json!("x".repeat(256)))),
                "id",
                "256 characters",
            ),
            (changed("/collection", None), "collection", "missing"),
            (changed("/geometry", None), "geometry", "missing"),
            (
                changed("/geometry", Some(Value::Null)),
                "geometry",
                "missing",
            ),
            (changed("/geometry", Some(point)), "geometry", "Point"),
            (
                changed("/geometry", Some(json!({"type": "Polygon"}))),
                "geometry",
                "GeoJSON",
            ),
            (
                changed("/geometry", Some(open_ring)),
                "geometry",
                "not closed",
            ),
            (
                changed("/geometry", Some(short_position)),
                "geometry",
                "1 coordinate",
            ),
            (
                changed("/geometry", Some(overlapping)),
                "geometry",
                "overlap",
            ),
            (
                changed("/geometry", Some(huge)),
                "geometry",
                "more than the 10000",
            ),
            (changed("/properties", None), "properties", "missing"),
            (
                changed("/properties/datetime", None),
                "properties.datetime",
                "missing",
            ),
            (
                changed("/properties/datetime", Some(json!("2024-05-01 10:00"))),
                "properties.datetime",
                "RFC 3339",
            ),
            (
                changed("/properties/datetime", Some(json!("2024-05-01T10:00:00"))),
                "properties.datetime",
                "RFC 3339",
            ),
            (
                changed("/properties/datetime", Some(json!(1714557379))),
                "properties.datetime",
                "string",
            ),
            (
                changed(
                    "/properties/start_datetime",
                    Some(json!("2024-05-01T10:00:00Z")),
                ),
                "properties.end_datetime",
                "missing",
            ),
            (
                changed("/assets", Some(json!({}))),
                "assets",
                "no data asset",
            ),
            (
                changed("/assets/visual/href", Some(json!("../up.tif"))),
                "assets.visual.href",
                "'..'",
            ),
            (
                changed("/assets/visual/href", Some(json!("file:///etc/x.tif"))),
                "assets.visual.href",
                "only s3://",
            ),
            (
                changed("/assets/visual/href", Some(json!("s3://bucket"))),
                "assets.visual.href",
                "s3://bucket/key",
            ),
        ];
        for (item, field, reason) in cases {
            let error = parse(&item, None).unwrap_err();
            assert_eq!(error.field(), Some(field), "{error}");
            assert!(
                error.to_string().contains(reason),
                "{error} lacks {reason:?}"
            );
        }
        let mut interval = changed("/properties/datetime", None);
        interval["properties"]["start_datetime"] = json!("2024-05-02T00:00:00Z");
        interval["properties"]["end_datetime"] = json!("2024-05-01T00:00:00Z");
        let error = parse(&interval, None).unwrap_err();
        assert_eq!(error.field(), Some("properties.end_datetime"), "{error}");

        let error = parse(&good(), Some("other")).unwrap_err();
        assert_eq!(error.field(), Some("collection"));
        assert!(
            error.to_string().contains("\"S2L2A\", not \"other\""),
            "{error}"
        );
    }

    #[test]
    fn what_is_not_an_item_at_all() {
        assert!(matches!(
            parse_item(b"{\"type\": ", None),
            Err(ItemError::Malformed(_))
        ));
        assert!(matches!(
            parse_item(b"S2L2A/x/x.json", None),
            Err(ItemError::Malformed(_))
        ));
        let error = parse_item(b"[1, 2]", None).unwrap_err();
        assert_eq!(error.field(), Some("(document)"));
        let large = vec![b' '; MAX_ITEM_BYTES + 1];
        assert_eq!(
            parse_item(&large, None).unwrap_err(),
            ItemError::TooLarge(MAX_ITEM_BYTES + 1)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_item(&bytes, None);
        }

        /// Mutating any one member of a good Item to an arbitrary JSON value never panics.
        #[test]
        fn arbitrary_members_never_panic(
            pointer in proptest::sample::select(vec![
                "/geometry/coordinates", "/geometry/coordinates/0", "/geometry/coordinates/0/1",
                "/properties/datetime", "/assets/visual", "/assets/visual/roles", "/id",
                "/collection", "/assets", "/properties", "/stac_version",
            ]),
            value in arbitrary_json(),
        ) {
            let mut item = good();
            if let Some(slot) = item.pointer_mut(pointer) {
                *slot = value;
            }
            let _ = parse(&item, None);
            let _ = parse(&item, Some("S2L2A"));
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }
}
