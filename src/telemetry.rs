//! Logging: JSON lines by default (one object per event, carrying the fields of the
//! current span, so every line of a request has its `request_id`), pretty on request.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Builds the subscriber; tests pass their own writer to capture the output.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // The filter was validated with the rest of the configuration.
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Pretty => Box::new(builder.pretty().finish()),
    }
}

/// Installs the process-wide subscriber, writing to stdout. Call once.
pub fn init(format: LogFormat, filter: &str) {
    let _ = tracing::subscriber::set_global_default(subscriber(format, filter, std::io::stdout));
}
