//! Datasets kept open between map requests.
//!
//! Opening a COG reads its header, and closing it drops what GDAL's block cache holds of it
//! (decoded tiles are cached per open dataset): a renderer that opened every COG anew for
//! every request decoded the same JPEG tiles again and again. The pool hands out a dataset
//! to one user at a time and takes it back afterwards, keeping at most its capacity of idle
//! datasets, the least recently used going first.
//!
//! A file replaced under the same path (a product registered again) is noticed by its size
//! and modification time, read with `VSIStatL` before each use; a changed file is opened
//! anew. For `/vsis3/` and `/vsicurl/` paths GDAL answers that from its own cache of file
//! properties, as it does for every open, and keeps the byte ranges it read: a file
//! replaced on object storage looks unchanged, and an open of it may mix the old file's
//! header with the new one's bytes. So a user that knows which version of the file it wants
//! (a product's catalog record: [`crate::render::MosaicSource::version`]) says so with a
//! *token*: when the token of a path changes, the datasets of that path are closed and what
//! GDAL cached of it is dropped (`VSICurlPartialClearCache`) before it is opened again.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::ops::Deref;
use std::sync::Mutex;

use gdal::Dataset;

use crate::RasterError;

/// How many paths' tokens a pool remembers; past that it forgets them all, with every idle
/// dataset and everything GDAL cached of remote files.
const KNOWN_TOKENS: usize = 100_000;

/// Idle open datasets, by path.
pub(crate) struct Pool {
    idle: Mutex<Vec<Idle>>,
    capacity: usize,
    /// The token last asked for, by path.
    known: Mutex<BTreeMap<String, String>>,
}

struct Idle {
    path: String,
    version: Version,
    token: Option<String>,
    dataset: Dataset,
}

/// What tells one file under a path from the next: its size and modification time (to the
/// nanosecond where the file system keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    size: u64,
    modified: (i64, i64),
}

impl Pool {
    /// A pool keeping at most `capacity` idle datasets.
    pub(crate) const fn new(capacity: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            capacity,
            known: Mutex::new(BTreeMap::new()),
        }
    }

    /// The dataset at `path`: an idle one of the same file if there is one, else opened.
    /// It goes back to the pool when the returned guard is dropped. `token` names the
    /// version of the file the caller wants (see the module's documentation); `None`: any.
    pub(crate) fn take(&self, path: &str, token: Option<&str>) -> Result<Pooled<'_>, RasterError> {
        if let Some(token) = token {
            self.note_token(path, token);
        }
        let version = version(path);
        if let Some(version) = version {
            let mut idle = self.lock();
            // Datasets of an earlier file under this path are closed.
            idle.retain(|entry| {
                entry.path != path || (entry.version == version && entry.token.as_deref() == token)
            });
            if let Some(position) = idle.iter().rposition(|entry| entry.path == path) {
                let entry = idle.remove(position);
                return Ok(Pooled {
                    pool: self,
                    path: entry.path,
                    version: Some(version),
                    token: entry.token,
                    dataset: Some(entry.dataset),
                });
            }
        }
        let dataset = crate::open(path).inspect_err(|_| {
            // GDAL remembers that a remote file it could not reach (object storage down)
            // does not exist, for as long as the process runs: forget it, so that the next
            // attempt asks storage again (found by the fault suite's s3-outage row).
            forget_cached(Some(path));
        })?;
        Ok(Pooled {
            pool: self,
            path: path.to_owned(),
            version,
            token: token.map(str::to_owned),
            dataset: Some(dataset),
        })
    }

    /// Records that `path` is wanted in the version `token`; when that is another version
    /// than the one asked for before, drops what GDAL cached of the file (the new file is
    /// then read from storage: its size, its header, its bytes).
    fn note_token(&self, path: &str, token: &str) {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match known.get(path) {
            Some(known_token) if known_token == token => {}
            Some(_) => {
                known.insert(path.to_owned(), token.to_owned());
                drop(known);
                forget_cached(Some(path));
            }
            None => {
                if known.len() >= KNOWN_TOKENS {
                    known.clear();
                    self.lock().clear();
                    forget_cached(None);
                }
                known.insert(path.to_owned(), token.to_owned());
            }
        }
    }

    /// Whether `token` is (still) the version wanted of `path`.
    fn current(&self, path: &str, token: Option<&str>) -> bool {
        let Some(token) = token else { return true };
        let known = self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known
            .get(path)
            .is_none_or(|known_token| known_token == token)
    }

    /// How many datasets are idle.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.lock().len()
    }

    fn give_back(&self, path: String, version: Version, token: Option<String>, dataset: Dataset) {
        // A dataset of a version replaced while it was in use is closed.
        if !self.current(&path, token.as_deref()) {
            return;
        }
        let mut idle = self.lock();
        idle.push(Idle {
            path,
            version,
            token,
            dataset,
        });
        if idle.len() > self.capacity {
            let excess = idle.len() - self.capacity;
            idle.drain(..excess);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // A panic while holding the lock leaves a valid list: keep using it.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A dataset taken from a [`Pool`], given back when dropped.
pub(crate) struct Pooled<'p> {
    pool: &'p Pool,
    path: String,
    /// `None` when the file's version could not be read: not kept.
    version: Option<Version>,
    token: Option<String>,
    dataset: Option<Dataset>,
}

impl Deref for Pooled<'_> {
    type Target = Dataset;

    fn deref(&self) -> &Dataset {
        self.dataset
            .as_ref()
            .expect("a pooled dataset until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let (Some(version), Some(dataset)) = (self.version, self.dataset.take()) {
            self.pool.give_back(
                std::mem::take(&mut self.path),
                version,
                self.token.take(),
                dataset,
            );
        }
    }
}

