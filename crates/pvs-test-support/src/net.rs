//! Loopback ports for servers under test.

/// A port of 127.0.0.1 that was free at the time of the call, never handed out before by
/// this process, and below the kernel's ephemeral range: a port the kernel picked for a
/// `bind(:0)` and released could be handed again at once to another test's listener or to an
/// outgoing connection before the test binds it (seen in CI). Another process may still
/// take it, which the tests accept.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};

    static HANDED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    // Ports below the ephemeral range (Linux: `ip_local_port_range`, 32768 by default).
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (20_000u16, first_ephemeral);
    let mut handed = HANDED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if high > low {
        let random = std::collections::hash_map::RandomState::new();
        for attempt in 0u32..1000 {
            let mut hasher = random.build_hasher();
            hasher.write_u32(attempt);
            let port = low + (hasher.finish() % u64::from(high - low)) as u16;
            if !handed.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                handed.push(port);
                return port;
            }
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding an ephemeral port of 127.0.0.1")
        .port();
    handed.push(port);
    port
}

/// `127.0.0.1:PORT` with a [`free_port`], for a `--listen` flag.
pub fn free_address() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// Serves `router` on an ephemeral port of 127.0.0.1 until the test's runtime ends; returns
/// its base URL, `http://127.0.0.1:PORT`.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding an ephemeral port of 127.0.0.1");
    let base = format!(
        "http://{}",
        listener.local_addr().expect("the bound address")
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// Sends `bytes` on a new connection to `base` (`http://HOST:PORT`), then reads until the
/// server closes the connection: the answer as text. Fails the test if the server keeps the
/// connection open for 15 s. For requests no HTTP client would send (a body that stops).
pub async fn send_raw(base: &str, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .unwrap_or_else(|e| panic!("connecting to {address}: {e}"));
    stream.write_all(bytes).await.expect("sending the request");
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(15), read)
        .await
        .expect("the server answered and closed the connection within 15 s")
        .expect("reading the answer");
    String::from_utf8_lossy(&answer).into_owned()
}

/// `GET url`: the status, the `Content-Type` (empty when there is none) and the body.
pub async fn get(url: &str) -> (u16, String, Vec<u8>) {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: reading the body: {e}"));
    (status, content_type, body.to_vec())
}
