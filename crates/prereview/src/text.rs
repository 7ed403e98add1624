//! Text as OCR read it — every character with its confidence — and the comparisons that use
//! that evidence: a mismatch on a confidently read character is a real difference, a mismatch
//! only on doubtful characters is uncertain.

use crate::findings::Region;
use chrono::{Datelike, NaiveDate, NaiveTime};
use nightpermit_domain::{CreditCode, CREDIT_CODE_ALPHABET};
use regex::Regex;
use std::sync::OnceLock;

/// Tesseract confidence (0–100) from which a character counts as confidently read.
pub const SURE: f32 = 80.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OcrChar {
    pub ch: char,
    pub conf: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    pub chars: Vec<OcrChar>,
    pub region: Option<Region>,
}

impl OcrLine {
    /// A line known for certain (a PDF text layer, or a test sample).
    pub fn certain(text: &str, region: Option<Region>) -> Self {
        Self::with_conf(text, 100.0, region)
    }

    pub fn with_conf(text: &str, conf: f32, region: Option<Region>) -> Self {
        OcrLine { chars: text.chars().map(|ch| OcrChar { ch, conf }).collect(), region }
    }

    pub fn text(&self) -> String {
        self.chars.iter().map(|c| c.ch).collect()
    }
}

/// The mean confidence of some characters (0 for none).
pub fn mean_confidence(chars: &[OcrChar]) -> f32 {
    if chars.is_empty() {
        0.0
    } else {
        chars.iter().map(|c| c.conf).sum::<f32>() / chars.len() as f32
    }
}

/// Lines of one page, in reading order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageText {
    pub page: u32,
    pub lines: Vec<OcrLine>,
}

/// Folds what differs only in form: spaces, full-width ASCII, full-width brackets and colons.
pub fn fold(c: char) -> Option<char> {
    match c {
        ' ' | '\t' | '\u{3000}' => None,
        '（' => Some('('),
        '）' => Some(')'),
        '：' => Some(':'),
        c if ('\u{FF01}'..='\u{FF5E}').contains(&c) => char::from_u32(c as u32 - 0xFEE0),
        c => Some(c),
    }
}

pub fn folded(chars: &[OcrChar]) -> Vec<OcrChar> {
    chars.iter().filter_map(|c| fold(c.ch).map(|ch| OcrChar { ch, conf: c.conf })).collect()
}

pub fn fold_str(s: &str) -> String {
    s.chars().filter_map(fold).collect()
}

/// How a reading compares with what the form says.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    Same,
    /// Differs only where OCR was unsure: a human should look.
    Uncertain {
        found: String,
    },
    /// Differs where OCR was sure: a real difference.
    Different {
        found: String,
    },
}

/// Edit operations aligning `expected` with `found`, each with the confidence of the found
/// characters involved (a missing character takes its neighbours' confidence).
fn diff_confidences(expected: &[char], found: &[OcrChar]) -> Vec<f32> {
    let (n, m) = (expected.len(), found.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let sub = d[i - 1][j - 1] + usize::from(expected[i - 1] != found[j - 1].ch);
            d[i][j] = sub.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
        }
    }
    let neighbour = |j: usize| -> f32 {
        let left = j.checked_sub(1).and_then(|k| found.get(k)).map(|c| c.conf);
        let right = found.get(j).map(|c| c.conf);
        match (left, right) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => 0.0,
        }
    };
    let (mut i, mut j, mut ops) = (n, m, Vec::new());
    while i > 0 || j > 0 {
        if i > 0 && j > 0 && d[i][j] == d[i - 1][j - 1] + usize::from(expected[i - 1] != found[j - 1].ch) {
            if expected[i - 1] != found[j - 1].ch {
                ops.push(found[j - 1].conf);
            }
            i -= 1;
            j -= 1;
        } else if i > 0 && d[i][j] == d[i - 1][j] + 1 {
            ops.push(neighbour(j));
            i -= 1;
        } else {
            ops.push(found[j - 1].conf);
            j -= 1;
        }
    }
    ops
}

