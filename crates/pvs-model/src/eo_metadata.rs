//! The EO metadata documents that product packages carry: EO O&M (OGC 10-157, versions 2.0
//! and 2.1: `eop:`, `opt:`, `sar:`, `atm:`, `alt:`, `lmb:`, `ssp:EarthObservation`) and the
//! ESA Ground Segment Coordination format of PRISM packages (`gsc:report`).
//! [`parse_eo_metadata`] reads either into an [`EoMetadata`]: id, acquisition times,
//! footprint and the EO properties under their STAC names, or an [`EoMetadataError`] naming
//! what is missing or wrong and where.
//!
//! Where each value is read, relative to the `EarthObservation` element (O&M) or to the
//! `gsc:opt_metadata` / `gsc:sar_metadata` element (GSC):
//!
//! | Value | EO O&M 2.0 / 2.1 | GSC |
//! |---|---|---|
//! | id | `eop:metaDataProperty/eop:EarthObservationMetaData/eop:identifier` | `gml:metaDataProperty/gsc:EarthObservationMetaData/eop:identifier` |
//! | times | `om:phenomenonTime/gml:TimePeriod/gml:beginPosition`, `gml:endPosition` (or a `gml:TimeInstant/gml:timePosition`) | `gml:validTime/...` likewise |
//! | footprint | `om:featureOfInterest/eop:Footprint/eop:multiExtentOf/gml:MultiSurface` | `gml:target/eop:Footprint/gml:multiExtentOf/gml:MultiSurface` |
//! | equipment | `om:procedure/eop:EarthObservationEquipment` | `gml:using/eop:EarthObservationEquipment` |
//! | result | `om:result/eop:EarthObservationResult` | `gml:resultOf/eop:EarthObservationResult` |
//!
//! The thematic namespaces stand in for one another (`sar:Acquisition` where `eop:Acquisition`
//! is written above, `opt:EarthObservationResult`...), of either version (`.../eop/2.0`,
//! `.../eop/2.1`, and for GSC `http://earth.esa.int/eop`...); GML is 3.2 or 3.1.1. The
//! footprint's `gml:posList` (or `gml:pos` list) is read as EPSG:4326 **latitude longitude**
//! pairs and swapped to lon/lat; polygons (`gml:surfaceMember` or `gml:surfaceMembers`) may be
//! several and have holes (`gml:interior`). The properties are listed at [`EoMetadata`].

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use geo::{MultiPolygon, Validation};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::footprint::footprint_from_rings;
use crate::stac_item::{MAX_ITEM_POSITIONS, check_product_id};
use crate::time::parse_date_time;
use crate::xml::{Element, XmlError, parse_document};

/// The largest EO metadata document read, in bytes (16 MiB: real ones are a few kilobytes,
/// a detailed footprint some hundreds).
pub const MAX_EO_METADATA_BYTES: usize = 16 << 20;

/// The namespace of GSC documents.
pub const GSC_NS: &str = "http://earth.esa.int/gsc";

/// The XLink namespace (`xlink:href` of `ows:ServiceReference`).
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

/// The thematic EO namespaces' short names, as in `http://www.opengis.net/<name>/2.0`.
const EO_THEMES: [&str; 7] = ["eop", "opt", "sar", "atm", "alt", "lmb", "ssp"];

/// Which kind of document an [`EoMetadata`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EoFormat {
    /// EO O&M 2.0 (`http://www.opengis.net/eop/2.0` and its thematic namespaces).
    EoOm20,
    /// EO O&M 2.1 (`http://www.opengis.net/eop/2.1`...).
    EoOm21,
    /// GSC (`gsc:report`, `http://earth.esa.int/gsc`).
    Gsc,
}

impl fmt::Display for EoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EoFormat::EoOm20 => "EO O&M 2.0",
            EoFormat::EoOm21 => "EO O&M 2.1",
            EoFormat::Gsc => "GSC",
        })
    }
}

