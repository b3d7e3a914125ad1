//! The HTTP skeleton every pvs service runs: `GET /health` (liveness: the process answers),
//! `GET /ready` (readiness: every backend the service needs is reachable), `GET /metrics`
//! (Prometheus), the service's own routes, and a graceful shutdown on SIGINT/SIGTERM; every
//! connection served within the cap and the timeouts of the `HTTP_*` variables ([`Limits`]).
//!
//! [`service_router`] also gives every request an id (the client's `X-Request-Id` when it is
//! a sensible one, else a new one; echoed in the answer), runs the request inside a `request`
//! span carrying that id (so every log line it causes names it), logs one line per request
//! with its status and duration, and counts it in the service's [`Metrics`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use futures::future::join_all;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::config::ListenAddr;
use crate::metrics::{self, Metrics};

mod connections;

pub use connections::{Limits, is_body_timeout};

/// The header carrying a request's id, in requests and answers.
pub const REQUEST_ID: &str = "x-request-id";

/// An answer of `status` with `body` of `content_type`: the one way the OGC and OpenSearch
/// handlers answer. A `content_type` that is no valid header value answers 500.
pub fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A readiness probe: resolves to `Ok` when its backend answers, or to a message saying why not.
pub type Probe =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// The backends `/ready` checks, each under a name shown in the answer (`redis`, `postgis`...).
#[derive(Clone, Default)]
pub struct Readiness {
    probes: Vec<(&'static str, Probe)>,
}

/// How long one probe may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl Readiness {
    /// Readiness with no probes: ready as soon as the server runs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a probe named `name`.
    pub fn with<F, Fut>(mut self, name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.probes
            .push((name, Arc::new(move || Box::pin(probe()) as Pin<Box<_>>)));
        self
    }

    /// Runs every probe concurrently; `true` when all succeed, with a per-probe report.
    pub async fn check(&self) -> (bool, Map<String, Value>) {
        let results = join_all(self.probes.iter().map(|(name, probe)| async move {
            let outcome = match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {}s", PROBE_TIMEOUT.as_secs())),
            };
            (*name, outcome)
        }))
        .await;
        let ready = results.iter().all(|(_, r)| r.is_ok());
        let report = results
            .into_iter()
            .map(|(name, r)| {
                let text = match r {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => format!("error: {e}"),
                };
                (name.to_owned(), Value::String(text))
            })
            .collect();
        (ready, report)
    }
}

/// Adds `/health` and `/ready` to a service's routes.
pub fn with_probes(service: &'static str, routes: Router, readiness: Readiness) -> Router {
    let health = Router::new()
        .route(
            "/health",
            get(move || async move { Json(json!({ "status": "ok", "service": service })) }),
        )
        .route("/ready", get(ready))
        .with_state(Arc::new(readiness));
    routes.merge(health)
}

/// A service's whole router: its `routes`, `/health`, `/ready`, `/metrics`, and around every
/// request the request id, the request log line and the request metrics (see the module
/// documentation).
pub fn service_router(
    service: &'static str,
    routes: Router,
    readiness: Readiness,
    metrics: Metrics,
) -> Router {
    let scrape = metrics.clone();
    with_probes(service, routes, readiness)
        .route(
            "/metrics",
            get(move || {
                let metrics = scrape.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
                        metrics.render().await,
                    )
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(metrics, track))
}

/// The request id to use: the client's when it is 1 to 128 visible ASCII characters of
/// `A-Z a-z 0-9 - _ . : @ /` (nothing that could forge a log line), else a new UUID.
fn request_id(request: &Request) -> HeaderValue {
    request
        .headers()
        .get(REQUEST_ID)
        .filter(|v| {
            let bytes = v.as_bytes();
            (1..=128).contains(&bytes.len())
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:@/".contains(b))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a header value")
        })
}

/// Whether a path is the orchestrator's or Prometheus's, not a client's: logged at debug.
fn is_probe(endpoint: &str) -> bool {
    matches!(endpoint, "/health" | "/ready" | "/metrics")
}

/// The middleware around every request: id, span, log line, metrics.
async fn track(State(metrics): State<Metrics>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    // The matched route (bounded), not the raw path (which clients choose).
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let endpoint = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let operation = metrics::operation(request.uri().path(), request.uri().query());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %method,
        endpoint = %endpoint,
        operation,
    );
    let in_flight = metrics.request_started();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.request_finished(endpoint, operation, status, elapsed);
    drop(in_flight);
    response.headers_mut().insert(REQUEST_ID, id);
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if is_probe(endpoint) {
            tracing::debug!(status, duration_ms, "request answered");
        } else {
            tracing::info!(status, duration_ms, "request answered");
        }
    });
    response
}

async fn ready(State(readiness): State<Arc<Readiness>>) -> impl IntoResponse {
    let (ok, checks) = readiness.check().await;
    let (status, word) = if ok {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    };
    (status, Json(json!({ "status": word, "checks": checks })))
}

