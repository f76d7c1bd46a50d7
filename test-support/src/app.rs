//! A server in this process: the application on a loopback port, over in-process test
//! backends with short quiz timings (the default) or the backends its settings name
//! (Redis, CQL).

use std::ops::Deref;
use std::sync::Arc;

use questpath::adapters::embedded::EmbeddedStore;
use questpath::backends::Backends;
use questpath::config::Settings;
use questpath::startup::Application;

use crate::client::Endpoint;
use crate::settings::{short_quiz_timings, test_settings};

/// A running server for one test. Derefs to its [`Endpoint`] for HTTP and websocket calls.
pub struct TestApp {
    endpoint: Endpoint,
    /// The ports the server runs on (shared with it: test doubles, or reading what it wrote).
    pub backends: Backends,
    /// Kept so the data folder lives as long as the server.
    _data_dir: tempfile::TempDir,
}

impl Deref for TestApp {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl TestApp {
    /// The server's data folder (its embedded store, and `outbox/` without SMTP).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// Where the server writes mails when no SMTP server is configured.
    pub fn outbox(&self) -> std::path::PathBuf {
        self.data_dir().join("outbox")
    }

    /// A server to configure before it starts.
    pub fn builder<'a>() -> TestAppBuilder<'a> {
        TestAppBuilder {
            vars: Vec::new(),
            tunes: Vec::new(),
            backends: Choice::InProcess(None),
        }
    }
}

/// An edit of the parsed settings.
type Tune<'a> = Box<dyn FnOnce(&mut Settings) + 'a>;

/// An edit of the in-process backends.
type Customise<'a> = Box<dyn FnOnce(Backends) -> Backends + 'a>;

enum Choice<'a> {
    /// An embedded store and in-process shared state, optionally edited by the test.
    InProcess(Option<Customise<'a>>),
    /// What the settings name, opened as the binary opens it.
    Configured,
}

/// How a [`TestApp`] starts: settings variables, settings edits, backends.
pub struct TestAppBuilder<'a> {
    vars: Vec<(String, String)>,
    tunes: Vec<Tune<'a>>,
    backends: Choice<'a>,
}

impl<'a> TestAppBuilder<'a> {
    /// Sets one `QUESTPATH_*` variable (over the test defaults).
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.push((name.to_string(), value.into()));
        self
    }

    /// Sets several `QUESTPATH_*` variables.
    pub fn envs(mut self, vars: &[(impl AsRef<str>, impl AsRef<str>)]) -> Self {
        self.vars.extend(
            vars.iter()
                .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())),
        );
        self
    }

    /// Edits the parsed settings (for values the variables cannot express).
    pub fn tune(mut self, tune: impl FnOnce(&mut Settings) + 'a) -> Self {
        self.tunes.push(Box::new(tune));
        self
    }

    /// Replaces some of the in-process backends (test doubles, a shared store).
    pub fn backends(mut self, customise: impl FnOnce(Backends) -> Backends + 'a) -> Self {
        self.backends = Choice::InProcess(Some(Box::new(customise)));
        self
    }

    /// Opens the backends the settings name (`QUESTPATH_REDIS_URL`,
    /// `QUESTPATH_SCYLLA_*`) as the binary does, and keeps the quiz timings of the
    /// variables: instances of one deployment hand quizzes over to each other, which the
    /// short test timings would cut.
    pub fn configured(mut self) -> Self {
        self.backends = Choice::Configured;
        self
    }

    /// Starts the server on the current actix runtime.
    pub async fn start(self) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut settings = test_settings(data_dir.path(), &vars);
        if matches!(self.backends, Choice::InProcess(_)) {
            short_quiz_timings(&mut settings);
        }
        for tune in self.tunes {
            tune(&mut settings);
        }
        let backends = match self.backends {
            Choice::InProcess(customise) => {
                let store = EmbeddedStore::open(data_dir.path())
                    .await
                    .expect("embedded store");
                let backends = Backends::in_process(Arc::new(store));
                match customise {
                    Some(customise) => customise(backends),
                    None => backends,
                }
            }
            Choice::Configured => Backends::connect(&settings)
                .await
                .expect("the configured backends open"),
        };
        let application =
            Application::build_with(settings, backends.clone()).expect("server builds");
        let port = application.port();
        actix_web::rt::spawn(application.run_until_stopped());
        TestApp {
            endpoint: Endpoint::local(port),
            backends,
            _data_dir: data_dir,
        }
    }
}

/// A server on the test defaults: embedded store, in-process everything.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().start().await
}

/// A server with extra settings variables, whose backends `customise` may replace.
pub async fn spawn_app_with(
    extra: &[(&str, &str)],
    customise: impl FnOnce(Backends) -> Backends,
) -> TestApp {
    TestApp::builder()
        .envs(extra)
        .backends(customise)
        .start()
        .await
}

/// A server whose parsed settings `tune` edits.
pub async fn spawn_app_tuned(tune: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::builder().tune(tune).start().await
}
