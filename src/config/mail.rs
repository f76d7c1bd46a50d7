//! Email: the SMTP server (none configured: the outbox folder), the sender, where links
//! in mails point, and the email workers.

use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use super::lookup::{Vars, bad};
use super::{ConfigError, Secret};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or a private network only).
    None,
    /// Plain connect, then STARTTLS, required (port 587 by default).
    StartTls,
    /// TLS from the first byte (port 465 by default).
    Tls,
}

impl SmtpTls {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

/// An SMTP server to send through.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User name and password, when the server requires authentication.
    pub credentials: Option<(String, Secret)>,
    /// Connecting and each command may take this long.
    pub timeout: Duration,
}

/// Everything about sending email.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `None`: mails are written to [`EmailSettings::outbox`] as `.eml` files and logged.
    pub smtp: Option<SmtpSettings>,
    /// Where the outbox adapter writes (`<data>/outbox`).
    pub outbox: PathBuf,
    /// The `From:` mailbox, e.g. `QuestPath <noreply@example.org>`.
    pub from: String,
    /// Base URL of the web app that links in mails open (no trailing slash).
    pub public_url: String,
    /// Email workers inside `serve` (0: none, mail waits in the queue).
    pub workers: usize,
    /// Delay before the first retry of a failed mail; doubled per attempt, at most an hour.
    pub retry_delay: Duration,
}

pub(super) fn email(
    vars: &Vars,
    bind: SocketAddr,
    data_dir: &Path,
) -> Result<EmailSettings, ConfigError> {
    Ok(EmailSettings {
        smtp: smtp(vars)?,
        outbox: data_dir.join("outbox"),
        from: from(vars)?,
        public_url: public_url(vars, bind)?,
        workers: vars.ranged(
            "QUESTPATH_EMAIL_WORKERS",
            0..=16,
            "a worker count (0 to 16)",
        )?,
        retry_delay: vars.seconds("QUESTPATH_EMAIL_RETRY_SECS", 0..=3600)?,
    })
}

fn smtp(vars: &Vars) -> Result<Option<SmtpSettings>, ConfigError> {
    let tls_text = vars.or_default("QUESTPATH_SMTP_TLS");
    let tls = match tls_text.to_ascii_lowercase().as_str() {
        "none" => SmtpTls::None,
        "starttls" => SmtpTls::StartTls,
        "tls" => SmtpTls::Tls,
        _ => {
            return Err(bad(
                "QUESTPATH_SMTP_TLS",
                format!("{tls_text:?} is not none, starttls or tls"),
            ));
        }
    };
    let port = match vars.get("QUESTPATH_SMTP_PORT") {
        Some(_) => vars.ranged("QUESTPATH_SMTP_PORT", 1..=65535, "a port (1 to 65535)")?,
        None => tls.default_port(),
    };
    let timeout = vars.seconds("QUESTPATH_SMTP_TIMEOUT_SECS", 1..=300)?;
    let credentials = match (
        vars.get("QUESTPATH_SMTP_USERNAME"),
        vars.get("QUESTPATH_SMTP_PASSWORD"),
    ) {
        (Some(user), Some(password)) => Some((user, Secret::new(password))),
        (None, None) => None,
        (Some(_), None) => {
            return Err(bad(
                "QUESTPATH_SMTP_USERNAME",
                "is set without QUESTPATH_SMTP_PASSWORD",
            ));
        }
        (None, Some(_)) => {
            return Err(bad(
                "QUESTPATH_SMTP_PASSWORD",
                "is set without QUESTPATH_SMTP_USERNAME",
            ));
        }
    };
    let Some(host) = vars.get("QUESTPATH_SMTP_HOST") else {
        return Ok(None);
    };
    if host.contains(['/', ' ', '@']) || host.contains("://") {
        return Err(bad(
            "QUESTPATH_SMTP_HOST",
            format!("{host:?} is not a host name or address"),
        ));
    }
    Ok(Some(SmtpSettings {
        host,
        port,
        tls,
        credentials,
        timeout,
    }))
}

fn from(vars: &Vars) -> Result<String, ConfigError> {
    let text = vars.or_default("QUESTPATH_MAIL_FROM");
    text.parse::<lettre::message::Mailbox>()
        .map(|_| text.clone())
        .map_err(|_| {
            bad(
                "QUESTPATH_MAIL_FROM",
                format!("{text:?} is not a mailbox (e.g. QuestPath <noreply@example.org>)"),
            )
        })
}

fn public_url(vars: &Vars, bind: SocketAddr) -> Result<String, ConfigError> {
    let Some(url) = vars.get("QUESTPATH_PUBLIC_URL") else {
        return Ok(format!("http://{bind}"));
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(['?', '#', ' ']) => {
            Ok(url.trim_end_matches('/').to_string())
        }
        _ => Err(bad(
            "QUESTPATH_PUBLIC_URL",
            format!("{url:?} is not an http(s) URL without query or fragment"),
        )),
    }
}
