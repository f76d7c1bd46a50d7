//! Realtime tests with real websocket clients (tokio-tungstenite) against a server on
//! a random loopback port: quizzes, timers, reconnects, devices and abuse.

mod helpers;
mod protocol;
mod quiz;
