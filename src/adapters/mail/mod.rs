//! Mailer adapters: SMTP through lettre, and the outbox folder of `.eml` files used when
//! no SMTP server is configured. Both build the message the same way ([`message`]), so
//! what lands in the outbox is byte for byte what SMTP would send.

pub mod message;
pub mod outbox;
pub mod smtp;

pub use outbox::OutboxMailer;
pub use smtp::SmtpMailer;
