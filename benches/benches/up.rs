//! `pvs up` on its embedded backends: cold start to the first served request, and the time
//! from the POST of a single-browse report with a 2,000 × 2,000 image to its first tile.
//!
//! Not a criterion bench: `benches/up/run.sh` builds pvs in release mode and runs
//! `PVS_BIN=target/release/pvs cargo bench -p pvs-benches --bench up`. Each run (default 7,
//! `PVS_BENCH_RUNS`) starts `pvs up` on a new data directory and measures:
//!
//! - **cold start**: from spawning the process to the first `200` of `GET /health` (asked
//!   every millisecond);
//! - **POST to first tile**: the image is put in the local storage (where a provider's upload
//!   would be), then the clock starts, the report is POSTed to `/ingest`, OpenSearch is asked
//!   for the product every 10 ms until it is found, and its WMTS tile at zoom 8 over the
//!   footprint's centre is fetched; the clock stops when that tile (a PNG of imagery, not an
//!   empty tile) has arrived.
//!
//! Prints every run and the medians.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gdal::DriverManager;
use gdal::raster::Buffer;

type Error = Box<dyn std::error::Error + Send + Sync>;

const SIDE: usize = 2000;
/// The footprint: west, south, east, north (a square in lon/lat over the Alps).
const FOOTPRINT: [f64; 4] = [10.0, 46.0, 12.0, 48.0];

fn main() {
    if let Err(e) = run() {
        eprintln!("up bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let pvs = PathBuf::from(std::env::var("PVS_BIN").map_err(|_| "set PVS_BIN to the pvs binary")?);
    let runs: usize = std::env::var("PVS_BENCH_RUNS")
        .unwrap_or_else(|_| "7".to_owned())
        .parse()?;
    let work = tempfile_dir()?;
    let image = work.join("bench.jpg");
    write_image(&image)?;
    println!(
        "image: {SIDE} x {SIDE} RGB JPEG, {} KiB",
        std::fs::metadata(&image)?.len() / 1024
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let (mut starts, mut tiles) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let data = work.join(format!("run-{run}"));
        let (start, tile) = runtime.block_on(once(&pvs, &data, &image))?;
        println!(
            "run {run}: cold start {:.1} ms, POST to first tile {:.0} ms",
            ms(start),
            ms(tile)
        );
        starts.push(start);
        tiles.push(tile);
        std::fs::remove_dir_all(&data)?;
    }
    println!(
        "median of {runs}: cold start {:.1} ms (target <= 1000), POST to first tile {:.0} ms (target <= 2000)",
        ms(median(&mut starts)),
        ms(median(&mut tiles))
    );
    std::fs::remove_dir_all(&work)?;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

fn tempfile_dir() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!("pvs-up-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A textured RGB image (smooth gradients with a fine pattern, as imagery compresses).
fn write_image(path: &Path) -> Result<(), Error> {
    let memory = DriverManager::get_driver_by_name("MEM")?
        .create_with_band_type::<u8, _>("", SIDE, SIDE, 3)?;
    for band in 1..=3 {
        let data: Vec<u8> = (0..SIDE * SIDE)
            .map(|i| {
                let (x, y) = (i % SIDE, i / SIDE);
                let smooth = (x * (band + 1) + y * (4 - band)) / 24;
                ((smooth + ((x * 7) ^ (y * 13)) % 23) % 256) as u8
            })
            .collect();
        let mut buffer = Buffer::new((SIDE, SIDE), data);
        memory
            .rasterband(band)?
            .write((0, 0), (SIDE, SIDE), &mut buffer)?;
    }
    let jpeg = DriverManager::get_driver_by_name("JPEG")?;
    memory.create_copy(&jpeg, path, &gdal::raster::RasterCreationOptions::default())?;
    Ok(())
}

fn report(id: &str, file: &str) -> String {
    let [w, s, e, n] = FOOTPRINT;
    let last = SIDE - 1;
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rep:browseReport xmlns:rep="http://ngeo.eo.esa.int/schema/browseReport" version="1.1">
  <rep:responsibleOrgName>bench</rep:responsibleOrgName>
  <rep:dateTime>2026-01-01T00:00:00Z</rep:dateTime>
  <rep:browseType>BENCH</rep:browseType>
  <rep:browse>
    <rep:browseIdentifier>{id}</rep:browseIdentifier>
    <rep:fileName>{file}</rep:fileName>
    <rep:imageType>Jpeg</rep:imageType>
    <rep:referenceSystemIdentifier>EPSG:4326</rep:referenceSystemIdentifier>
    <rep:footprint nodeNumber="5">
      <rep:colRowList>0 0 {last} 0 {last} {last} 0 {last} 0 0</rep:colRowList>
      <rep:coordList>{n} {w} {n} {e} {s} {e} {s} {w} {n} {w}</rep:coordList>
    </rep:footprint>
    <rep:startTime>2026-01-01T10:00:00Z</rep:startTime>
    <rep:endTime>2026-01-01T10:01:00Z</rep:endTime>
  </rep:browse>
</rep:browseReport>
"#
    )
}

/// Kills `pvs up` when the run ends, however it ends.
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn once(pvs: &Path, data: &Path, image: &Path) -> Result<(Duration, Duration), Error> {
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?
    };
    let base = format!("http://{address}");
    let client = reqwest::Client::new();

    let spawned = Instant::now();
    let _up = Up(Command::new(pvs)
        .args(["up", "--listen", &address.to_string(), "--data-dir"])
        .arg(data)
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?);
    loop {
        if let Ok(r) = client.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        if spawned.elapsed() > Duration::from_secs(30) {
            return Err("pvs up did not answer within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let cold_start = spawned.elapsed();

    std::fs::copy(image, data.join("storage/bench.jpg"))?;
    let posted = Instant::now();
    let answer = client
        .post(format!("{base}/ingest"))
        .body(report("bench_1", "bench.jpg"))
        .send()
        .await?;
    if !answer.status().is_success() {
        return Err(format!(
            "POST answered {}: {}",
            answer.status(),
            answer.text().await?
        )
        .into());
    }
    loop {
        let r = client
            .get(format!(
                "{base}/opensearch/collections/BENCH/json?uid=bench_1"
            ))
            .send()
            .await?;
        if r.status().is_success() {
            let found: serde_json::Value = serde_json::from_slice(&r.bytes().await?)?;
            if found["features"].as_array().is_some_and(|f| f.len() == 1) {
                break;
            }
        }
        if posted.elapsed() > Duration::from_secs(60) {
            return Err("the product was not searchable within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (lon, lat) = (
        (FOOTPRINT[0] + FOOTPRINT[2]) / 2.0,
        (FOOTPRINT[1] + FOOTPRINT[3]) / 2.0,
    );
    let z = 8;
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    let tile = client
        .get(format!(
            "{base}/wmts/1.0.0/BENCH/default/default/WebMercatorQuad/{z}/{y}/{x}.png"
        ))
        .send()
        .await?;
    let status = tile.status();
    let body = tile.bytes().await?;
    let first_tile = posted.elapsed();
    if !status.is_success() || !body.starts_with(b"\x89PNG") || body.len() < 10_000 {
        return Err(format!("the tile answered {status} with {} bytes", body.len()).into());
    }
    Ok((cold_start, first_tile))
}
