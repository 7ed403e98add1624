//! 核对申请信息 — "check your answers" before submitting: every answer of the form with a 修改
//! link back to its field, the materials per kind, the tasks still unfinished and the submit
//! button (which posts to `/applications/{id}/submit`, as PAGES.md fixes).

use super::applicant::{kind_blocks, sections, task_list, KindBlock};
use super::formdata;
use super::session::PageSession;
use super::tasks::TaskList;
use super::Nav;
use crate::error::{ApiError, ApiResult};
use crate::routes::applications as api;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use nightpermit_domain::{ApplicationStatus, MaterialKind};

/// One answer: the field's page name (`data-answer`), its label, what was given, and where to
/// change it (the edit form, at that field, coming back here when saved).
pub struct Answer {
    pub name: String,
    pub label: String,
    pub lines: Vec<String>,
    pub change: String,
}

/// The answers of one task, under its title.
pub struct AnswerGroup {
    pub task: &'static str,
    pub title: &'static str,
    pub answers: Vec<Answer>,
}

#[derive(Template, WebTemplate)]
#[template(path = "check_answers.html")]
pub struct CheckPage {
    pub title: &'static str,
    pub nav: Nav,
    pub csrf: String,
    pub id: String,
    pub project_name: String,
    pub resubmit: bool,
    pub groups: Vec<AnswerGroup>,
    pub kind_blocks: Vec<KindBlock>,
    pub tasklist: TaskList,
    /// A fresh one-time key: a double click on submit is one submit.
    pub submit_key: String,
}

/// The answers as the form's own fields show them: labels from the same field list, a select
/// by its option's text, blank optional equipment rows left out.
fn answers(id: &str, values: &std::collections::BTreeMap<String, String>) -> Vec<AnswerGroup> {
    sections(values, &[])
        .into_iter()
        .map(|s| AnswerGroup {
            task: s.task,
            title: super::tasks::FORM_TASKS.iter().find(|(t, _)| *t == s.task).map_or(s.title, |(_, title)| title),
            answers: s
                .fields
                .into_iter()
                .filter(|f| f.required || !f.value.trim().is_empty())
                .map(|f| {
                    let shown = f.options.iter().find(|o| o.selected).map(|o| o.label.clone()).unwrap_or(f.value);
                    Answer {
                        change: format!("/applications/{id}/edit?from=check#{}", f.id),
                        lines: shown.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect(),
                        label: f.label,
                        name: f.name,
                    }
                })
                .collect(),
        })
        .collect()
}

/// `GET /applications/{id}/check`: the firm's own case while it may still be changed.
pub async fn page(State(state): State<AppState>, session: PageSession, Path(id): Path<String>) -> ApiResult<CheckPage> {
    session.caller().firm()?;
    let case = api::visible_case(&state, session.caller(), &id).await?;
    let app = &case.application;
    if !app.status.editable() {
        return Err(nightpermit_store::StoreError::WrongStatus { current: app.status }.into());
    }
    let resubmit = app.status == ApplicationStatus::NeedsCorrection;
    let form: serde_json::Value = serde_json::from_str(&app.form).map_err(ApiError::internal)?;
    let values = formdata::values_of(&form);
    let v = api::application_view(&state, case)?;
    let kinds: Vec<MaterialKind> = v.materials.iter().map(|m| m.kind).collect();
    let tasklist = task_list(&state, &values, &format!("/applications/{id}/edit"), Some((&id, &kinds)));
    Ok(CheckPage {
        title: "核对申请信息",
        nav: Nav::of(Some(&session)),
        csrf: session.csrf(),
        project_name: v.project.name.clone(),
        resubmit,
        groups: answers(&id, &values),
        kind_blocks: kind_blocks(&v.id, &v.materials),
        tasklist,
        submit_key: uuid::Uuid::new_v4().to_string(),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_links_back_to_its_field() {
        let form = serde_json::json!({"district": "jingan", "project": {"name": "甲"},
            "equipment": [{"name": "泵车", "count": 2, "sound_level_db": 85}], "measures": ["隔声屏", "禁鸣"]});
        let groups = answers("a1", &formdata::values_of(&form));
        let all: Vec<&Answer> = groups.iter().flat_map(|g| g.answers.iter()).collect();
        let district = all.iter().find(|a| a.name == "district").expect("district");
        assert_eq!(district.lines, vec!["静安区".to_string()]);
        let name = all.iter().find(|a| a.name == "project.name").expect("name");
        assert_eq!(name.change, "/applications/a1/edit?from=check#f-project-name");
        let measures = all.iter().find(|a| a.name == "measures").expect("measures");
        assert_eq!(measures.lines.len(), 2);
        // Only the filled equipment row is an answer; a blank optional row is not.
        assert!(all.iter().any(|a| a.name == "equipment[0].count"));
        assert!(!all.iter().any(|a| a.name == "equipment[1].name"));
        assert_eq!(groups.iter().map(|g| g.task).collect::<Vec<_>>().len(), 5);
    }
}