/// The listen backlog of every HTTP listener: how many connections the kernel holds for the
/// server before it accepts them. Past it, a client's handshake is dropped and retried by TCP
/// after 1 s, 3 s, 7 s... (tokio's `TcpListener::bind` asks for mio's 128, which a few hundred
/// waiting connections overran). The kernel caps it at `net.core.somaxconn` (4,096 by default
/// since Linux 5.4).
pub const BACKLOG: u32 = 1024;

/// Binds `listen` with a backlog of [`BACKLOG`], failing with the address in the message
/// when it cannot.
pub async fn bind(listen: ListenAddr) -> std::io::Result<TcpListener> {
    listening(listen.0, false)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}")))
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting and finishes the requests in progress.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = connections::Connections::new(limits.max_connections);
    connections::serve(listener, router, limits, open, shutdown).await;
    Ok(())
}

/// Sockets bound to one address, one per serving thread: see [`serve_on_threads`].
#[derive(Debug)]
pub struct SharedPort {
    listen: ListenAddr,
    sockets: Vec<std::net::TcpListener>,
}

impl SharedPort {
    /// Binds `threads` sockets to `listen`, all with `SO_REUSEPORT` so that the kernel
    /// spreads the connections over them. A taken port is an error naming the address.
    /// Call within a Tokio runtime.
    pub fn bind(listen: ListenAddr, threads: std::num::NonZeroUsize) -> std::io::Result<Self> {
        let named = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}"))
        };
        let mut sockets = Vec::with_capacity(threads.get());
        let mut address = listen.0;
        for _ in 0..threads.get() {
            let socket = bind_reusing_port(address).map_err(named)?;
            // Port 0: every other socket takes the port the first one was given.
            address = socket.local_addr()?;
            sockets.push(socket);
        }
        Ok(Self {
            listen: ListenAddr(address),
            sockets,
        })
    }

    /// The address the sockets are bound to (the port given, for port 0).
    pub fn address(&self) -> ListenAddr {
        self.listen
    }
}

/// Serves `router` on `port` from one thread per socket, each thread running its own
/// single-threaded runtime and accepting on its own socket, as nginx runs one event loop
/// per worker process. For services whose requests are short and many (the tile cache): no
/// hand-offs between threads, no work stealing. Other async work (database pools) stays on
/// the calling runtime. `benches/cache/run.sh` found this half as fast again as one
/// `axum::serve` on a multi-threaded runtime for tile hits. The threads share `limits`'s
/// cap on connections.
///
/// Until `shutdown` resolves; then each thread finishes its in-flight requests. A thread
/// that stops serving on its own stops them all, and the error is returned.
pub async fn serve_on_threads(
    port: SharedPort,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = connections::Connections::new(limits.max_connections);
    let (stop, stopped) = tokio::sync::watch::channel(());
    let mut ends = Vec::with_capacity(port.sockets.len());
    for (index, socket) in port.sockets.into_iter().enumerate() {
        let router = router.clone();
        let open = open.clone();
        let mut stopped = stopped.clone();
        let (end, ended) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("http-{index}"))
            .spawn(move || {
                let serve = || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?
                        .block_on(async move {
                            let listener = TcpListener::from_std(socket)?;
                            // A dropped sender stops the thread too.
                            let stop = async move {
                                let _ = stopped.changed().await;
                            };
                            connections::serve(listener, router, limits, open, stop).await;
                            Ok(())
                        })
                };
                let _ = end.send(serve());
            })?;
        ends.push(ended);
    }
    let early = tokio::select! {
        () = shutdown => None,
        (result, index, _) = futures::future::select_all(ends.iter_mut()) => Some((result, index)),
    };
    if let Some((_, index)) = early {
        // Its end is known; a oneshot receiver must not be awaited twice.
        drop(ends.swap_remove(index));
    }
    // Stop every thread and wait for each to finish its requests.
    drop(stop);
    let panicked = || std::io::Error::other("a serving thread panicked");
    let mut outcome = match early.map(|(result, _)| result) {
        Some(Ok(Ok(()))) => Err(std::io::Error::other("a serving thread stopped on its own")),
        Some(Ok(Err(error))) => Err(error),
        Some(Err(_)) => Err(panicked()),
        None => Ok(()),
    };
    for ended in ends {
        match ended.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => outcome = outcome.and(Err(error)),
            Err(_) => outcome = outcome.and(Err(panicked())),
        }
    }
    outcome
}

/// A listening socket on `address` that other sockets of this process may share.
fn bind_reusing_port(address: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    // Taken off this runtime: each serving thread registers its own.
    listening(address, true)?.into_std()
}

