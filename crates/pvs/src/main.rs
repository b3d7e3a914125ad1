//! `pvs`: every View Server service behind one executable.
//!
//! `pvs <service> [options]` runs one service. Invoked through a link named after a service
//! (`registrar`, `ingestor`...), it acts as that service, so `registrar --objects-prefix X`
//! works as operators know it. This crate only parses arguments and wires configuration to the
//! service crates; the logic lives there.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 invalid
//! configuration or usage (one line on stderr naming what is wrong).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pvs_service::config::{
    ConfigError, DatabaseUrl, Env, ListenAddr, LogFormat, RedisUrl, Var, vars,
};
use pvs_service::http;
use pvs_storage::StorageUrl;

mod access;
mod backends;
mod cache;
mod demo;
mod ingestor;
mod metrics;
mod preprocessor;
mod queue;
mod registrar;
mod renderer;
mod seeder;
mod status;
mod up;
mod worker;

use backends::StartError;
use ingestor::IngestorArgs;
use preprocessor::PreprocessorArgs;
use registrar::RegistrarArgs;
use seeder::SeederArgs;
use up::UpArgs;

/// Every name pvs answers to when invoked through a link.
const SERVICES: [&str; 6] = [
    "ingestor",
    "preprocessor",
    "registrar",
    "seeder",
    "renderer",
    "cache",
];

#[derive(Debug, Parser)]
#[command(
    name = "pvs",
    version,
    about = "pvs: Earth-observation browse imagery from provider reports to map layers.",
    long_about = "pvs: Earth-observation browse imagery from provider reports to map layers.\n\n\
        Each subcommand runs one service of the pipeline:\n  \
        ingestor -> preprocess-md_queue -> preprocessor -> register_queue -> registrar -> seed_queue -> seeder\n\
        and the map services renderer (WMS, WCS, OpenSearch) and cache (WMTS).\n\n\
        Services are configured by environment variables (see docs/configuration.md); flags override them.\n\
        Invoked through a link named after a service (e.g. `registrar`), pvs acts as that service.",
    after_help = "Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage."
)]
struct Cli {
    #[command(subcommand)]
    service: Service,
}

#[derive(Debug, Subcommand)]
enum Service {
    /// Accept browse reports (HTTP POST or a watched folder) and queue their browses.
    Ingestor(IngestorArgs),
    /// Convert queued browse images and packages to Cloud-Optimized GeoTIFFs on object storage.
    Preprocessor(PreprocessorArgs),
    /// Register preprocessed products (register_queue) in the PostGIS catalog; remove them
    /// (deregister_queue, --deregister).
    Registrar(RegistrarArgs),
    /// Pre-render cache tiles for the time intervals on seed_queue, or for one job given by
    /// --collection, --time and --zoom (resumable, with a progress bar).
    Seeder(SeederArgs),
    /// Serve WMS (1.1.1, 1.3.0) and WCS 2.0.1 on /ows and OpenSearch on /opensearch, from the
    /// catalog and the COGs.
    Renderer(HttpArgs),
    /// Serve WMTS (KVP and RESTful), XYZ tiles with TileJSON and tiled WMS from the tile
    /// cache, drawing missing tiles in process or with the renderer at RENDERER_URL.
    Cache(HttpArgs),
    /// Run the whole pipeline in this process on one port: ingestor (HTTP and a drop folder),
    /// preprocessor, registrar, seeder, renderer, cache and the web client, on embedded
    /// backends in --data-dir unless REDIS_URL, DATABASE_URL or STORAGE_URL are set.
    Up(UpArgs),
    /// Operator's tool for the work queues (REDIS_URL): list them, inspect an item, retry
    /// failed items, purge a queue or a status set.
    Queue(queue::QueueArgs),
}

/// Options every service with an HTTP endpoint takes.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Address to listen on for `/health`, `/ready` and the service's API [env: LISTEN_ADDR].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<ListenAddr>,
}

