//! The MIME message of an [`OutgoingMail`]: `multipart/alternative` with the plain
//! text first and the HTML second, a `Message-ID` from the mail's id, and the
//! one-click unsubscribe headers of RFC 8058 when the mail has an unsubscribe URL.

use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use questpath_actors::ports::{MailError, OutgoingMail};

/// `List-Unsubscribe: <url>` (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): mail clients may
/// unsubscribe with one POST to the `List-Unsubscribe` URL, without opening a page.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}

/// The sender, parsed once.
#[derive(Debug, Clone)]
pub struct Sender {
    from: Mailbox,
    /// The domain that ends Message-IDs (the sender's).
    domain: String,
}

impl Sender {
    /// `from` is a mailbox such as `QuestPath <noreply@example.org>`.
    pub fn parse(from: &str) -> Result<Self, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Permanent(format!("sender {from:?}: {e}")))?;
        let domain = from.email.domain().to_string();
        Ok(Sender { from, domain })
    }

    /// The message to send: a malformed recipient is a permanent failure.
    pub fn build(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Permanent(format!("recipient {:?}: {e}", mail.to)))?;
        let mut builder = Message::builder()
            .message_id(Some(format!("<{}@{}>", mail.message_id, self.domain)))
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .date_now();
        if let Some(url) = &mail.unsubscribe_url {
            builder = builder
                .header(ListUnsubscribe(url.clone()))
                .header(ListUnsubscribePost);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Permanent(format!("message: {e}")))
    }
}
