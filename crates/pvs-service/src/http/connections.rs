//! Serving connections within limits: the `HTTP_*` variables ([`Limits`]).
//!
//! Each accepted connection is served by hyper's HTTP/1 server on a task of its own, as
//! `axum::serve` does, with these additions:
//!
//! - **a cap on open connections** (`HTTP_MAX_CONNECTIONS`): one semaphore permit a
//!   connection, shared by every serving thread of a server. A connection accepted at the cap
//!   makes room by having one connection closed that has kept the server waiting on its
//!   client for [`PATIENCE`] (100 ms) or more, never one whose request the server is working
//!   on ([`Connections::make_room`]): first one idle (no request in progress) for
//!   [`LONG_IDLE`] (1 s) or more, the one idle the longest (nginx reuses connections the same
//!   way when `worker_connections` runs out); else one in the middle of a request from a slow
//!   client (a head partly arrived, a body that does not come, an answer not taken), the one
//!   that began the longest ago; else one waiting for a request (new, or kept alive), the one
//!   waiting the longest. So a flood of idle or slow connections is shed at up to
//!   `HTTP_MAX_CONNECTIONS` / [`PATIENCE`] connections a second (5,120 for 512; it was 512
//!   with a patience of 1 s), and a new client whose request has not arrived yet is closed
//!   only when no slow client has waited `PATIENCE` (under a flood that outruns the shedding,
//!   it has `PATIENCE` for its request to arrive).
//!   Until a place frees, the new connection waits, and those after it wait in the kernel's
//!   listen backlog (1,024, `super::BACKLOG`): they are served late rather than refused. So
//!   neither idle nor slow clients can keep a new client out for long; only requests the
//!   server itself is working on can, and they end;
//! - **a header timeout** (`HTTP_HEADER_TIMEOUT`): hyper's `header_read_timeout`, which hyper
//!   counts from when it starts waiting for a request (the connection's opening, or the end of
//!   the previous answer), so that it also closes idle keep-alive connections;
//! - **a body timeout** (`HTTP_BODY_TIMEOUT`): tower-http's `TimeoutBody` around every
//!   request body, which fails the handler's read when no data arrives for that long
//!   ([`is_body_timeout`] tells that error apart);
//! - **a send timeout** (`HTTP_SEND_TIMEOUT`): the connection's writes fail when the client
//!   has taken nothing of an answer for that long ([`Stream`]).
//!
//! A connection "has a request in progress" from the moment its request head has arrived to
//! the moment hyper has taken the last byte of its answer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::num::NonZeroUsize;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Sleep;
use tower::ServiceExt;
use tower_http::timeout::{TimeoutBody, TimeoutError};

use crate::config::{Cap, ConfigError, Env, Timeout, vars};

/// The limits every pvs HTTP server applies to its connections (module documentation);
/// `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections open at once (`HTTP_MAX_CONNECTIONS`).
    pub max_connections: Option<NonZeroUsize>,
    /// Longest wait for a request's head (`HTTP_HEADER_TIMEOUT`).
    pub header_timeout: Option<Duration>,
    /// Longest pause between two reads of a request body (`HTTP_BODY_TIMEOUT`).
    pub body_timeout: Option<Duration>,
    /// Longest pause while the client takes none of an answer (`HTTP_SEND_TIMEOUT`).
    pub send_timeout: Option<Duration>,
}

impl Limits {
    /// The limits the `HTTP_*` variables set.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            max_connections: env.get::<Cap>(&vars::HTTP_MAX_CONNECTIONS)?.0,
            header_timeout: env.get::<Timeout>(&vars::HTTP_HEADER_TIMEOUT)?.0,
            body_timeout: env.get::<Timeout>(&vars::HTTP_BODY_TIMEOUT)?.0,
            send_timeout: env.get::<Timeout>(&vars::HTTP_SEND_TIMEOUT)?.0,
        })
    }
}

/// The defaults of the `HTTP_*` variables.
impl Default for Limits {
    fn default() -> Self {
        Self::from_env(&Env::default()).expect("the defaults of the HTTP_* variables are valid")
    }
}

/// Whether `error`, or an error it was caused by, is a request body that stopped arriving
/// for `HTTP_BODY_TIMEOUT`: a handler answers it 408 Request Timeout.
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<TimeoutError>())
}

