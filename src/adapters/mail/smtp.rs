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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::Secret;

    /// An SMTP server on loopback that offers no STARTTLS (and speaks no TLS).
    async fn plain_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let _ = write.write_all(b"220 plain.test ESMTP\r\n").await;
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let answer: &[u8] = if line.to_ascii_uppercase().starts_with("EHLO") {
                            b"250-plain.test\r\n250 AUTH PLAIN\r\n"
                        } else if line.to_ascii_uppercase().starts_with("QUIT") {
                            b"221 bye\r\n"
                        } else {
                            b"250 ok\r\n"
                        };
                        if write.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    fn settings(port: u16, tls: SmtpTls) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls,
            credentials: Some(("mailer".into(), Secret::new("not-sent-in-clear"))),
            timeout: Duration::from_secs(5),
        }
    }

    fn mail() -> OutgoingMail {
        OutgoingMail {
            message_id: uuid::Uuid::now_v7().to_string(),
            to: "ada@example.org".into(),
            subject: "hello".into(),
            text: "hello".into(),
            html: "<p>hello</p>".into(),
            unsubscribe_url: None,
        }
    }

    #[tokio::test]
    async fn required_tls_never_falls_back_to_plain_text() {
        let port = plain_server().await;
        for tls in [SmtpTls::StartTls, SmtpTls::Tls] {
            let mailer =
                SmtpMailer::new(&settings(port, tls), "QuestPath <noreply@questpath.test>")
                    .expect("the transport builds without connecting");
            assert_eq!(mailer.backend(), "smtp");
            // No STARTTLS offered, or no TLS spoken: refused before any credential or
            // message is sent, and worth retrying (the server may be fixed).
            match mailer.send(&mail()).await {
                Err(MailError::Transient(reason)) => assert!(!reason.is_empty()),
                other => panic!("{tls:?}: expected a transient failure, got {other:?}"),
            }
        }
    }

    // The pool spawns its reaper on the runtime, so even building needs one.
    #[tokio::test]
    async fn a_bad_sender_address_is_refused_when_built() {
        let refused = SmtpMailer::new(&settings(25, SmtpTls::None), "not an address");
        assert!(refused.is_err());
    }
}