/// What an EO O&M or GSC document says about its product.
///
/// `properties` holds, when the document gives them (paths relative to the equipment,
/// the acquisition `.../eop:acquisitionParameters/eop:Acquisition`, the metadata
/// `...EarthObservationMetaData` and the result `.../eop:EarthObservationResult`):
///
/// | Property | From |
/// |---|---|
/// | `platform` | platform `shortName` and `serialIdentifier`, lower case, joined by `-` unless the short name ends with a digit (`Sentinel-2` + `A`: `sentinel-2a`; `SPOT` + `6`: `spot-6`) |
/// | `constellation` | platform `shortName`, lower case (only with a `serialIdentifier`) |
/// | `eop:platformSerialIdentifier` | platform `serialIdentifier`, as written (`A`) |
/// | `instruments` | `[instrument shortName]`, as written (EOxServer's `instrument`) |
/// | `sar:instrument_mode` | sensor `operationalMode` |
/// | `eop:sensorType` | sensor `sensorType` |
/// | `sat:absolute_orbit` | acquisition `orbitNumber` (a whole number) |
/// | `sat:orbit_state` | acquisition `orbitDirection`: `ascending` or `descending` |
/// | `sat:relative_orbit` | acquisition `wrsLongitudeGrid` (the track) when a whole number; else it is kept as text in `eop:track` |
/// | `eop:frame` | acquisition `wrsLatitudeGrid` |
/// | `view:sun_azimuth` | acquisition `illuminationAzimuthAngle` (degrees, a negative one turned into [0, 360)) |
/// | `view:sun_elevation` | acquisition `illuminationElevationAngle`, else 90 − `illuminationZenithAngle` |
/// | `view:incidence_angle` | acquisition `incidenceAngle` |
/// | `eop:minimumIncidenceAngle`, `eop:maximumIncidenceAngle`, `eop:incidenceAngleVariation` | acquisition (`sar:Acquisition`) `minimumIncidenceAngle`, `maximumIncidenceAngle`, `incidenceAngleVariation` (degrees) |
/// | `eop:polarisationMode` | acquisition `polarisationMode` |
/// | `sar:polarizations` | acquisition `polarisationChannels` (`HH, HV`), split |
/// | `eop:acquisitionType` | metadata `acquisitionType` |
/// | `product:type` | metadata `productType` |
/// | `processing:level` | metadata `processing/ProcessingInformation/processingLevel` |
/// | `created` | metadata `processing/ProcessingInformation/processingDate`, else `creationDate` (RFC 3339) |
/// | `published` | `om:resultTime/gml:TimeInstant/gml:timePosition`: the availability time (O&M) |
/// | `eo:cloud_cover` | result `cloudCoverPercentage` (0 to 100) |
/// | `eo:snow_cover` | result `snowCoverPercentage` (0 to 100) |
#[derive(Debug, Clone, PartialEq)]
pub struct EoMetadata {
    /// The kind of document.
    pub format: EoFormat,
    /// The product id (`eop:identifier`), a valid product id (as for STAC Items).
    pub id: String,
    /// The footprint: a valid EPSG:4326 lon/lat `MultiPolygon` split at the antimeridian,
    /// as [`crate::Footprint::Wgs84`] holds it.
    pub footprint: MultiPolygon<f64>,
    /// Start of the acquisition, UTC.
    pub start: DateTime<Utc>,
    /// End of the acquisition, UTC (the start for a time instant).
    pub end: DateTime<Utc>,
    /// The EO properties under their STAC names (see above).
    pub properties: Map<String, Value>,
    /// The product's files the document names (`eop:product/eop:ProductInformation/
    /// eop:fileName`, its text or its `ows:ServiceReference/@xlink:href`), as written.
    pub data_files: Vec<String>,
    /// The browse images it names (`eop:browse/eop:BrowseInformation/eop:fileName`, all
    /// types: quick-looks, thumbnails), as written: never the product's data.
    pub browse_files: Vec<String>,
}

impl EoMetadata {
    /// The product type (`eop:productType`), if the document gives one.
    pub fn product_type(&self) -> Option<&str> {
        self.properties.get("product:type").and_then(Value::as_str)
    }

