//! The outbox: each mail written to `<data>/outbox/<time>-<message id>.eml` and logged,
//! for a server without SMTP (the embedded default), so a newcomer can open the
//! verification and reset mails with any mail program or read their links as text.
//!
//! The folder and its files are the owner's only (0700 / 0600): reset links in them
//! are as good as a password for 30 minutes.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::Utc;

use super::message::Sender;
use questpath_actors::ports::{MailError, Mailer, OutgoingMail};

/// Writes mails to a folder instead of sending them.
pub struct OutboxMailer {
    dir: PathBuf,
    sender: Sender,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Self, MailError> {
        Ok(OutboxMailer {
            dir: dir.into(),
            sender: Sender::parse(from)?,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Creates the folder (owner only) if needed.
fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file renamed into place, so a reader
/// never sees half a mail.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let partial = path.with_extension("eml.partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}

#[async_trait]
impl Mailer for OutboxMailer {
    fn backend(&self) -> &'static str {
        "outbox"
    }

    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = self.sender.build(mail)?;
        let bytes = message.formatted();
        // The id is a UUID; anything else is kept out of the file name.
        let id: String = mail
            .message_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let name = format!("{}-{id}.eml", Utc::now().format("%Y%m%dT%H%M%S%.3fZ"));
        let dir = self.dir.clone();
        let path = dir.join(name);
        let written = path.clone();
        tokio::task::spawn_blocking(move || {
            ensure_dir(&dir)?;
            write_private(&written, &bytes)
        })
        .await
        .map_err(|e| MailError::Transient(format!("outbox: {e}")))?
        .map_err(|e| MailError::Transient(format!("outbox {}: {e}", path.display())))?;
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            path = %path.display(),
            "mail written to the outbox (no SMTP server configured)"
        );
        Ok(())
    }
}
