//! The renderer against its peers (TiTiler, MapServer): data, tiles, load and report.
//!
//! Not a criterion bench: `benches/peers/run.sh` drives it through subcommands, each run as
//! `cargo bench -p pvs-benches --bench render -- <subcommand> [options]`:
//!
//! - `data --dir DIR --database-url URL`: writes 10 synthetic 4096 × 4096 RGB COGs
//!   (EPSG:4326, JPEG, 512 tiles, overviews) laid out 5 × 2 with overlaps under `DIR/mosaic/`,
//!   registers them in the catalog at `URL` (collection `MOSAIC`, product `i` begins on day
//!   `i`, so `p9` is the newest) and writes `DIR/products.tsv` (newest first).
//! - `many --dir DIR --database-url URL --products N`: the low-zoom mosaic's data instead: `N`
//!   small COGs (256 × 256, one colour each with a light gradient, 0.6° × 0.4°) at random
//!   places (seed 7) over Europe (10° W–30° E, 36–70° N) under `DIR/many/`, registered and
//!   listed as `data` does (product `i` begins at hour `i`).
//! - `replace --dir DIR --database-url URL`: registers the oldest product of
//!   `DIR/products.tsv` again, newer than every other (a replacement in place, drawn on top).
//! - `tiles --dir DIR --count N --seed S [--zooms A-B]`: `N` random WebMercator tiles at zooms
//!   8, 10 and 12 lying wholly inside the mosaic, one `z x y` a line, into `DIR/tiles.txt`;
//!   with `--zooms`, at zooms A to B (each equally often) touching the products' box of
//!   `DIR/products.tsv`.
//! - `load --name NAME --template URL --format png|jpeg --tiles FILE --concurrency C
//!   --warmup SECONDS --duration SECONDS [--pid PID] [--samples DIR] [--rss-log FILE]`: `C`
//!   clients request the tiles in order (wrapping round) for the warm-up, then for the
//!   measured duration; every response must be HTTP 200 with the format's content type and
//!   magic bytes, else it counts as an error. `--templates FILE` in place of `--template` and
//!   `--format` mixes requests: each line `<format> <template>` (formats png, jpeg, tiff, xml,
//!   json), every tile requested with each template in turn. While measuring, the summed
//!   `VmRSS` of `PID` and its descendants is sampled every 100 ms (the peak) and every second
//!   (written to `--rss-log`; the least-squares slope over the second half of the window is
//!   reported, in MiB an hour). Before the load, the first 12 URLs are fetched one by one and
//!   saved under `--samples`. Prints one JSON line of figures: the rate counts the answers
//!   that arrived within the measured window, the latencies those of the requests sent in it.
//!   Fails (after printing) when any request got an error.
//! - `report --results FILE --samples DIR [--max-diff D]`: the table of the JSON lines of
//!   `FILE` (one line per server and round: the medians over the rounds, with the spread of
//!   p95), the ratios of pvs to each peer, and the pixel check of the samples against pvs;
//!   fails when a peer's tiles differ from pvs's by more than `D` on average (mean |Δ| over
//!   RGB where both show something, default 12), when more than `--max-coverage P` percent
//!   of a tile's pixels (default 2) show something on one server and nothing on the other (a
//!   product missing), or when a sample is flat. With `--footprints DIR`, also every server's
//!   PNG samples (pvs's too) against the products' boxes in `DIR/products.tsv` (the samples
//!   being the first tiles of `DIR/tiles.txt`): a reference independent of every server; fails
//!   when on any sample more than `--max-footprint P` percent (default 0.5) of the pixels
//!   wholly inside a product show nothing or of those wholly outside every product show
//!   something.
//!
//! The URL template takes `{z} {x} {y}` (tile), `{minx} {miny} {maxx} {maxy}` (EPSG:3857 box),
//! `{west} {south} {east} {north}` (its longitude/latitude box),
//! `{ext}` (`png`, `jpeg`) and `{mime}` (`image/png`, `image/jpeg`, URL-encoded).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use gdal::raster::Buffer;
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DriverManager};
use geo::{MultiPolygon, Rect};
use pvs_catalog::{Catalog, Collection, PostgisCatalog, Product};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const COLLECTION: &str = "MOSAIC";
const PRODUCTS: usize = 10;
const SIDE: usize = 4096;
/// Each product covers `EXTENT`° × `EXTENT`°; their corners are `STEP`° apart.
const EXTENT: f64 = 2.0;
const STEP: f64 = 1.8;
const WEST: f64 = 10.0;
const SOUTH: f64 = 42.0;
const COLUMNS: usize = 5;
const ZOOMS: [u32; 3] = [8, 10, 12];
const TILE: usize = 256;
const SAMPLES: usize = 12;
/// Half the side of the WebMercator square, in metres.
const ORIGIN: f64 = 20_037_508.342_789_244;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    // `cargo bench` appends `--bench`; subcommand options are `--name value` pairs.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: render <data|many|replace|tiles|load|report> [--option value]...");
        std::process::exit(2);
    };
    let options = match parse_options(rest) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("render {command}: {e}");
            std::process::exit(2);
        }
    };
    let result = match command.as_str() {
        "data" => data(&options),
        "many" => many(&options),
        "replace" => replace(&options),
        "tiles" => tiles(&options),
        "load" => load(&options),
        "report" => report(&options),
        other => Err(format!(
            "unknown subcommand {other:?}: data, many, replace, tiles, load or report"
        )
        .into()),
    };
    if let Err(e) = result {
        eprintln!("render {command}: {e}");
        std::process::exit(1);
    }
}

struct Options(HashMap<String, String>);

fn parse_options(args: &[String]) -> Result<Options, Error> {
    let mut map = HashMap::new();
    let mut it = args.iter();
    while let Some(key) = it.next() {
        let name = key
            .strip_prefix("--")
            .ok_or_else(|| format!("expected --option, found {key:?}"))?;
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        map.insert(name.to_owned(), value.clone());
    }
    Ok(Options(map))
}

impl Options {
    fn get(&self, name: &str) -> Result<&str, Error> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, Error> {
        let value = self.get(name)?;
        value
            .parse()
            .map_err(|_| format!("--{name} {value:?} is not a number").into())
    }
}