/// Compares a field read by OCR with the expected value, character by character.
pub fn compare(expected: &str, found: &[OcrChar]) -> Comparison {
    let expected: Vec<char> = fold_str(expected).chars().collect();
    let found = folded(found);
    let found_text: String = found.iter().map(|c| c.ch).collect();
    let ops = diff_confidences(&expected, &found);
    if ops.is_empty() {
        return Comparison::Same;
    }
    // Doubtful only if the one difference sits on a doubtful character: two or more differences
    // are more likely another name than two misreadings (上海华沪 vs 上海华浦 is another firm).
    let few = ops.len() <= 1;
    if few && ops.iter().all(|c| *c < SURE) {
        Comparison::Uncertain { found: found_text }
    } else {
        Comparison::Different { found: found_text }
    }
}

/// The best place in `line` where `expected` occurs, allowing differences (semi-global
/// alignment): returns the cost and the matched slice.
pub fn find_in_line<'a>(expected: &str, line: &'a [OcrChar]) -> Option<(usize, &'a [OcrChar])> {
    let e: Vec<char> = expected.chars().collect();
    let (n, m) = (e.len(), line.len());
    if n == 0 || m == 0 {
        return None;
    }
    // d[i][j]: cost of aligning e[..i] ending at line[..j], free start in line.
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    let mut start = vec![vec![0usize; m + 1]; n + 1];
    for (j, cell) in start[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        d[i][0] = i;
        for j in 1..=m {
            let sub = d[i - 1][j - 1] + usize::from(e[i - 1] != line[j - 1].ch);
            let del = d[i - 1][j] + 1;
            let ins = d[i][j - 1] + 1;
            let best = sub.min(del).min(ins);
            d[i][j] = best;
            start[i][j] = if best == sub {
                start[i - 1][j - 1]
            } else if best == del {
                start[i - 1][j]
            } else {
                start[i][j - 1]
            };
        }
    }
    let (end, cost) = (0..=m).map(|j| (j, d[n][j])).min_by_key(|(j, c)| (*c, usize::MAX - j))?;
    let s = start[n][end].min(end);
    Some((cost, &line[s..end]))
}

/// Finds `expected` anywhere on the pages; the best match and its line's region.
pub fn find_text(expected: &str, pages: &[PageText]) -> Option<(Comparison, Option<Region>)> {
    let expected = fold_str(expected);
    let mut best: Option<(usize, Vec<OcrChar>, Option<Region>)> = None;
    for page in pages {
        for line in &page.lines {
            let chars = folded(&line.chars);
            if let Some((cost, slice)) = find_in_line(&expected, &chars) {
                if best.as_ref().is_none_or(|b| cost < b.0) {
                    best = Some((cost, slice.to_vec(), line.region));
                }
            }
        }
    }
    let (cost, slice, region) = best?;
    // More than half wrong is "not there", not "there but misread".
    if cost * 2 > expected.chars().count() {
        return None;
    }
    Some((compare(&expected, &slice), region))
}

/// Labels that start another field, where a value read after a label stops.
pub(crate) const STOP_LABELS: &[&str] = &[
    "工程地址",
    "建设地点",
    "施工地点",
    "证照编号",
    "联系人",
    "联系电话",
    "有效期",
    "统一社会信用代码",
    "名称",
    "类型",
    "法定代表人",
    "经营范围",
    "注册资本",
    "成立日期",
    "营业期限",
    "住所",
    "登记机关",
    "建设单位",
    "工程名称",
    "项目名称",
    "建设地址",
    "施工单位",
    "合同价格",
    "合同工期",
    "发证机关",
    "编号",
    "日期",
];

/// The value after one of `labels` (on the same line, or the next line if the label ends it).
pub fn labeled_value(pages: &[PageText], labels: &[&str]) -> Option<(Vec<OcrChar>, Option<Region>)> {
    for page in pages {
        for (i, line) in page.lines.iter().enumerate() {
            let chars = folded(&line.chars);
            let text: String = chars.iter().map(|c| c.ch).collect();
            for label in labels {
                let Some(byte_pos) = text.find(label) else { continue };
                let start = text[..byte_pos].chars().count() + label.chars().count();
                let mut value: Vec<OcrChar> = chars[start..].to_vec();
                while value.first().is_some_and(|c| matches!(c.ch, ':' | '：' | '.' | '-')) {
                    value.remove(0);
                }
                let mut region = line.region;
                if value.is_empty() {
                    if let Some(next) = page.lines.get(i + 1) {
                        value = folded(&next.chars);
                        region = next.region;
                    }
                }
                cut_at_next_label(&mut value, label);
                if !value.is_empty() {
                    return Some((value, region));
                }
            }
        }
    }
    None
}

