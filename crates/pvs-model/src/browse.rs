//! One `rep:browse` of a report: its validated fields, and the error that names the browse
//! and the element at fault when it is not acceptable.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::footprint::{Footprint, FootprintError};
use crate::geolocation::{Geolocation, ImageSize, Pixel, ReferenceSystem, WGS84};
use crate::response::ExceptionCode;
use crate::time::{TimeError, parse_date_time};
use crate::xml::{Element, Ns};

/// Most coordinate pairs accepted in one list (and nodes in one regular grid): far above
/// real reports (hundreds), low enough to bound the work a hostile report can cause.
pub const MAX_POSITIONS: usize = 100_000;

/// Longest identifier or file name accepted (the ingestion response caps identifiers at 1024).
const MAX_NAME_LEN: usize = 1024;

/// A validated browse.
#[derive(Debug, Clone, PartialEq)]
pub struct Browse {
    /// `browseIdentifier`: when present, a later browse with the same id replaces this one.
    pub identifier: Option<BrowseId>,
    /// `fileName`: the image, relative to the report or a URL.
    pub file_name: FileName,
    /// `imageType` as declared (the real format is sniffed when the image is read).
    pub image_type: ImageType,
    /// `referenceSystemIdentifier`.
    pub reference_system: ReferenceSystem,
    /// The geolocation, coordinates as written.
    pub geolocation: Geolocation,
    /// The footprint derived from the geolocation.
    pub footprint: Footprint,
    /// `startTime` in UTC.
    pub start: DateTime<Utc>,
    /// `endTime` in UTC (never before `start`).
    pub end: DateTime<Utc>,
}

/// A `browseIdentifier`: 1 to 1024 characters matching ngEO's pattern
/// `[a-zA-Z_:#][a-zA-Z0-9.\-_:#]*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BrowseId(String);

impl BrowseId {
    /// Validates an identifier.
    pub fn new(value: &str) -> Result<Self, String> {
        let mut chars = value.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | ':' | '#'));
        let rest_ok =
            chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '#'));
        if !first_ok || !rest_ok {
            return Err(format!(
                "identifier {value:?} must start with a letter, '_', ':' or '#' and contain only \
                 letters, digits, '.', '-', '_', ':' or '#'"
            ));
        }
        if value.len() > MAX_NAME_LEN {
            return Err(format!("identifier longer than {MAX_NAME_LEN} characters"));
        }
        Ok(BrowseId(value.to_owned()))
    }

    /// The identifier text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BrowseId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        BrowseId::new(&value)
    }
}

impl From<BrowseId> for String {
    fn from(value: BrowseId) -> String {
        value.0
    }
}

impl fmt::Display for BrowseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `fileName`: an `http(s)://` URL, or a relative path of letters, digits and `-_:/.`
/// whose segments are neither empty, `.` nor `..` (so it cannot leave the report's folder).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

impl FileName {
    /// Validates a file name.
    pub fn new(value: &str) -> Result<Self, String> {
        if value.is_empty() || value.len() > MAX_NAME_LEN {
            return Err(format!("must have 1 to {MAX_NAME_LEN} characters"));
        }
        if value.starts_with("http://") || value.starts_with("https://") {
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("URL {value:?} contains whitespace"));
            }
            return Ok(FileName(value.to_owned()));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '/' | '.'))
        {
            return Err(format!(
                "{value:?} may only contain letters, digits, '-', '_', ':', '/' and '.'"
            ));
        }
        if value
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return Err(format!(
                "{value:?} must be a relative path without empty, '.' or '..' segments"
            ));
        }
        Ok(FileName(value.to_owned()))
    }

    /// The file name text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the image is referenced by an `http(s)` URL rather than a relative path.
    pub fn is_url(&self) -> bool {
        self.0.contains("://")
    }
}

impl TryFrom<String> for FileName {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        FileName::new(&value)
    }
}

