//! Pages anyone may open: the front page.

use super::session::PageSession;
use super::Nav;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use nightpermit_domain::District;

pub struct DistrictLink {
    pub id: &'static str,
    pub name: String,
}

fn districts(state: &AppState) -> Vec<DistrictLink> {
    District::ALL.iter().map(|d| DistrictLink { id: d.id(), name: state.settings.district(*d).name.clone() }).collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub title: &'static str,
    pub nav: Nav,
    pub districts: Vec<DistrictLink>,
}

pub async fn index(State(state): State<AppState>, session: Option<PageSession>) -> IndexPage {
    IndexPage {
        title: "夜间施工许可 一件事一次办", nav: Nav::of(session.as_ref()), districts: districts(&state)
    }
}
