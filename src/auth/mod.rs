//! Authentication: passwords, access tokens, refresh-token rotation, Google sign-in,
//! websocket tickets and brute-force protection.

pub mod cookie;
pub mod google;
pub mod lockout;
pub mod password;
pub mod secret_token;
pub mod service;
pub mod tokens;
