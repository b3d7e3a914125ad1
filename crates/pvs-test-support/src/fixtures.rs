//! The repository's test data, found from this crate's place in the workspace (whichever
//! crate's tests ask).

use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `fixtures/ngeo`: the ngEO browse reports and images (`reference_test_data`, `test_data`,
/// `regular_grid_clipping`).
pub fn ngeo() -> PathBuf {
    repository().join("fixtures/ngeo")
}
