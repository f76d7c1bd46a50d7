//! Realtime tests with real websocket clients (tokio-tungstenite) against a server on
//! a random loopback port: quizzes, timers, reconnects, devices and abuse.

mod behind_nginx;
mod cluster;
mod leaderboard;
mod leagues;
mod metrics;
mod notifications;
mod protocol;
mod quiz;
// ---- one owner per solo quiz (issue 16) ----
mod quiz_owner;
mod redis_cluster;
mod room_moves;
mod room_sources;
mod rooms;
