//! Configuration from environment variables, parsed once into typed values.
//!
//! Every variable pvs reads is declared once in [`vars`] with its default, an example and its
//! meaning; [`vars::ALL`] is the registry that `docs/configuration.md` is checked against.
//! A service reads its variables through an [`Env`] and gets either a typed value or a
//! [`ConfigError`] that names the variable, says what is wrong and shows an example: the binary
//! prints that one line and exits with code 2.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

/// One environment variable pvs reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// The variable's name, e.g. `REDIS_URL`.
    pub name: &'static str,
    /// The value used when the variable is unset or empty; `None` means a service that reads
    /// it requires it.
    pub default: Option<&'static str>,
    /// A valid example value, shown in error messages.
    pub example: &'static str,
    /// What the variable sets, one sentence (the documentation's text).
    pub meaning: &'static str,
}

/// A variable that is missing or malformed: one line naming the variable, the problem and an
/// example of a good value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem} (example: {var}={example})")]
pub struct ConfigError {
    /// The variable at fault.
    pub var: &'static str,
    /// What is wrong with it.
    pub problem: String,
    /// A valid value for it.
    pub example: &'static str,
}

impl ConfigError {
    /// An error about `var`.
    pub fn new(var: &Var, problem: impl Into<String>) -> Self {
        Self {
            var: var.name,
            problem: problem.into(),
            example: var.example,
        }
    }
}

/// A snapshot of the environment variables a service reads.
///
/// Values that are not valid UTF-8 are kept so that reading them gives a clear error rather
/// than being silently ignored. An empty value counts as unset.
#[derive(Debug, Clone, Default)]
pub struct Env {
    values: BTreeMap<String, OsString>,
}

impl Env {
    /// The current process environment.
    pub fn from_process() -> Self {
        Self::from_os_pairs(std::env::vars_os())
    }

    /// An environment made of the given pairs (tests, `pvs up`).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), OsString::from(v.into())))
                .collect(),
        }
    }

    fn from_os_pairs(pairs: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        Self {
            values: pairs
                .into_iter()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
                .collect(),
        }
    }

    /// Sets (or replaces) one variable; used where a CLI flag overrides its variable.
    pub fn set(&mut self, name: &str, value: impl Into<OsString>) {
        self.values.insert(name.to_owned(), value.into());
    }

    /// The raw text of `var` if set and non-empty, else its default.
    fn raw(&self, var: &Var) -> Result<Option<String>, ConfigError> {
        match self.values.get(var.name) {
            Some(value) if !value.is_empty() => value
                .clone()
                .into_string()
                .map(Some)
                .map_err(|_| ConfigError::new(var, "value is not valid UTF-8")),
            _ => Ok(var.default.map(str::to_owned)),
        }
    }

    /// The value of `var` (or its default), parsed; an error when it is missing or malformed.
    pub fn get<T>(&self, var: &Var) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.get_opt(var)?
            .ok_or_else(|| ConfigError::new(var, "is required but not set"))
    }

    /// The value of `var` (or its default) parsed, or `None` when it is unset and has no
    /// default.
    pub fn get_opt<T>(&self, var: &Var) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.raw(var)?
            .map(|text| {
                text.parse::<T>().map_err(|e| {
                    let shown = shown_value(var, &text);
                    ConfigError::new(var, format!("invalid value {shown}: {e}"))
                })
            })
            .transpose()
    }
}

/// A value as an error message may show it: secrets not at all, and URLs without what is
/// between the scheme and the `@` (user and password).
fn shown_value(var: &Var, text: &str) -> String {
    if vars::SECRETS.iter().any(|secret| secret.name == var.name) {
        return "(hidden: a secret)".to_owned();
    }
    match text.rfind('@') {
        Some(at) => {
            let start = text.find("://").map_or(0, |i| i + 3).min(at);
            format!("{:?}", format!("{}***{}", &text[..start], &text[at..]))
        }
        None => format!("{text:?}"),
    }
}

/// Every variable pvs reads. Adding a variable means adding it here and to
/// `docs/configuration.md` (a test checks that the two agree).
pub mod vars {
    use super::Var;