impl From<FileName> for String {
    fn from(value: FileName) -> String {
        value.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `imageType` enumeration of the browse report schema (case-sensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageType {
    /// `Jpeg`
    Jpeg,
    /// `Jpeg2000`
    Jpeg2000,
    /// `TIFF`
    #[serde(rename = "TIFF")]
    Tiff,
    /// `GeoTIFF`
    #[serde(rename = "GeoTIFF")]
    GeoTiff,
    /// `PNG`
    #[serde(rename = "PNG")]
    Png,
    /// `BMP`
    #[serde(rename = "BMP")]
    Bmp,
}

impl ImageType {
    const ALL: [ImageType; 6] = [
        ImageType::Jpeg,
        ImageType::Jpeg2000,
        ImageType::Tiff,
        ImageType::GeoTiff,
        ImageType::Png,
        ImageType::Bmp,
    ];

    /// The name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageType::Jpeg => "Jpeg",
            ImageType::Jpeg2000 => "Jpeg2000",
            ImageType::Tiff => "TIFF",
            ImageType::GeoTiff => "GeoTIFF",
            ImageType::Png => "PNG",
            ImageType::Bmp => "BMP",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

/// A browse that cannot be ingested. Other browses of the same report are not affected.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("browse[{index}]{}: {element}: {problem}", IdSuffix(identifier.as_deref()))]
pub struct BrowseError {
    /// 0-based position of the browse in the report.
    pub index: usize,
    /// The `browseIdentifier` text when there is exactly one (even if invalid).
    pub identifier: Option<String>,
    /// Path of the element at fault, e.g. `rep:footprint/rep:coordList`.
    pub element: String,
    /// What is wrong.
    pub problem: Problem,
}

impl BrowseError {
    /// The ngEO exception code to report for this browse.
    pub fn exception_code(&self) -> ExceptionCode {
        match &self.problem {
            Problem::Missing
            | Problem::Repeated(_)
            | Problem::Unexpected
            | Problem::NoGeolocation => ExceptionCode::InvalidRequest,
            Problem::Footprint(_) => ExceptionCode::IngestionException,
            Problem::VerticalCurtain => ExceptionCode::NotImplemented,
            _ => ExceptionCode::ValidationError,
        }
    }
}

struct IdSuffix<'a>(Option<&'a str>);

impl fmt::Display for IdSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (id {id:?})"),
            None => Ok(()),
        }
    }
}

/// What is wrong with a browse element.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Problem {
    /// A required element is absent.
    #[error("required element is missing")]
    Missing,
    /// An element that may occur once occurs several times.
    #[error("element occurs {0} times, at most once allowed")]
    Repeated(usize),
    /// An element the schema does not allow here.
    #[error("element not allowed here")]
    Unexpected,
    /// A required attribute is absent.
    #[error("attribute {0} is missing")]
    MissingAttribute(&'static str),
    /// None of the geolocation elements is present.
    #[error(
        "one of rep:rectifiedBrowse, rep:footprint, rep:regularGrid or rep:modelInGeotiff is required"
    )]
    NoGeolocation,
    /// Several geolocation elements are present.
    #[error("only one geolocation element is allowed, found {0}")]
    SeveralGeolocations(usize),
    /// `verticalCurtainFootprint`.
    #[error(
        "vertical curtain footprints are not supported: a curtain is a line of tie points, not an area"
    )]
    VerticalCurtain,
    /// A text value that is not acceptable (identifier, file name, image type, CRS...).
    #[error("{0}")]
    Invalid(String),
    /// A date/time value.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// `startTime` after `endTime`.
    #[error("startTime {start} is after endTime {end}")]
    StartAfterEnd {
        /// The start time.
        start: DateTime<Utc>,
        /// The end time.
        end: DateTime<Utc>,
    },
    /// A token of a numeric list that is not a number.
    #[error("value {index} ({token:?}) is not a number")]
    NotANumber {
        /// 0-based index of the token.
        index: usize,
        /// The token.
        token: String,
    },
    /// NaN or infinity.
    #[error("value {index} ({token:?}) is not a finite number")]
    NotFinite {
        /// 0-based index of the token.
        index: usize,
        /// The token.
        token: String,
    },
    /// A pair list with an odd number of values.
    #[error("{0} values: coordinates come in pairs")]
    OddCount(usize),
    /// A list longer than [`MAX_POSITIONS`].
    #[error("{found} positions, more than the {MAX_POSITIONS} accepted")]
    TooManyPositions {
        /// Number of positions found.
        found: usize,
    },
    /// A count that does not match another.
    #[error("{what}: expected {expected}, found {found}")]
    CountMismatch {
        /// Which count.
        what: &'static str,
        /// The declared count.
        expected: usize,
        /// The actual count.
        found: usize,
    },
    /// A latitude outside [-90, 90] (EPSG:4326).
    #[error("pair {pair}: latitude {value:?} outside [-90, 90]")]
    Latitude {
        /// 0-based pair index within the list.
        pair: usize,
        /// The value.
        value: f64,
    },
    /// A longitude outside [-360, 360] (EPSG:4326).
    #[error("pair {pair}: longitude {value:?} outside [-360, 360]")]
    Longitude {
        /// 0-based pair index within the list.
        pair: usize,
        /// The value.
        value: f64,
    },
    /// The coordinates do not form a usable footprint.
    #[error(transparent)]
    Footprint(#[from] FootprintError),
}

