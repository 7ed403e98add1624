//! Time as the service reckons it: instants in Unix milliseconds, shown and judged in Shanghai
//! wall-clock time.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Asia/Shanghai has had no daylight saving since 1991: a fixed +08:00 is exact.
pub fn shanghai() -> FixedOffset {
    const SHANGHAI: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
        Some(offset) => offset,
        None => panic!("+08:00 is a valid offset"),
    };
    SHANGHAI
}

/// RFC 3339 with the Shanghai offset, as every time in the API is given.
pub fn rfc3339(ms: i64) -> String {
    shanghai()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_default()
}

/// The Shanghai wall-clock time of an instant given in Unix milliseconds.
pub fn shanghai_local(ms: i64) -> NaiveDateTime {
    shanghai().timestamp_millis_opt(ms).single().map(|t| t.naive_local()).unwrap_or_default()
}

/// Unix milliseconds of a Shanghai wall-clock time.
pub fn shanghai_millis(local: NaiveDateTime) -> Option<i64> {
    shanghai().from_local_datetime(&local).single().map(|t| t.timestamp_millis())
}

pub fn shanghai_today(now_ms: i64) -> NaiveDate {
    shanghai_local(now_ms).date()
}

/// The date "tonight" began in Shanghai: today after 06:00, yesterday before 06:00 (the night
/// that began at 22:00 yesterday is still going on).
pub fn tonight(now_ms: i64) -> NaiveDate {
    let now = shanghai_local(now_ms);
    let date = now.date();
    if now.time() < nightpermit_domain::NIGHT_END {
        date.pred_opt().unwrap_or(date)
    } else {
        date
    }
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