    /// Log output format.
    pub const LOG_FORMAT: Var = Var {
        name: "LOG_FORMAT",
        default: Some("text"),
        example: "json",
        meaning: "Log output: `text` (human-readable lines) or `json` (one JSON object a line, for log shippers).",
    };
    /// Log filter.
    pub const RUST_LOG: Var = Var {
        name: "RUST_LOG",
        default: Some("info"),
        example: "info,pvs_queue=debug",
        meaning: "Which log events are written: a level (`error`..`trace`) or per-crate directives (tracing-subscriber EnvFilter syntax).",
    };
    /// Address an HTTP service listens on.
    pub const LISTEN_ADDR: Var = Var {
        name: "LISTEN_ADDR",
        default: None,
        example: "0.0.0.0:8080",
        meaning: "Address and port the service's HTTP server binds (`/health`, `/ready`, `/metrics` and its API); the `--listen` flag overrides it. Each service has its own default (see the table of services).",
    };
    /// The Redis server holding the work queues.
    pub const REDIS_URL: Var = Var {
        name: "REDIS_URL",
        default: None,
        example: "redis://127.0.0.1:6379/0",
        meaning: "Redis server holding the work queues and status sets (`redis://`, `rediss://` for TLS, or `redis+unix://`).",
    };
    /// Prefix for every Redis key.
    pub const REDIS_KEY_PREFIX: Var = Var {
        name: "REDIS_KEY_PREFIX",
        default: Some(""),
        example: "vhr18:",
        meaning: "Prefix put before every Redis key (queues, sets), so that several stacks can share one Redis. Empty keeps the original key names (`preprocess_queue`, ...).",
    };
    /// The PostGIS database holding the catalog.
    pub const DATABASE_URL: Var = Var {
        name: "DATABASE_URL",
        default: None,
        example: "postgres://pvs:secret@127.0.0.1:5432/pvs",
        meaning: "PostgreSQL/PostGIS database holding the product catalog; migrations are applied on start-up.",
    };
    /// Object storage for COGs, metadata and tiles.
    pub const STORAGE_URL: Var = Var {
        name: "STORAGE_URL",
        default: None,
        example: "s3://pvs-data/products",
        meaning: "Object storage for images, COGs, metadata and cached tiles: `s3://bucket/prefix`, `file:///absolute/path` or `memory://` (tests). Every key is relative to the prefix.",
    };
    /// S3 endpoint for S3-compatible servers.
    pub const S3_ENDPOINT: Var = Var {
        name: "S3_ENDPOINT",
        default: None,
        example: "http://minio:9000",
        meaning: "Endpoint of an S3-compatible server (MinIO, SeaweedFS, moto...); unset means AWS S3. Path-style addressing is used with a custom endpoint.",
    };
    /// S3 region.
    pub const AWS_REGION: Var = Var {
        name: "AWS_REGION",
        default: Some("us-east-1"),
        example: "eu-central-1",
        meaning: "S3 region used for request signing.",
    };
    /// S3 access key id.
    pub const AWS_ACCESS_KEY_ID: Var = Var {
        name: "AWS_ACCESS_KEY_ID",
        default: None,
        example: "pvs",
        meaning: "S3 access key id; without it (and the secret) requests are sent unsigned.",
    };
    /// S3 secret access key.
    pub const AWS_SECRET_ACCESS_KEY: Var = Var {
        name: "AWS_SECRET_ACCESS_KEY",
        default: None,
        example: "change-me",
        meaning: "S3 secret access key (a secret: never logged).",
    };
    /// Bearer token required by the ingestor.
    pub const INGEST_TOKEN: Var = Var {
        name: "INGEST_TOKEN",
        default: None,
        example: "s3cr3t-token",
        meaning: "When set, writes (the ingestor's POST endpoints, STAC transactions) require `Authorization: Bearer <token>`, or another credential the access policy grants `write` (a secret: never logged).",
    };
    /// Basic-auth credentials required by the ingestor.
    pub const INGEST_BASIC_AUTH: Var = Var {
        name: "INGEST_BASIC_AUTH",
        default: None,
        example: "provider:s3cr3t",
        meaning: "When set (`user:password`), writes (the ingestor's POST endpoints, STAC transactions) require HTTP basic auth with these credentials, or another credential the access policy grants `write` (a secret: never logged).",
    };
    /// The access policy file.
    pub const ACCESS_POLICY_FILE: Var = Var {
        name: "ACCESS_POLICY_FILE",
        default: None,
        example: "/etc/pvs/access.toml",
        meaning: "The access policy (TOML, docs/security.md): which collections need a grant to be read, static credentials, and OpenID Connect JWTs checked against a JWKS with their claims mapped to grants. Unset: every collection is public, and writes need `INGEST_TOKEN` / `INGEST_BASIC_AUTH` when set (else they are open).",
    };
    /// The credential the cache and the seeder send to the renderer service.
    pub const RENDERER_TOKEN: Var = Var {
        name: "RENDERER_TOKEN",
        default: None,
        example: "s3cr3t-render-token",
        meaning: "Bearer token the cache and the seeder send with the tiles they ask of the renderer service (`RENDERER_URL`), when the renderer has an access policy: give it `read:*` there. Requests the cache passes on carry the client's own `Authorization` (a secret: never logged).",
    };
    /// Largest report body the ingestor accepts.
    pub const INGEST_MAX_BYTES: Var = Var {
        name: "INGEST_MAX_BYTES",
        default: Some("10MiB"),
        example: "20MiB",
        meaning: "Largest browse report body the ingestor accepts (bytes, or with a KiB/MiB/GiB suffix); larger bodies get 413.",
    };
    /// Storage prefix of the images that reports reference.
    pub const INGEST_PREFIX: Var = Var {
        name: "INGEST_PREFIX",
        default: Some(""),
        example: "incoming/browses",
        meaning: "Storage key prefix put before each browse's `fileName` to find its image (HTTP reports) or to upload it to (watch folder). Empty: the `fileName` is the key.",
    };
    /// The collections configuration file.
    pub const COLLECTIONS_FILE: Var = Var {
        name: "COLLECTIONS_FILE",
        default: None,
        example: "/etc/pvs/collections.toml",
        meaning: "TOML file mapping browse types to collections with their compression, seeding and rendering (schema: `schemas/collections.schema.json`). Unset: each browse type is a collection of its own name with the defaults.",
    };
    /// The folder registration reports are written to.
    pub const REPORT_DIR: Var = Var {
        name: "REPORT_DIR",
        default: None,
        example: "/srv/sftp/to/panda",
        meaning: "Folder (the SFTP `to/panda` drop) where the registrar (or the preprocessor, when a report's last browse fails there) writes a registration report XML once every product of a browse report is registered or failed (schema: `schemas/registration-report.xsd`). Unset: no reports are written.",
    };
    /// The preprocessor's scratch folder.
    pub const PREPROCESS_WORK_DIR: Var = Var {
        name: "PREPROCESS_WORK_DIR",
        default: None,
        example: "/var/tmp/pvs",
        meaning: "Folder where the preprocessor downloads inputs and writes COGs before uploading them (needs room for a few inputs and outputs at a time). Unset: the system's temporary folder.",
    };
    /// The renderer's image size cap.
    pub const RENDER_MAX_SIZE: Var = Var {
        name: "RENDER_MAX_SIZE",
        default: Some("4096"),
        example: "2048",
        meaning: "Largest WIDTH and HEIGHT of a WMS GetMap, in pixels (larger requests get an InvalidParameterValue exception).",
    };
    /// The size of GDAL's block cache where maps are drawn.
    pub const RENDER_CACHE_MB: Var = Var {
        name: "RENDER_CACHE_MB",
        default: Some("32"),
        example: "256",
        meaning: "Size of GDAL's block cache where maps are drawn, in MiB (1 to 65536): decoded tiles of the COGs, kept between requests. The renderer's memory grows by up to this much.",
    };
    /// The finest level of the overview mosaics.
    pub const RENDER_OVERVIEW_ZOOM: Var = Var {
        name: "RENDER_OVERVIEW_ZOOM",
        default: Some("6"),
        example: "off",
        meaning: "Finest level of the overview mosaics, as a zoom of the WorldCRS84Quad pyramid (0 to 9; 6 is 0.011° or about 1.2 km per pixel): a map of a collection layer at this resolution or coarser is drawn, complete, from pieces kept painted from every product (repainted where products change), not from the newest 200 products. `off`: every map is drawn from the products.",
    };
    /// Where the overview mosaics are kept.
    pub const RENDER_OVERVIEW_DIR: Var = Var {
        name: "RENDER_OVERVIEW_DIR",
        default: None,
        example: "/var/cache/pvs-overviews",
        meaning: "Folder where the renderer writes the pieces of its overview mosaics (about 100 KiB per 2.8° × 2.8° square with products at zoom 6, for each layer drawn). Unset: a temporary folder, removed on exit.",
    };
    /// Where the tile store is.
    pub const TILES_STORAGE_URL: Var = Var {
        name: "TILES_STORAGE_URL",
        default: None,
        example: "file:///var/cache/pvs",
        meaning: "Storage of the tile cache (`s3://`, `file://` or `memory://`, with the same S3 variables as `STORAGE_URL`). Unset: `STORAGE_URL`. Used by the cache, the seeder and the registrar (which removes the tiles a changed product makes stale).",
    };
    /// The key prefix of the tiles.
    pub const TILES_PREFIX: Var = Var {
        name: "TILES_PREFIX",
        default: Some("tiles"),
        example: "cache/tiles",
        meaning: "Key prefix under which tiles are stored, as `{layer}/{time}/{TileMatrixSet}/{z}/{x}/{y}.{ext}` (ext `png` or `jpg`).",
    };
    /// The renderer service the cache draws tiles with.
    pub const RENDERER_URL: Var = Var {
        name: "RENDERER_URL",
        default: None,
        example: "http://renderer:8082",
        meaning: "Base URL of the renderer service the cache and the seeder ask for tiles (`{RENDERER_URL}/ows`); the cache also passes non-tile WMS requests to it. Unset: they draw tiles in their own process (then `STORAGE_URL`, `COLLECTIONS_FILE` and `RENDER_MAX_SIZE` apply as for the renderer).",
    };
    /// Whether the registrar pushes invalidation records.
    pub const INVALIDATION_RECORDS: Var = Var {
        name: "INVALIDATION_RECORDS",
        default: None,
        example: "false",
        meaning: "Whether the registrar pushes a record of each replaced or removed product on `invalidate_queue`, for tile caches outside pvs such as a CDN (`true` or `false`); pvs's own cached tiles are deleted either way. Unset: `true` for `pvs registrar`, `false` for `pvs up`, where nothing reads that queue.",
    };
    /// How long a worker tries again an item that failed on a transient fault.
    pub const RETRY_TRANSIENT_FOR: Var = Var {
        name: "RETRY_TRANSIENT_FOR",
        default: Some("5m"),
        example: "30m",
        meaning: "How long the preprocessor, the registrar and the seeder keep trying an item whose work failed on a fault that may pass (object storage, the catalog database or the tile store unreachable or restarting, a full work directory or tile store), pausing 1 s, 2 s, 4 s... up to 30 s between attempts, before the product is recorded as failed and its registration report says so. A duration (`5m`, `90s`; a bare number is seconds); `0` fails at once (`docs/operations.md`, \"Faults\").",
    };
    /// The public base URL of the services.
    pub const PUBLIC_URL: Var = Var {
        name: "PUBLIC_URL",
        default: None,
        example: "https://vs.example.org/pvs",
        meaning: "Base URL (scheme, host, port and path prefix) under which clients reach pvs, written into every document that carries a URL (WMS/WCS/WMTS capabilities, OpenSearch descriptions and feeds, TileJSON). Unset: taken per request from the proxy's `Forwarded` or `X-Forwarded-Proto`/`-Host`/`-Port`/`-Prefix` headers, else from `Host` (`docs/operations.md`).",
    };
    /// Where clients reach the tile cache, for the STAC API's WMTS and XYZ links.
    pub const CACHE_PUBLIC_URL: Var = Var {
        name: "CACHE_PUBLIC_URL",
        default: None,
        example: "/",
        meaning: "Where clients reach the tile cache (`/wmts`, `/tiles`), for the WMTS and XYZ links of the renderer's STAC API (`docs/stac.md`): an absolute `http(s)` URL, or a path starting with `/` under the renderer's own public URL (`/`: the same origin, as behind the compose proxy). Unset: Items and Collections carry WMS links only. `pvs up` always links its own tiles.",
    };
    /// How long clients may keep tiles.
    pub const CACHE_MAX_AGE: Var = Var {
        name: "CACHE_MAX_AGE",
        default: Some("3600"),
        example: "86400",
        meaning: "Seconds clients and proxies may keep a tile without asking again: `Cache-Control: public, max-age=N` on every tile the cache serves.",
    };
    /// The deepest zoom level the cache serves.
    pub const CACHE_MAX_ZOOM: Var = Var {
        name: "CACHE_MAX_ZOOM",
        default: Some("18"),
        example: "14",
        meaning: "Deepest tile matrix (zoom level, 0 to 24) the cache advertises and serves in both tile matrix sets; deeper requests are refused.",
    };
    /// The `startIndex` of OpenSearch's first result.
    pub const OPENSEARCH_INDEX_OFFSET: Var = Var {
        name: "OPENSEARCH_INDEX_OFFSET",
        default: Some("1"),
        example: "0",
        meaning: "The `startIndex` of the first OpenSearch result: `1` (OpenSearch 1.1's default) or `0` (EOxServer's, which its clients send), advertised as the description documents' `indexOffset`.",
    };
    /// The unit of OpenSearch's `radius` (`r`).
    pub const OPENSEARCH_RADIUS_UNIT: Var = Var {
        name: "OPENSEARCH_RADIUS_UNIT",
        default: Some("m"),
        example: "deg",
        meaning: "The unit of OpenSearch's `radius` (also `r`): `m` (metres, as the Geo extension says) or `deg` (degrees of arc, as EOxServer's clients give `r`).",
    };

