//! Slow and idle clients and connection floods against a real served router, with the
//! `HTTP_*` limits set short ([`Limits`]): each limit cuts the client it is for, and a normal
//! request is still answered meanwhile. Clients are raw sockets, so that nothing retries or
//! pools behind the test's back.
//!
//! Margins are wide on purpose (a loaded 2-core machine): a timeout of 1 s must cut its client
//! after 0.8 s and before 8 s; a normal request must be answered within 3 s, where the
//! failure being guarded against is a wait of 30 s or forever.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::StatusCode;
use axum::routing::{get, post};
use pvs_service::config::Env;
use pvs_service::http::{self, Limits, SharedPort};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The timeout under test.
const SHORT: Duration = Duration::from_secs(1);
/// A timeout that must not be what cuts a client in a test.
const LONG: Duration = Duration::from_secs(30);
/// The earliest a client may be cut by [`SHORT`].
const NOT_BEFORE: Duration = Duration::from_millis(800);
/// The latest a client may be cut by [`SHORT`].
const NOT_AFTER: Duration = Duration::from_secs(8);
/// How long a normal request may take while the server is being flooded.
const BUDGET: Duration = Duration::from_secs(3);
/// The size of `/large`: more than loopback's socket buffers can hold.
const LARGE: usize = 64 << 20;

/// Limits with every timeout long and no cap: each test shortens what it tests.
fn limits() -> Limits {
    Limits {
        max_connections: None,
        header_timeout: Some(LONG),
        body_timeout: Some(LONG),
        send_timeout: Some(LONG),
    }
}

