//! A small HTTP/1.1 server for services that answer many short `GET`s from files (the tile
//! cache): it serves an axum [`Router`] like `axum::serve`, and sends the body of a response
//! built with [`SendFile`] straight from the file to the socket with `sendfile(2)`, as nginx
//! serves static files, instead of reading it into memory and copying it out again.
//!
//! What it speaks (RFC 9112): persistent connections (HTTP/1.1 by default, HTTP/1.0 with
//! `Connection: keep-alive`), pipelined requests, `HEAD`, request bodies with a
//! `Content-Length` of at most [`MAX_BODY_BYTES`] (and `Expect: 100-continue`), responses
//! with a `Content-Length` when their size is known, else chunked (HTTP/1.1) or ended by
//! closing (HTTP/1.0). Refused with a plain-text answer naming the fault, then closed: a
//! malformed request head (400), one longer than [`MAX_HEAD_BYTES`] or with more than
//! [`MAX_HEADERS`] fields (431), a body sent chunked (411), a larger body (413), a head or
//! body not received within [`READ_TIMEOUT`] (408). An answer not taken by the client
//! within [`WRITE_TIMEOUT`] closes the connection.

use std::fs::File;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version, header,
};
use bytes::{Buf, Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

/// The longest request head (request line and header fields) read.
pub const MAX_HEAD_BYTES: usize = 256 * 1024;
/// The most header fields a request may have.
pub const MAX_HEADERS: usize = 100;
/// The largest request body read.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;
/// How long a request head (from the end of the previous answer, so also how long an idle
/// connection is kept) and then its body may take to arrive.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the client may take to receive an answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How much input from a refused client is read, and for how long, before the connection
/// is closed.
const LINGER_BYTES: usize = 4 * 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// The part of a file body read into memory at a time, when it is not sent with
/// `sendfile(2)`.
const READ_CHUNK: u64 = 256 * 1024;

/// A response body that is an open file: put in a response by [`SendFile::respond`], it is
/// sent with `sendfile(2)` by [`serve`], and read like any other body by other servers
/// (`axum::serve`).
#[derive(Debug, Clone)]
pub struct SendFile {
    file: Arc<File>,
    len: u64,
}

impl SendFile {
    /// The first `len` bytes of `file` (its length when it was opened).
    pub fn new(file: File, len: u64) -> Self {
        Self {
            file: Arc::new(file),
            len,
        }
    }

    /// `response` with the file as its body.
    pub fn respond(self, response: Response<()>) -> Response<Body> {
        let body = Body::new(FileBody {
            file: self.file.clone(),
            len: self.len,
            offset: 0,
        });
        let mut response = response.map(|()| body);
        response.extensions_mut().insert(self);
        response
    }
}

/// A file read [`READ_CHUNK`] bytes at a time.
struct FileBody {
    file: Arc<File>,
    len: u64,
    offset: u64,
}

impl HttpBody for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.offset >= self.len {
            return Poll::Ready(None);
        }
        // Tiles are small and in the page cache: read here, as the rest of the request ran.
        let want = (self.len - self.offset).min(READ_CHUNK) as usize;
        let mut chunk = vec![0; want];
        if let Err(error) = self.file.read_exact_at(&mut chunk, self.offset) {
            return Poll::Ready(Some(Err(error)));
        }
        self.offset += want as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.offset >= self.len
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len.saturating_sub(self.offset))
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets each
/// connection finish the request it is answering, closes idle ones, and returns once all
/// are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop, stopped) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let router = router.clone();
                    let stopped = stopped.clone();
                    connections.spawn(async move {
                        if let Err(error) = connection(stream, router, stopped).await {
                            tracing::debug!(%error, "connection closed on an error");
                        }
                    });
                }
                // A connection reset before it was accepted.
                Err(error) if is_connection_error(&error) => {}
                // Out of file descriptors and the like: wait, as axum::serve does.
                Err(error) => {
                    tracing::error!(%error, "cannot accept connections");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(error) = ended {
                    tracing::error!(%error, "a connection's task failed");
                }
            }
        }
    }
    drop(listener);
    drop(stop);
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A request as read, with what the connection needs to know to answer it.
struct Incoming {
    request: Request<Body>,
    keep_alive: bool,
    head: bool,
}

/// Why a request was refused before it reached the router.
enum Refusal {
    /// The connection failed or was closed in the middle of a request.
    Io(io::Error),
    /// The request is not one this server reads: answered with `status` and the message.
    Bad(StatusCode, String),
}