    /// The cap on the open connections of an HTTP server.
    pub const HTTP_MAX_CONNECTIONS: Var = Var {
        name: "HTTP_MAX_CONNECTIONS",
        default: Some("512"),
        example: "4096",
        meaning: "Most connections a service's HTTP server holds open at once (all its serving threads together), or `off`. At the cap, a connection that has kept the server waiting on its client for 100 ms or more is closed to admit a new one, never one whose request the server is working on: one idle for a second or more, the longest idle first (as nginx reuses connections); else the slow client in the middle of a request (a partial head, a body that does not come, an answer not taken) that began the longest ago; else the connection waiting the longest for its request. While the server is working on a request on every connection, new ones wait in the listen backlog (1,024). Keep it below the open-file limit (`ulimit -n`) less what the service opens besides (`docs/security.md`).",
    };
    /// How long a client may take to send a request's head.
    pub const HTTP_HEADER_TIMEOUT: Var = Var {
        name: "HTTP_HEADER_TIMEOUT",
        default: Some("60s"),
        example: "20s",
        meaning: "Longest wait for a request's line and headers, counted from when the connection opens or its previous answer is sent; then the connection is closed. It cuts slow-header clients (slowloris) and is also the keep-alive idle timeout. A duration (`60s`, `500ms`, `2m`; a bare number is seconds) or `off`.",
    };
    /// How long a client may pause while sending a request body.
    pub const HTTP_BODY_TIMEOUT: Var = Var {
        name: "HTTP_BODY_TIMEOUT",
        default: Some("60s"),
        example: "20s",
        meaning: "Longest pause between two reads of a request body (the ingestor's reports, the STAC API's Items and searches), as nginx's `client_body_timeout`; a client that stops sending is answered 408 and its connection closed. A duration or `off`.",
    };
    /// How long a client may pause while taking an answer.
    pub const HTTP_SEND_TIMEOUT: Var = Var {
        name: "HTTP_SEND_TIMEOUT",
        default: Some("60s"),
        example: "20s",
        meaning: "Longest pause between two writes of an answer while the client takes none of it (its socket buffer stays full), as nginx's `send_timeout`; then the connection is closed. A duration or `off`.",
    };

