//! Headless Chromium through `tests/browser/browser.mjs` (playwright-core driving the
//! system Chromium): open a URL, log in through the IdP form, screenshot the final page.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::process::{ManagedChild, chromium_path};
use super::{HarnessError, Result, repo_root, scratch_dir};

/// What the browser should do.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// First URL to open.
    pub url: String,
    /// Username for the login form; no login is attempted when `None`.
    pub username: Option<String>,
    /// Password for the login form.
    pub password: Option<String>,
    /// Where to write the PNG.
    pub screenshot: PathBuf,
    /// Per-step timeout inside the driver; the whole run gets three times this.
    pub timeout: Duration,
}

impl BrowserOptions {
    /// Open `url`, log in as `username`/`password`, screenshot to `screenshot`.
    pub fn login(url: &str, username: &str, password: &str, screenshot: PathBuf) -> Self {
        Self {
            url: url.to_owned(),
            username: Some(username.to_owned()),
            password: Some(password.to_owned()),
            screenshot,
            timeout: Duration::from_secs(20),
        }
    }
}

/// What the browser ended on.
#[derive(Debug, Clone, Deserialize)]
pub struct BrowserResult {
    /// URL of the final page.
    pub final_url: String,
    /// `<title>` of the final page.
    pub title: String,
    /// Visible text of the final page.
    pub text: String,
    /// HTTP status of the last main-frame navigation.
    pub status: Option<u16>,
    /// Main-frame URLs in order (redirects collapsed, as Chromium reports them).
    pub navigations: Vec<String>,
    /// Whether the login form was filled and submitted.
    pub logged_in: bool,
}

/// The browser driver.
#[derive(Debug)]
pub struct Browser;

impl Browser {
    /// Run one scripted session in a fresh profile. Runs on a blocking thread so that
    /// in-process servers (stand-ins, the upstream app) keep serving meanwhile.
    pub async fn run(opts: BrowserOptions) -> Result<BrowserResult> {
        tokio::task::spawn_blocking(move || run_blocking(&opts))
            .await
            .map_err(|e| HarnessError::Unexpected(format!("browser task: {e}")))?
    }
}

fn run_blocking(opts: &BrowserOptions) -> Result<BrowserResult> {
    let dir = scratch_dir("chromium")?;
    let profile = dir.path().join("profile");
    std::fs::create_dir_all(&profile)?;
    let config = json!({
        "url": opts.url,
        "username": opts.username,
        "password": opts.password,
        "screenshot": opts.screenshot,
        "user_data_dir": profile,
        "executable": chromium_path(),
        "timeout_ms": u64::try_from(opts.timeout.as_millis()).unwrap_or(u64::MAX),
    });
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("tests/browser/browser.mjs"))
        .env("BROWSER_CONFIG", config.to_string())
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .env("HOME", dir.path());
    let log_path = dir.path().join("browser.log");
    let mut child = ManagedChild::spawn("browser", cmd, log_path)?;
    let deadline = Instant::now() + opts.timeout * 3;
    loop {
        match child.check_running() {
            Ok(()) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(()) => {
                return Err(HarnessError::NotReady {
                    name: "browser".into(),
                    secs: (opts.timeout * 3).as_secs(),
                    log: child.log(),
                });
            }
            Err(HarnessError::Exited { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    let log = child.log();
    let line = log
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| HarnessError::Unexpected(format!("browser gave no RESULT; log:\n{log}")))?;
    serde_json::from_str(line)
        .map_err(|e| HarnessError::Unexpected(format!("bad RESULT line: {e}")))
}
