//! A websocket the app accepted, handed from the HTTP layer to its task: the upgrade
//! handler (`http::server`) finds [`Accepted`] in the 101 response's extensions, writes
//! the response and gives it the raw connection.

use futures_util::future::LocalBoxFuture;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use actix_web::rt::net::TcpStream;

/// A websocket connection as its task sees it.
pub type Websocket = WebSocketStream<TcpStream>;

/// How many bytes the socket reads at a time, and the buffer an idle socket keeps. Client
/// frames are small (an answer is under 150 bytes); a larger frame grows the buffer to
/// its size.
const READ_BUFFER: usize = 512;

/// The largest frame the reader takes whole. The frame limit itself (`max_frame`) is
/// checked by the socket's task, so a frame somewhat over it is read to its end and
/// answered with a clean close handshake; one over this is cut off where it stands, and
/// the connection closed without reading on.
fn read_limit(max_frame: usize) -> usize {
    max_frame.saturating_mul(4).max(64 * 1024)
}

type Task = Box<dyn FnOnce(Websocket) -> LocalBoxFuture<'static, ()>>;

/// The app's yes to a websocket upgrade: the socket's limits and the task that serves it.
pub struct Accepted {
    max_frame: usize,
    task: Task,
}

impl Accepted {
    /// `task` runs the socket once the 101 is written; frames over `max_frame` bytes are
    /// refused.
    pub fn new(
        max_frame: usize,
        task: impl FnOnce(Websocket) -> LocalBoxFuture<'static, ()> + 'static,
    ) -> Self {
        Accepted {
            max_frame,
            task: Box::new(task),
        }
    }

    /// Serves the connection after the 101: `early` is what the client sent after the
    /// request's head (its first frames, already read by the HTTP layer).
    pub async fn serve(self, io: TcpStream, early: Vec<u8>) {
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            // Each frame is written as it is sent: no write buffer kept per socket.
            .write_buffer_size(0)
            .max_frame_size(Some(read_limit(self.max_frame)))
            .max_message_size(Some(read_limit(self.max_frame)));
        let ws = WebSocketStream::from_partially_read(io, early, Role::Server, Some(config)).await;
        (self.task)(ws).await;
    }
}