// ---------------------------------------------------------------------------------------
// data

/// The box (west, south, east, north) of product `i`.
fn product_box(i: usize) -> [f64; 4] {
    let west = WEST + (i % COLUMNS) as f64 * STEP;
    let south = SOUTH + (i / COLUMNS) as f64 * STEP;
    [west, south, west + EXTENT, south + EXTENT]
}

/// The box covered by the whole mosaic.
fn mosaic_box() -> [f64; 4] {
    let last = product_box(PRODUCTS - 1);
    [WEST, SOUTH, last[2], last[3]]
}

/// Synthetic but not constant pixels: gradients, waves and a product-specific tint, plus
/// noise, so JPEG compression has realistic work to do and each product looks different.
fn synthetic_bands(i: usize) -> [Vec<u8>; 3] {
    let mut rng = StdRng::seed_from_u64(i as u64);
    let mut bands = [
        vec![0u8; SIDE * SIDE],
        vec![0u8; SIDE * SIDE],
        vec![0u8; SIDE * SIDE],
    ];
    let tint = (i * 23 % 160) as f64;
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (fx, fy) = (x as f64 / SIDE as f64, y as f64 / SIDE as f64);
            let wave = ((x as f64 / 41.0 + i as f64).sin() * (y as f64 / 67.0).cos()) * 40.0;
            let noise = f64::from(rng.random_range(-12i32..=12));
            let at = y * SIDE + x;
            bands[0][at] = (40.0 + fx * 170.0 + noise).clamp(0.0, 255.0) as u8;
            bands[1][at] = (40.0 + fy * 170.0 + wave * 0.5 + noise).clamp(0.0, 255.0) as u8;
            bands[2][at] = (50.0 + tint + wave + noise).clamp(0.0, 255.0) as u8;
        }
    }
    bands
}

fn write_cog(i: usize, path: &Path) -> Result<(), Error> {
    let mem = DriverManager::get_driver_by_name("MEM")?;
    let mut dataset = mem.create_with_band_type::<u8, _>("", SIDE, SIDE, 3)?;
    let [west, _, _, north] = product_box(i);
    let pixel = EXTENT / SIDE as f64;
    dataset.set_geo_transform(&[west, pixel, 0.0, north, 0.0, -pixel])?;
    dataset.set_spatial_ref(&SpatialRef::from_epsg(4326)?)?;
    for (index, values) in synthetic_bands(i).into_iter().enumerate() {
        let mut buffer = Buffer::new((SIDE, SIDE), values);
        dataset
            .rasterband(index + 1)?
            .write((0, 0), (SIDE, SIDE), &mut buffer)?;
    }
    let cog = DriverManager::get_driver_by_name("COG")?;
    let options: gdal::cpl::CslStringList = [
        "COMPRESS=JPEG",
        "QUALITY=85",
        "BLOCKSIZE=512",
        "OVERVIEWS=AUTO",
        "RESAMPLING=AVERAGE",
    ]
    .into_iter()
    .collect();
    let temporary = path.with_extension("tmp.tif");
    dataset.create_copy(&cog, &temporary, &options)?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

fn data(options: &Options) -> Result<(), Error> {
    let dir = PathBuf::from(options.get("dir")?);
    let database_url = options.get("database-url")?.to_owned();
    std::fs::create_dir_all(dir.join("mosaic"))?;
    let mut products = Vec::new();
    for i in 0..PRODUCTS {
        let key = format!("mosaic/p{i}.tif");
        let path = dir.join(&key);
        if !path.exists() {
            let started = Instant::now();
            write_cog(i, &path)?;
            eprintln!(
                "wrote {} ({:.1} MB) in {:.1} s",
                path.display(),
                std::fs::metadata(&path)?.len() as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        }
        let [west, south, east, north] = product_box(i);
        let begin =
            Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap() + chrono::Duration::days(i as i64);
        products.push(Product {
            properties: Default::default(),
            id: format!("p{i}"),
            collection: COLLECTION.to_owned(),
            product_type: None,
            footprint: MultiPolygon::new(vec![
                Rect::new((west, south), (east, north)).to_polygon(),
            ]),
            begin,
            end: begin + chrono::Duration::minutes(1),
            location: key,
            metadata: json!({}),
        });
    }
    write_list(&dir, &products)?;
    register_all(&database_url, &products)?;
    eprintln!(
        "registered {PRODUCTS} products in collection {COLLECTION}; mosaic box {:?}",
        mosaic_box()
    );
    Ok(())
}

/// The low-zoom mosaic: where its products may lie, and each product's size in degrees.
const EUROPE: [f64; 4] = [-10.0, 36.0, 30.0, 70.0];
const MANY_SIZE: [f64; 2] = [0.6, 0.4];
const MANY_SIDE: usize = 256;

/// One colour per product, with a light gradient (so tiles are not flat).
fn many_bands(i: usize) -> [Vec<u8>; 3] {
    let base = [
        (i * 37 % 200 + 30) as f64,
        (i * 91 % 200 + 30) as f64,
        (i * 53 % 200 + 30) as f64,
    ];
    let mut bands = [
        vec![0u8; MANY_SIDE * MANY_SIDE],
        vec![0u8; MANY_SIDE * MANY_SIDE],
        vec![0u8; MANY_SIDE * MANY_SIDE],
    ];
    for y in 0..MANY_SIDE {
        for x in 0..MANY_SIDE {
            let shade = (x + y) as f64 / (2 * MANY_SIDE) as f64 * 20.0;
            for (band, value) in bands.iter_mut().zip(base) {
                band[y * MANY_SIDE + x] = (value + shade) as u8;
            }
        }
    }
    bands
}

fn write_small_cog(i: usize, bbox: [f64; 4], path: &Path) -> Result<(), Error> {
    let mem = DriverManager::get_driver_by_name("MEM")?;
    let mut dataset = mem.create_with_band_type::<u8, _>("", MANY_SIDE, MANY_SIDE, 3)?;
    let [west, south, east, north] = bbox;
    dataset.set_geo_transform(&[
        west,
        (east - west) / MANY_SIDE as f64,
        0.0,
        north,
        0.0,
        -(north - south) / MANY_SIDE as f64,
    ])?;
    dataset.set_spatial_ref(&SpatialRef::from_epsg(4326)?)?;
    for (index, values) in many_bands(i).into_iter().enumerate() {
        let mut buffer = Buffer::new((MANY_SIDE, MANY_SIDE), values);
        dataset
            .rasterband(index + 1)?
            .write((0, 0), (MANY_SIDE, MANY_SIDE), &mut buffer)?;
    }
    let cog = DriverManager::get_driver_by_name("COG")?;
    let options: gdal::cpl::CslStringList = ["COMPRESS=DEFLATE", "BLOCKSIZE=256", "OVERVIEWS=NONE"]
        .into_iter()
        .collect();
    let temporary = path.with_extension("tmp.tif");
    dataset.create_copy(&cog, &temporary, &options)?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

/// Writes `products.tsv` (newest first: the products are given oldest first).
fn write_list(dir: &Path, products: &[Product]) -> Result<(), Error> {
    let mut lines = String::from("# id\tpath\tbegin\twest\tsouth\teast\tnorth (newest first)\n");
    for product in products.iter().rev() {
        let rect = product.footprint.0[0].exterior().0.clone();
        let (west, south) = (rect[0].x.min(rect[2].x), rect[0].y.min(rect[2].y));
        let (east, north) = (rect[0].x.max(rect[2].x), rect[0].y.max(rect[2].y));
        lines.push_str(&format!(
            "{}\t{}\t{}\t{west}\t{south}\t{east}\t{north}\n",
            product.id,
            std::fs::canonicalize(dir.join(&product.location))?.display(),
            product.begin.to_rfc3339(),
        ));
    }
    std::fs::write(dir.join("products.tsv"), lines)?;
    Ok(())
}

/// Registers `products` in collection [`COLLECTION`] of the catalog at `database_url`.
fn register_all(database_url: &str, products: &[Product]) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let catalog = PostgisCatalog::connect(database_url).await?;
        catalog
            .upsert_collection(&Collection::new(COLLECTION)?)
            .await?;
        for batch in products.chunks(500) {
            for result in catalog.register_batch(batch).await {
                result?;
            }
        }
        Ok::<_, Error>(())
    })
}

