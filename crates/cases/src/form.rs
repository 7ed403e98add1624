//! The one application form: its JSON shape, and its validation into values the domain trusts.
//! The body is read as loose JSON first so every wrong field is reported at once, by path.

use crate::error::FieldError;
use chrono::NaiveDate;
use nightpermit_domain::{District, NightWindow, NightWindowError, Process};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationForm {
    pub district: District,
    pub project: Project,
    pub night_work: NightWork,
    pub equipment: Vec<Equipment>,
    pub measures: Vec<String>,
    pub contact: Contact,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    #[schema(example = "静安区某商业综合体项目")]
    pub name: String,
    pub address: String,
    #[schema(example = "310106202012150101")]
    pub construction_permit_no: String,
    /// 建设单位.
    pub builder: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NightWork {
    #[schema(example = "2026-12-01")]
    pub start_date: String,
    #[schema(example = "2026-12-03")]
    pub end_date: String,
    #[schema(example = "22:00")]
    pub nightly_start: String,
    #[schema(example = "04:00")]
    pub nightly_end: String,
    pub process: Process,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Equipment {
    pub name: String,
    pub count: u32,
    /// Sound power level at 1 m, dB(A).
    pub sound_level_db: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub name: String,
    pub phone: String,
}

impl ApplicationForm {
    pub fn window(&self) -> Option<NightWindow> {
        let n = &self.night_work;
        NightWindow::parse(&n.start_date, &n.end_date, &n.nightly_start, &n.nightly_end).ok()
    }
}

/// Collects field errors while walking a JSON document.
pub struct Check<'a> {
    root: &'a Value,
    errors: Vec<FieldError>,
}

impl<'a> Check<'a> {
    pub fn new(root: &'a Value) -> Self {
        Self { root, errors: Vec::new() }
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    pub fn at(&self, path: &str) -> Option<&'a Value> {
        let mut v = self.root;
        for part in path.split('.') {
            v = v.get(part)?;
        }
        (!v.is_null()).then_some(v)
    }

    pub fn fail(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// A required, trimmed, non-empty string of at most `max` characters.
    pub fn text(&mut self, path: &str, label: &str, max: usize) -> Option<String> {
        match self.at(path) {
            None => {
                self.fail(path, "REQUIRED", format!("请填写{label}"));
                None
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    self.fail(path, "REQUIRED", format!("请填写{label}"));
                    None
                } else if s.chars().count() > max {
                    self.fail(path, "TOO_LONG", format!("{label}最多{max}个字"));
                    None
                } else if s.chars().any(char::is_control) {
                    self.fail(path, "INVALID_FORMAT", format!("{label}含有控制字符"));
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(_) => {
                self.fail(path, "INVALID_TYPE", format!("{label}应为文本"));
                None
            }
        }
    }

    /// An optional e-mail address: absent or blank is `None`; anything else must be one we can
    /// mail, or the field fails with `INVALID_EMAIL`.
    pub fn optional_email(&mut self, path: &str) -> Option<String> {
        match self.at(path) {
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) if valid_email(s.trim()) => Some(s.trim().to_string()),
            Some(_) => {
                self.fail(path, "INVALID_EMAIL", INVALID_EMAIL_MESSAGE);
                None
            }
        }
    }

    pub fn phone(&mut self, path: &str) -> Option<String> {
        let phone = self.text(path, "联系电话", 20)?;
        let digits: String = phone.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        let mobile = digits.len() == 11 && digits.starts_with('1') && digits.chars().all(|c| c.is_ascii_digit());
        let landline =
            (10..=12).contains(&digits.len()) && digits.starts_with('0') && digits.chars().all(|c| c.is_ascii_digit());
        let local = digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit());
        if mobile || landline || local {
            Some(digits)
        } else {
            self.fail(path, "INVALID_PHONE", "联系电话应为11位手机号或带区号的固定电话");
            None
        }
    }
}

/// An e-mail address we are willing to mail: `local@domain`, at most 254 characters, ASCII
/// without spaces, quotes or angle brackets, a domain of dot-separated letter/digit/hyphen
/// labels with at least one dot. Stricter than RFC 5321 on purpose: what passes here is what
/// every SMTP relay takes, and nothing in it can break a header line.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    s.len() <= 254 && local_ok && domain_ok
}

/// The message of an `INVALID_EMAIL` field error.
pub const INVALID_EMAIL_MESSAGE: &str = "电子邮箱格式不正确，应如 name@example.com";

