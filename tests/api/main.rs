//! HTTP API tests: a real server on a random loopback port, a real HTTP client.
//! One binary for all API tests (module list only here).

mod auth;
mod data_rights;
mod edges;
mod email;
mod engagement;
mod generation;
mod goals;
mod health;
mod leaderboard;
mod leagues;
mod legacy_auth;
mod legacy_goals;
mod legacy_quiz;
mod metrics;
mod notifications;
mod openapi;
mod quizzes;
mod streaks;
mod tickets;
mod web_app;