/// Element names of a browse, as they appear in paths.
const GEOLOCATIONS: [&str; 5] = [
    "rectifiedBrowse",
    "footprint",
    "regularGrid",
    "modelInGeotiff",
    "verticalCurtainFootprint",
];
const BROWSE_CHILDREN: [&str; 6] = [
    "browseIdentifier",
    "fileName",
    "imageType",
    "referenceSystemIdentifier",
    "startTime",
    "endTime",
];

/// A failure inside a browse before it is tied to the browse's index and identifier.
struct Fault {
    element: String,
    problem: Problem,
}

fn fault(element: impl Into<String>, problem: impl Into<Problem>) -> Fault {
    Fault {
        element: element.into(),
        problem: problem.into(),
    }
}

/// Reads the children of a report-namespace element.
pub(crate) struct Children<'a> {
    parent: &'a Element,
    ns: Ns,
}

impl<'a> Children<'a> {
    pub(crate) fn new(parent: &'a Element, ns: Ns) -> Self {
        Children { parent, ns }
    }

    fn all(&self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        let ns = self.ns;
        self.parent
            .children
            .iter()
            .filter(move |child| child.ns == ns && child.name == name)
    }

    /// The first child in the report namespace whose name is not in `allowed`.
    pub(crate) fn unexpected(&self, allowed: &[&str]) -> Option<&'a Element> {
        self.parent
            .children
            .iter()
            .find(|child| child.ns == self.ns && !allowed.contains(&child.name.as_str()))
    }

    /// The child `name` that must occur at most once.
    pub(crate) fn optional(&self, name: &'a str) -> Result<Option<&'a Element>, Problem> {
        let mut found = self.all(name);
        let first = found.next();
        match found.count() {
            0 => Ok(first),
            more => Err(Problem::Repeated(more + 1)),
        }
    }

    /// The child `name` that must occur exactly once.
    pub(crate) fn required(&self, name: &'a str) -> Result<&'a Element, Problem> {
        self.optional(name)?.ok_or(Problem::Missing)
    }

    /// The trimmed, non-empty text of the child `name` that must occur exactly once.
    pub(crate) fn text(&self, name: &'a str) -> Result<&'a str, Problem> {
        let element = self.required(name)?;
        if element.children.iter().any(|child| child.ns == self.ns) {
            return Err(Problem::Invalid("expected text, found elements".into()));
        }
        let text = element.text.trim();
        if text.is_empty() {
            return Err(Problem::Invalid("empty value".into()));
        }
        Ok(text)
    }
}

/// Validates the `index`-th `rep:browse` element.
pub(crate) fn parse_browse(element: &Element, ns: Ns, index: usize) -> Result<Browse, BrowseError> {
    let children = Children::new(element, ns);
    let identifier = children
        .optional("browseIdentifier")
        .ok()
        .flatten()
        .map(|id| id.text.trim().to_owned());
    read_browse(&children).map_err(|Fault { element, problem }| BrowseError {
        index,
        identifier,
        element,
        problem,
    })
}

fn read_browse(children: &Children<'_>) -> Result<Browse, Fault> {
    let path = |name: &str| format!("rep:{name}");
    let text = |name: &'static str| {
        children
            .text(name)
            .map_err(|problem| fault(path(name), problem))
    };
    if let Some(other) = children.unexpected(&[&BROWSE_CHILDREN[..], &GEOLOCATIONS[..]].concat()) {
        return Err(fault(path(&other.name), Problem::Unexpected));
    }
    let identifier = match children
        .optional("browseIdentifier")
        .map_err(|problem| fault(path("browseIdentifier"), problem))?
    {
        Some(_) => Some(
            BrowseId::new(text("browseIdentifier")?)
                .map_err(|message| fault(path("browseIdentifier"), Problem::Invalid(message)))?,
        ),
        None => None,
    };
    let file_name = FileName::new(text("fileName")?)
        .map_err(|message| fault(path("fileName"), Problem::Invalid(message)))?;
    let image_type = text("imageType").and_then(|value| {
        ImageType::parse(value).ok_or_else(|| {
            fault(
                path("imageType"),
                Problem::Invalid(format!(
                    "{value:?} is not one of Jpeg, Jpeg2000, TIFF, GeoTIFF, PNG, BMP"
                )),
            )
        })
    })?;
    let reference_system: ReferenceSystem = text("referenceSystemIdentifier")?
        .parse()
        .map_err(|message| fault(path("referenceSystemIdentifier"), Problem::Invalid(message)))?;
    let geolocation = read_geolocation(children, reference_system)?;
    if reference_system == ReferenceSystem::Raw && geolocation != Geolocation::ModelInGeotiff {
        return Err(fault(
            path("referenceSystemIdentifier"),
            Problem::Invalid("RAW is only allowed with rep:modelInGeotiff".into()),
        ));
    }
    let footprint = geolocation
        .footprint(reference_system)
        .map_err(|error| fault(geolocation_path(&geolocation), error))?;
    let start =
        parse_date_time(text("startTime")?).map_err(|error| fault(path("startTime"), error))?;
    let end = parse_date_time(text("endTime")?).map_err(|error| fault(path("endTime"), error))?;
    if start > end {
        return Err(fault(
            path("startTime"),
            Problem::StartAfterEnd { start, end },
        ));
    }
    Ok(Browse {
        identifier,
        file_name,
        image_type,
        reference_system,
        geolocation,
        footprint,
        start,
        end,
    })
}

fn geolocation_path(geolocation: &Geolocation) -> &'static str {
    match geolocation {
        Geolocation::Rectified { .. } => "rep:rectifiedBrowse/rep:coordList",
        Geolocation::Footprint { .. } => "rep:footprint/rep:coordList",
        Geolocation::RegularGrid { .. } => "rep:regularGrid",
        Geolocation::ModelInGeotiff => "rep:modelInGeotiff",
    }
}