pub(crate) fn cut_at_next_label(value: &mut Vec<OcrChar>, own: &str) {
    let text: String = value.iter().map(|c| c.ch).collect();
    let cut = STOP_LABELS.iter().filter(|l| **l != own).filter_map(|l| text.find(l).filter(|p| *p > 0)).min();
    if let Some(byte_pos) = cut {
        value.truncate(text[..byte_pos].chars().count());
    }
}

/// Maps characters OCR confuses into the credit-code alphabet (O→0, I→1, ...).
fn to_code_alphabet(c: char) -> Option<char> {
    let mapped = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' => '1',
        'Z' => '2',
        'S' => '5',
        'V' => 'U',
        other => other,
    };
    CREDIT_CODE_ALPHABET.contains(mapped).then_some(mapped)
}

/// A credit code read from a document.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeReading {
    /// A code whose check character holds (after mapping look-alikes).
    Valid { code: CreditCode, doubtful: bool, region: Option<Region> },
    /// 18 code characters whose check character fails.
    Invalid { text: String, doubtful: bool, region: Option<Region> },
}

/// Reads one run of code characters: 18 is a code; 19 is a code with one stray character when
/// a deletion passes the check (several may by chance: the expected code, else the deletion of
/// the least confident character, settles it); 17 lost a character.
fn read_code_run(run: &[OcrChar], region: Option<Region>, expected: Option<&str>) -> Option<CodeReading> {
    let text: String = run.iter().map(|c| c.ch).collect();
    let doubtful = run.iter().any(|c| c.conf < SURE);
    match run.len() {
        18 => Some(match CreditCode::parse(&text) {
            Ok(code) => CodeReading::Valid { code, doubtful, region },
            Err(_) => CodeReading::Invalid { text, doubtful, region },
        }),
        19 => {
            let mut valid: Vec<(f32, CreditCode)> = (0..19)
                .filter_map(|skip| {
                    let t: String = run.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, c)| c.ch).collect();
                    CreditCode::parse(&t).ok().map(|code| (run[skip].conf, code))
                })
                .collect();
            valid.sort_by(|a, b| a.0.total_cmp(&b.0));
            valid.dedup_by(|a, b| a.1 == b.1);
            let expected_match = valid.iter().find(|(_, c)| Some(c.as_str()) == expected);
            let least_confident = match valid.as_slice() {
                [only] => Some(only),
                [first, second, ..] if first.0 < second.0 => Some(first),
                _ => None,
            };
            match expected_match.or(least_confident) {
                Some((_, code)) => Some(CodeReading::Valid { code: code.clone(), doubtful: true, region }),
                None => Some(CodeReading::Invalid { text, doubtful: true, region }),
            }
        }
        17 => Some(CodeReading::Invalid { text, doubtful: true, region }),
        _ => None,
    }
}

fn code_chars(chars: &[OcrChar]) -> Vec<OcrChar> {
    chars.iter().filter_map(|c| to_code_alphabet(c.ch).map(|ch| OcrChar { ch, conf: c.conf })).collect()
}

/// Finds the credit code: after its label (all code characters there, spaces ignored), else
/// any run of 18–19 code characters on a line. The check character decides between readings.
pub fn read_credit_code(pages: &[PageText], expected: Option<&str>) -> Option<CodeReading> {
    let (candidates, _) = crate::fields::label_candidates(pages, &["统一社会信用代码", "社会信用代码", "信用代码"]);
    let mut invalid = None;
    for c in &candidates {
        let run = code_chars(&c.chars.iter().copied().filter(|c| c.ch.is_ascii_alphanumeric()).collect::<Vec<_>>());
        match read_code_run(&run, c.region, expected) {
            Some(r @ CodeReading::Valid { .. }) => return Some(r),
            Some(r) => {
                invalid.get_or_insert(r);
            }
            None => {}
        }
    }
    // Anywhere: a run of 18–19 code characters with enough digits to be a code.
    for line in pages.iter().flat_map(|p| p.lines.iter()) {
        for run in line.chars.split(|c| !c.ch.is_ascii_alphanumeric()) {
            if matches!(run.len(), 18 | 19) && run.iter().filter(|c| c.ch.is_ascii_digit()).count() >= 8 {
                match read_code_run(&code_chars(run), line.region, expected) {
                    Some(r @ CodeReading::Valid { .. }) => return Some(r),
                    // An all-digit run is more likely another number (a permit number) than a code.
                    Some(r) if run.iter().any(|c| c.ch.is_ascii_alphabetic()) => {
                        invalid.get_or_insert(r);
                    }
                    _ => {}
                }
            }
        }
    }
    invalid
}