/// Accepts connections on `listener` and serves `router` on each, within `limits`, until
/// `stop` resolves; then stops accepting and waits for every connection to finish its
/// request. `connections` may be shared by several listeners (the serving threads of
/// `serve_on_threads`), which then share the cap.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    connections: Arc<Connections>,
    stop: impl Future<Output = ()>,
) {
    // Dropped to start every connection's graceful shutdown.
    let (stopping, stopped) = watch::channel(());
    // Held by every connection's task: closed once the last one ends.
    let (ended, running) = watch::channel(());
    let mut stop = pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tokio::select! {
                        () = accept_error(error) => continue,
                        () = &mut stop => break,
                    }
                }
            },
            () = &mut stop => break,
        };
        let permit = tokio::select! {
            permit = connections.admit() => permit,
            () = &mut stop => break,
        };
        // Answers go out at once, not held back for a fuller segment.
        let _ = stream.set_nodelay(true);
        let admitted = Admitted {
            connection: connections.open(),
            connections: connections.clone(),
            _permit: permit,
        };
        tokio::spawn(serve_connection(
            stream,
            router.clone(),
            limits,
            admitted,
            stopped.clone(),
            running.clone(),
        ));
    }
    drop(listener);
    drop(stopping);
    drop(running);
    ended.closed().await;
}

/// An error of `accept`: one that concerns a single connection is passed over; others (out
/// of file descriptors, of memory) are logged and retried after a second, as `axum::serve`
/// does.
async fn accept_error(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; trying again in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What a connection's task holds: its state, and its place under the cap.
struct Admitted {
    connection: Arc<Connection>,
    connections: Arc<Connections>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// Gives the connection's place back when its task ends, however it ends.
impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections.forget(&self.connection);
    }
}

