//! A server with short quiz timings, an HTTP client, and a websocket client that speaks
//! `questpath.v1`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use questpath::adapters::embedded::EmbeddedStore;
use questpath::backends::Backends;
use questpath::config::Settings;
use questpath::startup::Application;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub backends: Backends,
    pub _data: tempfile::TempDir,
}

/// Question time used by these tests.
pub const QUESTION_TIME: Duration = Duration::from_millis(1500);

pub async fn spawn_app() -> TestApp {
    spawn_app_tuned(|_| {}).await
}

pub async fn spawn_app_tuned(tune: impl FnOnce(&mut Settings)) -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let vars: HashMap<&str, String> = HashMap::from([
        ("QUESTPATH_BIND", "127.0.0.1:0".to_string()),
        ("QUESTPATH_DATA_DIR", data.path().display().to_string()),
        ("QUESTPATH_WORKERS", "2".to_string()),
        ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS", "1".to_string()),
    ]);
    let mut settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
    settings.realtime.question_time = QUESTION_TIME;
    settings.realtime.grace = Duration::from_secs(5);
    tune(&mut settings);
    let store = EmbeddedStore::open(data.path()).await.unwrap();
    let backends = Backends::in_process(Arc::new(store));
    let application = Application::build_with(settings, backends.clone()).unwrap();
    let port = application.port();
    actix_web::rt::spawn(application.run_until_stopped());
    questpath::tls::install_crypto_provider();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::new(),
        backends,
        _data: data,
    }
}

impl TestApp {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// A new learner; returns the access token.
    pub async fn learner(&self) -> String {
        let email = format!("ws-{}@example.org", uuid::Uuid::new_v4().simple());
        let body: Value = self
            .client
            .post(format!("{}/api/v1/auth/register", self.address))
            .json(&json!({"email": email, "password": "a long password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A learner with a goal whose first level is ready for its quiz; returns the token,
    /// the level and the goal JSON.
    pub async fn learner_ready_for_quiz(&self) -> (String, Value, Value) {
        let token = self.learner().await;
        let created: Value = self
            .call(
                reqwest::Method::POST,
                "/api/v1/goals",
                &token,
                Some(json!({"description": "Learn web development"})),
            )
            .await
            .json()
            .await
            .unwrap();
        let job_id = created["job"]["id"].as_str().unwrap().to_string();
        let goal_id = loop {
            let job: Value = self
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/jobs/{job_id}"),
                    &token,
                    None,
                )
                .await
                .json()
                .await
                .unwrap();
            if job["status"] == "done" {
                break job["goal_id"].as_str().unwrap().to_string();
            }
            assert_ne!(job["status"], "failed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let goal: Value = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/goals/{goal_id}"),
                &token,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let level = goal["roadmap"]["levels"][0].clone();
        let level_id = level["id"].as_str().unwrap();
        for i in 0..level["topics"].as_array().unwrap().len() {
            let done = self
                .call(
                    reqwest::Method::PUT,
                    &format!("/api/v1/levels/{level_id}/topics/{i}"),
                    &token,
                    Some(json!({"completed": true})),
                )
                .await;
            assert_eq!(done.status(), 200);
        }
        (token, level, goal)
    }

    pub async fn ticket(&self, token: &str) -> String {
        let body: Value = self
            .call(reqwest::Method::POST, "/api/v1/ws/ticket", token, None)
            .await
            .json()
            .await
            .unwrap();
        body["ticket"].as_str().unwrap().to_string()
    }

    /// Opens a websocket with a fresh ticket and reads the `hello`.
    pub async fn connect(&self, token: &str) -> Client {
        let ticket = self.ticket(token).await;
        let mut client = self
            .connect_raw(&ticket, "questpath.v1")
            .await
            .expect("upgrade");
        let hello = client.next_json().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        client
    }

    pub async fn connect_raw(
        &self,
        ticket: &str,
        subprotocol: &str,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://127.0.0.1:{}/api/v1/ws?ticket={ticket}", self.port)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", subprotocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        assert_eq!(response.headers()["sec-websocket-protocol"], subprotocol);
        Ok(Client { socket })
    }
}

pub struct Client {
    pub socket: Socket,
}

impl Client {
    pub async fn send(&mut self, value: Value) {
        self.socket
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }

    /// The next text frame as JSON (5 s at most).
    pub async fn next_json(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), self.socket.next())
                .await
                .expect("a frame within 5 s")
                .expect("socket open")
                .expect("valid frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Skips frames until one of `kind` arrives.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_json().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn closed_with(&mut self) -> u16 {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("close within 10 s");
            match frame {
                Some(Ok(Message::Close(Some(close)))) => return u16::from(close.code),
                Some(Ok(Message::Close(None))) | None => return 0,
                Some(Err(e)) => panic!("socket error before a close frame: {e}"),
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// The letter of the correct option, found by trying nothing: the server reveals it
/// in feedback only, so tests answer wrong on purpose with this helper's complement.
pub fn other_letter(letter: &str) -> &'static str {
    if letter == "A" { "B" } else { "A" }
}