fn many(options: &Options) -> Result<(), Error> {
    let dir = PathBuf::from(options.get("dir")?);
    let database_url = options.get("database-url")?.to_owned();
    let count: usize = options.number("products")?;
    std::fs::create_dir_all(dir.join("many"))?;
    let mut rng = StdRng::seed_from_u64(7);
    let [west, south, east, north] = EUROPE;
    let [width, height] = MANY_SIZE;
    let started = Instant::now();
    let mut products = Vec::with_capacity(count);
    for i in 0..count {
        let x = rng.random_range(west..east - width);
        let y = rng.random_range(south..north - height);
        let bbox = [x, y, x + width, y + height];
        let key = format!("many/p{i}.tif");
        let path = dir.join(&key);
        if !path.exists() {
            write_small_cog(i, bbox, &path)?;
        }
        let begin =
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(i as i64);
        products.push(Product {
            properties: Default::default(),
            id: format!("p{i}"),
            collection: COLLECTION.to_owned(),
            product_type: None,
            footprint: MultiPolygon::new(vec![
                Rect::new((x, y), (x + width, y + height)).to_polygon(),
            ]),
            begin,
            end: begin + chrono::Duration::minutes(1),
            location: key,
            metadata: json!({}),
        });
    }
    eprintln!(
        "wrote {count} COGs under {} in {:.0} s",
        dir.join("many").display(),
        started.elapsed().as_secs_f64()
    );
    write_list(&dir, &products)?;
    let started = Instant::now();
    register_all(&database_url, &products)?;
    eprintln!(
        "registered {count} products in collection {COLLECTION} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn replace(options: &Options) -> Result<(), Error> {
    let dir = PathBuf::from(options.get("dir")?);
    let database_url = options.get("database-url")?;
    let text = std::fs::read_to_string(dir.join("products.tsv"))?;
    let newest = text.lines().find(|l| !l.starts_with('#'));
    let oldest = text.lines().rev().find(|l| !l.starts_with('#'));
    let (Some(newest), Some(oldest)) = (newest, oldest) else {
        return Err("products.tsv lists no product".into());
    };
    let fields: Vec<&str> = oldest.split('\t').collect();
    let [id, path, _, west, south, east, north] = fields[..] else {
        return Err(format!(
            "products.tsv: a line of {} fields: {oldest:?}",
            fields.len()
        )
        .into());
    };
    let [west, south, east, north] = [west, south, east, north].map(|v| v.parse::<f64>());
    let newest_begin =
        chrono::DateTime::parse_from_rfc3339(newest.split('\t').nth(2).unwrap_or(""))?;
    let begin = newest_begin.with_timezone(&Utc) + chrono::Duration::hours(1);
    let location = Path::new(path)
        .strip_prefix(std::fs::canonicalize(&dir)?)
        .map_err(|_| format!("{path} is not under {}", dir.display()))?
        .to_string_lossy()
        .into_owned();
    let product = Product {
        properties: Default::default(),
        id: id.to_owned(),
        collection: COLLECTION.to_owned(),
        product_type: None,
        footprint: MultiPolygon::new(vec![
            Rect::new((west?, south?), (east?, north?)).to_polygon(),
        ]),
        begin,
        end: begin + chrono::Duration::minutes(1),
        location,
        metadata: json!({}),
    };
    register_all(database_url, &[product])
}

/// The box (west, south, east, north) of each product in `DIR/products.tsv`.
fn listed_boxes(dir: &Path) -> Result<Vec<[f64; 4]>, Error> {
    let text = std::fs::read_to_string(dir.join("products.tsv"))?;
    let mut boxes = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<f64> = line
            .split('\t')
            .skip(3)
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let [w, s, e, n] = fields[..] else {
            return Err(format!("products.tsv: a line without a box: {line:?}").into());
        };
        boxes.push([w, s, e, n]);
    }
    Ok(boxes)
}

