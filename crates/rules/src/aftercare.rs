//! After-care arithmetic, kept pure so it can be tested without a database: complaint deadlines
//! by the 1/3/10/15-day rule over calendar or working days, address comparison for matching a
//! complaint to permits, and the seeded weighted draw of double-random inspections.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Whether complaint deadlines count every day or only working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    #[default]
    Working,
    Calendar,
}

/// Which days are working days: Monday to Friday, except public holidays, plus the weekend days
/// declared working days (调休上班) in the calendar.
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    pub holidays: BTreeSet<NaiveDate>,
    pub workdays: BTreeSet<NaiveDate>,
}

impl WorkCalendar {
    pub fn new(holidays: &[NaiveDate], workdays: &[NaiveDate]) -> Self {
        Self { holidays: holidays.iter().copied().collect(), workdays: workdays.iter().copied().collect() }
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.workdays.contains(&d) {
            return true;
        }
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&d)
    }

    /// The day on which a period of `days` days starting the day after `received` ends: with
    /// working days, weekends and holidays are not counted (a complaint received on a Friday
    /// with a one-working-day limit is due on Monday).
    pub fn add_days(&self, received: NaiveDate, days: u32, kind: DayKind) -> NaiveDate {
        match kind {
            DayKind::Calendar => received + Duration::days(i64::from(days)),
            DayKind::Working => {
                let mut d = received;
                let mut left = days;
                // Bounded: a calendar can hold at most so many holidays in a row.
                let mut guard = 0;
                while left > 0 && guard < 3660 {
                    d += Duration::days(1);
                    guard += 1;
                    if self.is_working_day(d) {
                        left -= 1;
                    }
                }
                d
            }
        }
    }
}

/// The four limits of the 1/3/10/15-day rule, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDays {
    pub contact: u32,
    pub inspect: u32,
    pub check: u32,
    pub conclude: u32,
}

impl Default for StepDays {
    fn default() -> Self {
        Self { contact: 1, inspect: 3, check: 10, conclude: 15 }
    }
}

/// When each step is due: the end (23:59:59, local) of its last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub contact_by: NaiveDateTime,
    pub inspect_by: NaiveDateTime,
    pub check_by: NaiveDateTime,
    pub conclude_by: NaiveDateTime,
}

pub fn deadlines(received: NaiveDateTime, steps: StepDays, kind: DayKind, calendar: &WorkCalendar) -> Deadlines {
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
    let at = |days| calendar.add_days(received.date(), days, kind).and_time(end_of_day);
    Deadlines {
        contact_by: at(steps.contact),
        inspect_by: at(steps.inspect),
        check_by: at(steps.check),
        conclude_by: at(steps.conclude),
    }
}

/// An address reduced to what identifies the place: full-width letters and digits made
/// half-width, spaces and punctuation dropped, the city and the district name left out (people
/// write "静安区某路100号", "上海市静安区某路 100 号" or "某路１００号" for one site).
pub fn normalise_address(address: &str, district_name: &str) -> String {
    let half: String = address
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    let mut s = half.as_str();
    for prefix in ["中国", "上海市", "上海"] {
        s = s.strip_prefix(prefix).unwrap_or(s);
    }
    s = s.strip_prefix(district_name).unwrap_or(s);
    s.to_string()
}

/// Whether a complaint's address names a permit's site: equal once normalised, or one contains
/// the other ("某路100号" and "某路100号东门"), but never on a fragment too short to name a
/// place (a bare "某路" would match every site on the road).
pub fn addresses_match(complaint: &str, permit: &str, district_name: &str) -> bool {
    const MIN_CHARS: usize = 4;
    let a = normalise_address(complaint, district_name);
    let b = normalise_address(permit, district_name);
    if a.chars().count() < MIN_CHARS || b.chars().count() < MIN_CHARS {
        return false;
    }
    a == b || a.contains(&b) || b.contains(&a)
}