    /// The variables holding secrets: their values are never shown, not even in errors.
    pub const SECRETS: &[Var] = &[
        AWS_SECRET_ACCESS_KEY,
        INGEST_TOKEN,
        INGEST_BASIC_AUTH,
        RENDERER_TOKEN,
    ];

    /// The registry: every variable above.
    pub const ALL: &[Var] = &[
        LOG_FORMAT,
        RUST_LOG,
        LISTEN_ADDR,
        REDIS_URL,
        REDIS_KEY_PREFIX,
        DATABASE_URL,
        STORAGE_URL,
        S3_ENDPOINT,
        AWS_REGION,
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY,
        INGEST_TOKEN,
        INGEST_BASIC_AUTH,
        ACCESS_POLICY_FILE,
        INGEST_MAX_BYTES,
        INGEST_PREFIX,
        COLLECTIONS_FILE,
        REPORT_DIR,
        PREPROCESS_WORK_DIR,
        RENDER_MAX_SIZE,
        RENDER_CACHE_MB,
        RENDER_OVERVIEW_ZOOM,
        RENDER_OVERVIEW_DIR,
        TILES_STORAGE_URL,
        TILES_PREFIX,
        RENDERER_URL,
        RENDERER_TOKEN,
        PUBLIC_URL,
        INVALIDATION_RECORDS,
        RETRY_TRANSIENT_FOR,
        CACHE_PUBLIC_URL,
        CACHE_MAX_AGE,
        CACHE_MAX_ZOOM,
        OPENSEARCH_INDEX_OFFSET,
        OPENSEARCH_RADIUS_UNIT,
        HTTP_MAX_CONNECTIONS,
        HTTP_HEADER_TIMEOUT,
        HTTP_BODY_TIMEOUT,
        HTTP_SEND_TIMEOUT,
    ];
}