fn date_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(\d{4})\s*[年\-./]\s*(\d{1,2})\s*[月\-./]\s*(\d{1,2})\s*日?")
            .unwrap_or_else(|_| unreachable_regex())
    })
}

fn time_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // 22:00, 22：00, 22时00分, 22时 (no minutes).
    RE.get_or_init(|| {
        Regex::new(r"(\d{1,2})\s*(?:[:：]\s*(\d{2})|时\s*(?:(\d{1,2})\s*分)?)").unwrap_or_else(|_| unreachable_regex())
    })
}

/// A month and day written without a year ("4月20日"), as in "2027年3月17日至4月20日".
fn month_day_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日").unwrap_or_else(|_| unreachable_regex()))
}

/// The patterns above are constants; a failure to compile them is a bug caught by the tests.
fn unreachable_regex() -> Regex {
    Regex::new("$^").unwrap_or_else(|_| std::process::abort())
}

/// Every date written on the text (2026年12月1日, 2026-12-01, 2026.12.01), in order.
pub fn dates_in(text: &str) -> Vec<NaiveDate> {
    dates_in_year(text, None)
}

/// As [`dates_in`], also taking dates written without a year ("4月20日"): they take the year
/// of the full date before them on the text, else `year`.
pub fn dates_in_year(text: &str, year: Option<i32>) -> Vec<NaiveDate> {
    let mut found: Vec<(usize, NaiveDate)> = Vec::new();
    let mut taken: Vec<std::ops::Range<usize>> = Vec::new();
    for c in date_re().captures_iter(text) {
        let (Some(all), Some(y), Some(m), Some(d)) = (c.get(0), c.get(1), c.get(2), c.get(3)) else { continue };
        let (Ok(y), Ok(m), Ok(d)) = (y.as_str().parse(), m.as_str().parse(), d.as_str().parse()) else { continue };
        if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
            found.push((all.start(), date));
            taken.push(all.range());
        }
    }
    for c in month_day_re().captures_iter(text) {
        let (Some(all), Some(m), Some(d)) = (c.get(0), c.get(1), c.get(2)) else { continue };
        if taken.iter().any(|t| t.contains(&all.start()) || t.contains(&(all.end() - 1))) {
            continue;
        }
        let before = found.iter().filter(|(at, _)| *at < all.start()).max_by_key(|(at, _)| *at).map(|(_, d)| d.year());
        // "每年1月1日至6月30日" recurs every year: no year of the case applies to it.
        let recurring = text[..all.start()].ends_with("每年") || text.contains("每年");
        let Some(y) = before.or(year.filter(|_| !recurring)) else { continue };
        let (Ok(m), Ok(d)) = (m.as_str().parse(), d.as_str().parse()) else { continue };
        if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
            found.push((all.start(), date));
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, d)| d).collect()
}

/// A date range written on one line: "自…至…", "…—…"; the end may be 长期 (open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

pub fn date_range_in(pages: &[PageText], labels: &[&str]) -> Option<(DateRange, Option<Region>)> {
    let ranges = date_ranges_in(pages, labels, None);
    ranges.iter().find(|r| r.2).or(ranges.first()).map(|r| (r.0, r.1))
}

/// Every date range on the pages, with its region and whether a label names it: two dates on
/// a line ("自…至…"), a date and 长期, or a single night ("2027年3月22日（一晚）"). Lines are
/// also read joined to their neighbour, for a range that wraps.
pub fn date_ranges_in(
    pages: &[PageText],
    labels: &[&str],
    year: Option<i32>,
) -> Vec<(DateRange, Option<Region>, bool)> {
    let mut out = Vec::new();
    for page in pages {
        let texts: Vec<(String, Option<Region>)> = page.lines.iter().map(|l| (fold_str(&l.text()), l.region)).collect();
        let joined = texts.windows(2).map(|w| (format!("{}{}", w[0].0, w[1].0), w[0].1));
        for (text, region) in texts.iter().cloned().chain(joined) {
            let dates = dates_in_year(&text, year);
            let labelled = labels.is_empty() || labels.iter().any(|l| text.contains(l));
            let range = match dates.as_slice() {
                [a, b, ..] => Some(DateRange { start: *a, end: Some(*b) }),
                [a] if text.contains("长期") => Some(DateRange { start: *a, end: None }),
                [a] if text.contains('晚') || text.contains('夜') => Some(DateRange { start: *a, end: Some(*a) }),
                _ => None,
            };
            if let Some(r) = range {
                match out.iter_mut().find(|(o, _, _)| *o == r) {
                    // Seen before without its label (the label in the next box): now labelled.
                    Some(seen) => seen.2 |= labelled,
                    None => out.push((r, region, labelled)),
                }
            }
        }
    }
    out
}

