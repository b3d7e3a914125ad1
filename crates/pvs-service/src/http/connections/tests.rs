//! The cap under floods of idle and slow connections that are opened again as soon as the
//! server closes them (as `benches/flood/run.sh` attacks): how fast the server sheds them,
//! and which it closes first. The other behaviours of the limits are checked by
//! `crates/pvs-service/tests/connections.rs`.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{LONG_IDLE, Limits, PATIENCE};

/// The cap of the servers under test.
const CAP: usize = 32;
/// Attacking connections: four times the cap. While the cap let in a cap's worth of
/// connections a second, a new client waited behind the other three caps' worth in the listen
/// backlog: about 3 s.
const ATTACKERS: usize = 4 * CAP;
/// How long a normal request may take under such an attack: well under the bench's budget
/// (1 s), with a margin for a loaded machine; shedding at a cap's worth every [`PATIENCE`]
/// takes about 0.3 s.
const UNDER_ATTACK: Duration = Duration::from_secs(1);

/// `/hello`; `/echo` (POST: reads the whole body, answers its length).
fn router() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/echo",
            post(|body: Body| async move {
                match to_bytes(body, usize::MAX).await {
                    Ok(bytes) => (StatusCode::OK, bytes.len().to_string()),
                    Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
                }
            }),
        )
}

/// A server of [`router`] capped at [`CAP`], its timeouts 30 s (none cuts a client in these
/// tests), until the returned sender is dropped.
async fn start() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = super::super::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let limits = Limits {
        max_connections: NonZeroUsize::new(CAP),
        header_timeout: Some(Duration::from_secs(30)),
        body_timeout: Some(Duration::from_secs(30)),
        send_timeout: Some(Duration::from_secs(30)),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(super::super::serve(
        listener,
        router(),
        limits,
        async move {
            let _ = stopped.await;
        },
    ));
    (address, stop)
}

/// What an attacking connection sends: first a head, then a byte every second.
#[derive(Clone, Copy, Debug)]
enum Attack {
    /// Nothing.
    Idle,
    /// A head that never ends (slowloris).
    SlowHead,
    /// A request whose body never ends.
    SlowBody,
}

impl Attack {
    /// The head, and the byte sent every second (none).
    fn bytes(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Attack::Idle => (b"", b""),
            Attack::SlowHead => (b"GET /hello HTTP/1.1\r\nHost: test\r\nX-Slow: ", b"x"),
            Attack::SlowBody => (
                b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\n\r\nx",
                b"x",
            ),
        }
    }
}

