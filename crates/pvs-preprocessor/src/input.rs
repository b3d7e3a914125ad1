//! Inputs: fetching images and packages from storage, and finding the raster (and browse
//! report or EO metadata document) inside a `.tar` / `.tar.gz` package.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use pvs_model::{BrowseReport, EoMetadata, EoMetadataError, FileName, parse_eo_metadata};
use pvs_storage::{Storage, StorageKey, StorageUrl};

use crate::{PackageReport, PreprocessError, Settings};

/// File extensions taken for the raster of a package (lower case).
pub const PACKAGE_RASTER_EXTENSIONS: [&str; 6] = ["tif", "tiff", "jp2", "jpg", "jpeg", "png"];

/// Largest browse report or EO metadata document read from inside a package.
const MAX_REPORT_BYTES: u64 = pvs_model::MAX_EO_METADATA_BYTES as u64;

/// An input GDAL can open.
pub(crate) enum Source {
    /// A file of a `file://` storage, read in place.
    Local(PathBuf),
    /// A copy downloaded from storage (deleted when dropped).
    Downloaded(tempfile::TempPath),
    /// An `http(s)` URL, read by GDAL with range requests.
    Url(String),
}

impl Source {
    pub(crate) fn gdal_path(&self) -> String {
        match self {
            Source::Local(path) => path.display().to_string(),
            Source::Downloaded(path) => path.display().to_string(),
            Source::Url(url) => format!("/vsicurl/{url}"),
        }
    }
}

/// A scratch directory under the configured work directory, removed when dropped.
pub(crate) fn work_dir(settings: &Settings) -> Result<tempfile::TempDir, PreprocessError> {
    let builder = tempfile::Builder::new()
        .prefix("pvs-preprocess-")
        .to_owned();
    match &settings.work_dir {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .map_err(|e| {
        let dir = settings.work_dir.as_ref().map_or_else(
            || "the temporary directory".to_owned(),
            |d| d.display().to_string(),
        );
        let reason = format!("cannot create a work directory: {e}");
        if pvs_storage::is_transient_io(e.kind()) {
            PreprocessError::WorkSpace { dir, reason }
        } else {
            PreprocessError::Input { input: dir, reason }
        }
    })
}

/// Free space below which a file system counts as full when a conversion on it failed: a
/// conversion that ran out of space leaves its partial output behind until it is cleaned.
const FULL_BELOW_BYTES: u64 = 64 << 20;

/// `error`, a conversion's into `dir`, as [`PreprocessError::WorkSpace`] when the file
/// system of `dir` is full (GDAL reports a write that ran out of space as a failed write,
/// `TIFFAppendToStrip:Seek error` say, without the system's reason): less than 64 MiB or
/// than a twentieth of its size free. Any other error is kept.
pub(crate) fn blame_full_work_dir(dir: &Path, error: PreprocessError) -> PreprocessError {
    let PreprocessError::Raster(raster) = &error else {
        return error;
    };
    let Ok(fs) = rustix::fs::statvfs(dir) else {
        return error;
    };
    let block = fs.f_frsize.max(1);
    let (free, size) = (fs.f_bavail * block, fs.f_blocks * block);
    if free < FULL_BELOW_BYTES.min(size / 20) {
        PreprocessError::WorkSpace {
            dir: dir.display().to_string(),
            reason: format!("{raster} ({free} bytes free of {size})"),
        }
    } else {
        error
    }
}

/// The image of a browse: a URL, or a key on storage.
pub(crate) async fn fetch(
    storage: &Storage,
    file: &FileName,
    settings: &Settings,
) -> Result<Source, PreprocessError> {
    if file.is_url() {
        return Ok(Source::Url(file.as_str().to_owned()));
    }
    let key: StorageKey = file.as_str().parse().map_err(|e: pvs_storage::KeyError| {
        PreprocessError::BadMessage(format!("image reference {:?}: {e}", file.as_str()))
    })?;
    fetch_key(storage, &key, settings).await
}

/// The object at `key`: read in place on `file://` storage, downloaded otherwise (keeping
/// its file name's extension, which GDAL's archive readers rely on).
pub(crate) async fn fetch_key(
    storage: &Storage,
    key: &StorageKey,
    settings: &Settings,
) -> Result<Source, PreprocessError> {
    if let (StorageUrl::File { .. }, Some(path)) = (storage.url(), storage.gdal_path(key)) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(PreprocessError::Input {
                input: key.to_string(),
                reason: "the object does not exist".into(),
            });
        }
        return Ok(Source::Local(path));
    }
    let bytes = storage.get(key).await?;
    let name = key.as_str().rsplit('/').next().unwrap_or(key.as_str());
    let suffix = match name.find('.') {
        Some(dot) => &name[dot..],
        None => "",
    };
    let dir = settings.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let failure = |e: std::io::Error| {
        let reason = format!(
            "cannot write the download of {key} into {}: {e}",
            dir.display()
        );
        if pvs_storage::is_transient_io(e.kind()) {
            PreprocessError::WorkSpace {
                dir: dir.display().to_string(),
                reason,
            }
        } else {
            PreprocessError::Input {
                input: key.to_string(),
                reason,
            }
        }
    };
    let path = tempfile::Builder::new()
        .prefix("pvs-input-")
        .suffix(suffix)
        .tempfile_in(&dir)
        .map_err(failure)?
        .into_temp_path();
    tokio::fs::write(&path, &bytes).await.map_err(failure)?;
    Ok(Source::Downloaded(path))
}

