//! GDAL reads what `Storage` wrote, through `gdal_path` and `gdal_config` alone: the
//! `gdalinfo`/`gdal_translate` tools (package gdal-bin, `scripts/setup.sh`) against
//! `file://` and a real S3-compatible server (`scripts/s3-server.sh start`).

use crate::support;

use std::path::Path;

use pvs_storage::{Storage, StorageKey};
use tokio::process::Command;

/// Where the COG is stored: unusual characters must reach the same object through GDAL.
const COG_KEY: &str = "cogs/grid v1~[a]+%41.tif";

/// A 4×3 raster with the values 1 to 12.
const ASCII_GRID: &str = "ncols 4\nnrows 3\nxllcorner 0\nyllcorner 0\ncellsize 1\n\
                          1 2 3 4\n5 6 7 8\n9 10 11 12\n";

async fn run(command: &mut Command) -> String {
    let output = command.output().await.unwrap_or_else(|error| {
        panic!("cannot run {command:?} ({error}); install gdal-bin (scripts/setup.sh)")
    });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Makes a COG with GDAL, uploads it with `put_file`, and reads it back with GDAL.
async fn gdal_reads_a_cog_written_by_storage(storage: &Storage) {
    let scratch = tempfile::tempdir().unwrap();
    let grid = scratch.path().join("grid.asc");
    std::fs::write(&grid, ASCII_GRID).unwrap();
    let cog = scratch.path().join("grid.tif");
    run(Command::new("gdal_translate")
        .args(["-q", "-of", "COG"])
        .args([&grid, &cog]))
    .await;

    let key = StorageKey::parse(COG_KEY).unwrap();
    storage.put_file(&key, &cog).await.unwrap();
    let path = storage
        .gdal_path(&key)
        .expect("file and S3 storage have GDAL paths");
    let info = run(Command::new("gdalinfo")
        .arg("-mm")
        .arg(&path)
        .envs(storage.gdal_config())
        .env("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR"))
    .await;
    assert!(info.contains("Driver: GTiff"), "{info}");
    assert!(info.contains("Size is 4, 3"), "{info}");
    assert!(info.contains("Computed Min/Max=1.000,12.000"), "{info}");
}

#[tokio::test]
async fn gdal_reads_from_file_storage() {
    let test = support::file();
    gdal_reads_a_cog_written_by_storage(&test.storage).await;
    let path = test
        .storage
        .gdal_path(&StorageKey::parse(COG_KEY).unwrap())
        .unwrap();
    assert!(Path::new(&path).is_file(), "{path} is the stored file");
}

#[tokio::test]
async fn gdal_reads_from_s3_storage() {
    let test = support::s3("gdal/reads").await;
    gdal_reads_a_cog_written_by_storage(&test.storage).await;
}
