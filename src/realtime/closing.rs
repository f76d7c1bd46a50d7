//! Ending a websocket cleanly: the close handshake with a bounded wait for the client's
//! answer, then the end of the TCP connection without actix-http's linger.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::Bytes;
use actix_ws::{CloseReason, Message};
use futures_util::StreamExt;
use tokio::sync::oneshot;

/// The accepted TCP socket of a connection, recorded by the server's `on_connect` so a
/// websocket can end its connection once the close handshake is over.
#[derive(Clone, Copy, Debug)]
pub struct AcceptedSocket {
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl AcceptedSocket {
    pub fn of(tcp: &actix_web::rt::net::TcpStream) -> Self {
        #[cfg(not(unix))]
        let _ = tcp;
        AcceptedSocket {
            #[cfg(unix)]
            fd: std::os::fd::AsRawFd::as_raw_fd(tcp),
        }
    }

    /// Shuts the socket's reading half: the HTTP/1 dispatcher reads end-of-stream, so it
    /// flushes what it has to write (our close frame), sends FIN and drops the socket.
    ///
    /// # Safety
    /// Only while the dispatcher that owns this socket is polling us (it closes the
    /// descriptor when it is dropped, and the number may then be reused).
    unsafe fn stop_reading(self) {
        #[cfg(unix)]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: the caller guarantees the descriptor is open and is this
            // connection's; `ManuallyDrop` leaves closing it to its owner.
            let tcp =
                std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(self.fd) });
            if let Err(e) = tcp.shutdown(std::net::Shutdown::Read) {
                tracing::debug!(error = %e, "websocket socket not shut for reading");
            }
        }
    }
}

/// The websocket's response body: actix-ws's frames, then the end of the connection.
///
/// actix-http (3.13 and later) lingers after a response whose request body was not read
/// to its end, and a websocket's request body is the rest of the connection: after our
/// close frame it keeps the socket open until the client closes it or
/// `client_disconnect_timeout` (1 s) passes. Clients wait for the server to close first
/// (RFC 6455 7.1.1), so every close took 0.5-1 s. Instead, once the task reports the
/// handshake over, this body shuts the socket's reading half, which ends the linger at
/// once. A shorter `client_disconnect_timeout` is no cure: it also cuts the linger that
/// early answers to HTTP uploads need, and under the 500 ms tick of the clock its deadline
/// is taken from, the deadline is often already past, which actix-http's timer never
/// wakes for: the socket then stays open until the client gives up.
pub struct ClosingBody {
    frames: BoxBody,
    frames_ended: bool,
    /// Fires when the connection may end; dropped unsent (the task failed before its
    /// close), the body ends and actix-http lingers as usual.
    released: Option<oneshot::Receiver<()>>,
    socket: Option<AcceptedSocket>,
}

impl ClosingBody {
    pub fn new(
        frames: BoxBody,
        released: oneshot::Receiver<()>,
        socket: Option<AcceptedSocket>,
    ) -> Self {
        ClosingBody {
            frames,
            frames_ended: false,
            released: Some(released),
            socket,
        }
    }
}

impl MessageBody for ClosingBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.frames.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if !this.frames_ended {
            match ready!(Pin::new(&mut this.frames).poll_next(cx)) {
                Some(frame) => return Poll::Ready(Some(frame)),
                None => this.frames_ended = true,
            }
        }
        // The frames end with our close frame; holding the body open keeps the client's
        // answer flowing to the task's message stream.
        if let Some(released) = this.released.as_mut() {
            let outcome = ready!(Pin::new(released).poll(cx));
            this.released = None;
            if outcome.is_ok()
                && let Some(socket) = this.socket.take()
            {
                // SAFETY: a response body is polled only by (or within a poll of) the
                // dispatcher serving the request, which owns the socket `on_connect`
                // recorded until it is dropped, and it cannot be dropped mid-poll.
                unsafe { socket.stop_reading() };
            }
        }
        Poll::Ready(None)
    }
}

/// How long a client gets to answer a close frame the server sent (RFC 6455 wants the
/// server to close TCP once the client's close frame is in); actix-http's own linger
/// after a response is as long.
const CLOSE_ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// The task's ends of a websocket: frames out, frames in, and the body's release.
pub struct Ends {
    pub ws: actix_ws::Session,
    pub stream: actix_ws::MessageStream,
    pub release: oneshot::Sender<()>,
}

/// Sends our close frame, waits (bounded) for the client's when the server closes first,
/// then releases the body, which ends the connection.
pub async fn finish_close(
    ws: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
    release: oneshot::Sender<()>,
    reason: Option<CloseReason>,
    client_closed: bool,
    client_timeout: Duration,
) {
    // A client that reads nothing can keep the frame queued; it gets as long as a silent
    // client does.
    let sent = matches!(
        tokio::time::timeout(client_timeout, ws.close(reason)).await,
        Ok(Ok(()))
    );
    if sent && !client_closed {
        let answer = async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_ANSWER_TIMEOUT, answer).await;
    }
    let _ = release.send(());
}
