//! The HTTP/1.1 server of `pvs_service::h1` over real sockets: files sent with sendfile(2),
//! persistent and pipelined connections, framing, refusals of malformed, hostile and
//! oversized requests, and shutdown.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Response, StatusCode, header};
use axum::routing::{get, post};
use pvs_service::h1::{self, SendFile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// 300 KB of varied bytes: more than a socket buffer takes at once.
fn content() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn file_with(bytes: &[u8]) -> std::fs::File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

fn routes() -> Router {
    Router::new()
        .route(
            "/file",
            get(|| async {
                let head = Response::builder()
                    .header(header::CONTENT_TYPE, "image/png")
                    .body(())
                    .unwrap();
                SendFile::new(file_with(&content()), 300_000).respond(head)
            }),
        )
        .route(
            // Announces more than the file holds (a file cut after it was opened).
            "/short",
            get(|| async {
                SendFile::new(file_with(b"only this"), 1000).respond(Response::new(()))
            }),
        )
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/stream",
            get(|| async {
                let parts =
                    ["one ", "two ", "three"].map(|p| Ok::<_, std::io::Error>(Bytes::from(p)));
                Body::from_stream(futures::stream::iter(parts))
            }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route("/none", get(|| async { StatusCode::NO_CONTENT }))
}

/// A server on a free port, stopped when the sender is dropped or sent to.
async fn start() -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(h1::serve(listener, routes(), async move {
        let _ = stopped.await;
    }));
    (address, stop, server)
}

/// Sends `request` as written, closes the sending half and reads until the server closes
/// the connection.
async fn exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    text(&answer)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The status line of each response in `answer` (which holds only bodiless or text ones).
fn status_lines(answer: &str) -> Vec<&str> {
    answer
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| answer[at..].split("\r\n").next().unwrap())
        .collect()
}

#[tokio::test]
async fn a_file_body_arrives_whole_with_its_length() {
    let (address, _stop, _server) = start().await;
    let response = reqwest::get(format!("http://{address}/file"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "300000");
    assert_eq!(response.headers()["content-type"], "image/png");
    assert!(response.headers().contains_key("date"));
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        content().as_slice()
    );
}

#[tokio::test]
async fn a_file_body_is_read_like_any_body_by_another_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes()).await });
    let body = reqwest::get(format!("http://{address}/file"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.as_ref(), content().as_slice());
}

#[tokio::test]
async fn one_connection_answers_many_requests_and_pipelined_ones_in_order() {
    let (address, _stop, _server) = start().await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let body = client
            .get(format!("http://{address}/file"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.len(), 300_000);
    }
    let answer = exchange(
        address,
        b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /none HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        status_lines(&answer),
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 204 No Content",
            "HTTP/1.1 200 OK"
        ]
    );
    assert_eq!(answer.matches("\r\n\r\nhello").count(), 2, "{answer}");
    assert!(
        answer.ends_with("connection: close\r\n\r\nhello"),
        "{answer}"
    );
}

#[tokio::test]
async fn head_answers_have_the_length_and_no_body() {
    let (address, _stop, _server) = start().await;
    let answer = exchange(
        address,
        b"HEAD /file HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (first, rest) = answer.split_once("\r\n\r\n").unwrap();
    assert!(first.starts_with("HTTP/1.1 200 OK"), "{first}");
    assert!(first.contains("content-length: 300000"), "{first}");
    assert!(
        rest.starts_with("HTTP/1.1 200 OK"),
        "no body after the HEAD answer: {rest}"
    );
    assert!(rest.ends_with("\r\n\r\nhello"), "{rest}");
}

#[tokio::test]
async fn http_1_0_closes_unless_kept_alive() {
    let (address, _stop, _server) = start().await;
    let answer = exchange(address, b"GET /hello HTTP/1.0\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");

    let answer = exchange(
        address,
        b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\n\r\n",
    )
    .await;
    assert_eq!(status_lines(&answer).len(), 2, "{answer}");
    assert!(answer.contains("connection: keep-alive"), "{answer}");
    // A body of unknown length is ended by closing the connection.
    let answer = exchange(
        address,
        b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    )
    .await;
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.ends_with("\r\n\r\none two three"), "{answer}");
}

