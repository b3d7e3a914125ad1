//! STAC Item Search over 1,000,000 products: pvs's STAC API (on a PostGIS and on a SQLite
//! catalog) beside stac-fastapi-pgstac, on the same products and the same queries (issue
//! "STAC in and out": p95 < 20 ms for bbox + datetime + one property filter).
//!
//! Not a criterion bench: `benches/stac/run.sh` drives it through subcommands, each run as
//! `cargo bench -p pvs-benches --bench stac -- <subcommand> [options]`:
//!
//! - `items --products N --seed S --dir DIR`: the products as STAC Items, one a line, in
//!   `DIR/items.ndjson`, and their collection in `DIR/collection.json` (for `pypgstac load`);
//! - `load --products N --seed S [--postgis URL] [--sqlite FILE]`: the same products
//!   registered in pvs catalogs with `Catalog::register_batch`, both at once;
//! - `query --server NAME=URL... [--rounds R] [--queries Q] [--clients C...] [--warmup W]
//!   [--check K] [--seed S] [--results FILE]`: Item Search (`GET`, the URL of each server's
//!   search endpoint) on every server. First `K` wide queries whose answers are compared in
//!   order (10 ids out of about 150 matches each: the sort and its tie-break are checked);
//!   then `W` warm-up queries; then `R` rounds, each a new set of `Q` random queries sent to
//!   every server in turn (the order turns each round), with each number `C` of concurrent
//!   clients (default 1, then 8). A query is a 5° × 5° `bbox`, a 30-day `datetime` interval,
//!   `filter=eo:cloud_cover < 20` (`filter-lang=cql2-text`), `collections=BENCH`,
//!   `sortby=-datetime,id`, `limit=10`. The run fails when a server answers anything but
//!   200 with a FeatureCollection, or when two servers return different ids for a query.
//!   Prints one JSON line per measured set (also appended to `FILE`) and the medians of the
//!   rounds' p50/p95/p99 with their spread.
//!
//! Products are drawn from one seeded generator, so `items` and `load` write the same ones:
//! product `i` is `p{i:07}` with a square footprint of 0.5°–2° anywhere between latitudes
//! -80° and 80°, a 60-second acquisition beginning in 2020–2024, `eo:cloud_cover` uniform in
//! 0–100 (two decimals) and `platform` one of four values. Coordinates are rounded to 1e-6°,
//! so that both sides read the very same numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use clap::{Parser, Subcommand};
use geo::{MultiPolygon, Rect};
use pvs_catalog::{Catalog, Collection, PostgisCatalog, Product, SqliteCatalog};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Url;
use serde_json::{Map, Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

const COLLECTION: &str = "BENCH";
const YEARS: i64 = 5;
const ACQUISITION_SECONDS: i64 = 60;
const PLATFORMS: [&str; 4] = ["landsat-8", "landsat-9", "sentinel-2a", "sentinel-2b"];
/// Products per `register_batch` call.
const BATCH: usize = 1000;
/// The property filter of every query.
const FILTER: &str = "eo:cloud_cover < 20";
/// The page size of every query.
const LIMIT: usize = 10;

#[derive(Parser)]
#[command(about = "STAC Item Search: pvs beside stac-fastapi-pgstac (benches/stac/run.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the products as STAC Items (NDJSON) and their collection, for pgstac.
    Items {
        #[arg(long)]
        products: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Registers the products in a PostGIS catalog, a SQLite catalog, or both.
    Load {
        #[arg(long)]
        products: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The PostGIS database (migrated by pvs when new).
        #[arg(long)]
        postgis: Option<String>,
        /// The SQLite catalog file (created when missing).
        #[arg(long)]
        sqlite: Option<PathBuf>,
    },
    /// Sends the same searches to every server, in interleaved rounds.
    Query(QueryArgs),
}

#[derive(clap::Args)]
struct QueryArgs {
    /// `NAME=URL` of a server's search endpoint (`GET`); repeat for each server.
    #[arg(long = "server", value_parser = parse_server, required = true)]
    servers: Vec<Server>,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Queries per server, per round and per number of clients.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Numbers of concurrent clients, each measured in every round.
    #[arg(long = "clients", default_values_t = [1, 8])]
    clients: Vec<usize>,
    /// Warm-up queries per server before the first round.
    #[arg(long, default_value_t = 300)]
    warmup: usize,
    /// Wide queries whose full pages are compared before the warm-up.
    #[arg(long, default_value_t = 50)]
    check: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Where the JSON lines of the figures are appended.
    #[arg(long)]
    results: Option<PathBuf>,
}

#[derive(Clone)]
struct Server {
    name: String,
    url: Url,
}

fn parse_server(text: &str) -> Result<Server, String> {
    let (name, url) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=URL"))?;
    let url = Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    Ok(Server {
        name: name.to_owned(),
        url,
    })
}

fn main() {
    // `cargo bench` appends `--bench`.
    let args = std::env::args().filter(|arg| arg != "--bench");
    let cli = Cli::parse_from(args);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = match cli.command {
        Command::Items {
            products,
            seed,
            dir,
        } => write_items(products, seed, &dir),
        Command::Load {
            products,
            seed,
            postgis,
            sqlite,
        } => runtime.block_on(load(products, seed, postgis, sqlite)),
        Command::Query(args) => runtime.block_on(query(args)),
    };
    if let Err(error) = result {
        eprintln!("stac bench: {error}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------
// The products

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// One generated product, as both sides receive it.
struct Generated {
    id: String,
    west: f64,
    south: f64,
    east: f64,
    north: f64,
    begin: DateTime<Utc>,
    cloud_cover: f64,
    platform: &'static str,
}

/// The first `count` products of the set drawn from `seed`.
fn products(count: u64, seed: u64) -> impl Iterator<Item = Generated> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count).map(move |i| {
        let west = round6(rng.random_range(-180.0..178.0));
        let south = round6(rng.random_range(-80.0..78.0));
        let size = round6(rng.random_range(0.5..2.0));
        let begin = epoch() + chrono::Duration::seconds(rng.random_range(0..YEARS * 365 * 86_400));
        let cloud_cover = f64::from(rng.random_range(0..=10_000u32)) / 100.0;
        let platform = PLATFORMS[rng.random_range(0..PLATFORMS.len())];
        Generated {
            id: format!("p{i:07}"),
            west,
            south,
            east: round6(west + size),
            north: round6(south + size),
            begin,
            cloud_cover,
            platform,
        }
    })
}

impl Generated {
    fn end(&self) -> DateTime<Utc> {
        self.begin + chrono::Duration::seconds(ACQUISITION_SECONDS)
    }

    fn properties(&self) -> Map<String, Value> {
        let mut properties = Map::new();
        properties.insert("eo:cloud_cover".to_owned(), json!(self.cloud_cover));
        properties.insert("platform".to_owned(), json!(self.platform));
        properties
    }

    /// The product pvs registers.
    fn product(&self) -> Product {
        Product {
            id: self.id.clone(),
            collection: COLLECTION.to_owned(),
            product_type: None,
            footprint: MultiPolygon::new(vec![
                Rect::new((self.west, self.south), (self.east, self.north)).to_polygon(),
            ]),
            begin: self.begin,
            end: self.end(),
            location: format!("{COLLECTION}/{}.tif", self.id),
            metadata: json!({}),
            properties: self.properties(),
        }
    }

    /// The STAC Item pgstac loads: what pvs's STAC API answers for the product (an interval,
    /// so `datetime` is null), with its COG as the `data` asset.
    fn item(&self) -> Value {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut properties = self.properties();
        properties.insert("datetime".to_owned(), Value::Null);
        properties.insert("start_datetime".to_owned(), json!(time(self.begin)));
        properties.insert("end_datetime".to_owned(), json!(time(self.end())));
        let (w, s, e, n) = (self.west, self.south, self.east, self.north);
        json!({
            "type": "Feature",
            "stac_version": "1.1.0",
            "id": self.id,
            "collection": COLLECTION,
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
            },
            "bbox": [w, s, e, n],
            "properties": properties,
            "links": [],
            "assets": {
                "data": {
                    "href": format!("{COLLECTION}/{}.tif", self.id),
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "roles": ["data"],
                },
            },
        })
    }
}

fn write_items(count: u64, seed: u64, dir: &Path) -> Result<(), Error> {
    use std::io::Write;

    std::fs::create_dir_all(dir)?;
    let collection = json!({
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": COLLECTION,
        "description": "Random products of the pvs STAC bench",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180.0, -80.0, 180.0, 80.0]]},
            "temporal": {"interval": [["2020-01-01T00:00:00Z", "2025-01-01T00:00:00Z"]]},
        },
        "links": [],
    });
    std::fs::write(
        dir.join("collection.json"),
        serde_json::to_vec(&collection)?,
    )?;
    let path = dir.join("items.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for generated in products(count, seed) {
        serde_json::to_writer(&mut out, &generated.item())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    eprintln!("stac bench: {count} items in {}", path.display());
    Ok(())
}