/// A socket listening on `address` with a backlog of [`BACKLOG`] (`SO_REUSEADDR`, as tokio's
/// `TcpListener::bind` sets it; `SO_REUSEPORT` when `share_port`), registered with the
/// current runtime: what both [`bind`] and [`SharedPort::bind`] listen with.
fn listening(address: std::net::SocketAddr, share_port: bool) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if share_port {
        socket.set_reuseport(true)?;
    }
    socket.set_nodelay(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        // If the handler cannot be installed, the process still stops on the default action.
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start(readiness: Readiness) -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = with_probes("test", Router::new(), readiness);
        tokio::spawn(serve(listener, router, Limits::default(), async move {
            let _ = stopped.await;
        }));
        (format!("http://{addr}"), stop)
    }

    #[tokio::test]
    async fn health_answers_and_ready_reports_each_probe() {
        let readiness = Readiness::new()
            .with("good", || async { Ok(()) })
            .with("bad", || async { Err("connection refused".to_owned()) });
        let (base, _stop) = start(readiness).await;

        let health = reqwest::get(format!("{base}/health")).await.unwrap();
        assert_eq!(health.status(), 200);
        let body: Value = health.json().await.unwrap();
        assert_eq!(body["service"], "test");

        let ready = reqwest::get(format!("{base}/ready")).await.unwrap();
        assert_eq!(ready.status(), 503);
        let body: Value = ready.json().await.unwrap();
        assert_eq!(body["status"], "not ready");
        assert_eq!(body["checks"]["good"], "ok");
        assert_eq!(body["checks"]["bad"], "error: connection refused");
    }

    #[tokio::test]
    async fn ready_is_200_when_all_probes_pass() {
        let (base, _stop) = start(Readiness::new().with("good", || async { Ok(()) })).await;
        let ready = reqwest::get(format!("{base}/ready")).await.unwrap();
        assert_eq!(ready.status(), 200);
    }

    /// An address no one listens on (the port of a socket just closed).
    fn free_address() -> ListenAddr {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        ListenAddr(socket.local_addr().unwrap())
    }

    #[tokio::test]
    async fn threads_share_the_port_answer_and_stop_on_shutdown() {
        let listen = free_address();
        // Each answer names the thread that served it.
        let router = Router::new().route(
            "/thread",
            get(|| async { std::thread::current().name().unwrap_or("none").to_owned() }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let port = SharedPort::bind(listen, std::num::NonZeroUsize::new(2).unwrap()).unwrap();
        assert_eq!(port.address(), listen);
        let server = tokio::spawn(serve_on_threads(
            port,
            router,
            Limits::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        // 32 connections of their own: the kernel spreads them over both sockets.
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..32 {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let answer = client
                .get(format!("http://{listen}/thread"))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            names.insert(answer.text().await.unwrap());
        }
        assert_eq!(
            names,
            ["http-0", "http-1"].map(str::to_owned).into(),
            "both threads answer"
        );
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        assert!(
            reqwest::get(format!("http://{listen}/thread"))
                .await
                .is_err(),
            "nothing listens after the shutdown"
        );
    }

    #[tokio::test]
    async fn threads_cannot_take_a_port_another_socket_holds() {
        let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = ListenAddr(first.local_addr().unwrap());
        let err = SharedPort::bind(addr, std::num::NonZeroUsize::new(2).unwrap()).unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }

    /// How many connections the listen backlog of `listener` holds while nothing accepts
    /// them: new connections are opened until one is not established within 500 ms (the
    /// kernel drops a handshake once the backlog is full, and TCP retries it only after 1 s),
    /// or until `BACKLOG` + 100 are.
    async fn backlog_holds(address: std::net::SocketAddr) -> usize {
        let mut held = Vec::new();
        while held.len() < BACKLOG as usize + 100 {
            let connect = tokio::net::TcpStream::connect(address);
            match tokio::time::timeout(Duration::from_millis(500), connect).await {
                Ok(stream) => held.push(stream.expect("a connection to the listener")),
                Err(_) => break,
            }
        }
        held.len()
    }

    /// The open-file limit must leave room for the connections of [`backlog_holds`], both
    /// ends of each.
    fn assert_enough_files() {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let soft = limits
            .lines()
            .find(|line| line.starts_with("Max open files"))
            .and_then(|line| line.split_whitespace().nth(3))
            .and_then(|soft| soft.parse::<usize>().ok());
        if let Some(soft) = soft {
            assert!(
                soft >= 2 * BACKLOG as usize,
                "this test needs an open-file limit of {} or more (ulimit -n): {soft}",
                2 * BACKLOG
            );
        }
    }

    #[tokio::test]
    async fn bind_listens_with_a_backlog_of_1024() {
        assert_enough_files();
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let held = backlog_holds(listener.local_addr().unwrap()).await;
        // Linux holds one more than the backlog; tokio's `TcpListener::bind` held 129.
        assert!(
            held >= BACKLOG as usize,
            "the backlog held {held} connections, not {BACKLOG}"
        );
        drop(listener);
    }

    #[tokio::test]
    async fn shared_ports_listen_with_a_backlog_of_1024() {
        assert_enough_files();
        let port = SharedPort::bind(
            "127.0.0.1:0".parse().unwrap(),
            std::num::NonZeroUsize::new(1).unwrap(),
        )
        .unwrap();
        let held = backlog_holds(port.address().0).await;
        assert!(
            held >= BACKLOG as usize,
            "the backlog held {held} connections, not {BACKLOG}"
        );
        drop(port);
    }

    #[tokio::test]
    async fn binding_a_taken_port_names_the_address() {
        let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = ListenAddr(first.local_addr().unwrap());
        let err = bind(addr).await.unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
