//! Raw HTTP/1.1 over TCP, for what a well-behaved client will not do: hold a body half-sent,
//! lie in Content-Length, stream chunks past the cap. The answer is parsed just enough to
//! check it (status, headers, a Content-Length or chunked body).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::client::Reply;
use super::{TIMEOUT, within};

/// One client connection, written to by hand.
pub struct RawConnection {
    stream: TcpStream,
}

impl RawConnection {
    pub async fn open(address: SocketAddr) -> RawConnection {
        let stream = within(TIMEOUT, "connect", TcpStream::connect(address))
            .await
            .expect("connect to the gateway");
        RawConnection { stream }
    }

    /// Writes `bytes`; the error is returned because a server that already answered may have
    /// closed its side, which some tests expect.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Reads one answer (checked like the client's), failing after [`TIMEOUT`].
    pub async fn reply(self) -> Reply {
        self.reply_within(TIMEOUT).await
    }

    pub async fn reply_within(mut self, limit: Duration) -> Reply {
        self.next_reply_within(limit).await
    }

    /// Reads one answer and keeps the connection, e.g. to see what the server does with it
    /// while it is idle.
    pub async fn next_reply_within(&mut self, limit: Duration) -> Reply {
        within(limit, "a raw answer", read_reply(&mut self.stream))
            .await
            .checked()
    }

    /// Fails unless the server closes the connection within `limit` without sending anything.
    pub async fn assert_closed_within(&mut self, limit: Duration) {
        let mut buffer = Vec::new();
        match within(
            limit,
            "the server closing",
            self.stream.read_buf(&mut buffer),
        )
        .await
        {
            Ok(0) => {}
            Ok(_) => panic!(
                "expected a close, got {:?}",
                String::from_utf8_lossy(&buffer)
            ),
            Err(error) => assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}"),
        }
    }
}

/// A request whose head and first bytes are sent and whose rest is held back.
pub struct Held {
    connection: RawConnection,
    rest: Bytes,
}

impl Held {
    pub async fn start(address: SocketAddr, head: Vec<u8>, body: Bytes, sent: usize) -> Held {
        let mut connection = RawConnection::open(address).await;
        let mut first = head;
        first.extend_from_slice(&body[..sent]);
        connection
            .write(&first)
            .await
            .expect("send the head and the first bytes");
        Held {
            connection,
            rest: body.slice(sent..),
        }
    }

    /// Sends the rest of the body and reads the answer.
    pub async fn finish(mut self) -> Reply {
        self.connection
            .write(&self.rest)
            .await
            .expect("send the rest of the body");
        self.connection.reply().await
    }

    /// Reads the answer without sending the rest.
    pub async fn reply_within(self, limit: Duration) -> Reply {
        self.connection.reply_within(limit).await
    }
}

async fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut buffer = Vec::new();
    loop {
        if let Some(reply) = parse(&buffer, false) {
            return reply;
        }
        match stream.read_buf(&mut buffer).await {
            Ok(0) => break,
            Ok(_) => {}
            // The buffer is parsed before every read, so an error here means no whole answer.
            Err(error) => panic!(
                "the connection failed before a whole answer ({error}); got {:?}",
                String::from_utf8_lossy(&buffer)
            ),
        }
    }
    parse(&buffer, true).unwrap_or_else(|| {
        panic!(
            "the connection closed before a whole answer: {:?}",
            String::from_utf8_lossy(&buffer)
        )
    })
}

/// A whole answer from the start of `buffer`, or `None` while more bytes are needed.
fn parse(buffer: &[u8], closed: bool) -> Option<Reply> {
    let end = find(buffer, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buffer[..end]).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("a header line");
        headers.append(
            HeaderName::try_from(name.trim()).expect("a header name"),
            HeaderValue::try_from(value.trim()).expect("a header value"),
        );
    }
    let rest = &buffer[end + 4..];
    let length = headers
        .get("content-length")
        .map(|v| v.to_str().ok()?.parse::<usize>().ok())
        .map(|v| v.expect("a numeric Content-Length"));
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    let body = match length {
        Some(length) => rest.get(..length)?.to_vec(),
        None if chunked => dechunk(rest)?,
        None if closed => rest.to_vec(),
        None => return None,
    };
    Some(Reply {
        status,
        headers,
        body: Bytes::from(body),
    })
}

/// A chunked body, or `None` until its last chunk has arrived.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).expect("a chunk size");
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).expect("a hex chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether anything accepts TCP connections on `address` now.
pub async fn accepts_connections(address: SocketAddr) -> bool {
    within(TIMEOUT, "connect", TcpStream::connect(address))
        .await
        .is_ok()
}