fn read_geolocation(children: &Children<'_>, crs: ReferenceSystem) -> Result<Geolocation, Fault> {
    let present: Vec<&Element> = GEOLOCATIONS
        .iter()
        .flat_map(|name| children.all(name))
        .collect();
    let element = match present.as_slice() {
        [] => return Err(fault("rep:browse", Problem::NoGeolocation)),
        [one] => *one,
        several => {
            return Err(fault(
                format!("rep:{}", several[1].name),
                Problem::SeveralGeolocations(several.len()),
            ));
        }
    };
    let inner = Children::new(element, element.ns);
    let base = format!("rep:{}", element.name);
    let sub = |name: &str| format!("{base}/rep:{name}");
    match element.name.as_str() {
        "rectifiedBrowse" => {
            if let Some(other) = inner.unexpected(&["coordList"]) {
                return Err(fault(sub(&other.name), Problem::Unexpected));
            }
            let text = inner
                .text("coordList")
                .map_err(|problem| fault(sub("coordList"), problem))?;
            let pairs =
                coordinate_pairs(text, crs).map_err(|problem| fault(sub("coordList"), problem))?;
            match pairs.as_slice() {
                &[ll, ur] => Ok(Geolocation::Rectified { ll, ur }),
                other => Err(fault(
                    sub("coordList"),
                    Problem::CountMismatch {
                        what: "corner pairs (lower-left, upper-right)",
                        expected: 2,
                        found: other.len(),
                    },
                )),
            }
        }
        "footprint" => {
            if let Some(other) = inner.unexpected(&["colRowList", "coordList"]) {
                return Err(fault(sub(&other.name), Problem::Unexpected));
            }
            let declared = element
                .attribute("nodeNumber")
                .ok_or_else(|| fault(base.clone(), Problem::MissingAttribute("nodeNumber")))?;
            let node_number = count(declared).map_err(|message| {
                fault(format!("{base}/@nodeNumber"), Problem::Invalid(message))
            })?;
            let col_row_text = inner
                .text("colRowList")
                .map_err(|problem| fault(sub("colRowList"), problem))?;
            let col_row =
                pixel_pairs(col_row_text).map_err(|problem| fault(sub("colRowList"), problem))?;
            let coords_text = inner
                .text("coordList")
                .map_err(|problem| fault(sub("coordList"), problem))?;
            let coords = coordinate_pairs(coords_text, crs)
                .map_err(|problem| fault(sub("coordList"), problem))?;
            for (name, found) in [("colRowList", col_row.len()), ("coordList", coords.len())] {
                if found != node_number {
                    return Err(fault(
                        sub(name),
                        Problem::CountMismatch {
                            what: "pairs for nodeNumber",
                            expected: node_number,
                            found,
                        },
                    ));
                }
            }
            Ok(Geolocation::Footprint { col_row, coords })
        }
        "regularGrid" => read_regular_grid(&inner, &base, crs),
        "modelInGeotiff" => match element.text.trim() {
            "true" | "1" => Ok(Geolocation::ModelInGeotiff),
            other => Err(fault(
                base,
                Problem::Invalid(format!("{other:?}: modelInGeotiff must be true")),
            )),
        },
        _ => Err(fault(base, Problem::VerticalCurtain)),
    }
}