/// A construction permit number: 6 to 40 letters, digits and hyphens.
fn permit_no_ok(s: &str) -> bool {
    (6..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn night_error(e: &NightWindowError) -> (&'static str, &'static str) {
    match e {
        NightWindowError::BadDate(_) => ("night_work.start_date", "INVALID_DATE"),
        NightWindowError::BadTime(_) => ("night_work.nightly_start", "INVALID_TIME"),
        NightWindowError::EndBeforeStart => ("night_work.end_date", "END_BEFORE_START"),
        NightWindowError::OutsideNight(_) => ("night_work.nightly_start", "OUTSIDE_NIGHT_HOURS"),
        NightWindowError::EmptyNightlySpan => ("night_work.nightly_end", "END_BEFORE_START"),
        NightWindowError::TooManyNights(_) => ("night_work.end_date", "TOO_MANY_NIGHTS"),
    }
}

/// Validates a whole form. `today` (Asia/Shanghai) keeps applicants from asking for past nights.
pub fn validate_form(root: &Value, today: NaiveDate) -> Result<ApplicationForm, Vec<FieldError>> {
    let mut c = Check { root, errors: Vec::new() };
    if !root.is_object() {
        c.fail("body", "INVALID_TYPE", "申请表应为 JSON 对象");
        return Err(c.errors);
    }

    let district = match c.at("district") {
        None => {
            c.fail("district", "REQUIRED", "请选择所在区");
            None
        }
        Some(v) => match v.as_str().and_then(|s| s.parse::<District>().ok()) {
            Some(d) => Some(d),
            None => {
                c.fail(
                    "district",
                    "UNKNOWN_DISTRICT",
                    format!("未知的区：{v}；应为上海16个区的拼音代码之一，如 jingan"),
                );
                None
            }
        },
    };

    let name = c.text("project.name", "项目名称", 100);
    let address = c.text("project.address", "项目地址", 200);
    let permit = c.text("project.construction_permit_no", "施工许可证编号", 40);
    if let Some(p) = &permit {
        if !permit_no_ok(p) {
            c.fail("project.construction_permit_no", "INVALID_FORMAT", "施工许可证编号应为6至40位字母、数字或连字符");
        }
    }
    let builder = c.text("project.builder", "建设单位", 100);

    let start_date = c.text("night_work.start_date", "开始日期", 10);
    let end_date = c.text("night_work.end_date", "结束日期", 10);
    let nightly_start = c.text("night_work.nightly_start", "每晚开始时间", 5);
    let nightly_end = c.text("night_work.nightly_end", "每晚结束时间", 5);
    let description = c.text("night_work.description", "施工内容说明", 500);
    let process = match c.at("night_work.process") {
        None => {
            c.fail("night_work.process", "REQUIRED", "请选择夜间施工工艺");
            None
        }
        Some(v) => match v.as_str().and_then(|s| s.parse::<Process>().ok()) {
            Some(p) => Some(p),
            None => {
                let ids: Vec<&str> = Process::ALL.iter().map(|p| p.id()).collect();
                c.fail(
                    "night_work.process",
                    "UNKNOWN_PROCESS",
                    format!("未知的施工工艺：{v}；应为 {} 之一", ids.join("、")),
                );
                None
            }
        },
    };
    if let (Some(s), Some(e), Some(ns), Some(ne)) = (&start_date, &end_date, &nightly_start, &nightly_end) {
        match NightWindow::parse(s, e, ns, ne) {
            Ok(w) if w.start_date() < today => {
                c.fail("night_work.start_date", "START_IN_PAST", format!("开始日期不能早于今天（{today}）"));
            }
            Ok(_) => {}
            Err(err) => {
                let (mut field, code) = night_error(&err);
                // Say which of the two dates or times is wrong when the text itself is bad.
                if let NightWindowError::BadDate(v) = &err {
                    if Some(v) == end_date.as_ref() && Some(v) != start_date.as_ref() {
                        field = "night_work.end_date";
                    }
                }
                if let NightWindowError::BadTime(v) | NightWindowError::OutsideNight(v) = &err {
                    if nightly_end.as_deref().map(str::trim) == Some(v.as_str())
                        && nightly_start.as_deref() != Some(v.as_str())
                    {
                        field = "night_work.nightly_end";
                    }
                }
                c.fail(field, code, err.to_string());
            }
        }
    }

    let mut equipment = Vec::new();
    match c.at("equipment") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 50 => {
            for (i, item) in items.iter().enumerate() {
                let base = format!("equipment[{i}]");
                let eq_name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && s.chars().count() <= 50);
                if eq_name.is_none() {
                    c.fail(&format!("{base}.name"), "REQUIRED", "请填写设备名称（最多50字）");
                }
                let count = item.get("count").and_then(Value::as_u64).filter(|n| (1..=100).contains(n));
                if count.is_none() {
                    c.fail(&format!("{base}.count"), "OUT_OF_RANGE", "设备数量应为1至100的整数");
                }
                let level = item.get("sound_level_db").and_then(Value::as_u64).filter(|n| (30..=140).contains(n));
                if level.is_none() {
                    c.fail(&format!("{base}.sound_level_db"), "OUT_OF_RANGE", "设备声级应为30至140 dB(A)的整数");
                }
                if let (Some(n), Some(count), Some(level)) = (eq_name, count, level) {
                    equipment.push(Equipment {
                        name: n.to_string(),
                        count: u32::try_from(count).unwrap_or(1),
                        sound_level_db: u32::try_from(level).unwrap_or(140),
                    });
                }
            }
        }
        Some(Value::Array(items)) if items.is_empty() => {
            c.fail("equipment", "REQUIRED", "请至少填写一台夜间使用的设备")
        }
        Some(Value::Array(_)) => c.fail("equipment", "TOO_MANY", "设备最多50项"),
        None => c.fail("equipment", "REQUIRED", "请至少填写一台夜间使用的设备"),
        Some(_) => c.fail("equipment", "INVALID_TYPE", "设备应为列表"),
    }

    let mut measures = Vec::new();
    match c.at("measures") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 50 => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(str::trim).filter(|s| !s.is_empty() && s.chars().count() <= 200) {
                    Some(m) => measures.push(m.to_string()),
                    None => c.fail(&format!("measures[{i}]"), "REQUIRED", "每项降噪措施应为1至200字的文本"),
                }
            }
        }
        Some(Value::Array(items)) if items.is_empty() => {
            c.fail("measures", "REQUIRED", "请至少填写一项噪声污染防治措施")
        }
        Some(Value::Array(_)) => c.fail("measures", "TOO_MANY", "降噪措施最多50项"),
        None => c.fail("measures", "REQUIRED", "请至少填写一项噪声污染防治措施"),
        Some(_) => c.fail("measures", "INVALID_TYPE", "降噪措施应为文本列表"),
    }

    let contact_name = c.text("contact.name", "联系人", 50);
    let phone = c.phone("contact.phone");

    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    match (
        district,
        name,
        address,
        permit,
        builder,
        start_date,
        end_date,
        nightly_start,
        nightly_end,
        process,
        description,
        contact_name,
        phone,
    ) {
        (
            Some(district),
            Some(name),
            Some(address),
            Some(construction_permit_no),
            Some(builder),
            Some(start_date),
            Some(end_date),
            Some(nightly_start),
            Some(nightly_end),
            Some(process),
            Some(description),
            Some(contact_name),
            Some(phone),
        ) => Ok(ApplicationForm {
            district,
            project: Project { name, address, construction_permit_no, builder },
            night_work: NightWork { start_date, end_date, nightly_start, nightly_end, process, description },
            equipment,
            measures,
            contact: Contact { name: contact_name, phone },
        }),
        _ => Err(vec![FieldError::new("body", "INVALID_VALUE", "申请表不完整")]),
    }
}