/// A weighted draw without replacement from `weights` (one per candidate, in a fixed order),
/// then each drawn candidate given one of `inspectors` (shuffled, then in turn, so the work is
/// spread evenly and nobody chooses whom they inspect). The same seed, frame and inspectors give
/// the same draw: integers only, so no floating-point rounding can differ between machines.
/// Returns (candidate index, inspector index) pairs in draw order.
pub fn draw(seed: u64, weights: &[u32], count: usize, inspectors: usize) -> Vec<(usize, usize)> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut left: Vec<(usize, u64)> =
        weights.iter().enumerate().filter(|(_, w)| **w > 0).map(|(i, w)| (i, u64::from(*w))).collect();
    let mut drawn = Vec::new();
    while drawn.len() < count && !left.is_empty() {
        let total: u64 = left.iter().map(|(_, w)| w).sum();
        let mut ticket = rng.gen_range(0..total);
        let mut pick = left.len() - 1;
        for (k, (_, w)) in left.iter().enumerate() {
            if ticket < *w {
                pick = k;
                break;
            }
            ticket -= w;
        }
        drawn.push(left.remove(pick).0);
    }
    let mut order: Vec<usize> = (0..inspectors).collect();
    order.shuffle(&mut rng);
    drawn.into_iter().enumerate().map(|(n, c)| (c, if order.is_empty() { 0 } else { order[n % order.len()] })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn shanghai_2026() -> WorkCalendar {
        // Labour Day 2026: 1-5 May off (the config lists 1-3; the test adds 4-5), with the
        // weekend 9 May a working day.
        WorkCalendar::new(
            &[d("2026-05-01"), d("2026-05-02"), d("2026-05-03"), d("2026-05-04"), d("2026-05-05")],
            &[d("2026-05-09")],
        )
    }

    #[test]
    fn working_days_skip_the_weekend() {
        let cal = WorkCalendar::default();
        // Friday 27 Nov 2026: one working day -> Monday; three -> Wednesday.
        let fri = d("2026-11-27");
        assert_eq!(cal.add_days(fri, 1, DayKind::Working), d("2026-11-30"));
        assert_eq!(cal.add_days(fri, 3, DayKind::Working), d("2026-12-02"));
        assert_eq!(cal.add_days(fri, 1, DayKind::Calendar), d("2026-11-28"));
        // Received on a Saturday: the first working day is Monday.
        assert_eq!(cal.add_days(d("2026-11-28"), 1, DayKind::Working), d("2026-11-30"));
    }

    #[test]
    fn working_days_skip_holidays_and_count_make_up_days() {
        let cal = shanghai_2026();
        // Thursday 30 April: 1 working day jumps the whole holiday to Wednesday 6 May.
        assert_eq!(cal.add_days(d("2026-04-30"), 1, DayKind::Working), d("2026-05-06"));
        // 3 working days: 6, 7, 8 May; 4: Saturday 9 May is a working day.
        assert_eq!(cal.add_days(d("2026-04-30"), 3, DayKind::Working), d("2026-05-08"));
        assert_eq!(cal.add_days(d("2026-04-30"), 4, DayKind::Working), d("2026-05-09"));
        let dl =
            deadlines(d("2026-04-30").and_hms_opt(23, 30, 0).expect("t"), StepDays::default(), DayKind::Working, &cal);
        assert_eq!(dl.contact_by.to_string(), "2026-05-06 23:59:59");
        // 6-8 May, Saturday 9 May, 11-15 and 18-22 May make 14; the 15th is Monday 25 May.
        assert_eq!(dl.conclude_by.date(), d("2026-05-25"));
    }

    #[test]
    fn addresses_are_compared_as_places() {
        let n = "静安区";
        assert!(addresses_match("上海市静安区某路 100 号", "静安区某路100号", n));
        assert!(addresses_match("某路１００号东门", "上海市静安区某路100号", n));
        assert!(!addresses_match("某路", "静安区某路100号", n));
        assert!(!addresses_match("某路200号", "静安区某路100号", n));
    }

    #[test]
    fn the_draw_is_reproducible_and_weighted() {
        let weights = [6, 1, 6, 1, 3];
        assert_eq!(draw(42, &weights, 3, 4), draw(42, &weights, 3, 4));
        assert_ne!(
            (0..20).map(|s| draw(s, &weights, 3, 4)).collect::<Vec<_>>()[..10],
            (0..20).map(|s| draw(s + 1000, &weights, 3, 4)).collect::<Vec<_>>()[..10]
        );
        // No candidate twice; never more than the frame.
        let all = draw(7, &weights, 10, 2);
        assert_eq!(all.len(), 5);
        let mut seen: Vec<_> = all.iter().map(|(c, _)| *c).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        // Over many seeds, one red (6) against one green (1), one drawn: red ~ 6/7 of the time.
        let runs = 4000;
        let red = (0..runs).filter(|s| draw(*s, &[6, 1], 1, 1)[0].0 == 0).count();
        let share = red as f64 / runs as f64;
        assert!((share - 6.0 / 7.0).abs() < 0.03, "red drawn {share:.3} of the time");
        // Inspectors are spread: 4 drawn among 2 inspectors -> 2 each.
        let spread = draw(9, &[1, 1, 1, 1], 4, 2);
        assert_eq!(spread.iter().filter(|(_, i)| *i == 0).count(), 2);
    }
}