/// What a package holds.
pub(crate) struct Package {
    /// The raster's name inside the package (or the key's file name).
    pub raster_name: String,
    /// Its GDAL path.
    pub gdal_path: String,
    /// A browse report for the raster, if the package has one.
    pub report: Option<PackageReport>,
    /// Without a browse report: the EO metadata document (EO O&M, GSC) of the package, if
    /// it has one.
    pub document: Option<PackageDocument>,
    /// The acquisition time the raster's tags give, if any (read when there is neither).
    pub tag_times: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// An EO metadata document found in a package.
pub(crate) struct PackageDocument {
    /// Its name in the package.
    pub name: String,
    /// What it says.
    pub metadata: EoMetadata,
    /// Whether the raster it describes has its own georeferencing.
    pub georeferenced: bool,
}

fn is_archive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Finds the raster inside the package at `path` (a GDAL path), and what describes it; a
/// plain image is its own raster. Blocking (GDAL I/O). In order:
///
/// 1. an ngEO browse report (`*.xml`) with a browse for one of the package's rasters: that
///    raster, described by the report;
/// 2. else an EO O&M or GSC document (`*.xml`, one at most): the raster it describes
///    ([`EoMetadata::pick_raster`]: the one it names as the product's file, else the
///    largest it does not name as a browse); a document that cannot be used fails the
///    package with its reason;
/// 3. else the package's only raster (several fail: nothing tells which is the product).
pub(crate) fn open_package(path: &str, key: &StorageKey) -> Result<Package, PreprocessError> {
    let failure = |reason: String| PreprocessError::Input {
        input: key.to_string(),
        reason,
    };
    let name = key.as_str().rsplit('/').next().unwrap_or(key.as_str());
    if !is_archive(name) {
        return Ok(Package {
            raster_name: name.to_owned(),
            gdal_path: path.to_owned(),
            report: None,
            document: None,
            tag_times: tag_times(path),
        });
    }
    let root = format!("/vsitar/{path}");
    let entries = gdal::vsi::read_dir(&root, true)
        .map_err(|e| failure(format!("not a readable tar archive: {e}")))?;
    let entries: Vec<String> = entries
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let rasters: Vec<&String> = entries
        .iter()
        .filter(|e| PACKAGE_RASTER_EXTENSIONS.contains(&extension(e).as_str()))
        .collect();
    if rasters.is_empty() {
        return Err(failure(format!(
            "the package holds no raster ({}) among its {} entries",
            PACKAGE_RASTER_EXTENSIONS.join(", "),
            entries.len()
        )));
    }
    let base = |entry: &str| entry.rsplit('/').next().unwrap_or(entry).to_owned();
    let mut documents = Vec::new();
    for entry in entries.iter().filter(|e| extension(e) == "xml") {
        let Some(bytes) = read_vsi(&format!("{root}/{entry}")) else {
            continue;
        };
        if let Ok(parsed) = BrowseReport::parse(&bytes) {
            let found = rasters.iter().find_map(|raster| {
                let raster_base = base(raster);
                parsed
                    .browses
                    .iter()
                    .position(|b| {
                        b.as_ref()
                            .is_ok_and(|b| base(b.file_name.as_str()) == raster_base)
                    })
                    .map(|index| (*raster, index))
            });
            if let Some((raster, index)) = found {
                return Ok(Package {
                    raster_name: base(raster),
                    gdal_path: format!("{root}/{raster}"),
                    report: Some((parsed, index)),
                    document: None,
                    tag_times: None,
                });
            }
            continue;
        }
        match parse_eo_metadata(&bytes) {
            // XML of another kind: not about the product.
            Err(EoMetadataError::NotEoMetadata { .. }) => {}
            other => documents.push((entry, other)),
        }
    }
    if let Some((document_name, metadata)) = eo_document(documents).map_err(failure)? {
        let sizes: Vec<(&str, u64)> = rasters
            .iter()
            .map(|raster| (raster.as_str(), vsi_size(&format!("{root}/{raster}"))))
            .collect();
        let index = metadata
            .pick_raster(&sizes)
            .map_err(|reason| failure(format!("metadata document {document_name}: {reason}")))?;
        let gdal_path = format!("{root}/{}", rasters[index]);
        return Ok(Package {
            raster_name: base(rasters[index]),
            document: Some(PackageDocument {
                name: document_name.to_owned(),
                georeferenced: is_georeferenced(&gdal_path),
                metadata,
            }),
            gdal_path,
            report: None,
            tag_times: None,
        });
    }
    let [raster] = rasters[..] else {
        return Err(failure(format!(
            "the package holds {} rasters ({}) and no metadata (an ngEO browse report, an EO \
             O&M or GSC document) tells which is the product; one is expected",
            rasters.len(),
            rasters
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let gdal_path = format!("{root}/{raster}");
    Ok(Package {
        raster_name: base(raster),
        tag_times: tag_times(&gdal_path),
        gdal_path,
        report: None,
        document: None,
    })
}

/// The one EO metadata document of a package among `documents` (each as read); `None`
/// without any; an error (the reason) for several, or for one that cannot be used.
fn eo_document(
    documents: Vec<(&String, Result<EoMetadata, EoMetadataError>)>,
) -> Result<Option<(&String, EoMetadata)>, String> {
    match documents.len() {
        0 => Ok(None),
        1 => {
            let Some((name, document)) = documents.into_iter().next() else {
                return Ok(None);
            };
            document
                .map(|document| Some((name, document)))
                .map_err(|e| format!("metadata document {name}: {e}"))
        }
        n => Err(format!(
            "the package holds {n} EO metadata documents ({}); one is expected",
            documents
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The size in bytes of the file at GDAL path `path`; 0 when GDAL cannot tell.
fn vsi_size(path: &str) -> u64 {
    let Ok(c_path) = CString::new(path) else {
        return 0;
    };
    // GDAL's `VSIStatBufL` is the C library's `struct stat64` (opaque in gdal-sys).
    let mut stat = std::mem::MaybeUninit::<libc::stat64>::zeroed();
    // SAFETY: `c_path` is a valid C string and `stat` a buffer of the type VSIStatL fills.
    let found = unsafe { gdal_sys::VSIStatL(c_path.as_ptr(), stat.as_mut_ptr().cast()) } == 0;
    if !found {
        return 0;
    }
    // SAFETY: VSIStatL succeeded, so it filled the buffer (it was zeroed before anyway).
    let stat = unsafe { stat.assume_init() };
    u64::try_from(stat.st_size).unwrap_or(0)
}

fn tag_times(path: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let dataset = gdal::Dataset::open(path).ok()?;
    pvs_raster::derive::time_from_tags(&dataset)
}

/// Reads a whole (small) file through GDAL's virtual file systems.
fn read_vsi(path: &str) -> Option<Vec<u8>> {
    let c_path = CString::new(path).ok()?;
    let mut buffer: *mut u8 = std::ptr::null_mut();
    let mut size: u64 = 0;
    // SAFETY: VSIIngestFile allocates `buffer` (freed with VSIFree below) and sets `size`.
    unsafe {
        let ok = gdal_sys::VSIIngestFile(
            std::ptr::null_mut(),
            c_path.as_ptr(),
            &mut buffer,
            &mut size,
            MAX_REPORT_BYTES as i64,
        );
        if ok == 0 || buffer.is_null() {
            return None;
        }
        let bytes = std::slice::from_raw_parts(buffer, size as usize).to_vec();
        gdal_sys::VSIFree(buffer.cast());
        Some(bytes)
    }
}

/// Whether the raster at GDAL path `path` carries its own georeferencing (a geotransform and
/// a CRS, or at least 3 tie points), as `modelInGeotiff` needs. `false` when GDAL cannot
/// open it either (the conversion then says why). Blocking.
pub(crate) fn is_georeferenced(path: &str) -> bool {
    gdal::Dataset::open(path).is_ok_and(|dataset| {
        (dataset.geo_transform().is_ok() && dataset.spatial_ref().is_ok())
            || dataset.gcps().len() >= 3
    })
}
