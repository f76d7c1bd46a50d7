//! Realtime tests with real websocket clients (tokio-tungstenite) against a server on
//! a random loopback port: quizzes, timers, reconnects, devices and abuse.

mod behind_nginx;
mod cluster;
mod leaderboard;
mod metrics;
mod protocol;
mod quiz;
mod room_sources;
mod rooms;
