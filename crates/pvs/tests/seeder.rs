//! `pvs seeder` as operators run it: a command-line job against a real PostGIS catalog and
//! COGs written by GDAL fills exactly the tiles computed from the footprints, a rerun makes
//! nothing, and bad arguments exit 2 naming the flag.

use std::collections::BTreeSet;
use std::f64::consts::PI;
use std::path::Path;
use std::process::Output;

use chrono::{DateTime, Utc};
use gdal::DriverManager;
use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use geo::{MultiPolygon, polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_test_support::{clean_command, file_url};

const PVS: &str = env!("CARGO_BIN_EXE_pvs");

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A one-colour RGB COG in EPSG:4326 over `bbox`.
fn write_cog(path: &Path, [west, south, east, north]: [f64; 4]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let size = 100;
    let mut dataset = DriverManager::get_driver_by_name("MEM")
        .unwrap()
        .create_with_band_type::<u8, _>("", size, size, 3)
        .unwrap();
    dataset
        .set_geo_transform(&[
            west,
            (east - west) / size as f64,
            0.0,
            north,
            0.0,
            -(north - south) / size as f64,
        ])
        .unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    for band in 1..=3 {
        let mut buffer = Buffer::new((size, size), vec![(band * 60) as u8; size * size]);
        dataset
            .rasterband(band)
            .unwrap()
            .write((0, 0), (size, size), &mut buffer)
            .unwrap();
    }
    let cog = DriverManager::get_driver_by_name("COG").unwrap();
    dataset
        .create_copy(&cog, path, &RasterCreationOptions::new())
        .unwrap();
}

/// Tile bounds in degrees by the textbook formulas.
fn tile_bounds(tms: &str, z: u8, x: u32, y: u32) -> [f64; 4] {
    let n = f64::from(1u32 << z);
    if tms == "WebMercatorQuad" {
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        [
            lon(f64::from(x)),
            lat(f64::from(y + 1)),
            lon(f64::from(x + 1)),
            lat(f64::from(y)),
        ]
    } else {
        let side = 180.0 / n;
        [
            -180.0 + f64::from(x) * side,
            90.0 - f64::from(y + 1) * side,
            -180.0 + f64::from(x + 1) * side,
            90.0 - f64::from(y) * side,
        ]
    }
}

/// `{layer}/{time}/{tms}/{z}/{x}/{y}.png` of every tile overlapping `bbox` (positive area),
/// by a loop over the whole matrix.
fn expected(
    layer: &str,
    times: &[&str],
    tms: &str,
    zooms: std::ops::RangeInclusive<u8>,
    bbox: [f64; 4],
) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for z in zooms {
        let n = 1u32 << z;
        let columns = if tms == "WorldCRS84Quad" { 2 * n } else { n };
        for y in 0..n {
            for x in 0..columns {
                let t = tile_bounds(tms, z, x, y);
                if t[0] < bbox[2] && bbox[0] < t[2] && t[1] < bbox[3] && bbox[1] < t[3] {
                    for time in times {
                        keys.insert(format!("{layer}/{time}/{tms}/{z}/{x}/{y}.png"));
                    }
                }
            }
        }
    }
    keys
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

struct World {
    database: TestDatabase,
    data: tempfile::TempDir,
    tiles: tempfile::TempDir,
}

impl World {
    async fn new() -> Self {
        let database = TestDatabase::create().await;
        let catalog = database.catalog().await;
        catalog
            .upsert_collection(&Collection::new("CLI").unwrap())
            .await
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        write_cog(&data.path().join("CLI/a.tif"), [10.3, 44.2, 12.7, 46.6]);
        catalog
            .register(&Product {
                properties: Default::default(),
                id: "a".into(),
                collection: "CLI".into(),
                product_type: None,
                footprint: MultiPolygon(vec![polygon![
                    (x: 10.3, y: 44.2),
                    (x: 12.7, y: 44.2),
                    (x: 12.7, y: 46.6),
                    (x: 10.3, y: 46.6),
                    (x: 10.3, y: 44.2),
                ]]),
                begin: at("2020-05-01T10:00:00Z"),
                end: at("2020-05-01T10:00:30Z"),
                location: "CLI/a.tif".into(),
                metadata: serde_json::json!({}),
            })
            .await
            .unwrap();
        Self {
            database,
            data,
            tiles: tempfile::tempdir().unwrap(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database.url.clone()),
            ("STORAGE_URL", file_url(self.data.path())),
            ("TILES_STORAGE_URL", file_url(self.tiles.path())),
            ("RUST_LOG", "warn".to_owned()),
        ]
    }

    fn seeder(&self, args: &[&str]) -> Output {
        clean_command(PVS, ["seeder"].iter().chain(args), self.env())
            .output()
            .expect("pvs runs")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_job_fills_exactly_the_expected_tiles_and_resumes() {
    let world = World::new().await;
    let args = [
        "--collection",
        "CLI",
        "--time",
        "2020-05",
        "--zoom",
        "2-6",
        "--tms",
        "WorldCRS84Quad",
        "--format",
        "png",
    ];
    let out = world.seeder(&args);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let expected = expected(
        "tiles/CLI",
        &["20200501T100000Z_20200501T100031Z", "default"],
        "WorldCRS84Quad",
        2..=6,
        [10.3, 44.2, 12.7, 46.6],
    );
    assert_eq!(files(world.tiles.path()), expected);
    let stdout = text(&out.stdout);
    let n = expected.len();
    assert!(
        stdout.starts_with(&format!("{n} of {n} tiles of 1 products")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{n} rendered, 0 empty, 0 already stored")),
        "{stdout}"
    );
    // Not a terminal: progress comes as whole lines, ending at 100%.
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "1 products, {n} tiles to make (tiles already stored are skipped)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{n}/{n} tiles (100.0%)")),
        "{stderr}"
    );
    assert!(!stderr.contains('\r'));

    // Resumable: after losing two tiles, a rerun draws exactly those.
    let lost: Vec<&String> = expected.iter().take(2).collect();
    for key in &lost {
        std::fs::remove_file(world.tiles.path().join(key)).unwrap();
    }
    let out = world.seeder(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!(
            "2 rendered, 0 empty, {} already stored (skipped)",
            n - 2
        )),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(files(world.tiles.path()), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapcache_grid_names_seed_the_tiles_of_the_set_they_name() {
    let world = World::new().await;
    let seed = |tms: &str| {
        let job = "--collection CLI --time 2020-05 --zoom 2-4 --tms";
        let args: Vec<&str> = job.split(' ').chain([tms]).collect();
        let out = world.seeder(&args);
        assert!(out.status.success(), "--tms {tms}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let times = ["20200501T100000Z_20200501T100031Z", "default"];
    let bbox = [10.3, 44.2, 12.7, 46.6];
    // MapCache's WGS84 grid is WorldCRS84Quad: its tiles are stored under that name.
    let crs84 = expected("tiles/CLI", &times, "WorldCRS84Quad", 2..=4, bbox);
    let n = crs84.len();
    let stdout = seed("WGS84");
    assert!(
        stdout.contains(&format!("{n} rendered, 0 empty, 0 already stored")),
        "{stdout}"
    );
    assert_eq!(files(world.tiles.path()), crs84);
    // The identifier and the other names find the same tiles stored.
    for names in ["WorldCRS84Quad", "GoogleCRS84Quad,wgs84"] {
        let stdout = seed(names);
        assert!(
            stdout.contains(&format!("0 rendered, 0 empty, {n} already stored")),
            "--tms {names}: {stdout}"
        );
    }
    assert_eq!(files(world.tiles.path()), crs84);
    // GoogleMapsCompatible is WebMercatorQuad.
    seed("GoogleMapsCompatible");
    let mercator = expected("tiles/CLI", &times, "WebMercatorQuad", 2..=4, bbox);
    assert_eq!(
        files(world.tiles.path()),
        crs84.union(&mercator).cloned().collect()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_exit_2_naming_the_flag() {
    let world = World::new().await;
    let base = ["--collection", "CLI", "--time", "2020-05", "--zoom", "0-3"];
    let with = |flag: &str, value: &str| -> Vec<String> {
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        match args.iter().position(|a| a == flag) {
            Some(i) => args[i + 1] = value.to_owned(),
            None => {
                args.push(flag.to_owned());
                args.push(value.to_owned());
            }
        }
        args
    };
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            with("--zoom", "9-3"),
            "--zoom",
            "first zoom level 9 is above the last 3",
        ),
        (
            with("--zoom", "0-30"),
            "--zoom",
            "zoom level 30 is beyond the deepest level 24",
        ),
        (with("--time", "yesterday"), "--time", "not a time"),
        (
            with("--time", "2020-06/2020-05"),
            "--time",
            "start is after the end",
        ),
        (with("--bbox", "10,45,12"), "--bbox", "has 3 numbers"),
        (
            with("--bbox", "10,50,12,45"),
            "--bbox",
            "must be below NORTH",
        ),
        (
            with("--tms", "EPSG:4326"),
            "--tms",
            "unknown tile matrix set",
        ),
        (with("--format", "gif"), "--format", "unknown tile format"),
        (
            with("--collection", "a b"),
            "--collection",
            "cannot name tiles",
        ),
        (
            with("--collection", "NOPE"),
            "--collection",
            "no collection \"NOPE\" in the catalog (the collections are: CLI)",
        ),
        (
            vec![
                "--collection".into(),
                "CLI".into(),
                "--zoom".into(),
                "0-3".into(),
            ],
            "--time",
            "required",
        ),
        (vec!["--force".into()], "--collection", "required"),
        (
            with("--zoom", &"9".repeat(100_000)),
            "--zoom",
            "longer than 256 characters",
        ),
    ];
    for (args, flag, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = world.seeder(&args);
        let stderr = text(&out.stderr);
        let shown: String = args.join(" ").chars().take(120).collect();
        assert_eq!(out.status.code(), Some(2), "{shown}: {stderr}");
        assert!(stderr.contains(flag), "{shown}: {stderr}");
        assert!(stderr.contains(message), "{shown}: {stderr}");
        if args.iter().all(|a| a.len() < 1000) {
            assert!(
                stderr.len() < 2000,
                "{shown}: {} bytes of stderr",
                stderr.len()
            );
        }
    }
    assert!(files(world.tiles.path()).is_empty());
}
