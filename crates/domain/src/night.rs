//! Night windows: which nights, and which hours of each night, work is requested for.
//!
//! Night is 22:00–06:00 (Noise Pollution Prevention Law, 2022). A night is named by the date on
//! which it begins, so "2026-12-01, 22:00–04:00" ends at 04:00 on 2 December.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

pub const NIGHT_START: NaiveTime = match NaiveTime::from_hms_opt(22, 0, 0) {
    Some(t) => t,
    None => panic!("22:00 is a valid time"),
};
pub const NIGHT_END: NaiveTime = match NaiveTime::from_hms_opt(6, 0, 0) {
    Some(t) => t,
    None => panic!("06:00 is a valid time"),
};

/// No single application may ask for more nights than this; longer works apply again.
pub const MAX_NIGHTS_PER_APPLICATION: i64 = 31;

const NIGHT_MINUTES: i64 = 8 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NightWindowError {
    #[error("日期格式应为YYYY-MM-DD：“{0}”")]
    BadDate(String),
    #[error("时间格式应为HH:MM：“{0}”")]
    BadTime(String),
    #[error("结束日期不能早于开始日期")]
    EndBeforeStart,
    #[error("每晚作业时段必须在22:00至次日06:00之间：“{0}”")]
    OutsideNight(String),
    #[error("每晚结束时间必须晚于开始时间（可跨零点）")]
    EmptyNightlySpan,
    #[error("单次申请最多{MAX_NIGHTS_PER_APPLICATION}个夜晚，实际{0}个")]
    TooManyNights(i64),
}

/// A validated request for night work: a date range and the hours of each night, all inside
/// 22:00–06:00, the nightly end after the start (possibly past midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightWindow {
    start_date: NaiveDate,
    end_date: NaiveDate,
    nightly_start: NaiveTime,
    nightly_end: NaiveTime,
}

/// Minutes from the 22:00 that begins a night to `t` (02:00 → 240, 23:00 → 60): clock times of
/// one night ordered across midnight.
pub fn minutes_after_night_start(t: NaiveTime) -> i64 {
    let since_start = (t - NIGHT_START).num_minutes();
    if since_start >= 0 {
        since_start
    } else {
        since_start + 24 * 60
    }
}

/// Minutes after 22:00 of the same night, or `None` if the time is not at night.
/// `is_end` lets 06:00 close a night but not open one, and 22:00 open a night but not close one.
fn minutes_into_night(t: NaiveTime, is_end: bool) -> Option<i64> {
    let offset = minutes_after_night_start(t);
    let inside = if is_end { offset > 0 && offset <= NIGHT_MINUTES } else { offset < NIGHT_MINUTES };
    inside.then_some(offset)
}

/// True if `s` has exactly the digits and separators of `pattern` (`d` = an ASCII digit).
fn shaped(s: &str, pattern: &str) -> bool {
    s.len() == pattern.len()
        && s.bytes().zip(pattern.bytes()).all(|(c, p)| if p == b'd' { c.is_ascii_digit() } else { c == p })
}

/// A date exactly as `YYYY-MM-DD`. chrono alone also takes `2027-2-5`, which then sorts wrong
/// wherever dates are compared as text.
pub fn parse_date(s: &str) -> Result<NaiveDate, NightWindowError> {
    if !shaped(s, "dddd-dd-dd") {
        return Err(NightWindowError::BadDate(s.into()));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| NightWindowError::BadDate(s.into()))
}

/// A clock time exactly as `HH:MM` (00–23, 00–59).
pub fn parse_clock(s: &str) -> Result<NaiveTime, NightWindowError> {
    if !shaped(s, "dd:dd") {
        return Err(NightWindowError::BadTime(s.into()));
    }
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| NightWindowError::BadTime(s.into()))
}

impl NightWindow {
    pub fn new(
        start_date: NaiveDate,
        end_date: NaiveDate,
        nightly_start: NaiveTime,
        nightly_end: NaiveTime,
    ) -> Result<Self, NightWindowError> {
        if end_date < start_date {
            return Err(NightWindowError::EndBeforeStart);
        }
        let start = minutes_into_night(nightly_start, false)
            .ok_or_else(|| NightWindowError::OutsideNight(nightly_start.format("%H:%M").to_string()))?;
        let end = minutes_into_night(nightly_end, true)
            .ok_or_else(|| NightWindowError::OutsideNight(nightly_end.format("%H:%M").to_string()))?;
        if end <= start {
            return Err(NightWindowError::EmptyNightlySpan);
        }
        let window = Self { start_date, end_date, nightly_start, nightly_end };
        if window.nights() > MAX_NIGHTS_PER_APPLICATION {
            return Err(NightWindowError::TooManyNights(window.nights()));
        }
        Ok(window)
    }

    /// Parses the API's text form (`YYYY-MM-DD`, `HH:MM`).
    pub fn parse(
        start_date: &str,
        end_date: &str,
        nightly_start: &str,
        nightly_end: &str,
    ) -> Result<Self, NightWindowError> {
        Self::new(
            parse_date(start_date)?,
            parse_date(end_date)?,
            parse_clock(nightly_start)?,
            parse_clock(nightly_end)?,
        )
    }

    pub fn start_date(&self) -> NaiveDate {
        self.start_date
    }
    pub fn end_date(&self) -> NaiveDate {
        self.end_date
    }
    pub fn nightly_start(&self) -> NaiveTime {
        self.nightly_start
    }
    pub fn nightly_end(&self) -> NaiveTime {
        self.nightly_end
    }

