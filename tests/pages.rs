//! Black-box, over HTTP: what the pages promise beyond what a browser shows — the session
//! cookie's flags, one session concept with the API, refusal of cross-site and token-less
//! posts, and error pages that say what the API's problem says.

mod common;

use common::*;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

#[tokio::test]
async fn sessions_cookies_and_cross_site_posts() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (code, _) = app.firm(7).await;
    let client = no_redirects();
    let origin = app.url("");
    let r = client
        .post(app.url("/login"))
        .header("origin", &origin)
        .header("sec-fetch-site", "same-origin")
        .form(&[("login", code.as_str()), ("password", "night-permit-1")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/applications");
    let set = r.headers()[SET_COOKIE].to_str().expect("ascii").to_string();
    assert!(set.starts_with("np_session=") && set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = set.split(';').next().expect("pair").to_string();
    let token = cookie.trim_start_matches("np_session=").to_string();

    // The same session row: the cookie's token is a bearer token too, and signing out ends both.
    assert_eq!(app.get("/api/v1/applications", Some(&token)).await.status(), StatusCode::OK);
    // The API does not take the cookie (no ambient credentials for JSON clients).
    let r = client.get(app.url("/api/v1/applications")).header(COOKIE, &cookie).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let page = client.get(app.url("/applications/new")).header(COOKIE, &cookie).send().await.expect("get");
    let html = page.text().await.expect("html");
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("form token");

    // Another site's page posting with the victim's cookie is refused, token or not.
    for site in [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site")] {
        let r = client
            .post(app.url("/logout"))
            .header(COOKIE, &cookie)
            .header(site.0, site.1)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site:?}");
    }
    // Same origin without the session's form token: refused too.
    let r = client
        .post(app.url("/logout"))
        .header(COOKIE, &cookie)
        .header("origin", &origin)
        .form(&[("csrf", "00")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/applications", Some(&token)).await.status(), StatusCode::OK);

    // Signing out from the page ends the session in the store.
    let r = client
        .post(app.url("/logout"))
        .header(COOKIE, &cookie)
        .header("origin", &origin)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[SET_COOKIE].to_str().expect("ascii").contains("Max-Age=0"));
    problem(app.get("/api/v1/applications", Some(&token)).await, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;
    let r = client.get(app.url("/applications")).header(COOKIE, &cookie).send().await.expect("get");
    assert_eq!(r.headers()[LOCATION], "/login?next=/applications");
    app.stop().await;
}

#[tokio::test]
async fn browsers_get_error_pages_with_the_problems_code() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let html = |path: &str| app.client.get(app.url(path)).header(ACCEPT, "text/html,application/xhtml+xml").send();
    let r = html("/p/jingan-2026-99999").await.expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
    let body = r.text().await.expect("html");
    assert!(body.contains("data-problem=\"NOT_FOUND\"") && body.contains("许可证不存在"), "{body}");
    let r = html("/no/such/page").await.expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.expect("html").contains("ROUTE_NOT_FOUND"));
    let r = html("/night/gotham").await.expect("get");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("html").contains("data-code=\"UNKNOWN_DISTRICT\""));
    // API clients keep problem+json on the same paths.
    problem(app.get("/p/jingan-2026-99999", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // A staff page for the wrong role is a 403 page.
    let (code, _) = app.firm(8).await;
    let client = no_redirects();
    let r = client
        .post(app.url("/login"))
        .header("origin", app.url(""))
        .form(&[("login", code.as_str()), ("password", "night-permit-1")])
        .send()
        .await
        .expect("login");
    let cookie = r.headers()[SET_COOKIE].to_str().expect("ascii").split(';').next().expect("pair").to_string();
    let r =
        client.get(app.url("/admin")).header(COOKIE, &cookie).header(ACCEPT, "text/html").send().await.expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("html").contains("data-problem=\"FORBIDDEN\""));
    // Assets are embedded and served with their type.
    let r = app.get("/static/style.css", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().expect("ascii").starts_with("text/css"));
    app.stop().await;
}

#[tokio::test]
async fn a_resident_files_a_complaint_and_follows_it_by_reference() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let client = no_redirects();
    let origin = app.url("");
    let form = |description: &'static str| {
        vec![
            ("district", "jingan"),
            ("address", "上海市静安区某路100号"),
            ("occurred_at", "2025-06-01T23:30"),
            ("description", description),
            ("contact.name", "李四"),
            ("contact.phone", "13900000000"),
        ]
    };
    let r = client.post(app.url("/complaints")).header("origin", &origin).form(&form("")).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("html");
    assert!(html.contains("data-errors") && html.contains("f-description"), "{html}");
    let r = client
        .post(app.url("/complaints"))
        .header("origin", &origin)
        .form(&form("<script>alert(1)</script> 半夜打桩"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap_or_default());
    let to = r.headers()[LOCATION].to_str().expect("ascii").to_string();
    assert!(to.starts_with("/complaints/"), "{to}");
    let html = client.get(app.url(&to)).send().await.expect("get").text().await.expect("html");
    assert!(html.contains("data-complaint=") && html.contains("data-step=\"contacted\""), "{html}");
    assert!(!html.contains("13900000000") && !html.contains("半夜打桩"), "no personal data or text: {html}");
    let r = client.get(app.url("/complaints/new?district=jingan")).send().await.expect("get");
    assert!(r.text().await.expect("html").contains("<option value=\"jingan\" selected>"));
}