/// The table of every variable, in Markdown, as `docs/configuration.md` shows it.
pub fn markdown_table() -> String {
    let mut table = String::from("| Variable | Default | Example | Meaning |\n|---|---|---|---|\n");
    for var in vars::ALL {
        let default = match var.default {
            None => "(none)".to_owned(),
            Some("") => "(empty)".to_owned(),
            Some(text) => format!("`{text}`"),
        };
        table.push_str(&format!(
            "| `{}` | {default} | `{}` | {} |\n",
            var.name, var.example, var.meaning
        ));
    }
    table
}

/// Where an HTTP server listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<SocketAddr>()
            .map(Self)
            .map_err(|_| "expected ADDRESS:PORT such as 127.0.0.1:8080 or [::]:8080".to_owned())
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected `text` or `json`".to_owned()),
        }
    }
}

/// A Redis connection URL (`redis://`, `rediss://`, `redis+unix://`, `unix://`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl(Url);

impl RedisUrl {
    /// The URL text, as the Redis client takes it.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for RedisUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
        match url.scheme() {
            "redis" | "rediss" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(Self(url)),
            "redis" | "rediss" => Err("the URL has no host".to_owned()),
            "redis+unix" | "unix" => Ok(Self(url)),
            other => Err(format!(
                "scheme `{other}` is not a Redis scheme (redis, rediss, redis+unix)"
            )),
        }
    }
}