    /// Which of `rasters` (paths or file names, with their sizes in bytes) holds the
    /// product's data, as an index into `rasters`: the first the document names as the
    /// product's file ([`Self::data_files`], compared by file name ignoring case); else the
    /// largest (the first of equals) of those it does not name as a browse
    /// ([`Self::browse_files`]). A browse the document names is never picked. `Err` says why
    /// none can be.
    pub fn pick_raster(&self, rasters: &[(&str, u64)]) -> Result<usize, String> {
        let base = |path: &str| path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        let names: Vec<String> = rasters.iter().map(|(path, _)| base(path)).collect();
        let listed = |files: &[String], name: &str| files.iter().any(|file| base(file) == name);
        let browse = |index: &usize| listed(&self.browse_files, &names[*index]);
        if let Some(named) = (0..rasters.len())
            .filter(|index| !browse(index))
            .find(|&index| listed(&self.data_files, &names[index]))
        {
            return Ok(named);
        }
        (0..rasters.len())
            .filter(|index| !browse(index))
            .rev()
            .max_by_key(|&index| rasters[index].1)
            .ok_or_else(|| {
                if rasters.is_empty() {
                    "there is no raster".to_owned()
                } else {
                    format!(
                        "every raster ({}) is a browse the document names, not the product",
                        rasters
                            .iter()
                            .map(|(path, _)| *path)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            })
    }
}

/// Why bytes are not an EO metadata document pvs can use.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EoMetadataError {
    /// Larger than [`MAX_EO_METADATA_BYTES`].
    #[error("EO metadata document of {0} bytes, more than the {MAX_EO_METADATA_BYTES} accepted")]
    TooLarge(usize),
    /// Not readable as (safe) XML.
    #[error("EO metadata document is not readable XML: {0}")]
    Xml(#[from] XmlError),
    /// XML, but neither EO O&M nor GSC: the document is about something else.
    #[error(
        "root element {found} is not an EO O&M EarthObservation (eop, opt, sar, atm, alt, lmb, \
         ssp; 2.0 or 2.1) nor a GSC report ({GSC_NS})"
    )]
    NotEoMetadata {
        /// `{namespace}localName` of the root found.
        found: String,
    },
    /// A required element is missing or empty.
    #[error("{format} document without {what} ({path})")]
    Missing {
        /// The kind of document.
        format: EoFormat,
        /// What is missing: `a footprint`, `an identifier`...
        what: &'static str,
        /// Where it was looked for, from the root.
        path: String,
    },
    /// An element is there but its value cannot be used.
    #[error("{format} document: {path}: {reason}")]
    Invalid {
        /// The kind of document.
        format: EoFormat,
        /// The element, from the root.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads an EO O&M 2.0/2.1 or GSC document (see the module documentation).
///
/// Required: the identifier, the times and the footprint. The properties are optional,
/// but a property that is there must be valid (a number where one is expected, a
/// percentage within 0 to 100...).
pub fn parse_eo_metadata(bytes: &[u8]) -> Result<EoMetadata, EoMetadataError> {
    if bytes.len() > MAX_EO_METADATA_BYTES {
        return Err(EoMetadataError::TooLarge(bytes.len()));
    }
    let root = parse_document(bytes)?;
    let uri = root.ns_uri.as_deref().unwrap_or_default();
    let (format, base, node) = if uri == GSC_NS && root.name == "report" {
        let Some(node) = root
            .children
            .iter()
            .find(|child| family(child) == Family::Gsc && child.name.ends_with("_metadata"))
        else {
            return Err(EoMetadataError::Missing {
                format: EoFormat::Gsc,
                what: "an EarthObservation",
                path: "gsc:report/gsc:opt_metadata (or gsc:sar_metadata)".to_owned(),
            });
        };
        (EoFormat::Gsc, format!("gsc:report/gsc:{}", node.name), node)
    } else {
        let format = match eo_version(uri) {
            Some("2.0") if root.name == "EarthObservation" => EoFormat::EoOm20,
            Some("2.1") if root.name == "EarthObservation" => EoFormat::EoOm21,
            _ => {
                return Err(EoMetadataError::NotEoMetadata {
                    found: format!("{{{uri}}}{}", root.name),
                });
            }
        };
        let prefix = uri
            .trim_end_matches('/')
            .rsplit('/')
            .nth(1)
            .unwrap_or("eop");
        (format, format!("{prefix}:EarthObservation"), &root)
    };
    Reader {
        format,
        base,
        layout: if format == EoFormat::Gsc {
            &GSC
        } else {
            &EO_OM
        },
    }
    .read(node)
}

/// The version (`2.0`, `2.1`) of a thematic EO O&M namespace URI.
fn eo_version(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("http://www.opengis.net/")?;
    let (theme, version) = rest.split_once('/')?;
    (EO_THEMES.contains(&theme) && matches!(version, "2.0" | "2.1")).then_some(version)
}

/// The namespaces told apart; a path step names one by its usual prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Gml,
    Om,
    /// Any thematic EO namespace (`eop`, `opt`, `sar`...) of any version.
    Eo,
    Gsc,
    Ows,
    Other,
}

fn family(element: &Element) -> Family {
    let Some(uri) = element.ns_uri.as_deref() else {
        return Family::Other;
    };
    match uri {
        "http://www.opengis.net/gml/3.2" | "http://www.opengis.net/gml" => Family::Gml,
        "http://www.opengis.net/om/2.0" | "http://www.opengis.net/om/1.0" => Family::Om,
        GSC_NS => Family::Gsc,
        "http://www.opengis.net/ows/2.0" | "http://www.opengis.net/ows/1.1" => Family::Ows,
        _ if eo_version(uri).is_some() => Family::Eo,
        _ => match uri.strip_prefix("http://earth.esa.int/") {
            Some(theme) if EO_THEMES.contains(&theme) => Family::Eo,
            _ => Family::Other,
        },
    }
}

fn prefix_family(prefix: &str) -> Family {
    match prefix {
        "gml" => Family::Gml,
        "om" => Family::Om,
        "gsc" => Family::Gsc,
        "ows" => Family::Ows,
        _ => Family::Eo,
    }
}

/// Whether `element` is the path step `step` (`prefix:name`, or `a|b:name` for either
/// prefix).
fn is_step(element: &Element, step: &str) -> bool {
    let (prefixes, name) = step.split_once(':').unwrap_or(("", step));
    element.name == name
        && prefixes
            .split('|')
            .any(|prefix| prefix_family(prefix) == family(element))
}

/// Every element reached from `element` by `path` (steps separated by `/`), in document
/// order.
fn find_all<'a>(element: &'a Element, path: &str) -> Vec<&'a Element> {
    let mut found = vec![element];
    for step in path.split('/').filter(|step| !step.is_empty()) {
        found = found
            .into_iter()
            .flat_map(|parent| parent.children.iter().filter(|child| is_step(child, step)))
            .collect();
    }
    found
}