/// Serves one connection until it ends, it is closed to make room, or the server stops.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    admitted: Admitted,
    mut stopped: watch::Receiver<()>,
    _running: watch::Receiver<()>,
) {
    let connection = admitted.connection.clone();
    let service = Answering {
        router,
        connection: connection.clone(),
        body_timeout: limits.body_timeout,
    };
    let io = TokioIo::new(Stream {
        tcp: stream,
        connection: connection.clone(),
        send_timeout: limits.send_timeout,
        stalled: None,
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut served = pin!(http.serve_connection(io, service));
    let (mut closing, mut stopping) = (false, false);
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended");
                }
                break;
            }
            () = connection.close.notified(), if !closing => {
                closing = true;
                // Checked here, between two polls of the connection. Cut at once: a stalled
                // request, whose handler waits for its body (pvs's handlers read the whole
                // body before they act) or whose answer waits for the client; a connection
                // never used, with nothing in progress (if a head is arriving, it is cut).
                if connection.is_stalled() || !connection.used.load(Ordering::Acquire) {
                    break;
                }
                // Idle: hyper closes it at once. Busy since it was chosen: after its answer.
                served.as_mut().graceful_shutdown();
            }
            _ = stopped.changed(), if !stopping => {
                stopping = true;
                // The server stops: requests in progress are finished, no head waited for.
                if !connection.used.load(Ordering::Acquire) {
                    break;
                }
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The open connections of a server, shared by its serving threads: the cap's permits and,
/// under a cap, what is known of each connection, to choose the one to close at the cap.
pub(super) struct Connections {
    /// One permit a connection; `None` without a cap.
    permits: Option<Arc<Semaphore>>,
    /// The open connections by id (only under a cap).
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    /// The origin of the connections' times.
    epoch: Instant,
    /// When reaching the cap may next be logged, in microseconds since `epoch`.
    next_report: AtomicU64,
    /// Connections waiting in [`Connections::admit`] for a place (one a listener at most).
    waiting: AtomicUsize,
}

/// How long the server waits for a permit at the cap, at most, before it looks again for a
/// connection to close (one may have become idle or stalled since).
const CAP_RECHECK: Duration = Duration::from_millis(100);

/// How long a connection must have kept the server waiting on its client (idle, or stalled
/// in a request) before it may be closed to make room at the cap: the time for a connection
/// just accepted to have its request read (it has usually arrived with the handshake, while
/// the connection waited in the listen backlog), and for an answer to get past a full socket
/// buffer. It bounds how fast idle and slow connections are shed: at most the cap's worth
/// each `PATIENCE` (1 s let in only 512 connections a second, and a new client waited
/// seconds behind 2,000 attacking ones in the backlog: `benches/flood/run.sh`).
pub(super) const PATIENCE: Duration = Duration::from_millis(100);

/// An idle connection (no request in progress) waiting this long is closed before any other
/// at the cap: closing it loses nothing, and a new client has had the time to send its
/// request. A new client waiting for less is closed only after the slow clients.
pub(super) const LONG_IDLE: Duration = Duration::from_secs(1);

/// How often, at most, reaching the cap is logged.
const CAP_REPORT_EVERY: Duration = Duration::from_secs(10);

impl Connections {
    /// No connection yet, under the cap `max` (none: `None`).
    pub(super) fn new(max: Option<NonZeroUsize>) -> Arc<Self> {
        Arc::new(Self {
            permits: max.map(|max| Arc::new(Semaphore::new(max.get()))),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
            next_report: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
        })
    }

    /// A place for one more connection (`None` without a cap): at once below the cap; at the
    /// cap, once the connection chosen by [`Connections::make_room`] has closed, or a request
    /// has finished.
    async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let permits = self.permits.as_ref()?;
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            return Some(permit);
        }
        // Counted until admitted, or until the server stops and drops this future.
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Uncount(&self.waiting);
        loop {
            let wait = self.make_room();
            // The semaphore is never closed.
            if let Ok(Ok(permit)) =
                tokio::time::timeout(wait, permits.clone().acquire_owned()).await
            {
                return Some(permit);
            }
        }
    }

    /// Asks one connection that has kept the server waiting on its client for [`PATIENCE`]
    /// or more to close, never one the server is working on for its request: first one idle
    /// for [`LONG_IDLE`] or more, the one idle the longest; else one in the middle of a
    /// request from its client (a head partly arrived, a body not arriving, an answer not
    /// taken), the one that began the longest ago; else one waiting for a request, the one
    /// waiting the longest. Not while as many connections asked before are still closing as
    /// new ones wait for a place: no more are closed than new clients need. How long to wait
    /// for a place before looking again: until the next connection has waited [`PATIENCE`],
    /// or [`CAP_RECHECK`].
    fn make_room(&self) -> Duration {
        let now = micros_since(self.epoch);
        let patience = PATIENCE.as_micros() as u64;
        let long_idle = LONG_IDLE.as_micros() as u64;
        let (chosen, soonest) = {
            let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            // Asked to close and not closed yet (one that has become busy since it was asked
            // closes after its answer: not counted, so that no new client waits for it).
            let mut closing = 0;
            // The one to close of each rank (0 first), by when it began waiting.
            let mut best: [Option<(u64, u64, &Arc<Connection>)>; 3] = [None, None, None];
            // How long until the next connection has waited `PATIENCE`.
            let mut soonest: Option<u64> = None;
            for connection in open.values() {
                let idle = connection.is_idle();
                if !idle && !connection.is_stalled() {
                    continue;
                }
                if connection.closing.load(Ordering::Acquire) {
                    closing += 1;
                    continue;
                }
                let since = connection.since.load(Ordering::Acquire);
                let waited = now.saturating_sub(since);
                if waited < patience {
                    let left = patience - waited;
                    soonest = Some(soonest.map_or(left, |s| s.min(left)));
                    continue;
                }
                let rank = if idle && waited >= long_idle {
                    0
                } else if !idle || connection.head_arriving.load(Ordering::Acquire) {
                    1
                } else {
                    2
                };
                let key = (since, connection.id, connection);
                if best[rank].is_none_or(|(s, id, _)| (since, connection.id) < (s, id)) {
                    best[rank] = Some(key);
                }
            }
            if closing >= self.waiting.load(Ordering::Acquire) {
                return CAP_RECHECK;
            }
            let chosen = best.into_iter().flatten().next();
            (chosen.map(|(_, _, c)| c.clone()), soonest)
        };
        self.report_cap(chosen.is_some());
        match chosen {
            Some(connection) => {
                connection.closing.store(true, Ordering::Release);
                connection.close.notify_one();
                CAP_RECHECK
            }
            // At least a millisecond: tokio's timer's resolution.
            None => soonest.map_or(CAP_RECHECK, |left| {
                Duration::from_micros(left).clamp(Duration::from_millis(1), CAP_RECHECK)
            }),
        }
    }

    /// Logs that the cap is reached, at most every [`CAP_REPORT_EVERY`].
    fn report_cap(&self, closing_one: bool) {
        let now = micros_since(self.epoch);
        let next = self.next_report.load(Ordering::Relaxed);
        let due = now >= next
            && self
                .next_report
                .compare_exchange(
                    next,
                    now.saturating_add(CAP_REPORT_EVERY.as_micros() as u64),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if due {
            tracing::warn!(
                closing_one,
                "HTTP_MAX_CONNECTIONS reached: closing an idle or stalled connection, else \
                 waiting for a request to finish (logged at most every 10 s)"
            );
        }
    }

    /// The state of a connection just admitted.
    fn open(&self) -> Arc<Connection> {
        let connection = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            epoch: self.epoch,
            answering: AtomicUsize::new(0),
            used: AtomicBool::new(false),
            since: AtomicU64::new(micros_since(self.epoch)),
            head_arriving: AtomicBool::new(false),
            body_stalled: AtomicBool::new(false),
            send_stalled: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        });
        if self.permits.is_some() {
            self.open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(connection.id, connection.clone());
        }
        connection
    }

    /// Forgets a connection that has ended.
    fn forget(&self, connection: &Connection) {
        if self.permits.is_some() {
            self.open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&connection.id);
        }
    }
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Takes one off a count when dropped.
struct Uncount<'a>(&'a AtomicUsize);