#[tokio::test]
async fn a_body_of_unknown_length_is_chunked() {
    let (address, _stop, _server) = start().await;
    let answer = exchange(
        address,
        b"GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.contains("transfer-encoding: chunked"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\n4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"),
        "{answer}"
    );
    let body = reqwest::get(format!("http://{address}/stream"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "one two three");
}

#[tokio::test]
async fn request_bodies_are_read_by_their_length() {
    let (address, _stop, _server) = start().await;
    let answer = exchange(
        address,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcdeGET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_lines(&answer).len(), 2, "{answer}");
    assert!(answer.contains("\r\n\r\nabcdeHTTP/1.1 200 OK"), "{answer}");
    // Expect: 100-continue is answered before the body is sent.
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut interim = [0; 25];
    stream.read_exact(&mut interim).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"xyz").await.unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(text(&rest).ends_with("\r\n\r\nxyz"));
    let echoed = reqwest::Client::new()
        .post(format!("http://{address}/echo"))
        .body(vec![b'x'; 100_000])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(echoed.len(), 100_000);
}

/// Answers `request` with `status` and a plain-text body naming the fault, then closes.
async fn refused(address: SocketAddr, request: &[u8], status: &str, says: &str) {
    let answer = exchange(address, request).await;
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status}")),
        "{answer}"
    );
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("content-type: text/plain"), "{answer}");
    assert!(answer.contains(says), "{answer}");
}

#[tokio::test]
async fn malformed_hostile_and_oversized_requests_are_refused_with_the_reason() {
    let (address, _stop, _server) = start().await;
    refused(
        address,
        b"NOT HTTP AT ALL\r\n\r\n",
        "400",
        "malformed request head",
    )
    .await;
    refused(
        address,
        b"GET /hello HTTP/1.1\r\nHo st: a\r\n\r\n",
        "400",
        "malformed request head",
    )
    .await;
    refused(
        address,
        b"GET /hello HTTP/1.1\r\nX: \x01\r\n\r\n",
        "400",
        "malformed request head",
    )
    .await;
    refused(
        address,
        b"GET /hello HTTP/2.0\r\n\r\n",
        "400",
        "malformed request head",
    )
    .await;
    refused(
        address,
        b"GET http://[::1 HTTP/1.1\r\n\r\n",
        "400",
        "request target",
    )
    .await;
    let many: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
    refused(
        address,
        format!("GET /hello HTTP/1.1\r\n{many}\r\n").as_bytes(),
        "431",
        "more than 100 header fields",
    )
    .await;
    let long = format!("GET /hello?{} HTTP/1.1\r\n\r\n", "a".repeat(300_000));
    refused(address, long.as_bytes(), "431", "longer than 262144 bytes").await;
    refused(
        address,
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "411",
        "Content-Length",
    )
    .await;
    refused(
        address,
        b"POST /echo HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        "413",
        "more than the 1048576 read",
    )
    .await;
    refused(
        address,
        b"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "400",
        "not a number",
    )
    .await;
    refused(
        address,
        b"POST /echo HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
        "400",
        "not a number",
    )
    .await;
    refused(
        address,
        b"POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "400",
        "more than one Content-Length",
    )
    .await;
    // Still serving.
    assert_eq!(
        reqwest::get(format!("http://{address}/hello"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "hello"
    );
}

#[tokio::test]
async fn a_request_cut_short_or_a_file_cut_short_closes_the_connection() {
    let (address, _stop, _server) = start().await;
    // The client goes away in the middle of a head, then of a body: nothing is answered.
    assert!(
        exchange(address, b"GET /hello HTTP/1.1\r\nHost")
            .await
            .is_empty()
    );
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    assert!(answer.is_empty(), "{}", text(&answer));
    // A file shorter than announced: the head went out, the connection closes early rather
    // than hang or send another answer's bytes.
    let answer = exchange(
        address,
        b"GET /short HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(answer.contains("content-length: 1000"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nonly this"), "{answer}");
    assert_eq!(status_lines(&answer).len(), 1, "{answer}");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_finishes_answers_in_flight() {
    let (address, stop, server) = start().await;
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0; 512];
    let n = idle.read(&mut first).await.unwrap();
    assert!(text(&first[..n]).ends_with("hello"));
    let mut busy = TcpStream::connect(address).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    // The idle connection is closed without an answer.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
    // The request in flight is answered, with the connection closing after it.
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), busy.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = text(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.ends_with("slow"), "{answer}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(address).await.is_err(),
        "no longer listening"
    );
}
