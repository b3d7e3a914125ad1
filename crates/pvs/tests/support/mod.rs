//! What the binary's integration tests share.

/// A loopback address with a port free at the time of the call (`127.0.0.1:PORT`).
pub fn free_address() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}