impl Drop for Uncount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the server knows of one open connection.
struct Connection {
    id: u64,
    /// The origin of `since`.
    epoch: Instant,
    /// Requests in progress (HTTP/1: none or one).
    answering: AtomicUsize,
    /// Whether a request has ever arrived on it.
    used: AtomicBool,
    /// When it became idle (opened, or an answer ended) or its request arrived, in
    /// microseconds since `epoch`.
    since: AtomicU64,
    /// Whether bytes of a request head have arrived while no request was in progress (a head
    /// partly arrived, until its request starts).
    head_arriving: AtomicBool,
    /// Whether its request's handler is waiting for the next piece of the body.
    body_stalled: AtomicBool,
    /// Whether a write of its answer is waiting for the client to take some.
    send_stalled: AtomicBool,
    /// Whether it has been asked to close to make room.
    closing: AtomicBool,
    /// Wakes its task to close it.
    close: Notify,
}

impl Connection {
    /// No request in progress: waiting for one, or for the rest of its head.
    fn is_idle(&self) -> bool {
        self.answering.load(Ordering::Acquire) == 0
    }

    /// Waiting on the client in the middle of a request: for its body, or to take its answer.
    fn is_stalled(&self) -> bool {
        self.body_stalled.load(Ordering::Acquire) || self.send_stalled.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.since
            .store(micros_since(self.epoch), Ordering::Release);
    }
}

/// A request in progress on a connection, until dropped (with the answer's body, or with
/// the handler's future if the connection ends first).
struct InProgress(Arc<Connection>);

impl InProgress {
    fn start(connection: Arc<Connection>) -> Self {
        connection.used.store(true, Ordering::Release);
        connection.answering.fetch_add(1, Ordering::AcqRel);
        connection.head_arriving.store(false, Ordering::Release);
        connection.changed();
        Self(connection)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.changed();
        self.0.answering.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router as hyper calls it for each request of one connection: the request body under
/// the body timeout and watched for stalls, and the request counted as in progress until its
/// answer's body ends.
#[derive(Clone)]
struct Answering {
    router: Router,
    connection: Arc<Connection>,
    body_timeout: Option<Duration>,
}

impl hyper::service::Service<Request<Incoming>> for Answering {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_progress = InProgress::start(self.connection.clone());
        let request = request.map(|body| {
            let body = match self.body_timeout {
                Some(timeout) => Body::new(TimeoutBody::new(timeout, body)),
                None => Body::new(body),
            };
            Body::new(Arriving {
                body,
                connection: self.connection.clone(),
            })
        });
        let answer = self.router.clone().oneshot(request);
        Box::pin(async move {
            let response = answer.await?;
            // In progress until hyper drops the answer's body, having taken all of it.
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_progress = &in_progress;
                    frame
                }))
            }))
        })
    }
}

/// A request body, telling its connection when the handler waits for the next piece.
struct Arriving {
    body: Body,
    connection: Arc<Connection>,
}

impl http_body::Body for Arriving {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        self.connection
            .body_stalled
            .store(polled.is_pending(), Ordering::Release);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A handler that drops the body unread waits for it no more.
impl Drop for Arriving {
    fn drop(&mut self) {
        self.connection.body_stalled.store(false, Ordering::Release);
    }
}

/// A client's connection whose writes fail once the client has taken nothing for the send
/// timeout: while its socket's send buffer stays full, a write waits; after the timeout it
/// fails with `TimedOut`, and hyper closes the connection. It tells its connection whether a
/// write is waiting.
struct Stream {
    tcp: TcpStream,
    connection: Arc<Connection>,
    send_timeout: Option<Duration>,
    /// Running since the first write that could not proceed; reset by one that does.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Stream {
    /// Runs one write operation of the socket under the send timeout.
    fn sending<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if let Poll::Ready(result) = write(Pin::new(&mut self.tcp), cx) {
            self.stalled = None;
            self.connection.send_stalled.store(false, Ordering::Release);
            return Poll::Ready(result);
        }
        self.connection.send_stalled.store(true, Ordering::Release);
        let Some(timeout) = self.send_timeout else {
            return Poll::Pending;
        };
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the client took nothing of the answer for {} (HTTP_SEND_TIMEOUT)",
                    humantime::format_duration(timeout)
                ),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        // Bytes of a head (a new request's: none is in progress).
        if buf.filled().len() > before
            && self.connection.is_idle()
            && !self.connection.head_arriving.load(Ordering::Relaxed)
        {
            self.connection.head_arriving.store(true, Ordering::Release);
        }
        polled
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.sending(cx, |tcp, cx| tcp.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.sending(cx, |tcp, cx| tcp.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sending(cx, |tcp, cx| tcp.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sending(cx, |tcp, cx| tcp.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests;