/// The box of every product in `DIR/products.tsv`.
fn listed_box(dir: &Path) -> Result<[f64; 4], Error> {
    let start = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    Ok(listed_boxes(dir)?.into_iter().fold(start, |all, b| {
        [
            all[0].min(b[0]),
            all[1].min(b[1]),
            all[2].max(b[2]),
            all[3].max(b[3]),
        ]
    }))
}

// ---------------------------------------------------------------------------------------
// tiles

fn lon_to_tile_x(lon: f64, z: u32) -> f64 {
    (lon + 180.0) / 360.0 * f64::from(1u32 << z)
}

fn lat_to_tile_y(lat: f64, z: u32) -> f64 {
    let phi = lat.to_radians();
    (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * f64::from(1u32 << z)
}

/// The EPSG:3857 box of a tile.
fn tile_box(z: u32, x: u32, y: u32) -> [f64; 4] {
    let size = 2.0 * ORIGIN / f64::from(1u32 << z);
    let minx = -ORIGIN + f64::from(x) * size;
    let maxy = ORIGIN - f64::from(y) * size;
    [minx, maxy - size, minx + size, maxy]
}

fn tiles(options: &Options) -> Result<(), Error> {
    let dir = PathBuf::from(options.get("dir")?);
    let count: usize = options.number("count")?;
    let seed: u64 = options.number("seed")?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lines = String::new();
    if let Some(zooms) = options.0.get("zooms") {
        // Low zooms: tiles touching the products' box (a zoom-0 tile holds all of it).
        let (first, last) = zooms
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .filter(|(a, b)| a <= b && *b <= 20)
            .ok_or_else(|| format!("--zooms {zooms:?}: expected A-B, e.g. 0-6"))?;
        let [west, south, east, north] = listed_box(&dir)?;
        for i in 0..count {
            let z = first + (i as u32) % (last - first + 1);
            let (x0, x1) = (lon_to_tile_x(west, z) as u32, lon_to_tile_x(east, z) as u32);
            let (y0, y1) = (
                lat_to_tile_y(north, z) as u32,
                lat_to_tile_y(south, z) as u32,
            );
            let x = rng.random_range(x0..=x1);
            let y = rng.random_range(y0..=y1);
            lines.push_str(&format!("{z} {x} {y}\n"));
        }
        std::fs::write(dir.join("tiles.txt"), lines)?;
        return Ok(());
    }
    let [west, south, east, north] = mosaic_box();
    for i in 0..count {
        let z = ZOOMS[i % ZOOMS.len()];
        // Tiles wholly inside the mosaic: every server draws a full image.
        let (x0, x1) = (
            lon_to_tile_x(west, z).ceil() as u32,
            lon_to_tile_x(east, z).floor() as u32,
        );
        let (y0, y1) = (
            lat_to_tile_y(north, z).ceil() as u32,
            lat_to_tile_y(south, z).floor() as u32,
        );
        if x0 >= x1 || y0 >= y1 {
            return Err(format!("no tile of zoom {z} lies inside the mosaic").into());
        }
        let x = rng.random_range(x0..x1);
        let y = rng.random_range(y0..y1);
        lines.push_str(&format!("{z} {x} {y}\n"));
    }
    std::fs::write(dir.join("tiles.txt"), lines)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// load

/// What an answer must be: a map image (PNG, JPEG), a coverage (GeoTIFF), or a document
/// (XML, JSON: capabilities, searches).
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Png,
    Jpeg,
    Tiff,
    Xml,
    Json,
}

impl Format {
    fn parse(value: &str) -> Result<Self, Error> {
        match value {
            "png" => Ok(Format::Png),
            "jpeg" => Ok(Format::Jpeg),
            "tiff" => Ok(Format::Tiff),
            "xml" => Ok(Format::Xml),
            "json" => Ok(Format::Json),
            other => Err(format!("format {other:?}: png, jpeg, tiff, xml or json").into()),
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Tiff => "tif",
            Format::Xml => "xml",
            Format::Json => "json",
        }
    }

    fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Tiff => "image/tiff",
            Format::Xml => "text/xml",
            Format::Json => "application/json",
        }
    }

    /// Whether a `Content-Type` is this format's (documents: any XML or JSON type).
    fn accepts(self, content_type: &str) -> bool {
        match self {
            Format::Xml => content_type.contains("xml"),
            Format::Json => content_type.contains("json"),
            _ => content_type.starts_with(self.mime()),
        }
    }

    /// Whether a body begins as this format's do.
    fn begins(self, body: &[u8]) -> bool {
        match self {
            Format::Png => body.starts_with(b"\x89PNG\r\n\x1a\n"),
            Format::Jpeg => body.starts_with(b"\xff\xd8\xff"),
            Format::Tiff => body.starts_with(b"II*\0") || body.starts_with(b"MM\0*"),
            Format::Xml => body.starts_with(b"<"),
            Format::Json => body.starts_with(b"{") || body.starts_with(b"["),
        }
    }
}

/// The longitude/latitude box (west, south, east, north) of a tile.
fn tile_degrees(z: u32, x: u32, y: u32) -> [f64; 4] {
    let n = f64::from(1u32 << z);
    let lon = |x: f64| x / n * 360.0 - 180.0;
    let lat = |y: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    let (x, y) = (f64::from(x), f64::from(y));
    [lon(x), lat(y + 1.0), lon(x + 1.0), lat(y)]
}

fn expand(template: &str, format: Format, (z, x, y): (u32, u32, u32)) -> String {
    let [minx, miny, maxx, maxy] = tile_box(z, x, y);
    let [west, south, east, north] = tile_degrees(z, x, y);
    template
        .replace("{west}", &format!("{west:.6}"))
        .replace("{south}", &format!("{south:.6}"))
        .replace("{east}", &format!("{east:.6}"))
        .replace("{north}", &format!("{north:.6}"))
        .replace("{z}", &z.to_string())
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string())
        .replace("{minx}", &format!("{minx:.6}"))
        .replace("{miny}", &format!("{miny:.6}"))
        .replace("{maxx}", &format!("{maxx:.6}"))
        .replace("{maxy}", &format!("{maxy:.6}"))
        .replace("{ext}", format.ext())
        .replace("{mime}", &format.mime().replace('/', "%2F"))
}

