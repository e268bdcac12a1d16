//! The optional HTTP listener (`[http] listen`, off by default): `GET
//! /healthz` answers the health report as JSON, 200 when healthy and 503
//! when not; `GET /metrics` answers the Prometheus metrics. Anything else
//! is 404, any other method 405. hyper's HTTP/1 server, one task per
//! connection, with a header-read timeout so an idle client cannot hold a
//! connection for ever; the listener stops with the daemon.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::StoreReader;

/// Bind now, so a taken port stops the start with a clear error.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("http.listen: cannot listen on {addr} (is another process using the port?)")
    })
}

/// Serve until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    reader: Arc<StoreReader>,
    mut shutdown: watch::Receiver<bool>,
) {
    if let Ok(a) = listener.local_addr() {
        tracing::info!(listen = %a, "health and metrics listener running (/healthz, /metrics)");
    }
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!("http: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let reader = reader.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let reader = reader.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&req, &reader).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!("http: connection ended: {e}");
            }
        });
    }
}

async fn answer(
    req: &Request<hyper::body::Incoming>,
    reader: &StoreReader,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if !matches!(path, "/healthz" | "/metrics") {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; try /healthz or /metrics\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    let backlog = match reader.backlog().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("http {path}: {e:#}");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("reading the database: {e:#}\n"),
            );
        }
    };
    let now = crate::store::now_unix();
    if path == "/metrics" {
        let text = super::ops().metrics.render(&backlog, now);
        return response(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            text.into_bytes(),
        );
    }
    let report = reader.report(&backlog, now);
    let status = if report.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Serialising plain structs of strings and numbers cannot fail.
    let mut body = serde_json::to_vec_pretty(&report).unwrap_or_default();
    body.push(b'\n');
    response(status, "application/json", body)
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    response(
        status,
        "text/plain; charset=utf-8",
        text.as_bytes().to_vec(),
    )
}

fn response(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}
