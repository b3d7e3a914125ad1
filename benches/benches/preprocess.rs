//! Preprocessor against GDAL's own tool, side by side in one run (issue 4).
//!
//! 1. `large`: one 10,000 × 10,000 RGB GeoTIFF (generated here by upsampling a fixture):
//!    `pvs_raster::convert::to_cog` against `gdal_translate -of COG` with the same creation
//!    options, alternating, `PVS_BENCH_ROUNDS` rounds (default 3); medians and their ratio.
//! 2. `batch`: 16 mid-size inputs (3,000 × 3,000 RGB GeoTIFFs) through the real queue
//!    (Redis) and the preprocessor worker (local-directory storage), against a sequential
//!    loop of `gdal_translate -of COG` over the same files; throughput ratio, and the peak
//!    RSS of this process (VmHWM) after the pvs runs.
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

fn batch(dir: &Path, rounds: usize) {
    let source = dir.join("mid_3000.tif");
    generate(&source, 3_000);
    let storage_dir = dir.join("storage");
    std::fs::create_dir_all(storage_dir.join("in")).unwrap();
    for i in 0..BATCH {
        let link = storage_dir.join(format!("in/mid_{i}.tif"));
        if !link.exists() {
            std::fs::hard_link(&source, &link).unwrap();
        }
    }
    let concurrency = std::thread::available_parallelism().map_or(2, usize::from);
    println!("batch: {BATCH} × 3,000 × 3,000 RGB; pvs concurrency {concurrency}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = CogOptions::default();
    let (mut pvs, mut gdal) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let started = Instant::now();
        for i in 0..BATCH {
            gdal_translate_cog(
                &storage_dir.join(format!("in/mid_{i}.tif")),
                &dir.join("mid_gdal.tif"),
                &options,
            );
        }
        gdal.push(started.elapsed().as_secs_f64());
        pvs.push(runtime.block_on(pvs_batch(&storage_dir, concurrency)));
        println!(
            "  round {}: sequential gdal_translate {:.2} s ({:.2} items/s), pvs {:.2} s ({:.2} items/s)",
            round + 1,
            gdal[round],
            BATCH as f64 / gdal[round],
            pvs[round],
            BATCH as f64 / pvs[round]
        );
    }
    let (pvs, gdal) = (median(&mut pvs), median(&mut gdal));
    println!(
        "batch: median sequential gdal_translate {:.2} items/s, pvs {:.2} items/s, throughput ratio {:.2} (target ≥ 1.7); peak RSS of the pvs process {:.0} MiB",
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
