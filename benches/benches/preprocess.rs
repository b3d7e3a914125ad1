//! Preprocessor against GDAL's own tool, side by side in one run (issue 4).
//!
//! 1. `large`: one 10,000 × 10,000 RGB GeoTIFF (generated here by upsampling a fixture):
//!    `pvs_raster::convert::to_cog` against `gdal_translate -of COG` with the same creation
//!    options, alternating, `PVS_BENCH_ROUNDS` rounds (default 3); medians and their ratio.
//! 2. `batch`: 16 mid-size inputs (3,000 × 3,000 RGB GeoTIFFs) through the real queue
//!    (Redis) and the preprocessor worker (local-directory storage, as many workers as
//!    cores), against `gdal_translate -of COG` over the same files run as that many
//!    processes at once; the sides alternate which goes first each round; throughput ratio
//!    (median of the rounds, with their spread), and the peak RSS of this process (VmHWM)
//!    after the pvs runs. The run fails unless both sides made every COG, and the COGs of
//!    both sides have the same size, bands, overviews, block size and compression.
//!
//! Run: `cargo bench -p pvs-benches --bench preprocess [-- large|batch]`. Inputs go under
//! `PVS_BENCH_DIR` (default: the system's temporary folder); about 1 GB is needed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pvs_model::{
    BrowseItem, Collections, FileName, Geolocation, ImageType, ReferenceSystem, ReportInfo,
};
use pvs_preprocessor::{Preprocessor, Settings};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, Stage, StatusSet, WorkQueue};
use pvs_raster::convert::{CogOptions, Placement, to_cog};
use pvs_storage::Storage;

const SOURCE: &str = "fixtures/ngeo/test_data/MER_FRS_1PNPDE20060822_092058_000001972050_00308_23408_0077_RGB_reduced.tif";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn run(command: &mut Command) {
    let status = command
        .status()
        .expect("GDAL's tools are installed (scripts/setup.sh)");
    assert!(status.success(), "{command:?} failed");
}

/// An RGB GeoTIFF of `size` × `size` pixels: the MER fixture upsampled (bilinear), so the
/// pixels vary like imagery and compress like it.
fn generate(path: &Path, size: u32) {
    if path.exists() {
        return;
    }
    run(Command::new("gdal_translate")
        .args(["-q", "-r", "bilinear", "-outsize"])
        .arg(size.to_string())
        .arg(size.to_string())
        .args(["-co", "TILED=YES", "-co", "BIGTIFF=IF_SAFER"])
        .arg(workspace().join(SOURCE))
        .arg(path));
}

fn gdal_translate_cog(input: &Path, output: &Path, options: &CogOptions) {
    let _ = std::fs::remove_file(output);
    run(Command::new("gdal_translate")
        .arg("-q")
        .args(options.translate_args())
        .arg(input)
        .arg(output));
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn large(dir: &Path, rounds: usize) {
    let input = dir.join("large_10000.tif");
    eprintln!("generating {} ...", input.display());
    generate(&input, 10_000);
    let options = CogOptions::default();
    println!(
        "large: 10,000 × 10,000 RGB, creation options: {}",
        options.translate_args().join(" ")
    );
    let (mut pvs, mut gdal) = (Vec::new(), Vec::new());
    let geolocation = Geolocation::ModelInGeotiff;
    let placement = Placement {
        geolocation: &geolocation,
        reference_system: ReferenceSystem::Raw,
        footprint: None,
    };
    for round in 0..rounds {
        let output = dir.join("large_gdal.tif");
        let started = Instant::now();
        gdal_translate_cog(&input, &output, &options);
        gdal.push(started.elapsed().as_secs_f64());

        let output = dir.join("large_pvs.tif");
        let _ = std::fs::remove_file(&output);
        let started = Instant::now();
        to_cog(input.to_str().unwrap(), &placement, &output, &options).unwrap();
        pvs.push(started.elapsed().as_secs_f64());
        println!(
            "  round {}: gdal_translate {:.2} s, pvs {:.2} s",
            round + 1,
            gdal[round],
            pvs[round]
        );
    }
    let (pvs, gdal) = (median(&mut pvs), median(&mut gdal));
    println!(
        "large: median gdal_translate {gdal:.2} s, pvs {pvs:.2} s, pvs / gdal_translate = {:.3} (target ≤ 1.1)",
        pvs / gdal
    );
}

const BATCH: usize = 16;

fn item(id: &str, file: &str) -> BrowseItem {
    let now = chrono::Utc::now();
    BrowseItem {
        id: id.to_owned(),
        browse_identifier: None,
        collection: "BENCH".to_owned(),
        file: FileName::new(file).unwrap(),
        image_type: ImageType::Tiff,
        reference_system: ReferenceSystem::Raw,
        geolocation: Geolocation::ModelInGeotiff,
        footprint: None,
        start: now,
        end: now,
        report: ReportInfo {
            name: "bench.xml".to_owned(),
            responsible_org_name: "bench".to_owned(),
            date_time: now,
            browse_type: "BENCH".to_owned(),
        },
    }
}

async fn pvs_batch(storage_dir: &Path, concurrency: usize) -> f64 {
    let redis = TestRedis::new().await;
    let queue: Arc<dyn WorkQueue> = redis.queue.clone();
    let storage = Storage::from_url(
        &format!("file://{}", storage_dir.display()).parse().unwrap(),
        None,
    )
    .unwrap();
    let preprocessor = Arc::new(
        Preprocessor::new(
            queue.clone(),
            storage,
            Collections::default(),
            Settings {
                threads: concurrency,
                ..Settings::default()
            },
        )
        .unwrap(),
    );
    let items: Vec<String> = (0..BATCH)
        .map(|i| item(&format!("p{i}"), &format!("in/mid_{i}.tif")).to_json())
        .collect();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    queue
        .push_many(QueueName::PreprocessMd, &items)
        .await
        .unwrap();
    let worker = tokio::spawn(preprocessor.run("bench", concurrency, shutdown));
    loop {
        let done = queue
            .members(Stage::Preprocess, StatusSet::Success)
            .await
            .unwrap()
            .len();
        let failed = queue
            .members(Stage::Preprocess, StatusSet::Failure)
            .await
            .unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        if done == BATCH {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    elapsed
}

/// `gdal_translate -of COG` over `inputs` into `out_dir`, `parallel` processes at a time;
/// the seconds it took.
fn gdal_batch(inputs: &[PathBuf], out_dir: &Path, parallel: usize, options: &CogOptions) -> f64 {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    gdal_translate_cog(input, &out_dir.join(format!("gdal_{i}.tif")), options);
                }
            });
        }
    });
    started.elapsed().as_secs_f64()
}