/// Drops what GDAL keeps of remote files (`/vsicurl/`, `/vsis3/` and the like: their
/// properties and the byte ranges read): of those under `path`, or of all.
fn forget_cached(path: Option<&str>) {
    match path {
        Some(path) => {
            if let Ok(c_path) = CString::new(path) {
                // SAFETY: `c_path` is a valid C string; GDAL locks its cache itself.
                unsafe { gdal_sys::VSICurlPartialClearCache(c_path.as_ptr()) };
            }
        }
        // SAFETY: no argument; GDAL locks its cache itself.
        None => unsafe { gdal_sys::VSICurlClearCache() },
    }
}

/// The size and modification time GDAL reports for `path`; `None` if it cannot.
fn version(path: &str) -> Option<Version> {
    let c_path = CString::new(path).ok()?;
    // GDAL's `VSIStatBufL` is the C library's `struct stat64` (opaque in gdal-sys).
    let mut stat = std::mem::MaybeUninit::<libc::stat64>::zeroed();
    // SAFETY: `c_path` is a valid C string and `stat` a buffer of the type VSIStatL fills.
    let found = unsafe { gdal_sys::VSIStatL(c_path.as_ptr(), stat.as_mut_ptr().cast()) } == 0;
    if !found {
        return None;
    }
    // SAFETY: VSIStatL succeeded, so it filled the buffer (it was zeroed before anyway).
    let stat = unsafe { stat.assume_init() };
    Some(Version {
        size: stat.st_size as u64,
        modified: (stat.st_mtime, stat.st_mtime_nsec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::DriverManager;

    fn write_tiff(path: &str, size: usize) {
        let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
        driver
            .create_with_band_type::<u8, _>(path, size, size, 1)
            .unwrap();
    }

    #[test]
    fn datasets_are_reused_until_their_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tif").to_str().unwrap().to_owned();
        write_tiff(&path, 8);
        let pool = Pool::new(4);
        {
            let first = pool.take(&path, None).unwrap();
            assert_eq!(first.raster_size(), (8, 8));
            // In use: a second user gets a dataset of its own.
            let second = pool.take(&path, None).unwrap();
            assert_eq!(second.raster_size(), (8, 8));
            assert_eq!(pool.idle(), 0);
        }
        assert_eq!(pool.idle(), 2);
        let again = pool.take(&path, None).unwrap();
        assert_eq!(pool.idle(), 1, "an idle dataset was reused");
        drop(again);

        // The file is replaced by a bigger one (another size, so another version): the
        // idle datasets of the old file are closed and the new one is read.
        std::fs::remove_file(&path).unwrap();
        write_tiff(&path, 16);
        let replaced = pool.take(&path, None).unwrap();
        assert_eq!(replaced.raster_size(), (16, 16));
        assert_eq!(pool.idle(), 0, "the old file's datasets were dropped");
        drop(replaced);

        // Replaced by a file of the same size at once: the modification time tells them
        // apart (to the nanosecond), and the new contents are read.
        let before = version(&path).unwrap();
        let other = dir.path().join("b.tif");
        let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
        let dataset = driver
            .create_with_band_type::<u8, _>(&other, 16, 16, 1)
            .unwrap();
        dataset.rasterband(1).unwrap().fill(7.0, None).unwrap();
        drop(dataset);
        std::fs::rename(&other, &path).unwrap();
        let after = version(&path).unwrap();
        assert_eq!(before.size, after.size);
        assert_ne!(before, after);
        let reread = pool.take(&path, None).unwrap();
        let value: Vec<u8> = reread
            .rasterband(1)
            .unwrap()
            .read_as::<u8>((0, 0), (1, 1), (1, 1), None)
            .unwrap()
            .into_shape_and_vec()
            .1;
        assert_eq!(value, vec![7], "the new file's pixels");
    }

    #[test]
    fn a_new_token_closes_the_datasets_of_the_earlier_version() {
        // What object storage does: GDAL reports a replaced file as unchanged (from its cache
        // of file properties); the token tells the versions apart.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tif").to_str().unwrap().to_owned();
        write_tiff(&path, 8);
        let pool = Pool::new(4);
        drop(pool.take(&path, Some("v1")).unwrap());
        drop(pool.take(&path, Some("v1")).unwrap());
        assert_eq!(pool.idle(), 1, "the same version is reused");
        let in_use = pool.take(&path, Some("v1")).unwrap();
        let newer = pool.take(&path, Some("v2")).unwrap();
        assert_eq!(pool.idle(), 0);
        drop(in_use);
        assert_eq!(
            pool.idle(),
            0,
            "a dataset of the replaced version is not kept"
        );
        drop(newer);
        assert_eq!(pool.idle(), 1);
        let again = pool.take(&path, Some("v2")).unwrap();
        assert_eq!(pool.idle(), 0, "the new version's dataset is reused");
        drop(again);
        // Without a token, any version will do.
        drop(pool.take(&path, None).unwrap());
        assert_eq!(pool.idle(), 1);
    }

    #[test]
    fn the_pool_keeps_at_most_its_capacity_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<String> = (0..3)
            .map(|i| {
                let path = dir.path().join(format!("{i}.tif"));
                let path = path.to_str().unwrap().to_owned();
                write_tiff(&path, 4);
                path
            })
            .collect();
        let pool = Pool::new(2);
        for path in &paths {
            drop(pool.take(path, None).unwrap());
        }
        assert_eq!(pool.idle(), 2);
        let idle: Vec<String> = pool.lock().iter().map(|e| e.path.clone()).collect();
        assert_eq!(
            idle,
            paths[1..].to_vec(),
            "the least recently used went first"
        );
    }

    #[test]
    fn a_missing_file_is_an_open_error_naming_it() {
        let pool = Pool::new(2);
        let error = pool.take("/nonexistent/x.tif", None).err().unwrap();
        assert!(error.to_string().contains("/nonexistent/x.tif"), "{error}");
        assert_eq!(pool.idle(), 0);
    }
}