fn read_regular_grid(
    inner: &Children<'_>,
    base: &str,
    crs: ReferenceSystem,
) -> Result<Geolocation, Fault> {
    let sub = |name: &str| format!("{base}/rep:{name}");
    if let Some(other) = inner.unexpected(&[
        "colNodeNumber",
        "rowNodeNumber",
        "colStep",
        "rowStep",
        "coordList",
    ]) {
        return Err(fault(sub(&other.name), Problem::Unexpected));
    }
    let node_count = |name: &'static str| {
        let text = inner
            .text(name)
            .map_err(|problem| fault(sub(name), problem))?;
        match count(text) {
            Ok(value) if value >= 2 => Ok(value),
            Ok(value) => Err(fault(
                sub(name),
                Problem::Invalid(format!("{value}: a grid needs at least 2 nodes per axis")),
            )),
            Err(message) => Err(fault(sub(name), Problem::Invalid(message))),
        }
    };
    let step = |name: &'static str| {
        let text = inner
            .text(name)
            .map_err(|problem| fault(sub(name), problem))?;
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
            _ => Err(fault(
                sub(name),
                Problem::Invalid(format!("{text:?} is not a positive number")),
            )),
        }
    };
    let col_node_number = node_count("colNodeNumber")?;
    let row_node_number = node_count("rowNodeNumber")?;
    let col_step = step("colStep")?;
    let row_step = step("rowStep")?;
    let nodes = col_node_number.saturating_mul(row_node_number);
    if nodes > MAX_POSITIONS {
        return Err(fault(
            sub("colNodeNumber"),
            Problem::TooManyPositions { found: nodes },
        ));
    }
    let lists: Vec<&Element> = inner.all("coordList").collect();
    if lists.len() != row_node_number {
        return Err(fault(
            sub("coordList"),
            Problem::CountMismatch {
                what: "coordinate lists for rowNodeNumber",
                expected: row_node_number,
                found: lists.len(),
            },
        ));
    }
    let mut lines = Vec::with_capacity(lists.len());
    for (i, list) in lists.iter().enumerate() {
        let path = format!("{base}/rep:coordList[{i}]");
        let pairs = coordinate_pairs(list.text.trim(), crs)
            .map_err(|problem| fault(path.clone(), problem))?;
        if pairs.len() != col_node_number {
            return Err(fault(
                path,
                Problem::CountMismatch {
                    what: "pairs for colNodeNumber",
                    expected: col_node_number,
                    found: pairs.len(),
                },
            ));
        }
        lines.push(pairs);
    }
    Ok(Geolocation::RegularGrid {
        col_node_number: u32::try_from(col_node_number).expect("bounded by MAX_POSITIONS"),
        row_node_number: u32::try_from(row_node_number).expect("bounded by MAX_POSITIONS"),
        col_step,
        row_step,
        lines,
    })
}

