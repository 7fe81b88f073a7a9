//! HTTP/1.1 GET over a unix socket, the way the runtimes' APIs are spoken (docker,
//! podman's service, CRI-O's info endpoint). One request per connection; bounded in time
//! and size, so a stuck or hostile runtime cannot hold the lookup thread or its memory.
//! Parsing is `httparse`'s; this module only frames the body (length, chunked, or
//! until close).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Error;

/// A response larger than this is refused (a listing of thousands of containers fits).
pub const MAX_RESPONSE: usize = 8 << 20;

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `GET path` on the socket at `socket`, all of it within `timeout`.
pub fn get(socket: &Path, path: &str, timeout: Duration) -> Result<Response, Error> {
    let deadline = Instant::now() + timeout;
    let io = |e: std::io::Error| Error::Io(socket.display().to_string(), e);
    let mut s = UnixStream::connect(socket).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: vigil\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut raw = Vec::with_capacity(16 << 10);
    let mut buf = [0u8; 16 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout(socket.display().to_string()));
        }
        s.set_read_timeout(Some(left)).map_err(io)?;
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(Error::Timeout(socket.display().to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err(Error::TooLarge(socket.display().to_string()));
        }
        // Stop as soon as a framed body is complete (some servers keep the connection).
        if let Ok(Some(r)) = parse(&raw) {
            return Ok(r);
        }
    }
    match parse(&raw) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => match parse_until_close(&raw) {
            Some(r) => Ok(r),
            None => Err(Error::Protocol(
                socket.display().to_string(),
                "truncated response".into(),
            )),
        },
        Err(m) => Err(Error::Protocol(socket.display().to_string(), m)),
    }
}

/// The response in `raw` if it is complete by its own framing (Content-Length or chunked).
fn parse(raw: &[u8]) -> Result<Option<Response>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let start = match resp.parse(raw).map_err(|e| e.to_string())? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = resp.code.unwrap_or(0);
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let body = &raw[start..];
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return Ok(dechunk(body)?.map(|body| Response { status, body }));
    }
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad Content-Length {len:?}"))?;
        if len > MAX_RESPONSE {
            return Err(format!("Content-Length {len} over {MAX_RESPONSE}"));
        }
        return Ok((body.len() >= len).then(|| Response {
            status,
            body: body[..len].to_vec(),
        }));
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Some(Response {
            status,
            body: Vec::new(),
        }));
    }
    Ok(None) // delimited by the close
}

fn parse_until_close(raw: &[u8]) -> Option<Response> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => Some(Response {
            status: resp.code.unwrap_or(0),
            body: raw[n..].to_vec(),
        }),
        _ => None,
    }
}

/// A chunked body: Some(body) once the last chunk arrived, None while incomplete.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&b[..eol]).map_err(|_| "chunk size is not text".to_string())?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| format!("bad chunk size {size_hex:?}"))?;
        if size > MAX_RESPONSE || out.len() + size > MAX_RESPONSE {
            return Err("chunked body too large".into());
        }
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(Some(out)); // trailers, if any, are not needed
        }
        if b.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A real socket with a server thread that answers one request with `reply`.
    fn serve(reply: Vec<u8>, hold_open: bool) -> (std::path::PathBuf, std::thread::JoinHandle<()>) {
        let dir = std::env::temp_dir().join(format!(
            "vigil-http-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("api.sock");
        let l = UnixListener::bind(&sock).unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut req = [0u8; 4096];
            let _ = c.read(&mut req);
            for piece in reply.chunks(7) {
                c.write_all(piece).unwrap();
                c.flush().unwrap();
            }
            if hold_open {
                std::thread::sleep(Duration::from_millis(600));
            }
        });
        (sock, t)
    }

    #[test]
    fn content_length_chunked_and_close_delimited_bodies() {
        for (reply, want) in [
            (&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..], &b"hello"[..]),
            (
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n"[..],
                &b"hello"[..],
            ),
            (&b"HTTP/1.0 200 OK\r\n\r\nhello"[..], &b"hello"[..]),
        ] {
            let (sock, t) = serve(reply.to_vec(), false);
            let r = get(&sock, "/x", Duration::from_secs(2)).unwrap();
            assert_eq!((r.status, r.body.as_slice()), (200, want));
            t.join().unwrap();
        }
    }

    #[test]
    fn a_complete_body_returns_without_waiting_for_the_close() {
        let (sock, t) = serve(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}".to_vec(), true);
        let started = Instant::now();
        let r = get(&sock, "/containers/x/json", Duration::from_secs(5)).unwrap();
        assert_eq!(r.status, 404);
        assert!(started.elapsed() < Duration::from_millis(500));
        t.join().unwrap();
    }

    #[test]
    fn a_silent_server_times_out_and_garbage_is_a_protocol_error() {
        let (sock, t) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(), true);
        assert!(matches!(
            get(&sock, "/", Duration::from_millis(200)),
            Err(Error::Timeout(_))
        ));
        t.join().unwrap();
        let (sock, t) = serve(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(), false);
        assert!(matches!(
            get(&sock, "/", Duration::from_secs(2)),
            Err(Error::Protocol(..))
        ));
        t.join().unwrap();
        let missing = std::env::temp_dir().join("vigil-no-such-socket.sock");
        assert!(matches!(get(&missing, "/", Duration::from_secs(1)), Err(Error::Io(..))));
    }

    #[test]
    fn oversized_and_malformed_chunks_are_refused() {
        assert!(dechunk(b"zz\r\n").is_err());
        assert!(dechunk(b"FFFFFFFF\r\n").is_err());
        assert_eq!(dechunk(b"5\r\nhel").unwrap(), None);
    }
}
