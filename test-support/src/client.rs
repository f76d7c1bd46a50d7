//! Clients of a running server, in-process or a process: HTTP calls with the flows tests
//! repeat (sign-up, goals, jobs, a level ready for its quiz) and a websocket client that
//! speaks `questpath.v1`.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// An HTTP client (rustls needs its crypto provider installed first).
pub fn http() -> reqwest::Client {
    questpath::tls::install_crypto_provider();
    reqwest::Client::new()
}

/// A server's loopback address with a client for it.
#[derive(Clone)]
pub struct Endpoint {
    /// `http://127.0.0.1:{port}`
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
}

impl Endpoint {
    /// The server listening on `port` of 127.0.0.1.
    pub fn local(port: u16) -> Endpoint {
        Endpoint {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: http(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request to test server")
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request to test server")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request to test server")
    }

    /// Any method, with a bearer token and an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request to test server")
    }

    /// POST with only a refresh cookie (as a browser sends it).
    pub async fn post_with_refresh(&self, path: &str, refresh: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("Cookie", format!("refresh_token={refresh}"))
            .send()
            .await
            .expect("request to test server")
    }

    /// Registers through v1 and returns the session.
    pub async fn register(&self, user: &TestUser) -> Session {
        let response = self
            .post_json(
                "/api/v1/auth/register",
                &json!({"email": user.email, "password": user.password}),
            )
            .await;
        assert_eq!(response.status(), 201, "register");
        Session::from_response(response).await
    }

    /// Signs in through v1 and returns the session.
    pub async fn login(&self, user: &TestUser) -> Session {
        let response = self.login_raw(&user.email, &user.password).await;
        assert_eq!(response.status(), 200, "login");
        Session::from_response(response).await
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// A new learner; returns the access token.
    pub async fn learner(&self) -> String {
        self.register(&TestUser::generate()).await.access
    }

    /// Queues a goal through v1 and waits until its job is done; returns the goal id.
    pub async fn create_goal(&self, token: &str, description: &str) -> String {
        let created = self
            .call(
                reqwest::Method::POST,
                "/api/v1/goals",
                token,
                Some(&json!({"description": description})),
            )
            .await;
        assert_eq!(created.status(), 202, "create goal");
        let created: Value = created.json().await.unwrap();
        let job_id = created["job"]["id"].as_str().unwrap().to_string();
        let job = self.wait_job(token, &job_id).await;
        assert_eq!(job["status"], "done", "{job}");
        job["goal_id"].as_str().unwrap().to_string()
    }

    /// Makes a goal, ticks its first level's topics and passes that level through the
    /// legacy quiz routes (the server's own grant path); returns the goal id and the XP
    /// earned.
    pub async fn pass_first_level(&self, token: &str) -> (String, i64) {
        let goal_id = self.create_goal(token, "Learn web development").await;
        let goal: Value = self
            .get_bearer(&format!("/api/v1/goals/{goal_id}"), token)
            .await
            .json()
            .await
            .unwrap();
        let level = &goal["roadmap"]["levels"][0];
        let level_id = level["id"].as_str().unwrap();
        for i in 0..level["topics"].as_array().unwrap().len() {
            let ticked = self
                .call(
                    reqwest::Method::PUT,
                    &format!("/api/v1/levels/{level_id}/topics/{i}"),
                    token,
                    Some(&json!({"completed": true})),
                )
                .await;
            assert_eq!(ticked.status(), 200);
        }
        let quiz = self
            .get_bearer(&format!("/levels/{level_id}/quiz"), token)
            .await;
        assert_eq!(quiz.status(), 200);
        let passed: Value = self
            .call(
                reqwest::Method::POST,
                &format!("/levels/{level_id}/quiz/submit"),
                token,
                Some(&json!({"score": 100, "passed": true, "time_taken": 30})),
            )
            .await
            .json()
            .await
            .unwrap();
        let xp = passed["xp_earned"].as_i64().expect("xp earned");
        assert!(xp > 0, "{passed}");
        (goal_id, xp)
    }

    /// Polls a job until it is done or failed (10 s at most).
    pub async fn wait_job(&self, token: &str, job_id: &str) -> Value {
        let started = Instant::now();
        loop {
            let job: Value = self
                .get_bearer(&format!("/api/v1/jobs/{job_id}"), token)
                .await
                .json()
                .await
                .unwrap();
            if job["status"] == "done" || job["status"] == "failed" {
                return job;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "job stuck: {job}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A learner with a goal whose first level is ready for its quiz; returns the token,
    /// the level and the goal JSON.
    pub async fn learner_ready_for_quiz(&self) -> (String, Value, Value) {
        let token = self.learner().await;
        let goal_id = self.create_goal(&token, "Learn web development").await;
        let goal: Value = self
            .get_bearer(&format!("/api/v1/goals/{goal_id}"), &token)
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
                    Some(&json!({"completed": true})),
                )
                .await;
            assert_eq!(done.status(), 200);
        }
        (token, level, goal)
    }

    /// A websocket ticket for `token`.
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
    pub async fn connect(&self, token: &str) -> WsClient {
        let ticket = self.ticket(token).await;
        let mut client = self
            .connect_raw(&ticket, "questpath.v1")
            .await
            .expect("upgrade");
        let hello = client.next_json().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        client
    }

    /// Opens a websocket with `ticket`, asking for `subprotocol`.
    pub async fn connect_raw(
        &self,
        ticket: &str,
        subprotocol: &str,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://127.0.0.1:{}/api/v1/ws?ticket={ticket}", self.port)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", subprotocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        assert_eq!(response.headers()["sec-websocket-protocol"], subprotocol);
        Ok(WsClient { socket })
    }
}

/// A learner with a unique email and a password that passes the rules.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub email: String,
    pub password: String,
}

impl TestUser {
    pub fn generate() -> Self {
        TestUser {
            email: format!("learner-{}@example.org", uuid::Uuid::new_v4().simple()),
            password: format!("pw-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// Tokens handed out by a sign-in or refresh.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub refresh_cookie: String,
    pub body: Value,
}

impl Session {
    pub async fn from_response(response: reqwest::Response) -> Self {
        let refresh_cookie = set_cookie(&response, "refresh_token").expect("refresh cookie set");
        let refresh = cookie_value(&refresh_cookie);
        let body: Value = response.json().await.expect("JSON body");
        Session {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
            refresh,
            refresh_cookie,
            body,
        }
    }
}

/// The full `Set-Cookie` header for cookie `name`, if the response sets it.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The value part of a `Set-Cookie` header.
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A websocket client of `questpath.v1` (JSON text frames).
pub struct WsClient {
    pub socket: Socket,
}

impl WsClient {
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

    /// Skips frames until one satisfying `wanted` arrives, within `within` in all (for
    /// waits longer than [`WsClient::next_json`]'s 5 s); `what` names it in the panic.
    pub async fn next_where(
        &mut self,
        within: Duration,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {within:?}"))
                .expect("socket open")
                .expect("valid frame");
            if let Message::Text(text) = frame {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                if wanted(&frame) {
                    return frame;
                }
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

/// A wrong option letter: the server reveals the right one in feedback only, so tests
/// that must answer wrong pick another letter than the one they guess.
pub fn other_letter(letter: &str) -> &'static str {
    if letter == "A" { "B" } else { "A" }
}