/// Nightly hours written as "22:00至次日04:00", "22时00分—4时00分" or "23时至次日5时".
pub fn nightly_hours_in(pages: &[PageText]) -> Option<(NaiveTime, NaiveTime, Option<Region>)> {
    nightly_hours_all(pages).into_iter().next()
}

/// Every pair of clock times on a line or across a line break, in reading order.
pub fn nightly_hours_all(pages: &[PageText]) -> Vec<(NaiveTime, NaiveTime, Option<Region>)> {
    let mut out = Vec::new();
    for page in pages {
        let texts: Vec<(String, Option<Region>)> = page.lines.iter().map(|l| (fold_str(&l.text()), l.region)).collect();
        let joined = texts.windows(2).map(|w| (format!("{}{}", w[0].0, w[1].0), w[0].1));
        for (text, region) in texts.iter().cloned().chain(joined) {
            let times: Vec<NaiveTime> = time_re()
                .captures_iter(&text)
                .filter_map(|c| {
                    let h = c.get(1)?.as_str().parse().ok()?;
                    let m = c.get(2).or(c.get(3)).map_or(Some(0), |m| m.as_str().parse().ok())?;
                    NaiveTime::from_hms_opt(h, m, 0)
                })
                .collect();
            if let [a, b, ..] = times.as_slice() {
                if !out.iter().any(|(x, y, _)| x == a && y == b) {
                    out.push((*a, *b, region));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> OcrLine {
        OcrLine::certain(text, None)
    }

    fn page(lines: &[&str]) -> Vec<PageText> {
        vec![PageText { page: 1, lines: lines.iter().map(|l| line(l)).collect() }]
    }

    #[test]
    fn comparison_uses_confidence() {
        let sure = OcrLine::with_conf("上海华浦建设有限公司", 95.0, None);
        assert_eq!(
            compare("上海华沪建设有限公司", &sure.chars),
            Comparison::Different { found: "上海华浦建设有限公司".into() }
        );
        let mut doubtful = OcrLine::with_conf("上海华浦建设有限公司", 95.0, None);
        doubtful.chars[3].conf = 40.0;
        assert!(matches!(compare("上海华沪建设有限公司", &doubtful.chars), Comparison::Uncertain { .. }));
        assert_eq!(
            compare("上海华沪建设有限公司", &OcrLine::with_conf("上海华沪建设有限公司", 30.0, None).chars),
            Comparison::Same
        );
        // Full-width brackets and spaces are the same text.
        assert_eq!(compare("上海某（集团）有限公司", &line("上海某 (集团) 有限公司").chars), Comparison::Same);
        // A missing character next to sure characters is a real difference.
        assert!(matches!(
            compare("上海华沪建设有限公司", &line("上海华建设有限公司").chars),
            Comparison::Different { .. }
        ));
        // Many doubtful differences are not "probably the same".
        let mut mostly = OcrLine::with_conf("下江东浦建没有限公司", 50.0, None);
        mostly.chars[9].conf = 99.0;
        assert!(matches!(compare("上海华沪建设有限公司", &mostly.chars), Comparison::Different { .. }));
    }

    #[test]
    fn labelled_values_stop_at_the_next_label() {
        let p = page(&["名称：上海某建设发展有限公司 类型：有限责任公司", "统一社会信用代码", "91310106MA1FL0D44W"]);
        let (v, _) = labeled_value(&p, &["名称"]).expect("name");
        assert_eq!(v.iter().map(|c| c.ch).collect::<String>(), "上海某建设发展有限公司");
        let (v, _) = labeled_value(&p, &["统一社会信用代码"]).expect("code on next line");
        assert_eq!(v.iter().map(|c| c.ch).collect::<String>(), "91310106MA1FL0D44W");
    }

    #[test]
    fn credit_codes_survive_look_alikes_and_insertions() {
        let code = CreditCode::complete("91310106MA1FL0D44").expect("code");
        let read = |s: &str| read_credit_code(&page(&[&format!("统一社会信用代码：{s}")]), Some(code.as_str()));
        assert!(matches!(read(code.as_str()), Some(CodeReading::Valid { code: c, doubtful: false, .. }) if c == code));
        // O for 0 and I for 1.
        let swapped = code.as_str().replace('0', "O").replacen('1', "I", 1);
        assert!(matches!(read(&swapped), Some(CodeReading::Valid { code: c, .. }) if c == code));
        // One inserted character.
        let inserted = format!("{}X{}", &code.as_str()[..9], &code.as_str()[9..]);
        assert!(matches!(read(&inserted), Some(CodeReading::Valid { code: c, doubtful: true, .. }) if c == code));
        // A wrong check character stays invalid.
        let bad = format!("{}{}", &code.as_str()[..17], if code.as_str().ends_with('0') { '1' } else { '0' });
        assert!(matches!(read(&bad), Some(CodeReading::Invalid { .. })));
        assert_eq!(read_credit_code(&page(&["无代码"]), None), None);
    }

    #[test]
    fn dates_ranges_and_hours() {
        assert_eq!(
            dates_in("2026年12月1日至2026-12-03"),
            vec![NaiveDate::from_ymd_opt(2026, 12, 1).expect("d"), NaiveDate::from_ymd_opt(2026, 12, 3).expect("d"),]
        );
        let p = page(&["营业期限：2010年01月01日至长期"]);
        let (r, _) = date_range_in(&p, &["营业期限"]).expect("range");
        assert_eq!(r.end, None);
        let p = page(&["施工时间：2026年12月1日至2026年12月3日", "每晚22:00至次日04:00"]);
        assert_eq!(date_range_in(&p, &[]).map(|r| r.0.end), Some(NaiveDate::from_ymd_opt(2026, 12, 3)));
        let (a, b, _) = nightly_hours_in(&p).expect("hours");
        assert_eq!((a.to_string(), b.to_string()), ("22:00:00".into(), "04:00:00".into()));
    }

    #[test]
    fn text_is_found_despite_surrounding_words() {
        let p = page(&["关于静安区某商业综合体项目夜间施工的说明"]);
        assert!(matches!(find_text("静安区某商业综合体项目", &p), Some((Comparison::Same, _))));
        assert!(matches!(
            find_text("静安区某商业综合体项目", &page(&["徐汇区另一个住宅项目"])),
            None | Some((Comparison::Different { .. }, _))
        ));
    }

    #[test]
    fn ranges_across_boxes_and_implied_years() {
        // The label in its own box after the value box (reading order by the box tops).
        let p = page(&["自2007年03月01日至2027年03月26日", "营业期限", "提示：每年1月1日至6月30日报送年度报告"]);
        let ranges = date_ranges_in(&p, &["营业期限"], Some(2027));
        let end = NaiveDate::from_ymd_opt(2027, 3, 26);
        assert!(ranges.iter().any(|r| r.0.end == end && r.2), "{ranges:?}");
        assert_eq!(ranges.len(), 1, "a recurring 每年 range is not a date range of the case: {ranges:?}");
        assert_eq!(
            dates_in_year("2027年3月17日至4月20日", None),
            vec![
                NaiveDate::from_ymd_opt(2027, 3, 17).unwrap_or_default(),
                NaiveDate::from_ymd_opt(2027, 4, 20).unwrap_or_default()
            ]
        );
        let one = page(&["夜间施工日期", "2027年03月22日（一晚)"]);
        assert!(date_ranges_in(&one, &[], None).iter().any(|r| r.0.start == r.0.end.unwrap_or(NaiveDate::MIN)));
        // Hours wrapped over a line break, and hours without minutes.
        let h = page(&["每日22:00一", "次日4:00进行夜间施工"]);
        let hours = nightly_hours_all(&h);
        assert!(
            hours
                .iter()
                .any(|(a, b, _)| a.format("%H:%M").to_string() == "22:00" && b.format("%H:%M").to_string() == "04:00"),
            "{hours:?}"
        );
        let h = page(&["每日施工时段 23时至次日5时"]);
        assert_eq!(nightly_hours_all(&h).len(), 1);
    }
}
