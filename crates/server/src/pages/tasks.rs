//! The one form as a short task list (GOV.UK's "complete multiple tasks" pattern): project,
//! night work, equipment, measures, contact and materials, each 未开始, 未完成 or 已完成. A task
//! is unfinished for the reasons the API itself gives: the form's state comes from
//! `validate_form` (the same codes and messages as a refused POST), the materials' from the
//! required kinds the pre-review reports as `MISSING_MATERIAL`.

use super::formdata;
use crate::error::FieldError;
use nightpermit_domain::MaterialKind;
use nightpermit_prereview::findings::MISSING_MATERIAL;
use std::collections::BTreeMap;

/// The form's tasks in order: their ids (also the fieldsets' anchors, `#task-{id}`) and titles.
pub const FORM_TASKS: [(&str, &str); 5] = [
    ("project", "工程项目"),
    ("night_work", "夜间施工"),
    ("equipment", "夜间使用的设备"),
    ("measures", "噪声污染防治措施"),
    ("contact", "现场联系人"),
];

pub struct Task {
    pub id: &'static str,
    pub title: &'static str,
    /// Where the task is done; empty while it cannot be started yet.
    pub href: String,
    /// `not_started`, `incomplete` or `completed` (the `data-task-state` marker).
    pub state: &'static str,
    /// Why it is not complete: the API's field errors of this task.
    pub reasons: Vec<FieldError>,
    pub note: &'static str,
}

impl Task {
    pub fn state_label(&self) -> &'static str {
        match self.state {
            "completed" => "已完成",
            "incomplete" => "未完成",
            _ => "未开始",
        }
    }
}

/// The task list as a page shows it.
#[derive(Default)]
pub struct TaskList {
    pub tasks: Vec<Task>,
}

impl TaskList {
    pub fn done(&self) -> usize {
        self.tasks.iter().filter(|t| t.state == "completed").count()
    }

    pub fn complete(&self) -> bool {
        self.done() == self.tasks.len()
    }
}

/// The task a form field (its page name, as in PAGES.md) belongs to.
pub fn task_of(field: &str) -> Option<&'static str> {
    if field == "district" || field.starts_with("project.") {
        Some("project")
    } else if field.starts_with("night_work.") {
        Some("night_work")
    } else if field.starts_with("equipment") {
        Some("equipment")
    } else if field.starts_with("measures") {
        Some("measures")
    } else if field.starts_with("contact.") {
        Some("contact")
    } else {
        None
    }
}

/// The API's verdict on these page values: `validate_form` on the JSON the page would post,
/// its errors named as the page names its fields.
pub fn form_errors(values: &BTreeMap<String, String>, today: chrono::NaiveDate) -> Vec<FieldError> {
    let pairs: Vec<(String, String)> = values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let posted = formdata::application(&pairs);
    match nightpermit_cases::form::validate_form(&posted.json, today) {
        Ok(_) => Vec::new(),
        Err(errors) => posted.page_errors(errors),
    }
}

/// The five form tasks: not started while none of its fields has a value, incomplete while the
/// API would refuse one of them, complete otherwise. `href` gives each task's link.
pub fn form_tasks(
    values: &BTreeMap<String, String>,
    errors: &[FieldError],
    href: impl Fn(&str) -> String,
) -> Vec<Task> {
    FORM_TASKS
        .iter()
        .map(|(id, title)| {
            let started = values.iter().any(|(k, v)| task_of(k) == Some(*id) && !v.trim().is_empty());
            let reasons: Vec<FieldError> = errors.iter().filter(|e| task_of(&e.field) == Some(*id)).cloned().collect();
            let state = match (started, reasons.is_empty()) {
                (false, _) => "not_started",
                (true, false) => "incomplete",
                (true, true) => "completed",
            };
            Task { id, title, href: href(id), state, reasons, note: "" }
        })
        .collect()
}

/// The materials task: every required kind present is complete; each missing one is a reason,
/// with the pre-review's code for it. Without a saved draft there is nowhere to upload yet.
pub fn materials_task(present: &[MaterialKind], href: Option<String>) -> Task {
    let Some(href) = href else {
        return Task {
            id: "materials",
            title: "材料",
            href: String::new(),
            state: "not_started",
            reasons: Vec::new(),
            note: "保存申请表后即可上传材料",
        };
    };
    let reasons: Vec<FieldError> = MaterialKind::ALL
        .iter()
        .filter(|k| k.required() && !present.contains(k))
        .map(|k| FieldError::new("materials", MISSING_MATERIAL, format!("缺少材料：{}", k.label())))
        .collect();
    let state = if present.is_empty() {
        "not_started"
    } else if reasons.is_empty() {
        "completed"
    } else {
        "incomplete"
    };
    Task { id: "materials", title: "材料", href, state, reasons, note: "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
    }

    #[test]
    fn tasks_follow_the_apis_verdict() {
        let mut values = BTreeMap::new();
        values.insert("project.name".to_string(), "某项目".to_string());
        values.insert("contact.name".to_string(), "张三".to_string());
        values.insert("contact.phone".to_string(), "13800000000".to_string());
        let errors = form_errors(&values, today());
        let tasks = form_tasks(&values, &errors, |id| format!("#task-{id}"));
        let state = |id: &str| tasks.iter().find(|t| t.id == id).map(|t| t.state).unwrap_or("?");
        assert_eq!(state("project"), "incomplete");
        assert_eq!(state("night_work"), "not_started");
        assert_eq!(state("contact"), "completed");
        let project = tasks.iter().find(|t| t.id == "project").expect("project");
        assert!(project.reasons.iter().any(|r| r.field == "project.address" && r.code == "REQUIRED"));
        values.insert("contact.phone".to_string(), "1396".to_string());
        let errors = form_errors(&values, today());
        let tasks = form_tasks(&values, &errors, |id| format!("#task-{id}"));
        let contact = tasks.iter().find(|t| t.id == "contact").expect("contact");
        assert_eq!((contact.state, contact.reasons[0].code.as_str()), ("incomplete", "INVALID_PHONE"));
    }

    #[test]
    fn materials_are_done_when_every_required_kind_is_there() {
        assert_eq!(materials_task(&[], Some("#m".into())).state, "not_started");
        let some = materials_task(&[MaterialKind::SitePlan], Some("#m".into()));
        assert_eq!(some.state, "incomplete");
        assert!(some.reasons.iter().all(|r| r.code == MISSING_MATERIAL));
        let required: Vec<MaterialKind> = MaterialKind::ALL.iter().copied().filter(|k| k.required()).collect();
        assert_eq!(materials_task(&required, Some("#m".into())).state, "completed");
        assert_eq!(materials_task(&required, None).href, "");
    }
}
