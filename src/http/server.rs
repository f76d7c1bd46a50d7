//! The HTTP server: actix-http's HTTP/1 service over our listener, with the app behind
//! it, and websocket upgrades taken out of the HTTP dispatcher.
//!
//! actix-web's `HttpServer` would keep every websocket inside its HTTP/1 dispatcher for
//! the life of the socket, with the dispatcher's 8 KiB read and write buffers: about 16 KiB
//! of the 27 KiB an idle socket cost (docs/performance.md). Built by hand, the service has
//! an upgrade handler: a request with `Upgrade: websocket` goes through the same app (its
//! routes, middleware and access log), and when the app accepts it (a 101 carrying
//! [`Accepted`]), the handler writes the 101, drops the HTTP buffers and serves the socket
//! with tokio-tungstenite. The public URL and the protocol are unchanged.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::{ConnectionType, Request, Response, h1};
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, fn_factory, fn_service,
    map_config,
};
use actix_web::Error;
use actix_web::dev::{AppConfig, Server};
use actix_web::rt::net::TcpStream;
use futures_util::SinkExt;
use futures_util::future::LocalBoxFuture;

use crate::realtime::handover::Accepted;

/// What the server needs besides the app.
pub struct ServerOptions {
    pub listener: TcpListener,
    pub workers: Option<usize>,
    pub shutdown_timeout: Duration,
}

/// Serves `make_app`'s app on the listener: one instance of the app per worker for plain
/// requests, one more for websocket upgrades.
pub fn serve<F, I, S, B>(make_app: F, options: ServerOptions) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
    let address = options.listener.local_addr()?;
    let mut builder = Server::build()
        .shutdown_timeout(options.shutdown_timeout.as_secs())
        // Signals are handled in `run_until_stopped`, which closes websockets first.
        .disable_signals();
    if let Some(workers) = options.workers {
        builder = builder.workers(workers);
    }
    // Tells the HTTP/1 dispatchers when a graceful stop starts, so idle keep-alive
    // connections close at once instead of at their keep-alive timeout (as `HttpServer`
    // does).
    let stopping = builder.graceful_shutdown_signal();
    let server = builder.listen("questpath", options.listener, move || {
        let app = make_app.clone();
        let upgrade_app = make_app.clone();
        let stopping = stopping.clone();
        actix_http::HttpService::build()
            .graceful_shutdown_signal(move || {
                let stopping = stopping.clone();
                async move { stopping.notified().await }
            })
            // actix-web's defaults: 5 s keep-alive and to read a request's head, 1 s to
            // linger after a response.
            .keep_alive(Duration::from_secs(5))
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            // Websocket frames are small and must not wait: without TCP_NODELAY, Nagle
            // holds a second frame until the first is acknowledged, and the client's
            // delayed ACK made that 40 ms (seen in the room load test: hello, then
            // room.joined).
            .tcp_nodelay(true)
            .local_addr(address)
            .upgrade(fn_factory(move || {
                let factory = upgrade_app().into_factory();
                async move {
                    let app = factory.new_service(app_config(address)).await.map_err(|e| {
                        tracing::error!(error = ?e, "the app for websocket upgrades did not start");
                    })?;
                    let app = Rc::new(app);
                    Ok::<_, ()>(fn_service(move |(request, framed)| {
                        upgrade(app.clone(), request, framed)
                    }))
                }
            }))
            .h1(map_config(
                app().into_factory().map_err(|e| e.into().error_response()),
                move |_| app_config(address),
            ))
            .tcp()
    })?;
    Ok(server.run())
}

/// The app's view of the server, as `HttpServer` gives it: plain HTTP, the bound address
/// as the host a request without `Host` is taken to name.
fn app_config(address: SocketAddr) -> AppConfig {
    // The constructor `HttpServer` and actix-test use; `AppConfig::default()` would name
    // `localhost:8080`.
    AppConfig::__priv_test_new(false, address.to_string(), address)
}

/// A request with `Upgrade: websocket` (or `CONNECT`), handed over by the dispatcher
/// with the connection: the app answers it; a websocket it accepted is served here,
/// anything else is written and the connection closed (its HTTP state is gone).
fn upgrade<S, B>(
    app: Rc<S>,
    request: Request,
    framed: Framed<TcpStream, h1::Codec>,
) -> LocalBoxFuture<'static, Result<(), Error>>
where
    S: Service<Request> + 'static,
    S::Error: Into<Error>,
    S::Response: Into<Response<B>>,
    B: MessageBody + 'static,
{
    Box::pin(async move {
        // This future lives as long as the socket: the handshake's state is boxed so
        // that it keeps none of it.
        if let Some((accepted, io, early)) = Box::pin(answer(app, request, framed)).await {
            accepted.serve(io, early).await;
        }
        Ok(())
    })
}

/// Answers an upgrade request through the app: the accepted websocket with its
/// connection and the bytes already read past the request, or `None` when the answer
/// was something else (written, and the connection then closed).
async fn answer<S, B>(
    app: Rc<S>,
    request: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> Option<(Accepted, TcpStream, Vec<u8>)>
where
    S: Service<Request> + 'static,
    S::Error: Into<Error>,
    S::Response: Into<Response<B>>,
    B: MessageBody + 'static,
{
    let mut response: Response<BoxBody> = match app.call(request).await {
        Ok(response) => response.into().map_into_boxed_body(),
        Err(e) => e.into().error_response().into(),
    };
    let accepted = response.extensions_mut().remove::<Accepted>();
    match accepted {
        Some(accepted) if response.status() == actix_http::StatusCode::SWITCHING_PROTOCOLS => {
            let head = response.drop_body();
            framed.send((head, BodySize::None).into()).await.ok()?;
            // Whatever the client sent after the request's head is its first frames; the
            // HTTP buffers (16 KiB) go now, not with the socket.
            let parts = framed.into_parts();
            Some((accepted, parts.io, parts.read_buf.to_vec()))
        }
        _ => {
            response
                .head_mut()
                .set_connection_type(ConnectionType::Close);
            // Bodies here are the app's short answers (errors, pages), taken whole.
            let (response, body) = response.into_parts();
            let body = match actix_http::body::to_bytes(body).await {
                Ok(body) => body,
                Err(e) => {
                    tracing::debug!(error = %e, "answer to an upgrade request not read");
                    return None;
                }
            };
            if let Err(e) = h1::SendResponse::new(framed, response.set_body(body)).await {
                tracing::debug!(error = %e, "answer to an upgrade request not sent");
            }
            None
        }
    }
}
