//! Local storage in a folder of the test (usually a `tempfile::TempDir`).

use std::path::Path;

use pvs_storage::Storage;

/// `file://` and the absolute path of `dir`: a `STORAGE_URL` or `TILES_STORAGE_URL`.
pub fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// The storage whose objects are the files under `dir`.
pub fn local_storage(dir: &Path) -> Storage {
    let url = file_url(dir);
    Storage::from_url(
        &url.parse()
            .unwrap_or_else(|error| panic!("storage URL {url}: {error}")),
        None,
    )
    .unwrap_or_else(|error| panic!("opening {url}: {error}"))
}