async fn load(
    count: u64,
    seed: u64,
    postgis: Option<String>,
    sqlite: Option<PathBuf>,
) -> Result<(), Error> {
    let mut catalogs: Vec<(&str, Box<dyn Catalog>)> = Vec::new();
    if let Some(url) = postgis {
        catalogs.push(("PostGIS", Box::new(PostgisCatalog::connect(&url).await?)));
    }
    if let Some(path) = sqlite {
        catalogs.push(("SQLite", Box::new(SqliteCatalog::open(&path).await?)));
    }
    futures::future::try_join_all(
        catalogs
            .iter()
            .map(|(name, catalog)| register_all(catalog.as_ref(), name, count, seed)),
    )
    .await?;
    Ok(())
}

async fn register_all(
    catalog: &dyn Catalog,
    name: &str,
    count: u64,
    seed: u64,
) -> Result<(), Error> {
    catalog
        .upsert_collection(&Collection::new(COLLECTION)?)
        .await?;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    let mut done = 0u64;
    let mut generated = products(count, seed).peekable();
    while generated.peek().is_some() {
        batch.clear();
        batch.extend(generated.by_ref().take(BATCH).map(|g| g.product()));
        for (product, result) in batch.iter().zip(catalog.register_batch(&batch).await) {
            result.map_err(|e| format!("{name}: registering {}: {e}", product.id))?;
        }
        let before = done;
        done += batch.len() as u64;
        if done / 100_000 != before / 100_000 || done == count {
            eprintln!(
                "stac bench: {name}: {done} products registered, {:.0}/s",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The queries

/// The parameters of one random search: a `side`° × `side`° box, `days` days.
fn random_search(rng: &mut StdRng, side: f64, days: i64) -> Vec<(&'static str, String)> {
    let west = (rng.random_range(-180.0..180.0 - side) * 100.0_f64).round() / 100.0;
    let south = (rng.random_range(-80.0..80.0 - side) * 100.0_f64).round() / 100.0;
    let start = epoch() + chrono::Duration::days(rng.random_range(0..YEARS * 365 - days));
    let end = start + chrono::Duration::days(days);
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    vec![
        ("collections", COLLECTION.to_owned()),
        (
            "bbox",
            format!("{west},{south},{},{}", west + side, south + side),
        ),
        ("datetime", format!("{}/{}", time(start), time(end))),
        ("filter", FILTER.to_owned()),
        ("filter-lang", "cql2-text".to_owned()),
        // Newest first, ties by id ascending, written out: pgstac breaks ties in the first
        // sort's direction (id descending), pvs by id ascending.
        ("sortby", "-datetime,id".to_owned()),
        ("limit", LIMIT.to_string()),
    ]
}

/// `count` searches drawn from `seed`, the same for every server.
fn searches(count: usize, seed: u64, side: f64, days: i64) -> Vec<Vec<(&'static str, String)>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| random_search(&mut rng, side, days))
        .collect()
}

fn search_urls(server: &Server, searches: &[Vec<(&'static str, String)>]) -> Vec<Url> {
    searches
        .iter()
        .map(|params| {
            let mut url = server.url.clone();
            url.query_pairs_mut().extend_pairs(params);
            url
        })
        .collect()
}

/// What one search answered.
struct Answer {
    latency: Duration,
    bytes: usize,
    ids: Vec<String>,
}

async fn search(client: &reqwest::Client, url: &Url) -> Result<Answer, String> {
    let started = Instant::now();
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    let latency = started.elapsed();
    if status != reqwest::StatusCode::OK {
        return Err(format!(
            "GET {url}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(400)])
        ));
    }
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))?;
    let features = match (value["type"].as_str(), value["features"].as_array()) {
        (Some("FeatureCollection"), Some(features)) => features,
        _ => return Err(format!("GET {url}: not a FeatureCollection")),
    };
    let ids = features
        .iter()
        .map(|feature| {
            feature["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("GET {url}: a feature without an id"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Answer {
        latency,
        bytes: body.len(),
        ids,
    })
}

/// Sends every search of `urls` with `clients` concurrent clients; the answers in the order
/// of `urls`, and the wall time.
async fn run_set(
    client: &reqwest::Client,
    urls: &[Url],
    clients: usize,
) -> Result<(Vec<Answer>, Duration), String> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..clients).map(|_| async {
        let mut answers = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(url) = urls.get(index) else {
                return Ok::<_, String>(answers);
            };
            answers.push((index, search(client, url).await?));
        }
    });
    let mut answers: Vec<(usize, Answer)> = futures::future::try_join_all(workers)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let wall = started.elapsed();
    answers.sort_by_key(|(index, _)| *index);
    Ok((
        answers.into_iter().map(|(_, answer)| answer).collect(),
        wall,
    ))
}

/// The ids each query returned, by query; the first server's are the reference.
struct Reference {
    name: String,
    ids: Vec<Vec<String>>,
}

impl Reference {
    /// Checks `answers` of `server` against the reference, or makes them the reference.
    fn check(
        reference: &mut Option<Reference>,
        server: &str,
        urls: &[Url],
        answers: &[Answer],
    ) -> Result<(), String> {
        let Some(reference) = reference else {
            *reference = Some(Reference {
                name: server.to_owned(),
                ids: answers.iter().map(|answer| answer.ids.clone()).collect(),
            });
            return Ok(());
        };
        let differing: Vec<usize> = (0..answers.len())
            .filter(|&i| answers[i].ids != reference.ids[i])
            .collect();
        if let Some(&first) = differing.first() {
            return Err(format!(
                "{} of {} queries answered differently by {server} and {}; the first: {}\n  {server}: {:?}\n  {}: {:?}",
                differing.len(),
                answers.len(),
                reference.name,
                urls[first],
                answers[first].ids,
                reference.name,
                reference.ids[first],
            ));
        }
        Ok(())
    }
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The figures of one measured set.
#[derive(Clone, Copy)]
struct Figures {
    p50: f64,
    p95: f64,
    p99: f64,
    per_second: f64,
}

async fn query(args: QueryArgs) -> Result<(), Error> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(60))
        .build()?;
    let servers = &args.servers;
    let mut results = match &args.results {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => None,
    };

    // Wide queries: full pages of 10 out of ~150 matches, compared in order.
    if args.check > 0 {
        let wide = searches(args.check, args.seed ^ 0xC4EC, 20.0, 180);
        let mut reference = None;
        let mut returned = 0;
        for server in servers {
            let urls = search_urls(server, &wide);
            let (answers, _) = run_set(&client, &urls, 1).await?;
            returned = answers.iter().map(|answer| answer.ids.len()).sum::<usize>();
            Reference::check(&mut reference, &server.name, &urls, &answers)?;
        }
        eprintln!(
            "stac bench: {} wide queries (20° × 20°, 180 days) answered alike by every server, {:.1} items a page",
            args.check,
            returned as f64 / args.check as f64
        );
    }

    let most_clients = args.clients.iter().copied().max().unwrap_or(1);
    if args.warmup > 0 {
        let warmup = searches(args.warmup, args.seed ^ 0x3A2F, 5.0, 30);
        for server in servers {
            let urls = search_urls(server, &warmup);
            run_set(&client, &urls, most_clients).await?;
        }
        eprintln!(
            "stac bench: warm-up, {} queries per server with {most_clients} clients",
            args.warmup
        );
    }

    // (clients, server) -> the figures of each round.
    let mut figures: BTreeMap<(usize, String), Vec<Figures>> = BTreeMap::new();
    let mut returned = 0usize;
    let mut asked = 0usize;
    for round in 0..args.rounds {
        let set = searches(args.queries, args.seed + 1000 + round as u64, 5.0, 30);
        let mut reference = None;
        for &clients in &args.clients {
            // The order turns each round, so that no server is always first or last.
            let mut order: Vec<&Server> = servers.iter().collect();
            order.rotate_left(round % servers.len());
            for server in order {
                let urls = search_urls(server, &set);
                let (answers, wall) = run_set(&client, &urls, clients).await?;
                Reference::check(&mut reference, &server.name, &urls, &answers)?;
                let mut latencies: Vec<Duration> =
                    answers.iter().map(|answer| answer.latency).collect();
                latencies.sort();
                let measured = Figures {
                    p50: percentile_ms(&latencies, 0.50),
                    p95: percentile_ms(&latencies, 0.95),
                    p99: percentile_ms(&latencies, 0.99),
                    per_second: answers.len() as f64 / wall.as_secs_f64(),
                };
                let items = answers.iter().map(|a| a.ids.len()).sum::<usize>();
                returned += items;
                asked += answers.len();
                let line = json!({
                    "round": round + 1,
                    "clients": clients,
                    "server": server.name,
                    "queries": answers.len(),
                    "p50_ms": measured.p50,
                    "p95_ms": measured.p95,
                    "p99_ms": measured.p99,
                    "per_second": measured.per_second,
                    "items_per_answer": items as f64 / answers.len() as f64,
                    "mean_bytes": answers.iter().map(|a| a.bytes).sum::<usize>() as f64
                        / answers.len() as f64,
                });
                println!("{line}");
                if let Some(file) = &mut results {
                    use std::io::Write;
                    writeln!(file, "{line}")?;
                }
                figures
                    .entry((clients, server.name.clone()))
                    .or_default()
                    .push(measured);
            }
        }
    }

    println!();
    println!(
        "{} rounds of {} queries per server and client count; every answer alike ({:.2} items per answer)",
        args.rounds,
        args.queries,
        returned as f64 / asked.max(1) as f64
    );
    println!(
        "| clients | server | p50 ms | p95 ms (spread) | p99 ms (spread) | queries/s | p95 < 20 ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &clients in &args.clients {
        for server in servers {
            let rounds = &figures[&(clients, server.name.clone())];
            let column = |pick: fn(&Figures) -> f64| {
                let mut values: Vec<f64> = rounds.iter().map(pick).collect();
                let (low, high) = values
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                (median(&mut values), low, high)
            };
            let (p50, ..) = column(|f| f.p50);
            let (p95, p95_low, p95_high) = column(|f| f.p95);
            let (p99, p99_low, p99_high) = column(|f| f.p99);
            let (per_second, ..) = column(|f| f.per_second);
            println!(
                "| {clients} | {} | {p50:.2} | {p95:.2} ({p95_low:.2}–{p95_high:.2}) | {p99:.2} ({p99_low:.2}–{p99_high:.2}) | {per_second:.0} | {} |",
                server.name,
                if p95 < 20.0 { "yes" } else { "no" }
            );
        }
    }
    Ok(())
}
