//! The websocket side: `questpath.v1` JSON frames over tokio-tungstenite, from a chosen
//! source address, with buffers sized for tens of thousands of idle sockets.
//!
//! tungstenite allocates its read buffer up front (128 KiB by default): 20,000 sockets
//! would take 2.5 GiB in the generator before a byte arrives. The protocol's frames are
//! at most 4 KiB, so 4 KiB buffers are plenty.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::net::connect_from;

/// The subprotocol of JSON text frames.
pub const SUBPROTOCOL: &str = "questpath.v1";

/// A connected socket.
pub type Socket = WebSocketStream<TcpStream>;

/// The fields of a server frame the scenarios look at (others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct Frame {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub re: Option<String>,
    #[serde(default)]
    pub position: Option<u32>,
    /// A boolean in `quiz.feedback`, a count in `quiz.result`.
    #[serde(default)]
    pub correct: Option<serde_json::Value>,
    #[serde(default)]
    pub passed: Option<bool>,
    #[serde(default)]
    pub timed_out: Option<bool>,
    #[serde(default)]
    pub code: Option<String>,
}

impl Frame {
    /// True for a feedback on a right answer.
    pub fn right(&self) -> bool {
        matches!(self.correct, Some(serde_json::Value::Bool(true)))
    }
}

/// What reading a socket gave.
#[derive(Debug)]
pub enum Event {
    Frame(Frame),
    /// The server closed the socket (with its close code, if any).
    Closed(Option<u16>),
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        // Flush every frame at once: each is a request waiting for an answer.
        .write_buffer_size(0)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

/// Opens `ws://target/api/v1/ws?ticket=...` from `source` with the JSON subprotocol and
/// waits for the server's `hello`.
pub async fn connect(
    source: Ipv4Addr,
    target: SocketAddrV4,
    ticket: &str,
    timeout: Duration,
) -> anyhow::Result<Socket> {
    let work = async {
        let stream = connect_from(source, target).await?;
        let mut request = format!("ws://{target}/api/v1/ws?ticket={ticket}")
            .into_client_request()
            .context("building the websocket request")?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        let (mut socket, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config()))
                .await
                .context("websocket handshake")?;
        match next_event(&mut socket).await? {
            Event::Frame(f) if f.kind == "hello" => Ok(socket),
            Event::Frame(f) => bail!("expected hello, got {}", f.kind),
            Event::Closed(code) => bail!("closed before hello (code {code:?})"),
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .with_context(|| format!("no hello within {} ms", timeout.as_millis()))?
}

/// Sends one JSON text frame.
pub async fn send(socket: &mut Socket, text: String) -> anyhow::Result<()> {
    socket
        .send(Message::Text(Utf8Bytes::from(text)))
        .await
        .context("sending a frame")
}

/// The next application frame. Pings are answered by tungstenite itself while reading;
/// pongs and other control frames are skipped.
pub async fn next_event(socket: &mut Socket) -> anyhow::Result<Event> {
    loop {
        let Some(message) = socket.next().await else {
            return Ok(Event::Closed(None));
        };
        match message.context("reading a frame")? {
            Message::Text(text) => {
                let frame: Frame = serde_json::from_str(text.as_str())
                    .with_context(|| format!("not a protocol frame: {}", text.as_str()))?;
                return Ok(Event::Frame(frame));
            }
            Message::Close(reason) => {
                return Ok(Event::Closed(reason.map(|r| u16::from(r.code))));
            }
            Message::Binary(_) => bail!("a binary frame on the JSON subprotocol"),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        }
    }
}

/// What reading a socket gave, undecoded (for scenarios with frames of their own).
#[derive(Debug)]
pub enum RawEvent {
    Text(Utf8Bytes),
    /// The server closed the socket (with its close code, if any).
    Closed(Option<u16>),
}

/// The next text frame, undecoded. Like [`next_event`], pings are answered while
/// reading and control frames skipped. Cancel-safe: a frame is returned in the same
/// poll that read it.
pub async fn next_text(socket: &mut Socket) -> anyhow::Result<RawEvent> {
    loop {
        let Some(message) = socket.next().await else {
            return Ok(RawEvent::Closed(None));
        };
        match message.context("reading a frame")? {
            Message::Text(text) => return Ok(RawEvent::Text(text)),
            Message::Close(reason) => {
                return Ok(RawEvent::Closed(reason.map(|r| u16::from(r.code))));
            }
            Message::Binary(_) => bail!("a binary frame on the JSON subprotocol"),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        }
    }
}

/// Closes politely with 1000 (normal closure), as a browser leaving a page does
/// (a close frame without a code reads as 1005 on the server, which counts it as
/// abnormal). Bounded: a server that does not answer the close is left.
pub async fn close(mut socket: Socket) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: Utf8Bytes::from_static(""),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(Some(frame))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_parse_with_unknown_fields() {
        let f: Frame = serde_json::from_str(
            r#"{"type":"quiz.feedback","re":"3","quiz_id":"x","position":0,"correct":false,"correct_option":"A","explanation":"e","timed_out":false}"#,
        )
        .unwrap();
        assert_eq!(f.kind, "quiz.feedback");
        assert_eq!(f.re.as_deref(), Some("3"));
        assert!(!f.right());
        let r: Frame =
            serde_json::from_str(r#"{"type":"quiz.result","correct":4,"passed":true}"#).unwrap();
        assert_eq!(r.passed, Some(true));
        let e: Frame =
            serde_json::from_str(r#"{"type":"error","re":"1","code":"no_quiz","message":"m"}"#)
                .unwrap();
        assert_eq!(e.code.as_deref(), Some("no_quiz"));
    }
}
