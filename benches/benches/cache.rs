//! The cache against nginx (hits) and the seeder against sequential GetMap calls: data.
//!
//! Not a criterion bench: `benches/cache/run.sh` drives it as
//! `cargo bench -p pvs-benches --bench cache -- <subcommand> [options]`:
//!
//! - `tiles --dir DIR --count N --seed S`: writes `N` distinct PNG tiles (256 × 256, smooth
//!   colours with noise, as imagery tiles compress) at random WebMercatorQuad addresses,
//!   zooms 6 to 14, in the tile store layout under `DIR/store/tiles/BENCH/default/
//!   WebMercatorQuad/{z}/{x}/{y}.png`, and their `z x y`, one a line, to `DIR/tiles.txt`.
//!   The same files are what nginx serves and what `pvs cache` reads from its local-directory
//!   store.
//! - `sequential --store DIR --renderer URL`: every non-empty tile stored under the tile
//!   store root `DIR` (`{layer}/{time}/{TileMatrixSet}/{z}/{x}/{y}.png`, as the seeder left
//!   it) asked again from the renderer at `URL` as the very `GetMap` the cache sends
//!   (`pvs_cache::source::tile_query`), one after the other; each answer must be a PNG.
//!   Prints the count, the time and the rate.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;

use pvs_cache::source::tile_query;
use pvs_raster::render::{Format, Rgba, encode};
use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: cache tiles --dir DIR --count N --seed S");
        std::process::exit(2);
    };
    let mut options = HashMap::new();
    let mut it = rest.iter();
    while let Some(key) = it.next() {
        let (Some(name), Some(value)) = (key.strip_prefix("--"), it.next()) else {
            eprintln!("cache {command}: expected --option value pairs, found {key:?}");
            std::process::exit(2);
        };
        options.insert(name.to_owned(), value.clone());
    }
    let result = match command.as_str() {
        "tiles" => tiles(&options),
        "sequential" => sequential(&options),
        other => Err(format!("unknown subcommand {other:?}: tiles or sequential").into()),
    };
    if let Err(e) = result {
        eprintln!("cache {command}: {e}");
        std::process::exit(1);
    }
}

fn option<T: std::str::FromStr>(options: &HashMap<String, String>, name: &str) -> Result<T, Error> {
    let value = options
        .get(name)
        .ok_or_else(|| format!("--{name} is required"))?;
    value
        .parse()
        .map_err(|_| format!("--{name} {value:?} is not valid").into())
}

/// A 256 × 256 tile of smooth colours and a little noise.
fn tile_image(rng: &mut StdRng) -> Rgba {
    let size = pvs_tiles::tms::TILE_SIZE as usize;
    let mut image = Rgba::transparent(size, size);
    let (r0, g0, b0) = (
        rng.random_range(0..120u32),
        rng.random_range(0..120u32),
        rng.random_range(0..120u32),
    );
    let phase = rng.random_range(0.0..std::f64::consts::TAU);
    for y in 0..size {
        for x in 0..size {
            let wave = ((x as f64 / 23.0 + phase).sin() * (y as f64 / 31.0).cos() * 30.0) as i32;
            let noise = rng.random_range(-6i32..=6);
            let at = (y * size + x) * 4;
            let channel = |base: u32, ramp: usize| {
                (base as i32 + (ramp as i32) / 3 + wave + noise).clamp(0, 255) as u8
            };
            image.pixels[at] = channel(r0, x);
            image.pixels[at + 1] = channel(g0, y);
            image.pixels[at + 2] = channel(b0, (x + y) / 2);
            image.pixels[at + 3] = 255;
        }
    }
    image
}

fn tiles(options: &HashMap<String, String>) -> Result<(), Error> {
    let dir: String = option(options, "dir")?;
    let count: usize = option(options, "count")?;
    let seed: u64 = option(options, "seed")?;
    let mut rng = StdRng::seed_from_u64(seed);
    let tms = TileMatrixSet::WebMercatorQuad;
    let mut chosen = BTreeSet::new();
    while chosen.len() < count {
        let z = rng.random_range(6..=14u8);
        let (columns, rows) = tms.matrix_size(z);
        chosen.insert(Tile {
            z,
            x: rng.random_range(0..columns),
            y: rng.random_range(0..rows),
        });
    }
    let root = Path::new(&dir).join("store/tiles/BENCH/default/WebMercatorQuad");
    let mut list = std::fs::File::create(Path::new(&dir).join("tiles.txt"))?;
    let mut bytes = 0usize;
    // A few hundred distinct images, reused: encoding 10,000 would take longer than the run.
    let images: Vec<Vec<u8>> = (0..256)
        .map(|_| encode(&tile_image(&mut rng), Format::Png, [255, 255, 255]))
        .collect::<Result<_, _>>()?;
    let mut order: Vec<Tile> = chosen.into_iter().collect();
    // Requests go in a random order, not sorted by address.
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    for (i, tile) in order.iter().enumerate() {
        let folder = root.join(tile.z.to_string()).join(tile.x.to_string());
        std::fs::create_dir_all(&folder)?;
        let png = &images[i % images.len()];
        std::fs::write(folder.join(format!("{}.png", tile.y)), png)?;
        bytes += png.len();
        writeln!(list, "{} {} {}", tile.z, tile.x, tile.y)?;
    }
    println!(
        "{count} tiles written under {}, {:.1} KiB on average",
        root.display(),
        bytes as f64 / count as f64 / 1024.0
    );
    Ok(())
}

/// The stored, non-empty tiles under `root`, as keys.
fn stored_tiles(root: &Path) -> Result<Vec<TileKey>, Error> {
    let mut keys = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                folders.push(path);
                continue;
            }
            if entry.metadata()?.len() == 0 {
                continue;
            }
            let relative = path.strip_prefix(root)?.to_string_lossy().into_owned();
            let parts: Vec<&str> = relative.split('/').collect();
            let [layer, time, tms, z, x, file] = parts[..] else {
                return Err(format!("{relative}: not a tile key").into());
            };
            let (y, ext) = file.split_once('.').ok_or("a tile file has an extension")?;
            let time = TileTime::from_key(time).ok_or_else(|| format!("{relative}: bad time"))?;
            let tile = Tile {
                z: z.parse()?,
                x: x.parse()?,
                y: y.parse()?,
            };
            let format = TileFormat::parse(ext).ok_or_else(|| format!("{relative}: format"))?;
            keys.push(TileKey::new(layer, time, tms.parse()?, tile, format)?);
        }
    }
    Ok(keys)
}

fn sequential(options: &HashMap<String, String>) -> Result<(), Error> {
    let root: String = option(options, "store")?;
    let renderer: String = option(options, "renderer")?;
    let keys = stored_tiles(Path::new(&root))?;
    if keys.is_empty() {
        return Err(format!("no stored tiles under {root}").into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    runtime.block_on(async {
        for key in &keys {
            let url = format!("{renderer}/ows?{}", tile_query(key));
            let response = client.get(&url).send().await?;
            let ok = response.status().is_success();
            let body = response.bytes().await?;
            if !ok || !body.starts_with(b"\x89PNG") {
                return Err(format!("{url}: not a PNG").into());
            }
        }
        Ok::<(), Error>(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} tiles by sequential GetMap in {seconds:.2} s: {:.1} tiles/s",
        keys.len(),
        keys.len() as f64 / seconds
    );
    Ok(())
}
