//! The HTTPS server: TLS by rustls, HTTP/1.1 by hyper, one task per
//! connection. The API server keeps connections alive, so a handshake is
//! paid once per connection, not per admission.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use super::latency::Latency;
use super::review::{Admission, Endpoint, MAX_BODY};

/// Serve `admission` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, tls: Arc<ServerConfig>, admission: Arc<Admission>, latency: Arc<Latency>) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait and go on;
                // the listener itself stays valid.
                tracing::warn!(error = %e, "webhook accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let admission = admission.clone();
        let latency = latency.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "webhook TLS handshake failed");
                    return;
                }
            };
            let service = service_fn(move |req| handle(admission.clone(), latency.clone(), req));
            if let Err(e) =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await
            {
                tracing::debug!(%peer, error = %e, "webhook connection ended");
            }
        });
    }
}

/// How long a refusal the caches may be behind on waits for them.
const CACHE_CATCH_UP: Duration = Duration::from_secs(2);

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    admission: Arc<Admission>,
    latency: Arc<Latency>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    Ok(match (req.method(), Endpoint::from_path(&path)) {
        (&Method::POST, Some(endpoint)) => match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(body) => {
                let body = body.to_bytes();
                let mut answer = admission.review_once(endpoint, &body);
                // A binding's profile created a moment ago may not be in
                // the caches yet: look again for a while before refusing.
                while answer.1 && started.elapsed() < CACHE_CATCH_UP {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    answer = admission.review_once(endpoint, &body);
                }
                latency.observe(endpoint, started.elapsed());
                reply(StatusCode::OK, "application/json", answer.0)
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, "text/plain", format!("cannot read the request body: {e}\n")),
        },
        (&Method::POST, None) if path == spo_api::crds::legacy::CONVERT_PATH => {
            match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(body) => reply(StatusCode::OK, "application/json", super::convert::review(&body.to_bytes())),
                Err(e) => reply(StatusCode::BAD_REQUEST, "text/plain", format!("cannot read the request body: {e}\n")),
            }
        }
        (&Method::GET, None) if path == "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n"),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    })
}
