//! The links in mails. They open pages of the web client (hash routes), which call the
//! API; only `List-Unsubscribe` points at the API itself, for mail clients' one-click
//! POST (RFC 8058).
//!
//! | mail | link |
//! |---|---|
//! | verification | `{public}/#/verify-email?token=…` → `POST /api/v1/auth/verify-email` |
//! | password reset | `{public}/#/reset-password?token=…` → `POST /api/v1/auth/password-reset/confirm` |
//! | streak, weekly | `{public}/#/unsubscribe?token=…` → `POST /api/v1/email/unsubscribe` |
//! | `List-Unsubscribe` | `{public}/api/v1/email/unsubscribe?token=…` (POST; a GET redirects to the page) |

/// Builds links under the public URL of the web app.
#[derive(Debug, Clone)]
pub struct Links {
    public_url: String,
}

impl Links {
    /// `public_url` without a trailing slash (`QUESTPATH_PUBLIC_URL`).
    pub fn new(public_url: impl Into<String>) -> Self {
        Links {
            public_url: public_url.into().trim_end_matches('/').to_string(),
        }
    }

    /// The web app's start page.
    pub fn app(&self) -> String {
        format!("{}/", self.public_url)
    }

    pub fn verify_email(&self, token: &str) -> String {
        format!("{}/#/verify-email?token={token}", self.public_url)
    }

    pub fn reset_password(&self, token: &str) -> String {
        format!("{}/#/reset-password?token={token}", self.public_url)
    }

    /// The confirmation page a learner opens from a mail's footer.
    pub fn unsubscribe_page(&self, token: &str) -> String {
        format!("{}/#/unsubscribe?token={token}", self.public_url)
    }

    /// The `List-Unsubscribe` target: the API route mail clients POST to.
    pub fn one_click_unsubscribe(&self, token: &str) -> String {
        format!("{}/api/v1/email/unsubscribe?token={token}", self.public_url)
    }
}