/// `/hello`; `/echo` (POST: the body's length, 408 when it stops arriving); `/slow`
/// (answers after 1.5 s); `/large` (64 MiB).
fn router() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/echo",
            post(|body: Body| async move {
                match to_bytes(body, usize::MAX).await {
                    Ok(bytes) => (StatusCode::OK, bytes.len().to_string()),
                    Err(e) if http::is_body_timeout(&e) => {
                        (StatusCode::REQUEST_TIMEOUT, e.to_string())
                    }
                    Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "slow"
            }),
        )
        .route(
            "/large",
            get(|| async {
                let chunk = Bytes::from(vec![b'x'; 1 << 16]);
                let chunks = (0..LARGE >> 16).map(move |_| Ok::<_, Infallible>(chunk.clone()));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
}

/// A server of [`router`] on a free port, until the returned sender is dropped.
async fn start(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(http::serve(listener, router(), limits, async move {
        let _ = stopped.await;
    }));
    (address, stop)
}

/// A server under a cap of `cap` connections, its timeouts long.
async fn start_capped(cap: usize) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start(Limits {
        max_connections: NonZeroUsize::new(cap),
        ..limits()
    })
    .await
}

/// A new connection on which `bytes` have been sent.
async fn sent(address: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// Asserts the status of an HTTP/1.1 answer, showing the answer otherwise.
fn assert_status(answer: &[u8], status: u16) {
    assert_eq!(
        status_of(answer),
        status,
        "{}",
        String::from_utf8_lossy(answer)
    );
}

/// `GET path` on a connection of its own: the status and how long the answer took.
async fn get_status(address: SocketAddr, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let mut stream = sent(address, request.as_bytes()).await;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    (status_of(&answer), started.elapsed())
}

/// A normal request within [`BUDGET`], answered 200.
async fn answered_within_budget(address: SocketAddr) -> Duration {
    let (status, took) = tokio::time::timeout(BUDGET, get_status(address, "/hello"))
        .await
        .unwrap_or_else(|_| panic!("a normal request was not answered within {BUDGET:?}"));
    assert_eq!(status, 200);
    took
}

/// `GET /hello` on a new connection kept open after the answer: the connection, once the
/// answer has come, within [`BUDGET`].
async fn answered_and_kept(address: SocketAddr) -> TcpStream {
    let exchange = async {
        let mut stream = sent(address, b"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n").await;
        let mut answer = Vec::new();
        let mut buffer = [0; 1024];
        while !answer.ends_with(b"hello") {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "closed before the answer");
            answer.extend_from_slice(&buffer[..n]);
        }
        assert_eq!(status_of(&answer), 200);
        stream
    };
    tokio::time::timeout(BUDGET, exchange)
        .await
        .unwrap_or_else(|_| panic!("a normal request was not answered within {BUDGET:?}"))
}

/// The status code of an HTTP/1.1 answer (0 when there is none).
fn status_of(answer: &[u8]) -> u16 {
    answer
        .get(9..12)
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Reads until the server closes the connection (end of stream or reset): what was read,
/// and when. Fails the test if the connection stays open for 15 s.
async fn until_closed(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut read = Vec::new();
    let closed = async {
        let mut buffer = [0; 1 << 16];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), closed)
        .await
        .expect("the server closed the connection");
    (read, Instant::now())
}

fn assert_cut_by_short_timeout(what: &str, took: Duration) {
    assert!(
        (NOT_BEFORE..NOT_AFTER).contains(&took),
        "{what} after {took:?}, expected about {SHORT:?}"
    );
}

#[tokio::test]
async fn a_slow_header_client_is_cut_after_the_header_timeout() {
    let (address, _stop) = start(Limits {
        header_timeout: Some(SHORT),
        ..limits()
    })
    .await;
    let started = Instant::now();
    let stream = sent(address, b"GET /hello HTTP/1.1\r\nHost: test\r\n").await;
    // One header byte every 100 ms: progress, but never a whole head.
    let (mut reader, mut writer) = stream.into_split();
    let dribble = tokio::spawn(async move {
        for byte in b"X-Slow: ".iter().cycle() {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), reader.read_to_end(&mut answer));
    let _ = read.await.expect("the server closed the connection");
    dribble.abort();
    assert_cut_by_short_timeout("the slow head was cut", started.elapsed());
    assert!(answer.is_empty(), "no answer to a head that never came");
    answered_within_budget(address).await;
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_header_timeout() {
    let (address, _stop) = start(Limits {
        header_timeout: Some(SHORT),
        ..limits()
    })
    .await;
    // One that never sends anything, and one kept alive after an answer.
    let mut silent = TcpStream::connect(address).await.unwrap();
    let opened = Instant::now();
    let mut kept = answered_and_kept(address).await;
    let answered = Instant::now();

    let (_, closed) = until_closed(&mut silent).await;
    assert_cut_by_short_timeout("the silent connection was closed", closed - opened);
    let (_, closed) = until_closed(&mut kept).await;
    assert_cut_by_short_timeout("the kept-alive connection was closed", closed - answered);
}

#[tokio::test]
async fn a_slow_body_client_is_answered_408_after_the_body_timeout() {
    let (address, _stop) = start(Limits {
        body_timeout: Some(SHORT),
        ..limits()
    })
    .await;
    let mut stream = sent(
        address,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n0123456789",
    )
    .await;
    let started = Instant::now();
    // The other 990 bytes never come.
    let (answer, closed) = until_closed(&mut stream).await;
    assert_cut_by_short_timeout("the slow body was cut", closed - started);
    assert_status(&answer, 408);
}

#[tokio::test]
async fn a_body_that_keeps_arriving_is_read_whole_however_long_it_takes() {
    let (address, _stop) = start(Limits {
        body_timeout: Some(SHORT),
        ..limits()
    })
    .await;
    let mut stream = sent(
        address,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 8\r\nConnection: close\r\n\r\n",
    )
    .await;
    // 8 bytes over 2.4 s, well past the timeout, but never a pause as long as it.
    for byte in b"01234567" {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream.write_all(&[*byte]).await.unwrap();
    }
    let (answer, _) = until_closed(&mut stream).await;
    assert_status(&answer, 200);
    assert!(answer.ends_with(b"\r\n\r\n8"));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_after_the_send_timeout() {
    let (address, _stop) = start(Limits {
        send_timeout: Some(SHORT),
        ..limits()
    })
    .await;
    let mut stream = sent(address, b"GET /large HTTP/1.1\r\nHost: test\r\n\r\n").await;
    // Reads nothing for a while: the socket buffers fill, then the server's writes stall.
    tokio::time::sleep(SHORT * 3).await;
    let (answer, _) = until_closed(&mut stream).await;
    assert_eq!(status_of(&answer), 200);
    assert!(
        answer.len() < LARGE,
        "the whole answer was sent: the stalled writes were not cut"
    );
    answered_within_budget(address).await;
}

#[tokio::test]
async fn at_the_cap_idle_connections_make_room_for_a_new_client() {
    let cap = 4;
    let (address, _stop) = start_capped(cap).await;
    // The cap filled: two connections that never send anything, then two kept alive after an
    // answer. None times out for 30 s.
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    for _ in 0..2 {
        idle.push(answered_and_kept(address).await);
    }
    // Each new client, kept open too, is answered at once; each closes one idle connection,
    // the one idle the longest first: the first four, not the new ones.
    let mut new = Vec::new();
    for _ in 0..cap {
        new.push(answered_and_kept(address).await);
    }
    for (index, stream) in idle.iter_mut().enumerate() {
        let closed = tokio::time::timeout(BUDGET, until_closed(stream)).await;
        assert!(closed.is_ok(), "idle connection {index} is still open");
    }
    for stream in &mut new {
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (answer, _) = until_closed(stream).await;
        assert_eq!(
            status_of(&answer),
            200,
            "a new client's connection stays usable"
        );
    }
}

/// With the cap held by twice as many slow clients, each sending `head` then a byte of
/// `trickle` every 100 ms (never cut: every timeout is 30 s), new clients are answered.
async fn at_the_cap_slow_clients_make_room_for_new_ones(
    head: &'static [u8],
    trickle: &'static [u8],
) {
    let cap = 4;
    let (address, _stop) = start_capped(cap).await;
    let slow: Vec<_> = (0..2 * cap)
        .map(|_| {
            tokio::spawn(async move {
                let Ok(mut stream) = TcpStream::connect(address).await else {
                    return;
                };
                if stream.write_all(head).await.is_err() {
                    return;
                }
                for byte in trickle.iter().cycle() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if stream.write_all(&[*byte]).await.is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..4 {
        answered_within_budget(address).await;
    }
    for task in slow {
        task.abort();
    }
}

#[tokio::test]
async fn at_the_cap_slow_header_clients_make_room_for_a_new_client() {
    // Heads that never end.
    at_the_cap_slow_clients_make_room_for_new_ones(b"", b"GET /hello HTTP/1.1\r\nX-Slow: ").await;
}

#[tokio::test]
async fn at_the_cap_slow_body_clients_make_room_for_a_new_client() {
    // Requests in progress, their handlers waiting for the body.
    let head = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\n\r\n";
    at_the_cap_slow_clients_make_room_for_new_ones(head, b"x").await;
}

#[tokio::test]
async fn at_the_cap_clients_that_stop_reading_make_room_for_a_new_client() {
    let cap = 2;
    let (address, _stop) = start_capped(cap).await;
    // The cap filled with answers their clients do not read, none cut for 30 s.
    let mut stalled = Vec::new();
    for _ in 0..cap {
        let stream = sent(address, b"GET /large HTTP/1.1\r\nHost: test\r\n\r\n").await;
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    answered_within_budget(address).await;
    // One of them was closed, its answer cut short; the other reads its answer whole and
    // stays open.
    let mut cut = 0;
    for stream in &mut stalled {
        if let Ok((answer, _)) = tokio::time::timeout(BUDGET, until_closed(stream)).await {
            assert!(answer.len() < LARGE, "an answer read whole, then closed");
            cut += 1;
        }
    }
    assert_eq!(cut, 1, "one stalled answer was cut to make room");
}

/// At the cap with every connection answering a request, a new client waits for one to
/// finish and is answered then, rather than refused; on `threads` serving threads sharing
/// the cap, or on one server when `None`.
async fn at_the_cap_of_busy_connections_a_new_client_waits_its_turn(threads: Option<usize>) {
    let limits = Limits {
        max_connections: NonZeroUsize::new(2),
        ..limits()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let address = match threads.and_then(NonZeroUsize::new) {
        Some(threads) => {
            let port = SharedPort::bind("127.0.0.1:0".parse().unwrap(), threads).unwrap();
            let address = port.address().0;
            tokio::spawn(http::serve_on_threads(port, router(), limits, stopped));
            address
        }
        None => {
            let listener = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(http::serve(listener, router(), limits, stopped));
            address
        }
    };
    let started = Instant::now();
    let busy: Vec<_> = (0..2)
        .map(|_| tokio::spawn(get_status(address, "/slow")))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = tokio::time::timeout(Duration::from_secs(15), get_status(address, "/hello"))
        .await
        .expect("the waiting client was answered");
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "answered after {:?}, before a slow request finished: the cap did not hold",
        started.elapsed()
    );
    for request in busy {
        assert_eq!(request.await.unwrap().0, 200);
    }
    drop(stop);
}

#[tokio::test]
async fn at_the_cap_of_busy_connections_a_new_client_waits_its_turn_on_one_thread() {
    at_the_cap_of_busy_connections_a_new_client_waits_its_turn(None).await;
}

#[tokio::test]
async fn the_serving_threads_share_the_cap() {
    at_the_cap_of_busy_connections_a_new_client_waits_its_turn(Some(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_does_not_keep_a_normal_request_out() {
    let (address, _stop) = start_capped(64).await;
    let flooding = Instant::now() + Duration::from_secs(2);
    // Four clients opening and closing connections as fast as they can, some sending part
    // of a request first.
    let flood: Vec<_> = (0..4)
        .map(|client| {
            tokio::spawn(async move {
                let mut opened = 0_u64;
                while Instant::now() < flooding {
                    if let Ok(mut stream) = TcpStream::connect(address).await {
                        opened += 1;
                        if client % 2 == 1 {
                            let _ = stream.write_all(b"GET /hello HTTP/1.1\r\n").await;
                        }
                    }
                }
                opened
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    while Instant::now() < flooding {
        slowest = slowest.max(answered_within_budget(address).await);
    }
    let mut opened = 0;
    for client in flood {
        opened += client.await.unwrap();
    }
    assert!(opened > 100, "the flood opened only {opened} connections");
    // Every place under the cap was given back: the cap's worth of new clients at once.
    let clients: Vec<_> = (0..64)
        .map(|_| tokio::spawn(answered_within_budget(address)))
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    eprintln!("{opened} connections opened by the flood; slowest normal request {slowest:?}");
}

#[tokio::test]
async fn stopping_finishes_the_requests_in_progress_and_waits_for_no_head() {
    let listener = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let server = tokio::spawn(http::serve(listener, router(), limits(), stopped));
    // A head that would take 30 s to be cut, and a request of 1.5 s.
    let _slow_head = sent(address, b"GET /hello HTTP/1.1\r\nHost: te").await;
    let slow = tokio::spawn(get_status(address, "/slow"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stopped without waiting for the head")
        .unwrap()
        .unwrap();
    assert_eq!(
        slow.await.unwrap().0,
        200,
        "the request in progress was answered"
    );
}

#[test]
fn limits_are_read_from_the_environment_and_each_can_be_turned_off() {
    assert_eq!(
        Limits::default(),
        Limits {
            max_connections: NonZeroUsize::new(512),
            header_timeout: Some(Duration::from_secs(60)),
            body_timeout: Some(Duration::from_secs(60)),
            send_timeout: Some(Duration::from_secs(60)),
        }
    );
    let env = Env::from_pairs([
        ("HTTP_MAX_CONNECTIONS", "off"),
        ("HTTP_HEADER_TIMEOUT", "off"),
        ("HTTP_BODY_TIMEOUT", "2m"),
        ("HTTP_SEND_TIMEOUT", "500ms"),
    ]);
    assert_eq!(
        Limits::from_env(&env).unwrap(),
        Limits {
            max_connections: None,
            header_timeout: None,
            body_timeout: Some(Duration::from_secs(120)),
            send_timeout: Some(Duration::from_millis(500)),
        }
    );
    let bad = Env::from_pairs([("HTTP_HEADER_TIMEOUT", "0")]);
    let error = Limits::from_env(&bad).unwrap_err().to_string();
    assert!(
        error.starts_with("HTTP_HEADER_TIMEOUT: invalid value \"0\""),
        "{error}"
    );
}
