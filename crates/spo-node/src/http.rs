//! The agent's HTTP endpoints, on `tiny_http`: a small synchronous server
//! is all a handful of read-only endpoints need, and it keeps the agent
//! free of an async runtime.
//!
//! | path | content |
//! |---|---|
//! | `/status` | [`NodeStatus`](crate::status::NodeStatus) as JSON |
//! | `/metrics` | Prometheus text format |
//! | `/violations?profile=NAME&since=SECONDS` | recent audit events, JSON |
//! | `/healthz` | 200 while the agent runs |
//! | `/readyz` | 200 once the first scan of the manifests is done, else 503 |

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tiny_http::{Header, Request, Response, Server};

use crate::agent::Shared;
use crate::NodeError;

/// A running server.
#[derive(Debug)]
pub struct HttpServer {
    addr: String,
    handle: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    /// Listen on `addr` (`127.0.0.1:9100`; port 0 picks one).
    pub fn start(addr: &str, shared: Arc<Shared>) -> Result<HttpServer, NodeError> {
        let server =
            Server::http(addr).map_err(|e| NodeError::Listen { addr: addr.to_owned(), reason: e.to_string() })?;
        let bound = server.server_addr().to_ip().map_or_else(|| addr.to_owned(), |a| a.to_string());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("spod-http".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    match server.recv_timeout(Duration::from_millis(200)) {
                        Ok(Some(req)) => serve(req, &shared),
                        Ok(None) => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            })
            .map_err(|e| NodeError::Listen { addr: addr.to_owned(), reason: e.to_string() })?;
        Ok(HttpServer { addr: bound, handle: Some(handle), stop })
    }

    /// The address actually bound.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn query<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    url.split_once('?')?.1.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn serve(req: Request, shared: &Shared) {
    let url = req.url().to_owned();
    let path = url.split('?').next().unwrap_or("");
    let json = "application/json";
    let (code, ctype, body) = match path {
        "/status" => (200, json, serde_json::to_string_pretty(&shared.snapshot()).unwrap_or_default()),
        "/metrics" => (200, "text/plain; version=0.0.4", shared.metrics.render(&shared.snapshot())),
        "/healthz" => (200, "text/plain", "ok\n".to_owned()),
        "/readyz" => {
            if shared.status.read().is_ok_and(|s| s.ready) {
                (200, "text/plain", "ready\n".to_owned())
            } else {
                (503, "text/plain", "scanning manifests\n".to_owned())
            }
        }
        "/violations" => {
            let since = query(&url, "since").and_then(|s| s.parse::<u64>().ok()).map_or(0, |secs| {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
                now.saturating_sub(secs * 1000)
            });
            let events = shared.ring.query(query(&url, "profile"), since);
            (200, json, serde_json::to_string(&events).unwrap_or_default())
        }
        _ => (404, "text/plain", format!("no such endpoint: {path}\n")),
    };
    let mut resp = Response::from_string(body).with_status_code(code);
    if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes()) {
        resp = resp.with_header(h);
    }
    let _ = req.respond(resp);
}

/// A minimal client for these endpoints: `GET path` on `addr` over plain
/// HTTP/1.1, returning the status code and body (chunked bodies are
/// decoded). Enough for `spoc status` without an HTTP client dependency.
pub fn get(addr: &str, path: &str) -> Result<(u16, String), NodeError> {
    use std::io::{Read, Write};
    let fail = |e: std::io::Error| NodeError::Connect { addr: addr.to_owned(), source: e };
    let mut s = std::net::TcpStream::connect(addr).map_err(fail)?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(fail)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").map_err(fail)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(fail)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")
    });
    Ok((code, if chunked { dechunk(body) } else { body.to_owned() }))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world");
        assert_eq!(query("/violations?profile=a&since=60", "since"), Some("60"));
        assert_eq!(query("/violations?profile=a", "since"), None);
    }

    #[test]
    fn serves_status_health_and_metrics() {
        let shared = Arc::new(Shared::new(Vec::new()));
        let server = HttpServer::start("127.0.0.1:0", shared.clone()).unwrap();
        assert_eq!(get(server.addr(), "/healthz").unwrap(), (200, "ok\n".to_owned()));
        assert_eq!(get(server.addr(), "/readyz").unwrap().0, 503);
        shared.status.write().unwrap().ready = true;
        assert_eq!(get(server.addr(), "/readyz").unwrap().0, 200);
        let (code, body) = get(server.addr(), "/status").unwrap();
        assert_eq!(code, 200);
        let st: crate::status::NodeStatus = serde_json::from_str(&body).unwrap();
        assert!(st.ready);
        let (_, m) = get(server.addr(), "/metrics").unwrap();
        assert!(m.contains("spo_ready 1"), "{m}");
        assert_eq!(get(server.addr(), "/nope").unwrap().0, 404);
    }
}