/// A PostgreSQL connection URL (`postgres://` or `postgresql://`).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Url);

impl DatabaseUrl {
    /// The URL text, as the PostgreSQL client takes it.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Never prints the password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            // Setting a password on a URL that already has one cannot fail.
            let _ = shown.set_password(Some("***"));
        }
        write!(f, "DatabaseUrl({shown})")
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
        match url.scheme() {
            "postgres" | "postgresql" => Ok(Self(url)),
            other => Err(format!(
                "scheme `{other}` is not a PostgreSQL scheme (postgres, postgresql)"
            )),
        }
    }
}

/// A secret (token, password): never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret's text; call only where it is compared or sent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// A size in bytes, written as a number of bytes or with a `KiB`, `MiB` or `GiB` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
            Some(at) => s.split_at(at),
            None => (s, ""),
        };
        let multiplier: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            other => return Err(format!("unknown unit `{other}` (use B, KiB, MiB or GiB)")),
        };
        let number: u64 = digits
            .parse()
            .map_err(|_| "expected a whole number of bytes, e.g. 10485760 or 10MiB".to_owned())?;
        number
            .checked_mul(multiplier)
            .map(Self)
            .ok_or_else(|| "too large".to_owned())
    }
}

/// A timeout: a duration such as `60s`, `500ms` or `2m` (a bare number is seconds), or `off`
/// for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

