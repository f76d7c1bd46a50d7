//! `spawn_app`: a server on 127.0.0.1:0 with its own data folder, and typed helpers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use questpath::adapters::embedded::EmbeddedStore;
use questpath::backends::Backends;
use questpath::config::Settings;
use questpath::startup::Application;
use serde_json::{Value, json};

/// A running server for one test.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Kept so the data folder lives as long as the server.
    _data_dir: tempfile::TempDir,
}

impl TestApp {
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

    /// Polls a job until it is done or failed (10 s at most).
    pub async fn wait_job(&self, token: &str, job_id: &str) -> Value {
        let started = std::time::Instant::now();
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
                started.elapsed() < std::time::Duration::from_secs(10),
                "job stuck: {job}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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

/// Settings for a test server: random port, fresh data folder, plus `extra`.
pub fn test_settings(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("QUESTPATH_BIND".into(), "127.0.0.1:0".into()),
        ("QUESTPATH_DATA_DIR".into(), data_dir.display().to_string()),
        ("QUESTPATH_WORKERS".into(), "2".into()),
        ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS".into(), "1".into()),
        // Lockout and validation tests sign in and register many times from 127.0.0.1;
        // the tests of these limits set them explicitly.
        ("QUESTPATH_RATE_LIMIT_LOGIN".into(), "1000".into()),
        ("QUESTPATH_RATE_LIMIT_REGISTER".into(), "1000".into()),
    ]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

/// A server on the embedded default (embedded store, in-process everything).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[], |backends| backends).await
}

/// A server with extra settings, whose backends `customise` may replace (test doubles).
pub async fn spawn_app_with(
    extra: &[(&str, &str)],
    customise: impl FnOnce(Backends) -> Backends,
) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let settings = test_settings(data_dir.path(), extra);
    let store = EmbeddedStore::open(data_dir.path())
        .await
        .expect("embedded store");
    let backends = customise(Backends::in_process(Arc::new(store)));
    let application = Application::build_with(settings, backends).expect("server builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    actix_web::rt::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: {
            questpath::tls::install_crypto_provider();
            reqwest::Client::new()
        },
        _data_dir: data_dir,
    }
}