/// RFC 7396 JSON merge patch: objects merge, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// The form of a stored application. It was validated when written, so a form that no longer
/// parses is corrupt data (logged, answered as a server error), never a guess.
pub fn stored(app: &nightpermit_store::ApplicationRecord) -> Result<ApplicationForm, nightpermit_store::StoreError> {
    serde_json::from_str(&app.form).map_err(|e| {
        tracing::error!(application = %app.id, error = %e, "stored form does not parse");
        nightpermit_store::StoreError::Corrupt(format!("form of application {}: {e}", app.id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).expect("date")
    }

    fn example() -> Value {
        json!({
            "district": "jingan",
            "project": {"name": "静安区某商业综合体项目", "address": "上海市静安区某路100号",
                        "construction_permit_no": "310106202012150101", "builder": "上海某建设发展有限公司"},
            "night_work": {"start_date": "2026-12-01", "end_date": "2026-12-03", "nightly_start": "22:00",
                           "nightly_end": "04:00", "process": "continuous_pour", "description": "底板大体积混凝土连续浇筑"},
            "equipment": [{"name": "混凝土泵车", "count": 2, "sound_level_db": 85}],
            "measures": ["设置移动式隔声屏", "禁止鸣笛"],
            "contact": {"name": "张三", "phone": "13800000000"}
        })
    }

    fn codes(v: Value) -> Vec<(String, String)> {
        validate_form(&v, today()).expect_err("invalid").into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn e_mail_addresses_we_can_mail() {
        for ok in ["a@example.com", "zhang.san+permits@mail.sh.cn", "o'brien@x-y.example.org"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "example.com",
            "a@localhost",
            "a@@example.com",
            "a b@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-x.com",
            "a@x..com",
            "张三@example.com",
            "a@example.com\r\nBcc: x@y.com",
            "<a@example.com>",
        ] {
            assert!(!valid_email(bad), "{bad:?}");
        }
        let body = json!({"e": " a@example.com ", "blank": " ", "bad": "nope", "num": 5});
        let mut c = Check::new(&body);
        assert_eq!(c.optional_email("e"), Some("a@example.com".into()));
        assert_eq!((c.optional_email("blank"), c.optional_email("missing")), (None, None));
        assert_eq!((c.optional_email("bad"), c.optional_email("num")), (None, None));
        let errors: Vec<_> = c.into_errors().into_iter().map(|e| (e.field, e.code)).collect();
        assert_eq!(errors, [("bad".into(), "INVALID_EMAIL".into()), ("num".into(), "INVALID_EMAIL".into())]);
    }

    #[test]
    fn the_api_example_is_valid() {
        let form = validate_form(&example(), today()).expect("valid");
        assert_eq!(form.window().map(|w| w.nights()), Some(3));
        assert_eq!(form.equipment[0].sound_level_db, 85);
        // Round trip through the stored JSON.
        let stored = serde_json::to_value(&form).expect("json");
        assert_eq!(validate_form(&stored, today()).expect("valid"), form);
    }

    #[test]
    fn each_wrong_field_is_named() {
        let mut v = example();
        v["night_work"]["nightly_end"] = json!("07:00");
        assert_eq!(codes(v), vec![("night_work.nightly_end".into(), "OUTSIDE_NIGHT_HOURS".into())]);
        let mut v = example();
        v["night_work"]["nightly_start"] = json!("20:00");
        assert_eq!(codes(v), vec![("night_work.nightly_start".into(), "OUTSIDE_NIGHT_HOURS".into())]);
        let mut v = example();
        v["night_work"]["end_date"] = json!("2026-11-30");
        assert_eq!(codes(v), vec![("night_work.end_date".into(), "END_BEFORE_START".into())]);
        let mut v = example();
        v["night_work"]["process"] = json!("piling");
        assert_eq!(codes(v), vec![("night_work.process".into(), "UNKNOWN_PROCESS".into())]);
        let mut v = example();
        v["district"] = json!("beijing");
        assert_eq!(codes(v), vec![("district".into(), "UNKNOWN_DISTRICT".into())]);
        let mut v = example();
        v["night_work"]["start_date"] = json!("2026-11-01");
        v["night_work"]["end_date"] = json!("2026-11-02");
        assert_eq!(codes(v), vec![("night_work.start_date".into(), "START_IN_PAST".into())]);
        let mut v = example();
        v["night_work"]["end_date"] = json!("2026-12-3x");
        assert_eq!(codes(v), vec![("night_work.end_date".into(), "INVALID_DATE".into())]);
    }

    #[test]
    fn several_errors_are_reported_together() {
        let mut v = example();
        v["contact"]["phone"] = json!("12");
        v["equipment"][0]["count"] = json!(0);
        v["measures"] = json!([]);
        v["project"]["name"] = json!("  ");
        let got = codes(v);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.contains(&("contact.phone".into(), "INVALID_PHONE".into())));
        assert!(got.contains(&("equipment[0].count".into(), "OUT_OF_RANGE".into())));
        assert!(got.contains(&("measures".into(), "REQUIRED".into())));
        assert!(got.contains(&("project.name".into(), "REQUIRED".into())));
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge_patch(&mut v, &json!({"a": {"b": null, "e": 3}, "d": [2]}));
        assert_eq!(v, json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }
}
