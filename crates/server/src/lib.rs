//! The nightpermit server: JSON API (axum), authentication, configuration and wiring. The app
//! starts from [`app::serve`] with its settings and a bound listener, so tests run the real
//! server on port 0.
#![forbid(unsafe_code)]

pub mod aftercare;
pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod facts;
pub mod form;
pub mod grades;
pub mod metrics;
pub mod notify;
pub mod pages;
pub mod policy;
pub mod protection;
pub mod routes;
pub mod sealing;
pub mod staff;
pub mod state;
pub mod stats;
pub mod upload;
pub mod views;
pub mod worker;

pub use app::{build_state, open_store, serve, shutdown_signal};
pub use config::Settings;
pub use state::AppState;
