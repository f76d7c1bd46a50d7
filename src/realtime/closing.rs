//! Ending a websocket cleanly: our close frame (or the echo of the client's), a bounded
//! wait for the client's answer, then the end of the TCP connection.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::handover::Websocket;

/// How long a client gets to answer a close frame the server sent (RFC 6455 wants the
/// server to close TCP once the client's close frame is in).
const CLOSE_ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// The client's part of the close handshake.
pub enum Answer {
    /// The client closed first: the server echoes its close frame.
    Given,
    /// The server closes first and reads until the client's close frame.
    Awaited,
    /// The server closes first but cannot read on (a frame too large was left half read).
    Unreadable,
}

/// Sends our close frame (or, when the client closed first, the echo tungstenite queued),
/// waits (bounded) for the client's answer when it can, then drops the socket, which
/// ends the connection.
pub async fn finish_close(
    mut ws: Websocket,
    reason: Option<CloseFrame>,
    answer: Answer,
    client_timeout: Duration,
) {
    // A client that reads nothing can keep the frame queued; it gets as long as a silent
    // client does.
    let queued = match answer {
        Answer::Given => {
            let _ = tokio::time::timeout(client_timeout, ws.flush()).await;
            return;
        }
        Answer::Awaited | Answer::Unreadable => {
            tokio::time::timeout(client_timeout, ws.close(reason)).await
        }
    };
    if !matches!(queued, Ok(Ok(()))) {
        return;
    }
    if let Answer::Unreadable = answer {
        // Unread bytes at close make the kernel reset the connection, and a reset can
        // destroy our close frame before the client reads it: discard what the client
        // still sends for a while (its close frame is in there somewhere).
        let _ = tokio::time::timeout(CLOSE_ANSWER_TIMEOUT, discard_to_end(ws.get_mut())).await;
        return;
    }
    let answered = async {
        while let Some(Ok(message)) = ws.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_ANSWER_TIMEOUT, answered).await;
}

/// Reads and drops what the peer sends until it closes (at most `DISCARD_LIMIT` bytes).
async fn discard_to_end(tcp: &mut actix_web::rt::net::TcpStream) {
    const DISCARD_LIMIT: usize = 4 << 20;
    let mut buffer = [0u8; 1024];
    let mut discarded = 0;
    while discarded < DISCARD_LIMIT {
        match tokio::io::AsyncReadExt::read(tcp, &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => discarded += n,
        }
    }
}
