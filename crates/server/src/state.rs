//! Shared state of the HTTP layer: the case lifecycle's state plus what only the server needs
//! (metrics, abuse protection).

use crate::metrics::Metrics;
use nightpermit_cases::Cases;
use std::sync::Arc;

pub use nightpermit_cases::Clock;

#[derive(Clone)]
pub struct AppState {
    /// Settings, storage, clock, policy and keys: what the lifecycle runs on. The fields are
    /// reached through `Deref` (`state.store`, `state.settings`), as handlers use them. Behind
    /// one `Arc` because every request clones the state several times (router, middleware).
    pub cases: Arc<Cases>,
    pub metrics: Arc<Metrics>,
    /// Rate limits, sign-in locks and the password-hashing pool.
    pub protection: Arc<crate::protection::Protection>,
}

impl std::ops::Deref for AppState {
    type Target = Cases;
    fn deref(&self) -> &Cases {
        &self.cases
    }
}
