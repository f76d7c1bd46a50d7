//! SMTP through lettre: plain, STARTTLS (required) or implicit TLS, on rustls with the
//! ring provider, server certificates checked against the system's roots; optional
//! authentication. Connections are pooled by lettre.

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::Sender;
use crate::config::{SmtpSettings, SmtpTls};
use questpath_actors::ports::{MailError, Mailer, OutgoingMail};

/// Sends through one SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Sender,
}

impl SmtpMailer {
    /// Builds the transport; nothing connects until the first mail.
    pub fn new(settings: &SmtpSettings, from: &str) -> Result<Self, MailError> {
        let builder = match settings.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
            }
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(|e| MailError::Permanent(format!("smtp tls: {e}")))?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .map_err(|e| MailError::Permanent(format!("smtp tls: {e}")))?,
        };
        let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            sender: Sender::parse(from)?,
        })
    }
}

/// A 5xx answer (or a message the server cannot take) will not change on a retry;
/// anything else (4xx, connection, TLS, timeout) may.
fn classify(error: lettre::transport::smtp::Error) -> MailError {
    if error.is_permanent() {
        MailError::Permanent(error.to_string())
    } else {
        MailError::Transient(error.to_string())
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn backend(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = self.sender.build(mail)?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(classify)
    }
}