fn find<'a>(element: &'a Element, path: &str) -> Option<&'a Element> {
    find_all(element, path).into_iter().next()
}

/// A path as error messages show it: the first of alternative prefixes.
fn shown(path: &str) -> String {
    path.split('/')
        .map(|step| match step.split_once(':') {
            Some((prefixes, name)) => {
                format!("{}:{name}", prefixes.split('|').next().unwrap_or(prefixes))
            }
            None => step.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a format keeps things, relative to its EarthObservation element.
struct Layout {
    metadata: &'static str,
    time: &'static str,
    equipment: &'static str,
    result: &'static str,
    /// The availability time, if the format has one.
    result_time: Option<&'static str>,
    footprint: &'static str,
    multi_surface: &'static str,
}

const EO_OM: Layout = Layout {
    metadata: "eop:metaDataProperty/eop:EarthObservationMetaData",
    time: "om:phenomenonTime",
    equipment: "om:procedure/eop:EarthObservationEquipment",
    result: "om:result/eop:EarthObservationResult",
    result_time: Some("om:resultTime/gml:TimeInstant/gml:timePosition"),
    footprint: "om:featureOfInterest/eop:Footprint",
    multi_surface: "eop|gml:multiExtentOf/gml:MultiSurface",
};

const GSC: Layout = Layout {
    metadata: "gml|eop:metaDataProperty/gsc|eop:EarthObservationMetaData",
    time: "gml:validTime",
    equipment: "gml:using/eop:EarthObservationEquipment",
    result: "gml:resultOf/eop:EarthObservationResult",
    result_time: None,
    footprint: "gml:target/eop:Footprint",
    multi_surface: "gml|eop:multiExtentOf/gml:MultiSurface",
};

const ACQUISITION: &str = "eop:acquisitionParameters/eop:Acquisition";

struct Reader {
    format: EoFormat,
    /// The path of the EarthObservation element, for messages.
    base: String,
    layout: &'static Layout,
}

impl Reader {
    fn path(&self, parts: &[&str]) -> String {
        let mut path = self.base.clone();
        for part in parts.iter().filter(|part| !part.is_empty()) {
            path.push('/');
            path.push_str(&shown(part));
        }
        path
    }

    fn missing(&self, what: &'static str, parts: &[&str]) -> EoMetadataError {
        EoMetadataError::Missing {
            format: self.format,
            what,
            path: self.path(parts),
        }
    }

    fn invalid(&self, parts: &[&str], reason: impl Into<String>) -> EoMetadataError {
        EoMetadataError::Invalid {
            format: self.format,
            path: self.path(parts),
            reason: reason.into(),
        }
    }

    fn read(&self, node: &Element) -> Result<EoMetadata, EoMetadataError> {
        let id_path = [self.layout.metadata, "eop:identifier"];
        let id = text(node, &id_path.join("/"))
            .ok_or_else(|| self.missing("an identifier", &id_path))?;
        check_product_id(&id).map_err(|reason| self.invalid(&id_path, reason))?;
        let (start, end) = self.times(node)?;
        let footprint = self.footprint(node)?;
        let properties = self.properties(node)?;
        let result = self.layout.result;
        let references = |path: &str| -> Vec<String> {
            find_all(node, &format!("{result}/{path}"))
                .into_iter()
                .filter_map(file_reference)
                .collect()
        };
        Ok(EoMetadata {
            format: self.format,
            id,
            footprint,
            start,
            end,
            properties,
            data_files: references("eop:product/eop:ProductInformation/eop:fileName"),
            browse_files: references("eop:browse/eop:BrowseInformation/eop:fileName"),
        })
    }

    fn times(&self, node: &Element) -> Result<(DateTime<Utc>, DateTime<Utc>), EoMetadataError> {
        let time_path = self.layout.time;
        let Some(time) = find(node, time_path) else {
            return Err(self.missing("an acquisition time", &[time_path, "gml:TimePeriod"]));
        };
        let instant = |element: &Element, path: &str, parts: &[&str]| {
            let value = text(element, path).ok_or_else(|| self.missing("a time", parts))?;
            parse_date_time(&value).map_err(|error| self.invalid(parts, error.to_string()))
        };
        if let Some(period) = find(time, "gml:TimePeriod") {
            let bound = |position: &'static str, instant_path: &'static str, what| {
                if find(period, position).is_some() {
                    instant(period, position, &[time_path, "gml:TimePeriod", position])
                } else if find(period, instant_path).is_some() {
                    instant(
                        period,
                        instant_path,
                        &[time_path, "gml:TimePeriod", instant_path],
                    )
                } else {
                    Err(self.missing(what, &[time_path, "gml:TimePeriod", position]))
                }
            };
            let start = bound(
                "gml:beginPosition",
                "gml:begin/gml:TimeInstant/gml:timePosition",
                "a begin time",
            )?;
            let end = bound(
                "gml:endPosition",
                "gml:end/gml:TimeInstant/gml:timePosition",
                "an end time",
            )?;
            if end < start {
                return Err(self.invalid(
                    &[time_path, "gml:TimePeriod", "gml:endPosition"],
                    format!(
                        "the end {} is before the begin {}",
                        rfc3339(end),
                        rfc3339(start)
                    ),
                ));
            }
            return Ok((start, end));
        }
        if find(time, "gml:TimeInstant").is_some() {
            let path = "gml:TimeInstant/gml:timePosition";
            let at = instant(time, path, &[time_path, path])?;
            return Ok((at, at));
        }
        Err(self.missing(
            "an acquisition time",
            &[time_path, "gml:TimePeriod (or gml:TimeInstant)"],
        ))
    }

    fn footprint(&self, node: &Element) -> Result<MultiPolygon<f64>, EoMetadataError> {
        let layout = self.layout;
        let Some(footprint) = find(node, layout.footprint) else {
            return Err(self.missing("a footprint", &[layout.footprint]));
        };
        let Some(surface) = find(footprint, layout.multi_surface) else {
            return Err(self.missing("a footprint", &[layout.footprint, layout.multi_surface]));
        };
        let surface_path = [layout.footprint, layout.multi_surface];
        check_crs(surface).map_err(|reason| self.invalid(&surface_path, reason))?;
        let polygons: Vec<&Element> = find_all(surface, "gml:surfaceMember/gml:Polygon")
            .into_iter()
            .chain(find_all(surface, "gml:surfaceMembers/gml:Polygon"))
            .collect();
        if polygons.is_empty() {
            return Err(self.missing(
                "a footprint polygon",
                &[
                    layout.footprint,
                    layout.multi_surface,
                    "gml:surfaceMember/gml:Polygon",
                ],
            ));
        }
        let mut positions = 0;
        let mut result = MultiPolygon::new(Vec::new());
        for (index, polygon) in polygons.into_iter().enumerate() {
            let polygon_path = format!(
                "{}/{}/gml:Polygon[{}]",
                shown(layout.footprint),
                shown(layout.multi_surface),
                index + 1
            );
            let invalid = |reason: String| self.invalid(&[&polygon_path], reason);
            check_crs(polygon).map_err(invalid)?;
            let exterior = find_all(polygon, "gml:exterior/gml:LinearRing");
            let [exterior] = exterior.as_slice() else {
                return Err(self.missing(
                    "an exterior ring",
                    &[&polygon_path, "gml:exterior/gml:LinearRing/gml:posList"],
                ));
            };
            let mut rings =
                vec![ring(exterior).map_err(|reason| invalid(format!("gml:exterior: {reason}")))?];
            for (hole, interior) in find_all(polygon, "gml:interior/gml:LinearRing")
                .into_iter()
                .enumerate()
            {
                rings.push(
                    ring(interior).map_err(|reason| {
                        invalid(format!("gml:interior[{}]: {reason}", hole + 1))
                    })?,
                );
            }
            positions += rings.iter().map(Vec::len).sum::<usize>();
            if positions > MAX_ITEM_POSITIONS {
                return Err(invalid(format!(
                    "the footprint has more than the {MAX_ITEM_POSITIONS} positions accepted"
                )));
            }
            let part = footprint_from_rings(&rings).map_err(|(ring, reason)| {
                let ring = match ring {
                    0 => "gml:exterior".to_owned(),
                    hole => format!("gml:interior[{hole}]"),
                };
                invalid(format!("{ring}: {reason}"))
            })?;
            result.0.extend(part.0);
        }
        if let Err(problem) = result.check_validation() {
            return Err(self.invalid(
                &surface_path,
                format!("its polygons do not form a valid footprint (they overlap?): {problem}"),
            ));
        }
        Ok(result)
    }

    fn properties(&self, node: &Element) -> Result<Map<String, Value>, EoMetadataError> {
        let layout = self.layout;
        let mut properties = Map::new();
        let mut put = |name: &str, value: Value| {
            properties.insert(name.to_owned(), value);
        };
        let equipment = layout.equipment;
        let acquisition = format!("{equipment}/{ACQUISITION}");
        let metadata = layout.metadata;
        let result = layout.result;
        // Each value: its text, and the path for messages.
        let value = |section: &str, path: &str| {
            let full = if section.is_empty() {
                path.to_owned()
            } else {
                format!("{section}/{path}")
            };
            text(node, &full).map(|text| (text, full))
        };

        let platform = |name| value(equipment, &format!("eop:platform/eop:Platform/eop:{name}"));
        if let Some((short_name, _)) = platform("shortName") {
            let short_name = short_name.to_lowercase().replace(' ', "-");
            match platform("serialIdentifier") {
                Some((serial, _)) => {
                    put("eop:platformSerialIdentifier", Value::from(serial.clone()));
                    let serial = serial.to_lowercase().replace(' ', "-");
                    let joiner = if short_name.ends_with(|c: char| c.is_ascii_digit()) {
                        ""
                    } else {
                        "-"
                    };
                    put(
                        "platform",
                        Value::from(format!("{short_name}{joiner}{serial}")),
                    );
                    put("constellation", Value::from(short_name));
                }
                None => put("platform", Value::from(short_name)),
            }
        }
        if let Some((instrument, _)) =
            value(equipment, "eop:instrument/eop:Instrument/eop:shortName")
        {
            put("instruments", Value::from(vec![instrument.to_owned()]));
        }
        let texts = [
            (
                equipment,
                "eop:sensor/eop:Sensor/eop:operationalMode",
                "sar:instrument_mode",
            ),
            (
                equipment,
                "eop:sensor/eop:Sensor/eop:sensorType",
                "eop:sensorType",
            ),
            (acquisition.as_str(), "eop:wrsLatitudeGrid", "eop:frame"),
            (
                acquisition.as_str(),
                "eop:polarisationMode",
                "eop:polarisationMode",
            ),
            (metadata, "eop:acquisitionType", "eop:acquisitionType"),
            (metadata, "eop:productType", "product:type"),
            (
                metadata,
                "eop:processing/eop:ProcessingInformation/eop:processingLevel",
                "processing:level",
            ),
        ];
        for (section, path, name) in texts {
            if let Some((text, _)) = value(section, path) {
                put(name, Value::from(text));
            }
        }

        if let Some((orbit, path)) = value(&acquisition, "eop:orbitNumber") {
            let orbit = whole_number(&orbit).map_err(|reason| self.invalid(&[&path], reason))?;
            put("sat:absolute_orbit", Value::from(orbit));
        }
        if let Some((direction, path)) = value(&acquisition, "eop:orbitDirection") {
            let direction = direction.to_lowercase();
            if !matches!(direction.as_str(), "ascending" | "descending") {
                return Err(self.invalid(
                    &[&path],
                    format!("{direction:?} is neither ASCENDING nor DESCENDING"),
                ));
            }
            put("sat:orbit_state", Value::from(direction));
        }
        if let Some((track, _)) = value(&acquisition, "eop:wrsLongitudeGrid") {
            match whole_number(&track) {
                Ok(track) => put("sat:relative_orbit", Value::from(track)),
                Err(_) => put("eop:track", Value::from(track)),
            }
        }
        let number = |section: &str, path: &str, min: f64, max: f64| {
            value(section, path)
                .map(|(text, full)| {
                    bounded_number(&text, min, max).map_err(|reason| self.invalid(&[&full], reason))
                })
                .transpose()
        };
        if let Some(azimuth) = number(&acquisition, "eop:illuminationAzimuthAngle", -360.0, 360.0)?
        {
            put("view:sun_azimuth", Value::from(azimuth.rem_euclid(360.0)));
        }
        let elevation = match number(&acquisition, "eop:illuminationElevationAngle", -90.0, 90.0)? {
            Some(elevation) => Some(elevation),
            None => number(&acquisition, "eop:illuminationZenithAngle", 0.0, 180.0)?
                .map(|zenith| 90.0 - zenith),
        };
        if let Some(elevation) = elevation {
            put("view:sun_elevation", Value::from(elevation));
        }
        if let Some(angle) = number(&acquisition, "eop:incidenceAngle", -90.0, 90.0)? {
            put("view:incidence_angle", Value::from(angle));
        }
        // SAR acquisitions (`sar:Acquisition`); the name is the element's, under `eop:`.
        for (name, min, max) in [
            ("eop:minimumIncidenceAngle", -90.0, 90.0),
            ("eop:maximumIncidenceAngle", -90.0, 90.0),
            ("eop:incidenceAngleVariation", 0.0, 180.0),
        ] {
            if let Some(angle) = number(&acquisition, name, min, max)? {
                put(name, Value::from(angle));
            }
        }
        if let Some(cover) = number(result, "eop:cloudCoverPercentage", 0.0, 100.0)? {
            put("eo:cloud_cover", Value::from(cover));
        }
        if let Some(cover) = number(result, "eop:snowCoverPercentage", 0.0, 100.0)? {
            put("eo:snow_cover", Value::from(cover));
        }
        if let Some((channels, _)) = value(&acquisition, "eop:polarisationChannels") {
            let channels: Vec<Value> = channels
                .split([',', ' ', '\t', '\n', '\r'])
                .filter(|channel| !channel.is_empty())
                .map(|channel| Value::from(channel.to_uppercase()))
                .collect();
            put("sar:polarizations", Value::from(channels));
        }

        let time = |section: &str, path: &str| {
            value(section, path)
                .map(|(text, full)| {
                    parse_date_time(&text)
                        .map(rfc3339)
                        .map_err(|error| self.invalid(&[&full], error.to_string()))
                })
                .transpose()
        };
        let created = match time(
            metadata,
            "eop:processing/eop:ProcessingInformation/eop:processingDate",
        )? {
            Some(created) => Some(created),
            None => time(metadata, "eop:creationDate")?,
        };
        if let Some(created) = created {
            put("created", Value::from(created));
        }
        if let Some(path) = layout.result_time
            && let Some(published) = time("", path)?
        {
            put("published", Value::from(published));
        }
        Ok(properties)
    }
}

/// The trimmed text of the first element at `path`; `None` when absent or empty.
fn text(element: &Element, path: &str) -> Option<String> {
    let found = find(element, path.trim_start_matches('/'))?;
    let text = found.text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A file name: the element's text, or its `ows:ServiceReference/@xlink:href`.
fn file_reference(element: &Element) -> Option<String> {
    let href = find(element, "ows:ServiceReference")
        .and_then(|reference| reference.ns_attribute(XLINK_NS, "href"))
        .or_else(|| element.ns_attribute(XLINK_NS, "href"))
        .map(str::trim)
        .filter(|href| !href.is_empty());
    match href {
        Some(href) => Some(href.to_owned()),
        None => {
            let text = element.text.trim();
            (!text.is_empty()).then(|| text.to_owned())
        }
    }
}

/// Refuses an `srsName` other than EPSG:4326 (whose axis order is lat, lon).
fn check_crs(element: &Element) -> Result<(), String> {
    match element.attribute("srsName") {
        None => Ok(()),
        Some(name) => {
            let code = name
                .rsplit([':', '/', '#'])
                .next()
                .unwrap_or_default()
                .trim();
            if code == "4326" && name.to_ascii_uppercase().contains("EPSG") {
                Ok(())
            } else {
                Err(format!(
                    "srsName {name:?}: only EPSG:4326 footprints (latitude longitude) are read"
                ))
            }
        }
    }
}

/// A `gml:LinearRing` as lon/lat positions: its `gml:posList`, or its `gml:pos` elements,
/// read as latitude longitude (and height, when `srsDimension` is 3).
fn ring(linear_ring: &Element) -> Result<Vec<(f64, f64)>, String> {
    let (values, dimension) = match find(linear_ring, "gml:posList") {
        Some(list) => {
            let dimension = match list.attribute("srsDimension").map(str::trim) {
                None | Some("2") => 2,
                Some("3") => 3,
                Some(other) => {
                    return Err(format!(
                        "gml:posList srsDimension {other:?}: 2 (lat lon) or 3 are read"
                    ));
                }
            };
            (numbers(&list.text, "gml:posList")?, dimension)
        }
        None => {
            let positions = find_all(linear_ring, "gml:pos");
            if positions.is_empty() {
                return Err("no gml:posList (nor gml:pos)".to_owned());
            }
            let mut values = Vec::new();
            for (index, position) in positions.into_iter().enumerate() {
                let pair = numbers(&position.text, "gml:pos")?;
                let [lat, lon] = pair[..] else {
                    return Err(format!(
                        "gml:pos[{}] has {} values, not latitude longitude",
                        index + 1,
                        pair.len()
                    ));
                };
                values.extend([lat, lon]);
                if values.len() > 2 * MAX_ITEM_POSITIONS {
                    return Err(format!("more than {MAX_ITEM_POSITIONS} positions"));
                }
            }
            (values, 2)
        }
    };
    if values.len() % dimension != 0 {
        return Err(format!(
            "gml:posList has {} values, not a whole number of {}",
            values.len(),
            if dimension == 2 {
                "latitude longitude pairs"
            } else {
                "latitude longitude height triples"
            }
        ));
    }
    Ok(values
        .chunks_exact(dimension)
        .map(|position| (position[1], position[0]))
        .collect())
}

/// The numbers of a whitespace-separated list; more than `3 ×` [`MAX_ITEM_POSITIONS`] (the
/// most a footprint may have, with heights) are refused.
fn numbers(text: &str, what: &str) -> Result<Vec<f64>, String> {
    let limit = 3 * MAX_ITEM_POSITIONS;
    let mut values = Vec::new();
    for (index, token) in text.split_ascii_whitespace().enumerate() {
        if index >= limit {
            return Err(format!(
                "{what} has more than {MAX_ITEM_POSITIONS} positions"
            ));
        }
        let value: f64 = token
            .parse()
            .ok()
            .filter(|value: &f64| value.is_finite())
            .ok_or_else(|| {
                format!(
                    "{what} value {} {token:?} is not a finite number",
                    index + 1
                )
            })?;
        values.push(value);
    }
    Ok(values)
}

fn whole_number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

fn bounded_number(text: &str, min: f64, max: f64) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && (min..=max).contains(&value) => Ok(value),
        Ok(value) if value.is_finite() => Err(format!("{text:?} is outside [{min}, {max}]")),
        _ => Err(format!("{text:?} is not a number")),
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