impl Service {
    fn name(&self) -> &'static str {
        match self {
            Service::Ingestor(_) => "ingestor",
            Service::Preprocessor(_) => "preprocessor",
            Service::Registrar(_) => "registrar",
            Service::Seeder(_) => "seeder",
            Service::Renderer(_) => "renderer",
            Service::Cache(_) => "cache",
            Service::Up(_) => "up",
            Service::Queue(_) => "queue",
        }
    }

    /// Where the service listens unless told otherwise (docs/configuration.md).
    fn default_listen(&self) -> &'static str {
        match self {
            Service::Ingestor(_) => "127.0.0.1:8081",
            Service::Renderer(_) => "127.0.0.1:8082",
            Service::Cache(_) => "127.0.0.1:8083",
            Service::Preprocessor(_) => "127.0.0.1:8084",
            Service::Registrar(_) => "127.0.0.1:8085",
            Service::Seeder(_) => "127.0.0.1:8086",
            Service::Up(_) => up::DEFAULT_LISTEN,
            // Not a server: never listens.
            Service::Queue(_) => "127.0.0.1:0",
        }
    }

    /// The `--listen` flag, if given.
    fn listen_flag(&self) -> Option<ListenAddr> {
        match self {
            Service::Ingestor(a) => a.http.listen,
            Service::Registrar(a) => a.http.listen,
            Service::Preprocessor(a) => a.http.listen,
            Service::Seeder(a) => a.http.listen,
            Service::Renderer(a) | Service::Cache(a) => a.listen,
            Service::Up(a) => a.listen,
            Service::Queue(_) => None,
        }
    }

    /// The backend variables the service cannot start without.
    fn backend_vars(&self) -> &'static [Var] {
        match self {
            Service::Ingestor(_) | Service::Queue(_) => &[vars::REDIS_URL],
            Service::Preprocessor(_) => &[vars::REDIS_URL, vars::STORAGE_URL],
            // A command-line seed job does not use the queue.
            Service::Seeder(a) if a.is_job() => &[vars::DATABASE_URL, vars::STORAGE_URL],
            Service::Registrar(_) | Service::Seeder(_) => {
                &[vars::REDIS_URL, vars::DATABASE_URL, vars::STORAGE_URL]
            }
            Service::Renderer(_) => &[vars::DATABASE_URL, vars::STORAGE_URL],
            // STORAGE_URL or TILES_STORAGE_URL, checked when the cache starts.
            Service::Cache(_) => &[vars::DATABASE_URL],
            // Embedded backends stand in for the ones not configured.
            Service::Up(_) => &[],
        }
    }
}

/// Checks that every backend variable `service` needs is set and well-formed.
fn check_backend_vars(env: &Env, service: &Service) -> Result<(), ConfigError> {
    for var in service.backend_vars() {
        match var.name {
            "REDIS_URL" => env.get::<RedisUrl>(var).map(drop)?,
            "DATABASE_URL" => env.get::<DatabaseUrl>(var).map(drop)?,
            "STORAGE_URL" => env.get::<StorageUrl>(var).map(drop)?,
            other => unreachable!("no parser for backend variable {other}"),
        }
    }
    Ok(())
}

/// The arguments with the service name put first when pvs runs through a service-named link.
fn arguments() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .map(str::to_owned);
    if let Some(name) = invoked_as.filter(|n| SERVICES.contains(&n.as_str())) {
        args[0] = OsString::from("pvs");
        args.insert(1, OsString::from(name));
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(arguments());
    let env = Env::from_process();
    let service = cli.service;
    let name = service.name();
    match start(&env, service) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pvs {name}: {}", backends::one_line(&e));
            match e {
                StartError::Config(_) | StartError::Usage(_) => ExitCode::from(2),
                _ => ExitCode::from(1),
            }
        }
    }
}

/// Checks the configuration, then runs the service until it is asked to stop.
fn start(env: &Env, service: Service) -> Result<(), StartError> {
    let name = service.name();
    check_backend_vars(env, &service)?;
    let listen = match service.listen_flag() {
        Some(flag) => flag,
        None => env
            .get_opt::<ListenAddr>(&vars::LISTEN_ADDR)?
            .map_or_else(|| service.default_listen().parse(), Ok)
            .map_err(|e| ConfigError::new(&vars::LISTEN_ADDR, e))?,
    };
    // Every server's connection limits (HTTP_*); the queue tool serves nothing.
    let limits = match service {
        Service::Queue(_) => http::Limits::default(),
        _ => http::Limits::from_env(env)?,
    };
    let format: LogFormat = env.get(&vars::LOG_FORMAT)?;
    let filter: String = env.get(&vars::RUST_LOG)?;
    let run_with = |future: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), StartError>> + '_>,
    >| {
        pvs_service::logging::init(name, format, &filter);
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| StartError::Start {
                what: "the async runtime",
                source: e.into(),
            })?
            .block_on(future)
    };
    match service {
        Service::Ingestor(args) => run_with(Box::pin(ingestor::run(env, args, listen, limits))),
        Service::Registrar(args) => run_with(Box::pin(registrar::run(env, args, listen, limits))),
        Service::Preprocessor(args) => {
            run_with(Box::pin(preprocessor::run(env, args, listen, limits)))
        }
        Service::Renderer(_) => run_with(Box::pin(renderer::run(env, listen, limits))),
        Service::Seeder(args) => run_with(Box::pin(seeder::run(env, args, listen, limits))),
        Service::Cache(_) => run_with(Box::pin(cache::run(env, listen, limits))),
        Service::Up(args) => run_with(Box::pin(up::run(env, args, listen, limits))),
        Service::Queue(args) => run_with(Box::pin(queue::run(env, args))),
    }
}