fn read_tiles(path: &str) -> Result<Vec<(u32, u32, u32)>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let parts: Vec<u32> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{path}:{}: {e}", n + 1))?;
            match parts[..] {
                [z, x, y] => Ok((z, x, y)),
                _ => Err(format!("{path}:{}: expected `z x y`", n + 1).into()),
            }
        })
        .collect()
}

/// Why a response does not count as a map image; `None` when it does.
async fn check_response(response: reqwest::Response, format: Format) -> (Option<String>, Vec<u8>) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = match response.bytes().await {
        Ok(body) => body.to_vec(),
        Err(e) => return (Some(format!("reading the body: {e}")), Vec::new()),
    };
    let problem = if !status.is_success() {
        Some(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    } else if !format.accepts(&content_type) {
        Some(format!("content type {content_type:?}"))
    } else if !format.begins(&body) {
        Some(format!("not a {} body", format.ext()))
    } else {
        None
    };
    (problem, body)
}

/// The pid and its descendants, from `/proc/*/stat`.
fn process_tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`: comm may hold spaces, so split after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    tree
}

/// A `kB` field of `/proc/<pid>/status`, in bytes.
fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// The templates of `--templates FILE` (`<format> <template>` a line; `#` comments), or the
/// one of `--template` and `--format`.
fn read_templates(options: &Options) -> Result<Vec<(Format, String)>, Error> {
    let Some(path) = options.0.get("templates") else {
        let format = Format::parse(options.get("format")?)?;
        return Ok(vec![(format, options.get("template")?.to_owned())]);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    let templates: Vec<(Format, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(n, line)| {
            let (format, template) = line
                .split_once(' ')
                .ok_or_else(|| format!("{path}:{}: expected `<format> <template>`", n + 1))?;
            Ok((
                Format::parse(format).map_err(|e| format!("{path}:{}: {e}", n + 1))?,
                template.trim().to_owned(),
            ))
        })
        .collect::<Result<_, Error>>()?;
    if templates.is_empty() {
        return Err(format!("{path}: no template").into());
    }
    Ok(templates)
}

/// The least-squares slope of `(seconds, bytes)` samples, in MiB an hour.
fn slope_mib_per_hour(samples: &[(f64, f64)]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return f64::NAN;
    }
    let (mean_t, mean_v) = samples
        .iter()
        .fold((0.0, 0.0), |(t, v), (st, sv)| (t + st / n, v + sv / n));
    let (covariance, variance) = samples.iter().fold((0.0, 0.0), |(c, var), (t, v)| {
        (c + (t - mean_t) * (v - mean_v), var + (t - mean_t).powi(2))
    });
    covariance / variance * 3600.0 / 1_048_576.0
}

