//! Wiring: binds the listener, builds the app with its state, and runs it.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::auth::google::GoogleVerifier;
use crate::auth::service::AuthService;
use crate::auth::tokens::TokenKeys;
use crate::backends::{BackendError, Backends};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("signing key: {0}")]
    SigningKey(std::io::Error),
    #[error("google sign-in: {0}")]
    Google(crate::auth::google::GoogleError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    backends: Backends,
}

impl Application {
    /// Opens the configured backends and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let backends = Backends::connect(&settings).await?;
        Self::build_with(settings, backends)
    }

    /// Binds the listener over already opened backends (tests inject their own).
    pub fn build_with(settings: Settings, backends: Backends) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(settings.bind).map_err(|source| StartupError::Bind {
            address: settings.bind.to_string(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                address: settings.bind.to_string(),
                source,
            })?
            .port();
        let signing_key =
            crate::secrets::signing_key(&settings).map_err(StartupError::SigningKey)?;
        let google = match &settings.google {
            Some(google) => Some(Arc::new(
                GoogleVerifier::new(google).map_err(StartupError::Google)?,
            )),
            None => None,
        };
        let auth = AuthService::new(
            backends.store.clone(),
            backends.cache.clone(),
            TokenKeys::new(&signing_key),
            google,
        );
        let state = web::Data::new(AppState {
            settings: Arc::new(settings.clone()),
            backends: backends.clone(),
            metrics: Arc::new(Metrics::new()?),
            auth,
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(crate::http::middleware::observe))
                .configure(crate::http::configure)
        })
        .shutdown_timeout(settings.shutdown_timeout.as_secs());
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                address: settings.bind.to_string(),
                source,
            })?
            .run();
        Ok(Application {
            port,
            server,
            backends,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server, as SIGTERM does.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM, SIGINT or [`ServerHandle::stop`]: stops accepting, lets
    /// in-flight requests finish within the shutdown timeout, then closes the backends.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.backends.shutdown().await;
        result
    }
}
