//! Logging: JSON lines by default (one object per event, carrying the fields of the
//! current span, so every line of a request has its `request_id`, `route` and, once the
//! caller is authenticated, `user_id`), pretty on request.
//!
//! Error tracking: when `QUESTPATH_SENTRY_DSN` is set, `error!` events and panics go to
//! Sentry as well (warnings and info lines ride along as breadcrumbs). Without a DSN no
//! client exists and nothing is sent anywhere.
//!
//! The access log's budget for successful, fast requests: [`access_log`].

pub mod access_log;

use std::borrow::Cow;

use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::config::{Environment, LogFormat, Settings};

/// Builds the subscriber; tests pass their own writer to capture the output. With
/// `sentry`, events also feed the Sentry client bound by [`init_sentry`].
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
    sentry: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // The filter was validated with the rest of the configuration.
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Errors become Sentry events; info and warnings ride along as their breadcrumbs.
    let errors = sentry.then(|| ErrorLayer::new().with_filter(LevelFilter::ERROR));
    let breadcrumbs = sentry.then(|| BreadcrumbLayer::new().with_filter(LevelFilter::INFO));
    let base = tracing_subscriber::registry()
        .with(filter)
        .with(errors)
        .with(breadcrumbs);
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            base.with(
                layer
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            ),
        ),
        LogFormat::Pretty => Box::new(base.with(layer.pretty())),
    }
}

/// Starts error reporting and installs the process-wide subscriber, writing to stdout.
/// Call once; keep the returned guard until exit (dropping it flushes what is queued).
pub fn init(settings: &Settings) -> Option<sentry::ClientInitGuard> {
    let guard = init_sentry(settings);
    let _ = tracing::subscriber::set_global_default(subscriber(
        settings.log_format,
        &settings.log_filter,
        std::io::stdout,
        guard.is_some(),
    ));
    guard
}

/// Binds a Sentry client when a DSN is configured (`None` otherwise: no client, no
/// network). Events carry the release (`questpath@version+commit`) and the environment;
/// no personal data is attached by the client itself.
pub fn init_sentry(settings: &Settings) -> Option<sentry::ClientInitGuard> {
    let guard = sentry::init(sentry_options(settings)?);
    install_panic_hook();
    Some(guard)
}

/// The Sentry client's options, when a DSN is configured.
pub fn sentry_options(settings: &Settings) -> Option<sentry::ClientOptions> {
    let dsn = settings.sentry_dsn.as_ref()?.expose().parse().ok()?;
    // `ClientOptions` is non-exhaustive: set the fields on the defaults.
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(Cow::Owned(format!(
        "questpath@{}+{}",
        env!("CARGO_PKG_VERSION"),
        env!("QUESTPATH_COMMIT")
    )));
    options.environment = Some(Cow::Borrowed(match settings.environment {
        Environment::Development => "development",
        Environment::Production => "production",
    }));
    options.send_default_pii = false;
    Some(options)
}

/// Reports panics (with where they happened) before the usual hook prints them. Kept
/// here instead of sentry's panic integration, which needs the `backtrace` crate and
/// its DWARF readers: a large build for a stack trace the log line mostly gives.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        sentry::capture_message(
            &format!("panic at {location}: {message}"),
            sentry::Level::Fatal,
        );
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::time::Duration;

    /// An error logged through the subscriber reaches the DSN's host as an envelope,
    /// through the client `init_sentry` would bind (bound to this test's hub only, so
    /// other tests in the process are not reported).
    #[test]
    fn errors_are_sent_to_the_configured_dsn() {
        crate::tls::install_crypto_provider();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // A stand-in for Sentry: answers 200 to the first request and returns it.
        let server = std::thread::spawn(move || {
            // Bounded: a client that never sends fails the test instead of hanging it.
            listener.set_nonblocking(true).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            let mut socket = loop {
                match listener.accept() {
                    Ok((socket, _)) => break socket,
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(e) => panic!("nothing was sent to the DSN: {e}"),
                }
            };
            socket.set_nonblocking(false).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut received = Vec::new();
            let mut chunk = [0u8; 8192];
            while !String::from_utf8_lossy(&received).contains("the roadmap could not be saved") {
                let n = socket.read(&mut chunk).unwrap();
                assert!(n > 0, "connection closed early");
                received.extend_from_slice(&chunk[..n]);
            }
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            String::from_utf8_lossy(&received).into_owned()
        });
        let dsn = format!("http://public@127.0.0.1:{port}/7");
        let settings =
            Settings::from_lookup(|name| (name == "QUESTPATH_SENTRY_DSN").then(|| dsn.clone()))
                .unwrap();
        // As `sentry::init` does: the default transport comes with the defaults.
        let options = sentry::apply_defaults(sentry_options(&settings).unwrap());
        let client = Arc::new(sentry::Client::from(options));
        let hub = Arc::new(sentry::Hub::new(
            Some(client.clone()),
            Arc::new(sentry::Scope::default()),
        ));
        let subscriber = subscriber(LogFormat::Json, "info", std::io::sink, true);
        sentry::Hub::run(hub, || {
            tracing::subscriber::with_default(subscriber, || {
                tracing::info!("a breadcrumb before the error");
                tracing::error!(code = 42, "the roadmap could not be saved");
            })
        });
        assert!(client.flush(Some(Duration::from_secs(10))));

        let request = server.join().unwrap();
        assert!(request.starts_with("POST /api/7/envelope/"), "{request}");
        assert!(
            request.contains("a breadcrumb before the error"),
            "{request}"
        );
        assert!(request.contains("questpath@"), "release missing: {request}");
    }

    #[test]
    fn no_dsn_means_no_client() {
        let settings = Settings::from_lookup(|_| None).unwrap();
        assert!(init_sentry(&settings).is_none());
        assert!(sentry::Hub::current().client().is_none());
    }
}