fn load(options: &Options) -> Result<(), Error> {
    let name = options.get("name")?.to_owned();
    let templates = read_templates(options)?;
    let tiles = Arc::new(read_tiles(options.get("tiles")?)?);
    if tiles.is_empty() {
        return Err("the tile list is empty".into());
    }
    let concurrency: usize = options.number("concurrency")?;
    let warmup = Duration::from_secs_f64(options.number("warmup")?);
    let duration = Duration::from_secs_f64(options.number("duration")?);
    let pid: Option<u32> = options
        .0
        .get("pid")
        .map(|_| options.number("pid"))
        .transpose()?;
    let samples = options.0.get("samples").map(PathBuf::from);
    let rss_log = options.0.get("rss-log").map(PathBuf::from);
    // Each tile with each template in turn.
    let urls: Arc<Vec<(Format, String)>> = Arc::new(
        tiles
            .iter()
            .flat_map(|&tile| {
                templates
                    .iter()
                    .map(move |(format, template)| (*format, expand(template, *format, tile)))
            })
            .collect(),
    );
    // One thread for the clients: the load generator shares the 2 cores with the servers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;

    if let Some(dir) = &samples {
        std::fs::create_dir_all(dir)?;
        runtime.block_on(async {
            for (i, (format, url)) in urls.iter().take(SAMPLES).enumerate() {
                let format = *format;
                let (problem, body) = check_response(client.get(url).send().await?, format).await;
                if let Some(problem) = problem {
                    return Err::<(), Error>(format!("{name}: sample {url}: {problem}").into());
                }
                std::fs::write(
                    dir.join(format!("{name}-{}-{i}.{}", format.ext(), format.ext())),
                    body,
                )?;
            }
            Ok(())
        })?;
    }

    let next = Arc::new(AtomicUsize::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let answered_in_window = Arc::new(AtomicU64::new(0));
    let peak_rss = Arc::new(AtomicU64::new(0));
    // Every 100 ms the peak; every second a sample (seconds into the window, bytes) for the
    // slope and `--rss-log`.
    let sampler = pid.map(|pid| {
        let (measuring, stop, peak_rss) = (measuring.clone(), stop.clone(), peak_rss.clone());
        std::thread::spawn(move || {
            let mut series: Vec<(f64, f64)> = Vec::new();
            let mut since: Option<Instant> = None;
            let mut tick = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if measuring.load(Ordering::Relaxed) {
                    let rss: u64 = process_tree(pid)
                        .into_iter()
                        .map(|p| status_field(p, "VmRSS:"))
                        .sum();
                    peak_rss.fetch_max(rss, Ordering::Relaxed);
                    let since = *since.get_or_insert_with(Instant::now);
                    if tick.is_multiple_of(10) {
                        series.push((since.elapsed().as_secs_f64(), rss as f64));
                    }
                    tick += 1;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            series
        })
    });

    let (latencies, errors, first_error) = runtime.block_on(async {
        let start = Instant::now();
        let measure_from = start + warmup;
        let end = measure_from + duration;
        let mut clients = Vec::new();
        for _ in 0..concurrency {
            let (client, urls, next, bytes, measuring, answered_in_window) = (
                client.clone(),
                urls.clone(),
                next.clone(),
                bytes.clone(),
                measuring.clone(),
                answered_in_window.clone(),
            );
            clients.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut first_error = None;
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    if sent >= measure_from {
                        measuring.store(true, Ordering::Relaxed);
                    }
                    let (format, url) = &urls[next.fetch_add(1, Ordering::Relaxed) % urls.len()];
                    let format = *format;
                    let problem = match client.get(url).send().await {
                        Ok(response) => {
                            let (problem, body) = check_response(response, format).await;
                            if sent >= measure_from {
                                bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                            }
                            problem
                        }
                        Err(e) => Some(format!("request: {e}")),
                    };
                    // The rate counts the good answers that arrived within the window.
                    let arrived = Instant::now();
                    if problem.is_none() && arrived >= measure_from && arrived < end {
                        answered_in_window.fetch_add(1, Ordering::Relaxed);
                    }
                    // The latencies are those of the requests sent in the window.
                    if sent >= measure_from {
                        match problem {
                            None => latencies.push(sent.elapsed()),
                            Some(problem) => {
                                errors += 1;
                                first_error.get_or_insert(format!("{url}: {problem}"));
                            }
                        }
                    }
                }
                (latencies, errors, first_error)
            }));
        }
        let mut latencies = Vec::new();
        let mut errors = 0;
        let mut first_error = None;
        for client in clients {
            let (l, e, f) = client.await.expect("a client task");
            latencies.extend(l);
            errors += e;
            if first_error.is_none() {
                first_error = f;
            }
        }
        (latencies, errors, first_error)
    });
    stop.store(true, Ordering::Relaxed);
    let series = match sampler {
        Some(sampler) => sampler.join().map_err(|_| "the RSS sampler panicked")?,
        None => Vec::new(),
    };
    if let Some(path) = &rss_log {
        let lines: String = series
            .iter()
            .map(|(t, rss)| format!("{t:.1} {:.1}\n", rss / 1_048_576.0))
            .collect();
        std::fs::write(path, format!("# seconds RSS_MiB ({name})\n{lines}"))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    // The growth over the second half of the window, after the warm-up has filled caches.
    let half = duration.as_secs_f64() / 2.0;
    let second_half: Vec<(f64, f64)> = series.iter().copied().filter(|(t, _)| *t >= half).collect();
    let hwm: u64 = pid.map_or(0, |pid| {
        process_tree(pid)
            .into_iter()
            .map(|p| status_field(p, "VmHWM:"))
            .sum()
    });
    let mut sorted = latencies;
    sorted.sort();
    let ok = sorted.len() as f64;
    let line = json!({
        "name": name,
        "format": if templates.len() == 1 { templates[0].0.ext() } else { "mixed" },
        "concurrency": concurrency,
        "ok": sorted.len(),
        "errors": errors,
        "first_error": first_error.clone(),
        "seconds": duration.as_secs_f64(),
        "rps": answered_in_window.load(Ordering::Relaxed) as f64 / duration.as_secs_f64(),
        "p50_ms": percentile(&sorted, 0.50),
        "p95_ms": percentile(&sorted, 0.95),
        "p99_ms": percentile(&sorted, 0.99),
        "mean_kb": bytes.load(Ordering::Relaxed) as f64 / ok.max(1.0) / 1024.0,
        "peak_rss_mb": peak_rss.load(Ordering::Relaxed) as f64 / 1048576.0,
        "hwm_sum_mb": hwm as f64 / 1048576.0,
        "rss_end_mb": series.last().map_or(f64::NAN, |(_, rss)| rss / 1048576.0),
        "rss_slope_second_half_mb_per_hour": slope_mib_per_hour(&second_half),
    });
    println!("{line}");
    if errors > 0 {
        return Err(format!(
            "{name}: {errors} request(s) failed; the first: {}",
            first_error.unwrap_or_default()
        )
        .into());
    }
    if sorted.is_empty() {
        return Err(format!("{name}: no request was answered in the measured window").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// report

/// RGB bands of an image file, `TILE × TILE`, and its alpha (255 without an alpha band).
fn read_rgba(path: &Path) -> Result<[Vec<u8>; 4], Error> {
    let dataset = Dataset::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    if dataset.raster_size() != (TILE, TILE) || dataset.raster_count() < 3 {
        return Err(format!(
            "{}: {:?} pixels in {} bands, expected {TILE} × {TILE} RGB(A)",
            path.display(),
            dataset.raster_size(),
            dataset.raster_count()
        )
        .into());
    }
    let band = |i: usize| -> Result<Vec<u8>, Error> {
        let buffer: Buffer<u8> =
            dataset
                .rasterband(i)?
                .read_as((0, 0), (TILE, TILE), (TILE, TILE), None)?;
        Ok(buffer.into_shape_and_vec().1)
    };
    let alpha = if dataset.raster_count() >= 4 {
        band(4)?
    } else {
        vec![255; TILE * TILE]
    };
    Ok([band(1)?, band(2)?, band(3)?, alpha])
}

/// How two tiles of the same place compare.
struct Comparison {
    /// Mean absolute difference (0–255) over RGB where both show something.
    diff: f64,
    /// The share of pixels where one shows something and the other not (a product missing
    /// or extra).
    coverage: f64,
    /// The standard deviation of `a`'s red where it shows something (0: flat or empty).
    sigma: f64,
}

fn compare(a: &[Vec<u8>; 4], b: &[Vec<u8>; 4]) -> Comparison {
    let shows = |image: &[Vec<u8>; 4], i: usize| image[3][i] >= 128;
    let (mut diff, mut both, mut one) = (0.0, 0usize, 0usize);
    let mut reds = Vec::new();
    for i in 0..TILE * TILE {
        match (shows(a, i), shows(b, i)) {
            (true, true) => {
                both += 1;
                diff += (0..3)
                    .map(|c| f64::from(a[c][i].abs_diff(b[c][i])))
                    .sum::<f64>();
            }
            (false, false) => {}
            _ => one += 1,
        }
        if shows(a, i) {
            reds.push(f64::from(a[0][i]));
        }
    }
    let mean = reds.iter().sum::<f64>() / reds.len().max(1) as f64;
    let var = reds.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / reds.len().max(1) as f64;
    Comparison {
        diff: diff / (3.0 * both.max(1) as f64),
        coverage: one as f64 / (TILE * TILE) as f64,
        sigma: var.sqrt(),
    }
}

/// Where a tile's pixels must show a product and where they must not, from the products'
/// boxes alone (each product's image fills its box): a Web Mercator pixel is a
/// longitude–latitude rectangle, so this is exact and independent of any server. A pixel is
/// `Some(true)` when, grown by one pixel on every side (room for resampling at the edges), it
/// lies inside one product's box; `Some(false)` when so grown it touches none; `None` (not
/// judged) otherwise.
fn footprint_mask((z, x, y): (u32, u32, u32), boxes: &[[f64; 4]]) -> Vec<Option<bool>> {
    let n = f64::from(1u32 << z);
    let side = TILE as f64;
    // Pixel edges from -1 to TILE + 1: `lon[c + 1]` is the west edge of column `c`.
    let lon: Vec<f64> = (-1..=TILE as i64 + 1)
        .map(|c| (f64::from(x) + c as f64 / side) / n * 360.0 - 180.0)
        .collect();
    let lat: Vec<f64> = (-1..=TILE as i64 + 1)
        .map(|r| {
            let t = std::f64::consts::PI * (1.0 - 2.0 * (f64::from(y) + r as f64 / side) / n);
            t.sinh().atan().to_degrees()
        })
        .collect();
    // The grown rectangle of pixel (c, r): west, south, east, north.
    let grown = |c: usize, r: usize| [lon[c], lat[r + 3], lon[c + 3], lat[r]];
    let touches =
        |a: &[f64; 4], b: &[f64; 4]| a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
    let inside =
        |a: &[f64; 4], b: &[f64; 4]| b[0] <= a[0] && a[2] <= b[2] && b[1] <= a[1] && a[3] <= b[3];
    // The boxes near each block of 16 × 16 pixels.
    const BLOCK: usize = 16;
    let blocks: Vec<Vec<&[f64; 4]>> = (0..(TILE / BLOCK).pow(2))
        .map(|i| {
            let (bc, br) = (i % (TILE / BLOCK) * BLOCK, i / (TILE / BLOCK) * BLOCK);
            let area = [lon[bc], lat[br + BLOCK + 2], lon[bc + BLOCK + 2], lat[br]];
            boxes.iter().filter(|b| touches(&area, b)).collect()
        })
        .collect();
    let mut mask = Vec::with_capacity(TILE * TILE);
    for r in 0..TILE {
        for c in 0..TILE {
            let pixel = grown(c, r);
            let near = &blocks[r / BLOCK * (TILE / BLOCK) + c / BLOCK];
            mask.push(if near.iter().any(|b| inside(&pixel, b)) {
                Some(true)
            } else if near.iter().any(|b| touches(&pixel, b)) {
                None
            } else {
                Some(false)
            });
        }
    }
    mask
}

/// How a tile's image agrees with [`footprint_mask`], in pixels.
#[derive(Default, Clone, Copy)]
struct FootprintAgreement {
    /// Pixels that must show a product.
    inside: usize,
    /// Of them, those that show nothing (alpha < 128).
    missing: usize,
    /// Pixels that must show nothing.
    outside: usize,
    /// Of them, those that show something.
    extra: usize,
}

impl FootprintAgreement {
    fn of(image: &[Vec<u8>; 4], mask: &[Option<bool>]) -> Self {
        let mut agreement = Self::default();
        for (i, expected) in mask.iter().enumerate() {
            let shows = image[3][i] >= 128;
            match expected {
                Some(true) => {
                    agreement.inside += 1;
                    agreement.missing += usize::from(!shows);
                }
                Some(false) => {
                    agreement.outside += 1;
                    agreement.extra += usize::from(shows);
                }
                None => {}
            }
        }
        agreement
    }

    fn add(self, other: Self) -> Self {
        Self {
            inside: self.inside + other.inside,
            missing: self.missing + other.missing,
            outside: self.outside + other.outside,
            extra: self.extra + other.extra,
        }
    }

    /// The share of the pixels inside products that show nothing.
    fn missing_share(self) -> f64 {
        self.missing as f64 / self.inside.max(1) as f64
    }

    /// The share of the pixels outside every product that show something.
    fn extra_share(self) -> f64 {
        self.extra as f64 / self.outside.max(1) as f64
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn report(options: &Options) -> Result<(), Error> {
    let text = std::fs::read_to_string(options.get("results")?)?;
    let samples = PathBuf::from(options.get("samples")?);
    let max_diff: f64 = match options.0.get("max-diff") {
        Some(_) => options.number("max-diff")?,
        None => 12.0,
    };
    let max_coverage: f64 = match options.0.get("max-coverage") {
        Some(_) => options.number::<f64>("max-coverage")? / 100.0,
        None => 0.02,
    };
    let rows: Vec<Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    // One line per server and round: grouped by format, clients and server.
    let mut groups: BTreeMap<(String, u64), BTreeMap<String, Vec<&Value>>> = BTreeMap::new();
    for row in &rows {
        groups
            .entry((
                row["format"].as_str().unwrap_or("").to_owned(),
                row["concurrency"].as_u64().unwrap_or(0),
            ))
            .or_default()
            .entry(row["name"].as_str().unwrap_or("?").to_owned())
            .or_default()
            .push(row);
    }
    let figure = |rows: &[&Value], field: &str| -> Vec<f64> {
        rows.iter()
            .map(|r| r[field].as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    println!(
        "| format | clients | server | rounds | req/s | p50 ms | p95 ms (min–max) | p99 ms | errors | mean KiB | peak RSS MiB | pvs ÷ server (req/s) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for ((format, concurrency), servers) in &groups {
        let pvs = servers
            .get("pvs")
            .map(|rows| median(&mut figure(rows, "rps")));
        for (name, rows) in servers {
            let rps = median(&mut figure(rows, "rps"));
            let mut p95 = figure(rows, "p95_ms");
            let ratio = match (pvs, name != "pvs") {
                (Some(p), true) => format!("{:.2}×", p / rps),
                _ => "—".to_owned(),
            };
            let errors: u64 = rows.iter().map(|r| r["errors"].as_u64().unwrap_or(0)).sum();
            println!(
                "| {format} | {concurrency} | {name} | {} | {rps:.1} | {:.0} | {:.0} ({:.0}–{:.0}) | {:.0} | {errors} | {:.1} | {:.0} | {ratio} |",
                rows.len(),
                median(&mut figure(rows, "p50_ms")),
                median(&mut p95),
                p95.first().copied().unwrap_or(f64::NAN),
                p95.last().copied().unwrap_or(f64::NAN),
                median(&mut figure(rows, "p99_ms")),
                median(&mut figure(rows, "mean_kb")),
                figure(rows, "peak_rss_mb").into_iter().fold(0.0, f64::max),
            );
        }
    }
    for row in &rows {
        if let Some(error) = row["first_error"].as_str() {
            println!(
                "\nfirst error of {} {}: {error}",
                row["name"], row["format"]
            );
        }
    }

    // The pixel check: each peer's sample images against pvs's for the same tile.
    println!(
        "\nPixel check of the first {SAMPLES} tiles against pvs (mean |Δ| over RGB where both show something, 0–255; pixels shown by one only, worst tile; σ of red):"
    );
    println!("| format | server | mean abs diff (max) | shown by one only (max) | σ red (min) |");
    println!("|---|---|---|---|---|");
    let names: Vec<String> = {
        let mut names: Vec<String> = rows
            .iter()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let mut failures = Vec::new();
    for format in ["png", "jpeg"] {
        for name in &names {
            let mut diffs = Vec::new();
            let mut coverages = Vec::new();
            let mut sigmas = Vec::new();
            for i in 0..SAMPLES {
                let ours = samples.join(format!("pvs-{format}-{i}.{format}"));
                let theirs = samples.join(format!("{name}-{format}-{i}.{format}"));
                if !ours.exists() || !theirs.exists() {
                    continue;
                }
                let theirs = read_rgba(&theirs)?;
                let against = compare(&theirs, &read_rgba(&ours)?);
                diffs.push(against.diff);
                coverages.push(against.coverage);
                sigmas.push(compare(&theirs, &theirs).sigma);
            }
            if diffs.is_empty() {
                continue;
            }
            let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
            let max = diffs.iter().cloned().fold(0.0, f64::max);
            let coverage = coverages.iter().cloned().fold(0.0, f64::max);
            let min_sigma = sigmas.iter().cloned().fold(f64::INFINITY, f64::min);
            println!(
                "| {format} | {name} | {mean:.1} ({max:.1}) | {:.2} % | {min_sigma:.1} |",
                coverage * 100.0
            );
            if mean > max_diff {
                failures.push(format!(
                    "{name} {format}: its tiles differ from pvs's by {mean:.1} on average (more than {max_diff})"
                ));
            }
            if coverage > max_coverage {
                failures.push(format!(
                    "{name} {format}: {:.2} % of a tile's pixels show something on one server and nothing on the other (more than {:.2} %)",
                    coverage * 100.0,
                    max_coverage * 100.0
                ));
            }
            if min_sigma < 1.0 {
                failures.push(format!(
                    "{name} {format}: a flat sample (σ of red {min_sigma:.1})"
                ));
            }
        }
    }
    if let Some(dir) = options.0.get("footprints") {
        footprint_check(Path::new(dir), &samples, &names, options, &mut failures)?;
    }
    if !failures.is_empty() {
        return Err(failures.join("; ").into());
    }
    Ok(())
}

/// The check of every server's PNG samples (pvs's too) against the products' footprints
/// (`--footprints DIR`: `DIR/products.tsv` and `DIR/tiles.txt`, whose first tiles are the
/// samples): fails when, on any sample, more than `--max-footprint P` percent (default 0.5)
/// of the pixels inside products show nothing, or of those outside every product show
/// something.
fn footprint_check(
    dir: &Path,
    samples: &Path,
    names: &[String],
    options: &Options,
    failures: &mut Vec<String>,
) -> Result<(), Error> {
    let max_wrong: f64 = match options.0.get("max-footprint") {
        Some(_) => options.number::<f64>("max-footprint")? / 100.0,
        None => 0.005,
    };
    let boxes = listed_boxes(dir)?;
    let tiles = read_tiles(&dir.join("tiles.txt").display().to_string())?;
    let masks: Vec<Vec<Option<bool>>> = tiles
        .iter()
        .take(SAMPLES)
        .map(|&tile| footprint_mask(tile, &boxes))
        .collect();
    println!(
        "\nFootprint check of the first {SAMPLES} PNG tiles against the {} products' boxes (pixels judged: wholly inside a product, or wholly outside every one, with a pixel's margin):",
        boxes.len()
    );
    println!(
        "| server | tiles | pixels inside products: not shown | pixels outside: shown | worst tile (z/x/y): not shown, shown |"
    );
    println!("|---|---|---|---|---|");
    for name in names {
        let (mut count, mut all) = (0, FootprintAgreement::default());
        let mut worst: Option<(f64, String, FootprintAgreement)> = None;
        for (i, mask) in masks.iter().enumerate() {
            let path = samples.join(format!("{name}-png-{i}.png"));
            if !path.exists() {
                continue;
            }
            let tile = FootprintAgreement::of(&read_rgba(&path)?, mask);
            count += 1;
            all = all.add(tile);
            let wrong = tile.missing_share().max(tile.extra_share());
            if worst.as_ref().is_none_or(|(w, ..)| wrong > *w) {
                let (z, x, y) = tiles[i];
                worst = Some((wrong, format!("{z}/{x}/{y}"), tile));
            }
        }
        let Some((wrong, at, tile)) = worst else {
            continue;
        };
        println!(
            "| {name} | {count} | {} of {} ({:.3} %) | {} of {} ({:.3} %) | {at}: {:.3} %, {:.3} % |",
            all.missing,
            all.inside,
            all.missing_share() * 100.0,
            all.extra,
            all.outside,
            all.extra_share() * 100.0,
            tile.missing_share() * 100.0,
            tile.extra_share() * 100.0,
        );
        if wrong > max_wrong {
            failures.push(format!(
                "{name}: on tile {at}, {:.3} % of the pixels inside products show nothing and {:.3} % of those outside show something (more than {:.3} %)",
                tile.missing_share() * 100.0,
                tile.extra_share() * 100.0,
                max_wrong * 100.0
            ));
        }
    }
    Ok(())
}
