//! Authentication: passwords, access tokens, refresh-token rotation, Google sign-in,
//! websocket tickets and brute-force protection; email verification and password reset
//! (`email`).

pub mod cookie;
pub mod email;
pub mod google;
pub mod lockout;
pub mod password;
pub mod secret_token;
pub mod service;
pub mod tokens;