impl From<io::Error> for Refusal {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

fn bad(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal::Bad(status, message.into())
}

/// Answers the requests of one connection, in order, until the client closes it, asks to,
/// or the server stops.
async fn connection(
    mut stream: TcpStream,
    mut router: Router,
    mut stopped: watch::Receiver<()>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffer = BytesMut::with_capacity(4096);
    loop {
        let idle = buffer.is_empty();
        let read = tokio::select! {
            read = tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream, &mut buffer)) => read,
            // An idle connection closes at once when the server stops.
            _ = stopped.changed(), if idle => return Ok(()),
        };
        let incoming = match read {
            Ok(Ok(Some(incoming))) => incoming,
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(Refusal::Io(error))) => return Err(error),
            Ok(Err(Refusal::Bad(status, message))) => {
                return refuse(&mut stream, status, &message).await;
            }
            Err(_) if buffer.is_empty() => return Ok(()),
            Err(_) => {
                let message = "the request did not arrive in time";
                return refuse(&mut stream, StatusCode::REQUEST_TIMEOUT, message).await;
            }
        };
        poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut router, cx))
            .await
            .unwrap_or_else(|never| match never {});
        let version = incoming.request.version();
        let response = router
            .call(incoming.request)
            .await
            .unwrap_or_else(|never| match never {});
        let stopping = !matches!(stopped.has_changed(), Ok(false));
        let keep_alive = incoming.keep_alive && !stopping;
        let answer = respond(&mut stream, response, version, incoming.head, keep_alive);
        match tokio::time::timeout(WRITE_TIMEOUT, answer).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return stream.shutdown().await,
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "answer not taken")),
        }
    }
}

/// Reads the next request: `None` when the client closed the connection between requests.
async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
) -> Result<Option<Incoming>, Refusal> {
    loop {
        if !buffer.is_empty() {
            if let Some((parsed, length)) = parse_head(buffer)? {
                buffer.advance(length);
                return read_body(stream, buffer, parsed).await.map(Some);
            }
            if buffer.len() >= MAX_HEAD_BYTES {
                return Err(bad(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    format!("the request head is longer than {MAX_HEAD_BYTES} bytes"),
                ));
            }
        }
        buffer.reserve(4096);
        if stream.read_buf(buffer).await? == 0 {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(Refusal::Io(io::ErrorKind::UnexpectedEof.into()))
            };
        }
    }
}

/// A parsed request head, its body not yet read.
struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
}

/// The request head at the start of `buffer` and its length, or `None` if it is not all
/// there yet.
fn parse_head(buffer: &[u8]) -> Result<Option<(Head, usize)>, Refusal> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    let length = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(bad(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!("the request has more than {MAX_HEADERS} header fields"),
            ));
        }
        Err(error) => {
            return Err(bad(
                StatusCode::BAD_REQUEST,
                format!("malformed request head: {error}"),
            ));
        }
    };
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        unreachable!("a complete request head has a method, a target and a version");
    };
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| bad(StatusCode::BAD_REQUEST, "malformed method"))?;
    let uri = Uri::try_from(target)
        .map_err(|error| bad(StatusCode::BAD_REQUEST, format!("request target: {error}")))?;
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| {
            bad(
                StatusCode::BAD_REQUEST,
                format!("header field name {:?} is not valid", clip(field.name)),
            )
        })?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| {
            bad(
                StatusCode::BAD_REQUEST,
                format!("the value of header field {name} is not valid"),
            )
        })?;
        headers.append(name, value);
    }
    Ok(Some((
        Head {
            method,
            uri,
            version,
            headers,
        },
        length,
    )))
}