    /// Number of nights, counting both the first and the last.
    pub fn nights(&self) -> i64 {
        (self.end_date - self.start_date).num_days() + 1
    }

    /// Working minutes in each night.
    pub fn nightly_minutes(&self) -> i64 {
        let start = minutes_into_night(self.nightly_start, false).unwrap_or(0);
        let end = minutes_into_night(self.nightly_end, true).unwrap_or(0);
        end - start
    }

    /// The concrete local start and end of every permitted night, in order.
    pub fn intervals(&self) -> Vec<(NaiveDateTime, NaiveDateTime)> {
        let start_offset = minutes_into_night(self.nightly_start, false).unwrap_or(0);
        (0..self.nights())
            .map(|i| {
                let night = (self.start_date + Duration::days(i)).and_time(NIGHT_START);
                let start = night + Duration::minutes(start_offset);
                (start, start + Duration::minutes(self.nightly_minutes()))
            })
            .collect()
    }

    /// Whether work at this local moment is inside the window.
    pub fn covers(&self, at: NaiveDateTime) -> bool {
        self.intervals().iter().any(|(s, e)| *s <= at && at < *e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(a: &str, b: &str, s: &str, e: &str) -> Result<NightWindow, NightWindowError> {
        NightWindow::parse(a, b, s, e)
    }

    #[test]
    fn crossing_midnight_counts_nights_and_minutes() {
        let w = window("2026-12-01", "2026-12-03", "22:00", "04:00").expect("valid");
        assert_eq!(w.nights(), 3);
        assert_eq!(w.nightly_minutes(), 360);
        let iv = w.intervals();
        assert_eq!(iv.len(), 3);
        assert_eq!(iv[2].1.to_string(), "2026-12-04 04:00:00");
        assert!(w.covers(parse_date("2026-12-02").expect("date").and_hms_opt(3, 59, 0).expect("t")));
        assert!(!w.covers(parse_date("2026-12-04").expect("date").and_hms_opt(4, 0, 0).expect("t")));
        assert!(!w.covers(parse_date("2026-11-30").expect("date").and_hms_opt(23, 0, 0).expect("t")));
    }

    #[test]
    fn single_night_and_whole_night() {
        let w = window("2026-12-01", "2026-12-01", "22:00", "06:00").expect("valid");
        assert_eq!(w.nights(), 1);
        assert_eq!(w.nightly_minutes(), 480);
        let after_midnight = window("2026-12-01", "2026-12-01", "00:30", "05:00").expect("valid");
        assert_eq!(after_midnight.nightly_minutes(), 270);
        let before_midnight = window("2026-12-01", "2026-12-01", "22:30", "23:45").expect("valid");
        assert_eq!(before_midnight.nightly_minutes(), 75);
    }

    #[test]
    fn hours_outside_the_night_are_rejected() {
        assert!(matches!(window("2026-12-01", "2026-12-01", "21:00", "04:00"), Err(NightWindowError::OutsideNight(_))));
        assert!(matches!(window("2026-12-01", "2026-12-01", "22:00", "07:00"), Err(NightWindowError::OutsideNight(_))));
        assert!(matches!(window("2026-12-01", "2026-12-01", "06:00", "06:00"), Err(NightWindowError::OutsideNight(_))));
        assert!(matches!(window("2026-12-01", "2026-12-01", "22:00", "22:00"), Err(NightWindowError::OutsideNight(_))));
        assert!(matches!(window("2026-12-01", "2026-12-01", "12:00", "13:00"), Err(NightWindowError::OutsideNight(_))));
    }

    #[test]
    fn end_must_follow_start() {
        assert_eq!(window("2026-12-03", "2026-12-01", "22:00", "04:00"), Err(NightWindowError::EndBeforeStart));
        assert_eq!(window("2026-12-01", "2026-12-01", "03:00", "01:00"), Err(NightWindowError::EmptyNightlySpan));
        assert_eq!(window("2026-12-01", "2026-12-01", "01:00", "23:00"), Err(NightWindowError::EmptyNightlySpan));
    }

    #[test]
    fn malformed_text_is_rejected() {
        assert!(matches!(window("2026-13-01", "2026-12-01", "22:00", "04:00"), Err(NightWindowError::BadDate(_))));
        assert!(matches!(window("2026-12-01", "2026-12-01", "22:00:00", "04:00"), Err(NightWindowError::BadTime(_))));
        assert!(matches!(window("2026-12-01", "2026-12-01", "10pm", "04:00"), Err(NightWindowError::BadTime(_))));
    }

    #[test]
    fn too_many_nights() {
        assert!(window("2026-12-01", "2026-12-31", "22:00", "04:00").is_ok());
        assert_eq!(window("2026-12-01", "2027-01-01", "22:00", "04:00"), Err(NightWindowError::TooManyNights(32)));
    }

    #[test]
    fn dates_and_times_only_in_their_exact_form() {
        assert!(parse_date("2027-02-05").is_ok());
        for bad in ["2027-2-5", "2027-02-5", " 2027-02-05", "2027/02/05", "27-02-05", "2027-02-30", "２０２７-02-05"]
        {
            assert_eq!(parse_date(bad), Err(NightWindowError::BadDate(bad.into())), "{bad}");
        }
        assert!(parse_clock("22:00").is_ok());
        for bad in ["2:00", "22:0", "24:00", "22:60", "22-00", " 2200", "22:00 "] {
            assert_eq!(parse_clock(bad), Err(NightWindowError::BadTime(bad.into())), "{bad}");
        }
    }
}
