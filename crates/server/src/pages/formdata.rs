//! The one form as a browser posts it (`application/x-www-form-urlencoded`, field names are the
//! API's dot-separated JSON paths, see PAGES.md) turned into the API's JSON, so that
//! `nightpermit_cases::form::validate_form` is the only validator; and back, to fill the form again.

use crate::error::FieldError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Most equipment rows a page form may post (the validator allows 50).
const MAX_ROWS: usize = 50;

/// The JSON the API would have received, and for each equipment row sent to the validator the
/// row number it had on the page (blank rows are left out, so the numbers can differ).
pub struct Posted {
    pub json: Value,
    rows: Vec<usize>,
}

impl Posted {
    /// Field errors named as the page names its fields: `equipment[k]` back to the page's row,
    /// `measures[i]` to the one textarea.
    pub fn page_errors(&self, errors: Vec<FieldError>) -> Vec<FieldError> {
        errors
            .into_iter()
            .map(|mut e| {
                if let Some(rest) = e.field.strip_prefix("equipment[") {
                    if let Some((k, tail)) = rest.split_once(']') {
                        if let Some(row) = k.parse::<usize>().ok().and_then(|k| self.rows.get(k)) {
                            e.field = format!("equipment[{row}]{tail}");
                        }
                    }
                } else if e.field.starts_with("measures[") {
                    e.field = "measures".into();
                } else if e.field == "equipment" {
                    e.field = "equipment[0].name".into();
                }
                e
            })
            .collect()
    }
}

fn set_path(root: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            root.insert(path.to_string(), value);
        }
        Some((head, tail)) => {
            let child = root.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = child {
                set_path(m, tail, value);
            }
        }
    }
}

/// A number if the text is one; otherwise the text itself, so the validator reports it with
/// the API's code and message.
fn number_or_text(s: &str) -> Value {
    s.trim().parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::String(s.trim().to_string()))
}

/// Reads the posted pairs of the application form.
pub fn application(pairs: &[(String, String)]) -> Posted {
    const PLAIN: &[&str] = &[
        "district",
        "project.name",
        "project.address",
        "project.construction_permit_no",
        "project.builder",
        "night_work.start_date",
        "night_work.end_date",
        "night_work.nightly_start",
        "night_work.nightly_end",
        "night_work.process",
        "night_work.description",
        "contact.name",
        "contact.phone",
    ];
    let mut root = Map::new();
    let mut rows: BTreeMap<usize, Map<String, Value>> = BTreeMap::new();
    let mut measures = Vec::new();
    for (name, value) in pairs {
        if PLAIN.contains(&name.as_str()) {
            // An empty select or input is "not given", as a missing JSON key is.
            if !value.trim().is_empty() {
                set_path(&mut root, name, Value::String(value.clone()));
            }
        } else if name == "measures" {
            // One measure per line of the textarea (or one per repeated input).
            measures.extend(value.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Value::from(l.to_string())));
        } else if let Some(rest) = name.strip_prefix("equipment[") {
            let Some((i, key)) = rest.split_once("].") else { continue };
            let Some(i) = i.parse::<usize>().ok().filter(|i| *i < MAX_ROWS) else { continue };
            let v = match key {
                "name" => Value::String(value.trim().to_string()),
                "count" | "sound_level_db" => number_or_text(value),
                _ => continue,
            };
            if !value.trim().is_empty() {
                rows.entry(i).or_default().insert(key.to_string(), v);
            }
        }
    }
    let (numbers, equipment): (Vec<usize>, Vec<Value>) = rows.into_iter().map(|(i, m)| (i, Value::Object(m))).unzip();
    root.insert("equipment".into(), Value::Array(equipment));
    root.insert("measures".into(), Value::Array(measures));
    Posted { json: Value::Object(root), rows: numbers }
}

/// The form's values as page fields (name → text), from a stored or posted form.
pub fn values_of(form: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&name, child, out);
                }
            }
            Value::Array(items) if prefix == "measures" => {
                let lines: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                out.insert(prefix.to_string(), lines.join("\n"));
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), child, out);
                }
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            Value::Null => {}
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    walk("", form, &mut out);
    out
}

/// The values exactly as posted, to show them again beside their errors.
pub fn values_posted(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs {
        out.entry(k.clone())
            .and_modify(|existing| {
                existing.push('\n');
                existing.push_str(v);
            })
            .or_insert_with(|| v.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn posted_fields_become_the_api_json() {
        let p = application(&pairs(&[
            ("district", "jingan"),
            ("project.name", "某项目"),
            ("equipment[0].name", "泵车"),
            ("equipment[0].count", "2"),
            ("equipment[0].sound_level_db", "85"),
            ("equipment[1].name", ""),
            ("equipment[1].count", ""),
            ("equipment[2].name", "吊车"),
            ("equipment[2].count", "x"),
            ("measures", "隔声屏\r\n\r\n禁止鸣笛\n"),
            ("csrf", "ignored"),
        ]));
        assert_eq!(p.json["project"]["name"], "某项目");
        assert_eq!(p.json["equipment"][0]["count"], 2);
        assert_eq!(p.json["equipment"][1]["count"], "x");
        assert_eq!(p.json["measures"], serde_json::json!(["隔声屏", "禁止鸣笛"]));
        assert!(p.json.get("csrf").is_none());
        let errors = p.page_errors(vec![
            FieldError::new("equipment[1].count", "OUT_OF_RANGE", "x"),
            FieldError::new("measures[0]", "REQUIRED", "x"),
        ]);
        assert_eq!(errors[0].field, "equipment[2].count");
        assert_eq!(errors[1].field, "measures");
    }

    #[test]
    fn stored_forms_fill_the_page_fields() {
        let v = serde_json::json!({"project": {"name": "甲"}, "equipment": [{"name": "泵车", "count": 2}], "measures": ["a", "b"]});
        let got = values_of(&v);
        assert_eq!(got["project.name"], "甲");
        assert_eq!(got["equipment[0].count"], "2");
        assert_eq!(got["measures"], "a\nb");
    }
}
