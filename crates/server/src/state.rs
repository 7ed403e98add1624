//! Shared application state and the clock.

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::policy::Policy;
use nightpermit_store::{BlobStore, Store};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub policy: Arc<Policy>,
    /// Sealing keys and published certificates.
    pub keys: Arc<nightpermit_seal::KeyDir>,
    /// Rate limits, sign-in locks and the password-hashing pool.
    pub protection: Arc<crate::protection::Protection>,
}

/// Wall-clock milliseconds; tests can shift it to simulate expiry without sleeping.
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock forward (tests only, with the `testing` feature; the real clock is
    /// never changed).
    #[cfg(feature = "testing")]
    pub fn advance_ms(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
