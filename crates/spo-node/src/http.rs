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
        let server = Server::http(addr).map_err(|e| NodeError::Listen {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })?;
        let bound = server
            .server_addr()
            .to_ip()
            .map_or_else(|| addr.to_owned(), |a| a.to_string());
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
            .map_err(|e| NodeError::Listen {
                addr: addr.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(HttpServer {
            addr: bound,
            handle: Some(handle),
            stop,
        })
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
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn serve(req: Request, shared: &Shared) {
    let url = req.url().to_owned();
    let path = url.split('?').next().unwrap_or("");
    let json = "application/json";
    let (code, ctype, body) = match path {
        "/status" => (
            200,
            json,
            serde_json::to_string_pretty(&shared.snapshot()).unwrap_or_default(),
        ),
        "/metrics" => (
            200,
            "text/plain; version=0.0.4",
            shared.metrics.render(&shared.snapshot()),
        ),
        "/healthz" => (200, "text/plain", "ok\n".to_owned()),
        "/readyz" => {
            if shared.status.read().is_ok_and(|s| s.ready) {
                (200, "text/plain", "ready\n".to_owned())
            } else {
                (503, "text/plain", "scanning manifests\n".to_owned())
            }
        }
        "/violations" => {
            let since = query(&url, "since")
                .and_then(|s| s.parse::<u64>().ok())
                .map_or(0, |secs| {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64);
                    now.saturating_sub(secs * 1000)
                });
            let events = shared.ring.query(query(&url, "profile"), since);
            (
                200,
                json,
                serde_json::to_string(&events).unwrap_or_default(),
            )
        }
        _ => (404, "text/plain", format!("no such endpoint: {path}\n")),
    };
    let mut resp = Response::from_string(body).with_status_code(code);
    if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes()) {
        resp = resp.with_header(h);
    }
    let _ = req.respond(resp);
}
