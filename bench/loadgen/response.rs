//! The little of HTTP/1.1 the load generator reads: a response's status line, its length
//! (Content-Length or chunked) and whether the server closes the connection after it.

use std::io;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A response head longer than this is not one the gateway sends.
const MAX_HEAD: usize = 64 * 1024;

/// A parsed response: its status, and whether the server closes the connection after it.
pub struct Answer {
    pub status: u16,
    pub close: bool,
}

/// Reads one response into `buffer` (which may hold its start already) and removes it there.
pub async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<Answer> {
    loop {
        if let Some((length, answer)) = parse(buffer)? {
            buffer.drain(..length);
            return Ok(answer);
        }
        buffer.reserve(4096);
        if stream.read_buf(buffer).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// A whole response at the start of `buffer`: its length and what it says; None while more is
/// to come.
pub(crate) fn parse(buffer: &[u8]) -> io::Result<Option<(usize, Answer)>> {
    let Some(head) = find(buffer, b"\r\n\r\n") else {
        return if buffer.len() > MAX_HEAD {
            Err(malformed("head too long"))
        } else {
            Ok(None)
        };
    };
    let text = std::str::from_utf8(&buffer[..head]).map_err(|_| malformed("head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .filter(|l| l.starts_with("HTTP/1."))
        .and_then(|l| l.get(9..12))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed("status line"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| malformed("content-length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let start = head + 4;
    let end = if status / 100 == 1 || status == 204 || status == 304 {
        Some(start)
    } else if chunked {
        chunked_end(buffer, start)?
    } else if let Some(length) = length {
        Some(start + length).filter(|&end| end <= buffer.len())
    } else {
        return Err(malformed("a response without a length"));
    };
    Ok(end.map(|end| (end, Answer { status, close })))
}

/// Where a chunked body that starts at `at` ends, trailers included; None while incomplete.
fn chunked_end(buffer: &[u8], mut at: usize) -> io::Result<Option<usize>> {
    loop {
        let Some(line) = find(&buffer[at..], b"\r\n") else {
            return Ok(None);
        };
        let size = std::str::from_utf8(&buffer[at..at + line])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .ok_or_else(|| malformed("chunk size"))?;
        at += line + 2;
        if size == 0 {
            loop {
                let Some(trailer) = find(&buffer[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += trailer + 2;
                if trailer == 0 {
                    return Ok(Some(at));
                }
            }
        }
        at += size + 2;
        if at > buffer.len() {
            return Ok(None);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
