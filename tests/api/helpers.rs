//! `spawn_app`: a server on 127.0.0.1:0 with its own data folder, and typed helpers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use questpath::adapters::embedded::EmbeddedStore;
use questpath::backends::Backends;
use questpath::config::Settings;
use questpath::startup::Application;

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
}

/// Settings for a test server: random port, fresh data folder, plus `extra`.
pub fn test_settings(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("QUESTPATH_BIND".into(), "127.0.0.1:0".into()),
        ("QUESTPATH_DATA_DIR".into(), data_dir.display().to_string()),
        ("QUESTPATH_WORKERS".into(), "2".into()),
        ("QUESTPATH_SHUTDOWN_TIMEOUT_SECS".into(), "1".into()),
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
    let store = EmbeddedStore::open(data_dir.path()).await.expect("embedded store");
    let backends = customise(Backends::in_process(Arc::new(store)));
    let application = Application::build_with(settings, backends).expect("server builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    actix_web::rt::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        _data_dir: data_dir,
    }
}
