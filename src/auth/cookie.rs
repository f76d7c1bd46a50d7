//! The refresh-token cookie: httpOnly (scripts cannot read it), SameSite=Lax, Secure
//! when configured (always in production), path `/` so the legacy and v1 refresh
//! routes both receive it.

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};

/// Cookie name, as the old backend and frontend use it.
pub const NAME: &str = "refresh_token";

/// The cookie carrying a new refresh token.
pub fn set(token: &str, expires_at: DateTime<Utc>, secure: bool) -> Cookie<'static> {
    // Rounded up: a token issued a few milliseconds ago still shows its full lifetime.
    let max_age = ((expires_at - Utc::now()).num_milliseconds().max(0) + 999) / 1000;
    Cookie::build(NAME, token.to_string())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

/// A cookie that removes the refresh token from the browser.
pub fn clear(secure: bool) -> Cookie<'static> {
    let mut cookie = set("", Utc::now(), secure);
    cookie.make_removal();
    cookie
}

/// The refresh token the request carries.
pub fn read(req: &HttpRequest) -> Option<String> {
    req.cookie(NAME).map(|c| c.value().to_string())
}
