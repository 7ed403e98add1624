//! The nightpermit server: JSON API (axum), authentication, configuration and wiring. The app
//! starts from [`app::serve`] with its settings and a bound listener, so tests run the real
//! server on port 0.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod pages;
pub mod protection;
pub mod routes;
pub mod staff;
pub mod state;
pub mod stats;
pub mod upload;
pub mod views;

pub use app::{build_state, serve};
pub use nightpermit_cases::Settings;
pub use state::AppState;