/// At most 64 bytes of client input, for a message.
fn clip(text: &str) -> &str {
    let mut end = text.len().min(64);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Reads the body `head` announces (part of it may be in `buffer`) and builds the request.
async fn read_body(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
    head: Head,
) -> Result<Incoming, Refusal> {
    let Head {
        method,
        uri,
        version,
        headers,
    } = head;
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(bad(
            StatusCode::LENGTH_REQUIRED,
            "request bodies are read with a Content-Length, not a Transfer-Encoding",
        ));
    }
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        (Some(value), None) => value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| bad(StatusCode::BAD_REQUEST, "Content-Length is not a number"))?,
        (Some(_), Some(_)) => {
            return Err(bad(StatusCode::BAD_REQUEST, "more than one Content-Length"));
        }
    };
    if length > MAX_BODY_BYTES {
        return Err(bad(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body has {length} bytes, more than the {MAX_BODY_BYTES} read"),
        ));
    }
    let body = if length == 0 {
        Body::empty()
    } else {
        let length = length as usize;
        let expects_continue = headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects_continue && buffer.len() < length {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        while buffer.len() < length {
            buffer.reserve(length - buffer.len());
            if stream.read_buf(buffer).await? == 0 {
                return Err(Refusal::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
        Body::from(buffer.split_to(length).freeze())
    };
    let tokens = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|value| {
            value
                .as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    let keep_alive = if version == Version::HTTP_10 {
        tokens("keep-alive")
    } else {
        !tokens("close")
    };
    let head = method == Method::HEAD;
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Ok(Incoming {
        request,
        keep_alive,
        head,
    })
}

/// Answers 4xx with `message` as plain text, and closes the connection.
async fn refuse(stream: &mut TcpStream, status: StatusCode, message: &str) -> io::Result<()> {
    let body = format!("{} {}: {message}\n", status.as_u16(), reason(status));
    let answer = format!(
        "HTTP/1.1 {} {}\r\ndate: {}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        reason(status),
        with_date(str::to_owned),
        body.len(),
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .unwrap_or(Ok(()))?;
    // Closing with unread input would reset the connection, and the client could lose the
    // answer before reading it: read what it still sends, for a while.
    let mut sink = [0; 16 * 1024];
    let drain = async {
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
    Ok(())
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Unknown")
}

/// How the body of an answer is framed.
enum Framing {
    /// No body (`HEAD`, 1xx, 204, 304).
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked transfer coding (HTTP/1.1, size not known in advance).
    Chunked,
    /// Ended by closing the connection (HTTP/1.0, size not known in advance).
    Close,
}

/// Writes `response`; returns whether the connection stays open.
async fn respond(
    stream: &mut TcpStream,
    response: Response<Body>,
    version: Version,
    head: bool,
    mut keep_alive: bool,
) -> io::Result<bool> {
    let (mut parts, mut body) = response.into_parts();
    let status = parts.status;
    let hint = body.size_hint().exact();
    let file = parts
        .extensions
        .remove::<SendFile>()
        .filter(|file| hint == Some(file.len));
    let headers = &mut parts.headers;
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONNECTION);
    let framing = if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        headers.remove(header::CONTENT_LENGTH);
        Framing::None
    } else if head {
        // axum has already set the length the GET answer would have.
        Framing::None
    } else if let Some(length) = hint {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        Framing::Length(length)
    } else {
        headers.remove(header::CONTENT_LENGTH);
        if version == Version::HTTP_11 {
            headers.insert(
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            );
            Framing::Chunked
        } else {
            keep_alive = false;
            Framing::Close
        }
    };
    if !keep_alive {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    } else if version == Version::HTTP_10 {
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    let mut out = BytesMut::with_capacity(256 + 64 * headers.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    if !headers.contains_key(header::DATE) {
        out.extend_from_slice(b"date: ");
        with_date(|date| out.extend_from_slice(date.as_bytes()));
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in headers.iter() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    match framing {
        Framing::None => stream.write_all(&out).await?,
        Framing::Length(length) => {
            if let Some(file) = file {
                send_more(stream, &out).await?;
                send_file(stream, &file.file, length).await?;
            } else {
                write_body(stream, out, &mut body, Some(length)).await?;
            }
        }
        Framing::Chunked => write_chunked(stream, out, &mut body).await?,
        Framing::Close => write_body(stream, out, &mut body, None).await?,
    }
    Ok(keep_alive)
}

/// Writes `out` (the head) and the body, which must have `length` bytes if given.
async fn write_body(
    stream: &mut TcpStream,
    out: BytesMut,
    body: &mut Body,
    length: Option<u64>,
) -> io::Result<()> {
    let mut pending = Some(out);
    let mut written = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(io::Error::other)?.into_data() else {
            continue; // trailers: not sent without chunked coding
        };
        written += data.len() as u64;
        if length.is_some_and(|length| written > length) {
            return Err(io::Error::other("the body is longer than its length"));
        }
        match pending.take() {
            Some(out) => write_both(stream, &out, &data).await?,
            None => stream.write_all(&data).await?,
        }
    }
    if let Some(out) = pending {
        stream.write_all(&out).await?;
    }
    if length.is_some_and(|length| written < length) {
        return Err(io::Error::other("the body is shorter than its length"));
    }
    Ok(())
}

/// Writes the body in chunks after `out` (the head).
async fn write_chunked(stream: &mut TcpStream, out: BytesMut, body: &mut Body) -> io::Result<()> {
    let mut out = out;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(io::Error::other)?.into_data() else {
            continue; // trailers are not sent
        };
        if data.is_empty() {
            continue;
        }
        out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        write_both(stream, &out, &data).await?;
        out.clear();
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&out).await
}

/// Writes `first` then `second`, in one system call when the socket takes both.
async fn write_both(stream: &mut TcpStream, first: &[u8], second: &[u8]) -> io::Result<()> {
    let mut done = 0;
    let total = first.len() + second.len();
    while done < first.len() {
        let slices = [IoSlice::new(&first[done..]), IoSlice::new(second)];
        let n = stream.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        done += n;
    }
    if done < total {
        stream.write_all(&second[done - first.len()..]).await?;
    }
    Ok(())
}

/// Writes `bytes`, telling the kernel more follows at once (`MSG_MORE`): the head goes out
/// in the same segment as the start of the file.
async fn send_more(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || {
            rustix::net::send(stream, bytes, rustix::net::SendFlags::MORE).map_err(io::Error::from)
        }) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Sends the first `length` bytes of `file` with `sendfile(2)`.
async fn send_file(stream: &TcpStream, file: &File, length: u64) -> io::Result<()> {
    let mut offset = 0u64;
    while offset < length {
        stream.writable().await?;
        let count = usize::try_from(length - offset).unwrap_or(usize::MAX);
        match stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream, file, Some(&mut offset), count).map_err(io::Error::from)
        }) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file is shorter than when it was opened",
                ));
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// `f` of the current time as an HTTP date, formatted once a second per thread.
fn with_date<T>(f: impl FnOnce(&str) -> T) -> T {
    thread_local! {
        static CACHED: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHED.with_borrow_mut(|(at, text)| {
        if *at != second {
            *at = second;
            *text = httpdate::fmt_http_date(now);
        }
        f(text)
    })
}