impl FromStr for Timeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "off" {
            return Ok(Self(None));
        }
        let duration = match s.parse::<u64>() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => humantime::parse_duration(s)
                .map_err(|e| format!("expected a duration such as 60s or 500ms, or `off` ({e})"))?,
        };
        if duration.is_zero() {
            return Err("a zero timeout would cut every client: write `off` for none".to_owned());
        }
        Ok(Self(Some(duration)))
    }
}

/// A length of time: a duration such as `5m`, `90s` or `500ms` (a bare number is seconds);
/// `0` is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(pub Duration);

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.parse::<u64>() {
            Ok(seconds) => Ok(Self(Duration::from_secs(seconds))),
            Err(_) => humantime::parse_duration(s)
                .map(Self)
                .map_err(|e| format!("expected a duration such as 5m, 90s or 0 ({e})")),
        }
    }
}

/// A cap on a count: a whole number from 1, or `off` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap(pub Option<NonZeroUsize>);

impl FromStr for Cap {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "off" {
            return Ok(Self(None));
        }
        s.parse::<NonZeroUsize>()
            .map(|n| Self(Some(n)))
            .map_err(|_| "expected a whole number from 1, or `off`".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn missing_required_variable_names_it_with_an_example() {
        let err = env(&[]).get::<RedisUrl>(&vars::REDIS_URL).unwrap_err();
        assert_eq!(
            err.to_string(),
            "REDIS_URL: is required but not set (example: REDIS_URL=redis://127.0.0.1:6379/0)"
        );
    }

    #[test]
    fn malformed_value_says_what_is_wrong_on_one_line() {
        let err = env(&[("DATABASE_URL", "not-a-url")])
            .get::<DatabaseUrl>(&vars::DATABASE_URL)
            .unwrap_err();
        let line = err.to_string();
        assert!(line.starts_with("DATABASE_URL: invalid value \"not-a-url\": not a URL"));
        assert!(line.ends_with("(example: DATABASE_URL=postgres://pvs:secret@127.0.0.1:5432/pvs)"));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn errors_never_show_passwords_or_secrets() {
        let err = env(&[("DATABASE_URL", "mysql://pvs:hunter2@host/pvs")])
            .get::<DatabaseUrl>(&vars::DATABASE_URL)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.contains("invalid value \"mysql://***@host/pvs\""),
            "{err}"
        );
        let err = env(&[("REDIS_URL", "http://u:hunter2@a@b")])
            .get::<RedisUrl>(&vars::REDIS_URL)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let err = env(&[("INGEST_MAX_BYTES", "x@y")])
            .get::<ByteSize>(&vars::INGEST_MAX_BYTES)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"***@y\""), "{err}");
        // A secret that fails to parse is not echoed at all.
        let err = ConfigError::new(&vars::AWS_SECRET_ACCESS_KEY, "x").to_string();
        assert!(err.starts_with("AWS_SECRET_ACCESS_KEY"));
        assert_eq!(
            shown_value(&vars::INGEST_TOKEN, "hunter2"),
            "(hidden: a secret)"
        );
    }

    #[test]
    fn wrong_scheme_is_refused() {
        let err = env(&[("REDIS_URL", "http://localhost:6379")])
            .get::<RedisUrl>(&vars::REDIS_URL)
            .unwrap_err();
        assert!(
            err.problem.contains("scheme `http` is not a Redis scheme"),
            "{err}"
        );
        let err = env(&[("DATABASE_URL", "mysql://x/y")])
            .get::<DatabaseUrl>(&vars::DATABASE_URL)
            .unwrap_err();
        assert!(err.problem.contains("scheme `mysql`"), "{err}");
    }

    #[test]
    fn empty_value_counts_as_unset_and_defaults_apply() {
        let e = env(&[("LOG_FORMAT", "")]);
        assert_eq!(
            e.get::<LogFormat>(&vars::LOG_FORMAT).unwrap(),
            LogFormat::Text
        );
        assert_eq!(e.get_opt::<Secret>(&vars::INGEST_TOKEN).unwrap(), None);
        assert_eq!(
            e.get::<ByteSize>(&vars::INGEST_MAX_BYTES).unwrap(),
            ByteSize(10 << 20)
        );
    }

    #[test]
    fn non_utf8_value_is_an_error_not_ignored() {
        use std::os::unix::ffi::OsStringExt;
        let e = Env::from_os_pairs([(
            OsString::from("REDIS_URL"),
            OsString::from_vec(vec![b'r', 0xff]),
        )]);
        let err = e.get::<RedisUrl>(&vars::REDIS_URL).unwrap_err();
        assert_eq!(err.problem, "value is not valid UTF-8");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!("1024".parse::<ByteSize>().unwrap(), ByteSize(1024));
        assert_eq!("2KiB".parse::<ByteSize>().unwrap(), ByteSize(2048));
        assert_eq!("3 GiB".parse::<ByteSize>().unwrap(), ByteSize(3 << 30));
        assert!("10MB".parse::<ByteSize>().is_err());
        assert!("-1".parse::<ByteSize>().is_err());
        assert!("99999999999999999999GiB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn timeouts_and_caps() {
        let timeout = |s: &str| s.parse::<Timeout>().map(|t| t.0);
        assert_eq!(timeout("60s"), Ok(Some(Duration::from_secs(60))));
        assert_eq!(timeout("60"), Ok(Some(Duration::from_secs(60))));
        assert_eq!(timeout("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(timeout("1m 30s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(timeout("off"), Ok(None));
        assert!(timeout("0").unwrap_err().contains("`off`"));
        assert!(timeout("0s").is_err());
        assert!(timeout("soon").is_err());
        assert!(timeout("-1s").is_err());
        let cap = |s: &str| s.parse::<Cap>().map(|c| c.0.map(NonZeroUsize::get));
        assert_eq!(cap("512"), Ok(Some(512)));
        assert_eq!(cap("off"), Ok(None));
        assert!(cap("0").is_err());
        assert!(cap("-1").is_err());
        assert!(cap("many").is_err());
    }

    #[test]
    fn listen_addr_and_log_format() {
        assert!("127.0.0.1:8080".parse::<ListenAddr>().is_ok());
        assert!("[::]:80".parse::<ListenAddr>().is_ok());
        assert!("localhost".parse::<ListenAddr>().is_err());
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn secrets_and_passwords_never_show_in_debug() {
        let s: Secret = "hunter2".parse().unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let db: DatabaseUrl = "postgres://u:hunter2@h/db".parse().unwrap();
        assert!(!format!("{db:?}").contains("hunter2"));
    }

    #[test]
    fn registry_names_are_unique_and_examples_are_valid() {
        let mut names: Vec<_> = vars::ALL.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), vars::ALL.len());
        for v in vars::ALL {
            assert!(!v.example.is_empty() && !v.meaning.is_empty(), "{}", v.name);
        }
        let e = Env::from_pairs(vars::ALL.iter().map(|v| (v.name, v.example)));
        e.get::<RedisUrl>(&vars::REDIS_URL).unwrap();
        e.get::<DatabaseUrl>(&vars::DATABASE_URL).unwrap();
        e.get::<ListenAddr>(&vars::LISTEN_ADDR).unwrap();
        e.get::<LogFormat>(&vars::LOG_FORMAT).unwrap();
        e.get::<ByteSize>(&vars::INGEST_MAX_BYTES).unwrap();
        e.get::<Cap>(&vars::HTTP_MAX_CONNECTIONS).unwrap();
        for var in [
            vars::HTTP_HEADER_TIMEOUT,
            vars::HTTP_BODY_TIMEOUT,
            vars::HTTP_SEND_TIMEOUT,
        ] {
            e.get::<Timeout>(&var).unwrap();
        }
    }
}