/// `count` connections doing `attack`, each opened again `pause` after the server closes it;
/// and the number of them the server has closed so far.
fn attackers(
    address: SocketAddr,
    attack: Attack,
    count: usize,
    pause: Duration,
) -> (Vec<JoinHandle<()>>, Arc<AtomicU64>) {
    let closed = Arc::new(AtomicU64::new(0));
    let (head, more) = attack.bytes();
    let tasks = (0..count)
        .map(|_| {
            let closed = closed.clone();
            tokio::spawn(async move {
                loop {
                    let Ok(mut stream) = TcpStream::connect(address).await else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let _ = stream.write_all(head).await;
                    let mut buffer = [0; 1024];
                    loop {
                        let read = stream.read(&mut buffer);
                        match tokio::time::timeout(Duration::from_secs(1), read).await {
                            // Closed (or answered, which does not happen here): again.
                            Ok(Ok(0) | Err(_)) => break,
                            Ok(Ok(_)) => {}
                            Err(_) => {
                                if stream.write_all(more).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    closed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect();
    (tasks, closed)
}

/// The status of `request`, sent on a new connection with `Connection: close`, and how long
/// the answer took; status 0 when the connection ends without one.
async fn exchange(address: SocketAddr, request: &[u8]) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut answer = Vec::new();
    if stream.write_all(request).await.is_ok() {
        // A reset ends the answer as an end of stream does.
        let _ = stream.read_to_end(&mut answer).await;
    }
    (status_of(&answer), started.elapsed())
}

fn status_of(answer: &[u8]) -> u16 {
    answer
        .get(9..12)
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

const HELLO: &[u8] = b"GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";

/// With the cap held by [`ATTACKERS`] connections doing `attack` and opened again as soon as
/// they are closed, five normal requests in a row are each answered within [`UNDER_ATTACK`].
async fn at_the_cap_a_flood_of_reopened_connections_is_shed_fast(attack: Attack) {
    let (address, _stop) = start().await;
    let (attack, closed) = attackers(address, attack, ATTACKERS, Duration::ZERO);
    // The cap reached and the backlog holding the others.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attacking = Instant::now();
    let closed_before = closed.load(Ordering::Relaxed);
    let mut took = Vec::new();
    for _ in 0..5 {
        let (status, time) =
            tokio::time::timeout(Duration::from_secs(15), exchange(address, HELLO))
                .await
                .expect("a normal request was answered within 15 s");
        assert_eq!(status, 200);
        took.push(time);
    }
    let shed = closed.load(Ordering::Relaxed) - closed_before;
    let rate = shed as f64 / attacking.elapsed().as_secs_f64();
    for task in attack {
        task.abort();
    }
    eprintln!("normal requests took {took:?}; {rate:.0} attacking connections closed a second");
    assert!(
        took.iter().all(|t| *t < UNDER_ATTACK),
        "normal requests took {took:?} under the attack, more than {UNDER_ATTACK:?}: the idle \
         or slow connections are shed too slowly ({rate:.0} a second)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_flood_of_idle_connections_is_shed_fast() {
    at_the_cap_a_flood_of_reopened_connections_is_shed_fast(Attack::Idle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_flood_of_slow_heads_is_shed_fast() {
    at_the_cap_a_flood_of_reopened_connections_is_shed_fast(Attack::SlowHead).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_flood_of_slow_bodies_is_shed_fast() {
    at_the_cap_a_flood_of_reopened_connections_is_shed_fast(Attack::SlowBody).await;
}

/// At the cap under a flood of slow clients (`attack`), new clients whose request comes only
/// some time after their connection was accepted (a handshake completed late, a request's
/// segment retransmitted) are not closed while slow clients that have waited [`PATIENCE`]
/// are there to be closed instead: they are answered. They were closed first (reset) when
/// every idle connection went before any stalled request (slow bodies), or the oldest idle
/// connection first (slow heads).
///
/// The flood here does not outrun the shedding (as in `benches/flood/run.sh`, whose attacker
/// pauses 50 ms before opening a connection again): 8 connections more than the cap, each
/// opened again 50 ms after it is closed, so that each stays about 0.2 s. A flood that does
/// (every connection closed as soon as it has waited `PATIENCE`) leaves no slow client
/// waiting longer than a new one: then a new client has `PATIENCE` for its request to arrive.
async fn at_the_cap_new_clients_are_closed_after_slow_clients(attack: Attack) {
    let (address, _stop) = start().await;
    let (attack, _) = attackers(address, attack, CAP + 8, Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Past `PATIENCE` on the server (the connection is accepted at once: the backlog is about
    // empty); well short of `LONG_IDLE`, after which it may be closed first.
    let silence = PATIENCE * 4;
    assert!(silence * 2 <= LONG_IDLE);
    let mut late = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        tokio::time::sleep(silence).await;
        let mut answer = Vec::new();
        if stream.write_all(HELLO).await.is_ok() {
            let read =
                tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer));
            let _ = read.await.expect("the late request was answered or closed");
        }
        late.push(status_of(&answer));
    }
    for task in attack {
        task.abort();
    }
    assert_eq!(
        late, [200; 3],
        "new clients whose request came late were closed (status 0) before slow clients"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_new_clients_are_closed_after_slow_bodies() {
    at_the_cap_new_clients_are_closed_after_slow_clients(Attack::SlowBody).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_new_clients_are_closed_after_slow_heads() {
    at_the_cap_new_clients_are_closed_after_slow_clients(Attack::SlowHead).await;
}