/// A post after the session ended goes to sign in and back to a page of this site only: a
/// Referer naming another host is not followed, and what was typed is kept for the firm.
#[tokio::test]
async fn an_expired_session_returns_only_to_local_pages() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, token) = app.firm(9).await;
    let id = app.create_application(&token, &example_form()).await["id"].as_str().expect("id").to_string();
    let cookie = format!("np_session={token}");
    app.state.clock.advance_ms(app.settings.auth.session_ttl_hours * 3_600_000 + 1);
    let client = no_redirects();
    let origin = app.url("");
    let post = |path: &str, referer: &str| {
        client
            .post(app.url(path))
            .header(COOKIE, &cookie)
            .header("origin", &origin)
            .header("referer", referer.to_string())
            .form(&[("csrf", "stale"), ("project.name", "打字中")])
    };
    let r = post("/applications", "http://evil.example/phish").send().await.expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login?next=/applications/new");
    let kept = r.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|c| {
        c.starts_with("np_draft=") && c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Max-Age=1800")
    });
    assert!(kept, "the typed form is kept: {:?}", r.headers().get_all(SET_COOKIE));
    let own = app.url(&format!("/applications/{id}/edit?from=check"));
    let r = post(&format!("/applications/{id}/edit"), &own).send().await.expect("post");
    assert_eq!(r.headers()[LOCATION], format!("/login?next=/applications/{id}/edit%3Ffrom%3Dcheck"));
    // An upload is never kept, but still returns to its case.
    let r = client
        .post(app.url(&format!("/applications/{id}/materials")))
        .header(COOKIE, &cookie)
        .header("origin", &origin)
        .multipart(reqwest::multipart::Form::new().text("kind", "site_plan"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.headers()[LOCATION], format!("/login?next=/applications/{id}"));
    assert!(r.headers().get(SET_COOKIE).is_none());
    app.stop().await;
}

/// A district's backlog is shown fifty oldest tasks at a time, with links to the next page;
/// a page past the last shows the last.
#[tokio::test]
async fn the_review_queue_pages_fifty_oldest_first() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, firm) = app.firm(77).await;
    let reviewer = app.staff("queue-reviewer", "reviewer", Some("construction"), Some("jingan")).await;
    let mut ids = Vec::new();
    for _ in 0..53 {
        let id = app.create_application(&firm, &example_form()).await["id"].as_str().expect("id").to_string();
        let r = app.upload(&firm, &id, "site_plan", "plan.png", png(40, 30)).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(app.submit(&firm, &id, None).await.status(), StatusCode::ACCEPTED);
        app.finish_for_review(&id, "[\"需人工审核\"]".into(), "[]".into(), None).await;
        ids.push(id);
    }
    let client = no_redirects();
    let cookie = format!("np_session={reviewer}");
    let page = |path: &str| {
        let (client, cookie, url) = (client.clone(), cookie.clone(), app.url(path));
        async move {
            let r = client.get(url).header(COOKIE, cookie).send().await.expect("get");
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.expect("html")
        }
    };
    let first = page("/review").await;
    assert_eq!(first.matches("data-task=\"").count(), 50);
    assert!(first.contains("data-next-page") && first.contains("共 53 条"), "a link to the rest");
    // Oldest first: the first case submitted leads the first page.
    assert!(first.contains(&format!("data-task=\"{}-construction\"", ids[0])));
    let second = page("/review?page=2").await;
    assert_eq!(second.matches("data-task=\"").count(), 3);
    assert!(second.contains(&format!("data-task=\"{}-construction\"", ids[52])) && !second.contains("data-next-page"));
    assert_eq!(page("/review?page=99").await.matches("data-task=\"").count(), 3, "past the end: the last page");
    assert_eq!(page("/review?page=x").await.matches("data-task=\"").count(), 50, "not a number: the first page");
}
