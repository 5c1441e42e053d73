//! What the binary writes to stdout when it is not a terminal (a file, a pipe, a log
//! collector): plain text without colour escape codes.

use crate::e2e::process::{ManagedChild, free_port};
use crate::e2e::{portcullis_binary, scratch_dir};
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
    assert!(
        !log.contains('\u{1b}'),
        "text logs to a file must not carry ANSI escape codes: {log:?}"
    );
}
