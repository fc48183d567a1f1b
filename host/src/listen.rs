//! The service's side of HTTP: every route behind the same limits, so that
//! no client, however slow or large, holds more than its share.
//!
//! - Request headers: at most [`MAX_HEADER_BYTES`], in full within
//!   [`HEADER_TIMEOUT`] of the connection's first byte (a slowloris client
//!   is dropped), and a connection that sends nothing is closed after it.
//! - Request bodies: at most [`MAX_BODY_BYTES`] (413), in full within
//!   [`BODY_TIMEOUT`] (408), read before any handler runs.
//! - Connections: at most [`MAX_CONNECTIONS`] at once; the next waits.
//!
//! Streams (server-sent events) are answers, not requests: they stay open.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};

/// The largest request head (request line and headers) hcal reads.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Time for a client to send its whole request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body: the API's bodies are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Time for a client to send its whole body once its head arrived.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once (the streams of room devices count).
pub const MAX_CONNECTIONS: usize = 4096;
/// On shutdown, time for requests in flight to finish.
const DRAIN: Duration = Duration::from_secs(5);

/// Read the whole body, bounded in size and time, before the handler runs.
pub(crate) async fn bounded_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY_BYTES));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            return if too_large {
                refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    &format!("request bodies are at most {MAX_BODY_BYTES} bytes"),
                )
            } else {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "the request body could not be read",
                )
            };
        }
        Err(_) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                &format!(
                    "the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            );
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, axum::Json(body)).into_response()
}

/// Serve `app` on `listener` until `shutdown`, with the limits above, over
/// TLS when `tls` is given (the handshake within [`HEADER_TIMEOUT`] too);
/// then stop accepting and give requests in flight 5 s to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: wait rather than spin,
                    // and say so now and then, not ten times a second.
                    static REFUSED: crate::logs::Throttle = crate::logs::Throttle::new(10);
                    if let Some(held_back) = REFUSED.allow(jiff::Timestamp::now().as_second()) {
                        tracing::warn!(%error, held_back, "cannot accept a connection");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        // The watcher counts the connection in from here, handshake included.
        let (tls, http, watcher) = (tls.clone(), http.clone(), graceful.watcher());
        tokio::spawn(async move {
            // A client that went away or broke the protocol: nothing to do.
            match tls {
                None => {
                    let io = TokioIo::new(stream);
                    let _ = watcher.watch(http.serve_connection(io, service)).await;
                }
                // A handshake that stalls holds a connection as a slow head would.
                Some(tls) => {
                    let handshake = tokio::time::timeout(HEADER_TIMEOUT, tls.accept(stream));
                    if let Ok(Ok(stream)) = handshake.await {
                        let io = TokioIo::new(stream);
                        let _ = watcher.watch(http.serve_connection(io, service)).await;
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {}
    }
    Ok(())
}