fn count(text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .map_err(|_| format!("{text:?} is not a non-negative integer"))
}

/// Splits a whitespace-separated list into tokens, refusing lists that are too long or odd.
fn pair_tokens(text: &str) -> Result<Vec<&str>, Problem> {
    let tokens: Vec<&str> = text
        .split_ascii_whitespace()
        .take(2 * MAX_POSITIONS + 1)
        .collect();
    if tokens.len() > 2 * MAX_POSITIONS {
        return Err(Problem::TooManyPositions {
            found: text.split_ascii_whitespace().count() / 2,
        });
    }
    if !tokens.len().is_multiple_of(2) {
        return Err(Problem::OddCount(tokens.len()));
    }
    Ok(tokens)
}

fn number(index: usize, token: &str) -> Result<f64, Problem> {
    let value: f64 = token.parse().map_err(|_| Problem::NotANumber {
        index,
        token: token.to_owned(),
    })?;
    if !value.is_finite() {
        return Err(Problem::NotFinite {
            index,
            token: token.to_owned(),
        });
    }
    Ok(value)
}

/// Parses a `coordList`; in EPSG:4326 also checks the `lat lon` ranges.
fn coordinate_pairs(text: &str, crs: ReferenceSystem) -> Result<Vec<(f64, f64)>, Problem> {
    let tokens = pair_tokens(text)?;
    let mut pairs = Vec::with_capacity(tokens.len() / 2);
    for (pair, chunk) in tokens.chunks_exact(2).enumerate() {
        let a = number(2 * pair, chunk[0])?;
        let b = number(2 * pair + 1, chunk[1])?;
        if crs == ReferenceSystem::Epsg(WGS84) {
            if !(-90.0..=90.0).contains(&a) {
                return Err(Problem::Latitude { pair, value: a });
            }
            if !(-360.0..=360.0).contains(&b) {
                return Err(Problem::Longitude { pair, value: b });
            }
        }
        pairs.push((a, b));
    }
    Ok(pairs)
}

/// Parses a `colRowList`, accepting `ncol`/`nrow` for the image width/height.
fn pixel_pairs(text: &str) -> Result<Vec<(Pixel, Pixel)>, Problem> {
    let tokens = pair_tokens(text)?;
    let pixel = |index: usize| -> Result<Pixel, Problem> {
        match tokens[index] {
            "ncol" => Ok(Pixel::Size(ImageSize::Width)),
            "nrow" => Ok(Pixel::Size(ImageSize::Height)),
            token => number(index, token).map(Pixel::At),
        }
    };
    (0..tokens.len() / 2)
        .map(|pair| Ok((pixel(2 * pair)?, pixel(2 * pair + 1)?)))
        .collect()
}
