//! What the binary writes to stdout when it is not a terminal (a file, a pipe, a log
//! collector): plain text without colour escape codes, opening with the build that runs;
//! and `--version`, which names the same build.

use crate::e2e::process::{ManagedChild, free_port};
use crate::e2e::{portcullis_binary, repo_root, scratch_dir};
use std::process::Command;

#[tokio::test]
async fn text_logs_written_to_a_file_carry_no_colour_escape_codes() {
    let dir = scratch_dir("logging").expect("scratch dir");
    let config = dir.path().join("outpost.yaml");
    // The provider need not answer: the start-up line is written before discovery.
    std::fs::write(
        &config,
        r#"providers:
  p:
    issuerURL: "http://127.0.0.1:9/"
    clientID: c
    scopes: [openid]
    claims: { username: [preferred_username], email: email, groups: groups, permissions: permissions }
    clockSkewSeconds: 30
routes:
  - id: r
    hosts: ["app.localhost"]
    paths: [/]
    provider: p
    authURL: http://app.localhost
    redirectURI: http://app.localhost/oauth2/callback
    policy:
      groups: [staff]
"#,
    )
    .expect("config");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "a-logging-test-cookie-secret-of-enough-length").expect("secret");
    let mut cmd = Command::new(portcullis_binary());
    cmd.arg("outpost")
        .arg("--log-format")
        .arg("text")
        .arg("--config")
        .arg(&config)
        .arg("--cookie-secret-file")
        .arg(&secret)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--admin-listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--allow-http-loopback")
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR");
    let child = ManagedChild::spawn("outpost", cmd, dir.path().join("outpost.log"))
        .expect("outpost starts");
    assert!(
        child.logged("portcullis outpost listening").await,
        "the start-up line is logged: {}",
        child.log()
    );
    let log = child.log();
    assert!(log.contains(" INFO "), "a text line, not JSON: {log}");
    let starting = log
        .find("starting portcullis outpost")
        .expect("a start-up line naming the role");
    let line = log[..starting]
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .to_string()
        + log[starting..].lines().next().unwrap_or_default();
    assert!(
        line.contains(&expected_version()),
        "the start-up line names the build ({}): {line}",
        expected_version()
    );
    assert!(
        starting < log.find("listening").unwrap_or(usize::MAX),
        "it comes before the listening line: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "text logs to a file must not carry ANSI escape codes: {log:?}"
    );
}

/// `portcullis <release> (commit <12 hex digits>)`: the commit this checkout's HEAD is
/// (the binary under test was built from it), or `unknown` outside a git checkout.
fn expected_version() -> String {
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let commit = std::env::var("PORTCULLIS_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or(head)
        .unwrap_or_else(|| "unknown".into());
    format!("{} (commit {commit})", env!("CARGO_PKG_VERSION"))
}

#[test]
fn version_names_the_release_and_the_commit_it_was_built_from() {
    let out = Command::new(portcullis_binary())
        .arg("--version")
        .output()
        .expect("portcullis --version");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text.trim(), format!("portcullis {}", expected_version()));
    // A fresh clone is a git checkout (CI's case): the commit is known, not "unknown".
    if repo_root().join(".git").exists() {
        assert!(!text.contains("unknown"), "{text}");
    }
}
