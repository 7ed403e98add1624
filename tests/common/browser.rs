//! The browser harness of the page tests: chromedriver on a free port and headless Debian
//! Chromium sessions (installed by `make deps`).
#![allow(dead_code)]

use super::temp_dir;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "chromedriver";
/// The phone-sized window (Chromium clamps the width to about 500).
pub const PHONE: (u32, u32) = (375, 900);

/// chromedriver on a free local port; killed when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub async fn start_driver() -> Driver {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing (fix: `make deps`, or apt-get install chromium chromium-driver)"
    );
    let port = free_port();
    // The browser's locale sets how date and time inputs take keys (mm/dd/yyyy, hh:mm AM/PM).
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .env("LANG", "en_US.UTF-8")
        .env("LANGUAGE", "en_US")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (fix: `make deps`, or apt-get install chromium-driver)");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start listening on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

/// A fresh headless browser (own profile directory), phone-sized, with or without JavaScript.
pub async fn browser(driver: &Driver, js: bool) -> Client {
    let profile = temp_dir("chromium-profile");
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--hide-scrollbars".into(),
        format!("--window-size={},{}", PHONE.0, PHONE.1),
        // Date and time inputs take keys in the en-US order.
        "--lang=en-US".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    if !js {
        args.push("--blink-settings=scriptEnabled=false".into());
    }
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": args,
            // 2 = block: the content setting, on top of the blink switch.
            "prefs": {"profile.managed_default_content_settings.javascript": if js { 1 } else { 2 }},
        },
    });
    let Value::Object(caps) = caps else { unreachable!("a JSON object") };
    // chromedriver listens on loopback over plain HTTP: no TLS stack needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}
