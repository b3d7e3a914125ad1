//! The queue message the ingestor pushes (`LPUSH preprocess-md_queue`) for each valid
//! browse: everything the preprocessor needs, as JSON described by
//! `schemas/browse-item.schema.json`.

use chrono::{DateTime, Utc};
use geo::{LineString, MultiPolygon, Polygon};
use serde::{Deserialize, Serialize};

use crate::browse::{Browse, BrowseId, FileName, ImageType};
use crate::footprint::Footprint;
use crate::geolocation::{Geolocation, ReferenceSystem};
use crate::report::BrowseReport;

/// One browse to preprocess.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowseItem {
    /// Product id: the `browseIdentifier`, or for a browse without one
    /// `<start>_<end>_<file base name>` (times as `YYYYmmddHHMMSSffffff`, characters other
    /// than letters, digits, `.`, `-`, `_` replaced by `_`), so that resending the same
    /// id-less browse addresses the same product, as in ngEO.
    pub id: String,
    /// The `browseIdentifier`, if the browse had one.
    pub browse_identifier: Option<BrowseId>,
    /// The collection the product belongs to: the report's `browseType`.
    pub collection: String,
    /// The image: a path relative to the report (or storage prefix), or a URL.
    pub file: FileName,
    /// The declared image type.
    pub image_type: ImageType,
    /// The CRS of the geolocation coordinates.
    pub reference_system: ReferenceSystem,
    /// How to georeference the image, coordinates as written in the report.
    pub geolocation: Geolocation,
    /// The footprint in EPSG:4326 as a GeoJSON geometry; `null` when it is still to be
    /// computed by the preprocessor (another CRS, or `modelInGeotiff`).
    pub footprint: Option<GeoJsonGeometry>,
    /// Start of the acquisition, UTC.
    pub start: DateTime<Utc>,
    /// End of the acquisition, UTC.
    pub end: DateTime<Utc>,
    /// Where the browse came from.
    pub report: ReportInfo,
}

/// The report a browse came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportInfo {
    /// The report's name as the ingestor knows it (file name or generated id).
    pub name: String,
    /// `responsibleOrgName`.
    pub responsible_org_name: String,
    /// `dateTime`, UTC.
    pub date_time: DateTime<Utc>,
    /// `browseType`.
    pub browse_type: String,
}

/// A GeoJSON geometry (RFC 7946, lon/lat). Footprints are always multi-polygons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum GeoJsonGeometry {
    /// `{"type": "MultiPolygon", "coordinates": [[[[lon, lat], ...]]]}`.
    MultiPolygon {
        /// Polygons → rings → positions.
        coordinates: Vec<Vec<Vec<[f64; 2]>>>,
    },
}

impl From<&MultiPolygon<f64>> for GeoJsonGeometry {
    fn from(multi: &MultiPolygon<f64>) -> Self {
        let ring = |ring: &LineString<f64>| ring.0.iter().map(|c| [c.x, c.y]).collect();
        GeoJsonGeometry::MultiPolygon {
            coordinates: multi
                .0
                .iter()
                .map(|polygon| {
                    std::iter::once(ring(polygon.exterior()))
                        .chain(polygon.interiors().iter().map(ring))
                        .collect()
                })
                .collect(),
        }
    }
}

impl From<&GeoJsonGeometry> for MultiPolygon<f64> {
    fn from(geometry: &GeoJsonGeometry) -> Self {
        let GeoJsonGeometry::MultiPolygon { coordinates } = geometry;
        let ring = |positions: &Vec<[f64; 2]>| {
            LineString::from(positions.iter().map(|&[x, y]| (x, y)).collect::<Vec<_>>())
        };
        MultiPolygon::new(
            coordinates
                .iter()
                .filter_map(|rings| {
                    let (exterior, interiors) = rings.split_first()?;
                    Some(Polygon::new(
                        ring(exterior),
                        interiors.iter().map(ring).collect(),
                    ))
                })
                .collect(),
        )
    }
}

impl BrowseItem {
    /// The item for a valid browse of `report`; `report_name` identifies the report.
    pub fn new(report: &BrowseReport, browse: &Browse, report_name: &str) -> Self {
        let id = match &browse.identifier {
            Some(identifier) => identifier.to_string(),
            None => derived_id(browse),
        };
        let footprint = match &browse.footprint {
            Footprint::Wgs84(multi) => Some(GeoJsonGeometry::from(multi)),
            Footprint::NeedsReprojection { .. } | Footprint::FromRaster => None,
        };
        BrowseItem {
            id,
            browse_identifier: browse.identifier.clone(),
            collection: report.browse_type.clone(),
            file: browse.file_name.clone(),
            image_type: browse.image_type,
            reference_system: browse.reference_system,
            geolocation: browse.geolocation.clone(),
            footprint,
            start: browse.start,
            end: browse.end,
            report: ReportInfo {
                name: report_name.to_owned(),
                responsible_org_name: report.responsible_org_name.clone(),
                date_time: report.date_time,
                browse_type: report.browse_type.clone(),
            },
        }
    }

    /// The JSON message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a browse item always serialises")
    }

    /// Reads a JSON message, validating identifiers, file name and CRS again.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

fn derived_id(browse: &Browse) -> String {
    let time = |t: &DateTime<Utc>| t.format("%Y%m%d%H%M%S%6f").to_string();
    let file = browse.file_name.as_str();
    let base = file.rsplit('/').next().unwrap_or(file);
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}_{}_{base}", time(&browse.start), time(&browse.end))
}