/// What `gdalinfo -json` says of a COG: size, bands, overviews of each band, block size
/// and the image structure (layout, compression).
fn cog_shape(path: &Path) -> serde_json::Value {
    let output = Command::new("gdalinfo")
        .arg("-json")
        .arg(path)
        .output()
        .expect("gdalinfo is installed (scripts/setup.sh)");
    assert!(output.status.success(), "gdalinfo {}", path.display());
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let bands: Vec<_> = info["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|band| {
            serde_json::json!({
                "block": band["block"],
                "type": band["type"],
                "overviews": band["overviews"].as_array().map_or(0, Vec::len),
            })
        })
        .collect();
    let structure = &info["metadata"]["IMAGE_STRUCTURE"];
    serde_json::json!({
        "size": info["size"],
        "bands": bands,
        "layout": structure["LAYOUT"],
        "compression": structure["COMPRESSION"],
    })
}

/// The COGs under `dir` (and its subfolders).
fn cogs_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(cogs_under(&path));
        } else if path.extension().is_some_and(|e| e == "tif") {
            found.push(path);
        }
    }
    found
}

fn batch(dir: &Path, rounds: usize) {
    let source = dir.join("mid_3000.tif");
    generate(&source, 3_000);
    let storage_dir = dir.join("storage");
    std::fs::create_dir_all(storage_dir.join("in")).unwrap();
    let mut inputs = Vec::new();
    for i in 0..BATCH {
        let link = storage_dir.join(format!("in/mid_{i}.tif"));
        if !link.exists() {
            std::fs::hard_link(&source, &link).unwrap();
        }
        inputs.push(link);
    }
    let gdal_dir = dir.join("gdal");
    std::fs::create_dir_all(&gdal_dir).unwrap();
    let concurrency = std::thread::available_parallelism().map_or(2, usize::from);
    println!(
        "batch: {BATCH} × 3,000 × 3,000 RGB; pvs: {concurrency} workers; gdal_translate: {concurrency} processes at once"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = CogOptions::default();
    let (mut pvs, mut gdal) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let _ = std::fs::remove_dir_all(storage_dir.join("BENCH"));
        let gdal_first = round % 2 == 0;
        if gdal_first {
            gdal.push(gdal_batch(&inputs, &gdal_dir, concurrency, &options));
        }
        pvs.push(runtime.block_on(pvs_batch(&storage_dir, concurrency)));
        if !gdal_first {
            gdal.push(gdal_batch(&inputs, &gdal_dir, concurrency, &options));
        }
        println!(
            "  round {} ({} first): gdal_translate {:.2} s ({:.2} items/s), pvs {:.2} s ({:.2} items/s)",
            round + 1,
            if gdal_first { "gdal_translate" } else { "pvs" },
            gdal[round],
            BATCH as f64 / gdal[round],
            pvs[round],
            BATCH as f64 / pvs[round]
        );
    }
    // Both sides made every COG, of the same shape.
    let made = cogs_under(&storage_dir.join("BENCH"));
    assert_eq!(made.len(), BATCH, "pvs's COGs: {made:?}");
    let reference = cog_shape(&gdal_dir.join("gdal_0.tif"));
    assert_eq!(reference["layout"], "COG", "{reference}");
    for i in 0..BATCH {
        assert_eq!(
            cog_shape(&gdal_dir.join(format!("gdal_{i}.tif"))),
            reference
        );
    }
    for cog in &made {
        assert_eq!(cog_shape(cog), reference, "{}", cog.display());
    }
    let spread = |values: &[f64]| {
        let items_per_s: Vec<String> = values
            .iter()
            .map(|s| format!("{:.2}", BATCH as f64 / s))
            .collect();
        items_per_s.join(" · ")
    };
    let (pvs_rounds, gdal_rounds) = (spread(&pvs), spread(&gdal));
    let (pvs, gdal) = (median(&mut pvs), median(&mut gdal));
    println!(
        "batch: median gdal_translate ({concurrency} at once) {:.2} items/s (rounds {gdal_rounds}), pvs {:.2} items/s (rounds {pvs_rounds}), throughput ratio {:.2} (target ≥ 1.0); peak RSS of the pvs process {:.0} MiB",
        BATCH as f64 / gdal,
        BATCH as f64 / pvs,
        gdal / pvs,
        peak_rss_mib()
    );
}

fn main() {
    pvs_raster::init();
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    let rounds = std::env::var("PVS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let base = std::env::var("PVS_BENCH_DIR").map_or_else(|_| std::env::temp_dir(), PathBuf::from);
    let dir = base.join("pvs-bench-preprocess");
    std::fs::create_dir_all(&dir).unwrap();
    if wanted("batch") {
        batch(&dir, rounds);
    }
    if wanted("large") {
        large(&dir, rounds);
    }
}
