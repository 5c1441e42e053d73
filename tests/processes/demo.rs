//! `scripts/demo` (issue 13 item 10): it fails loudly when its port is taken, and a
//! SIGTERM stops every process it started and removes every temporary folder, as Ctrl-C
//! does.

use crate::e2e::{Tool, free_port, repo_root, require};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn demo_binary() -> std::path::PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--example",
            "demo",
            "--bin",
            "portcullis",
        ])
        .current_dir(repo_root())
        .status()
        .expect("cargo build --example demo");
    assert!(status.success());
    repo_root().join("target/debug/examples/demo")
}

/// Every descendant of `pid` (children, grandchildren, ...), from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        let children =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            out.push(c);
            frontier.push(c);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn the_demo_refuses_a_taken_port_loudly() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let demo = demo_binary();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let started = Instant::now();
    let out = Command::new(&demo)
        .env("DEMO_PORT", port.to_string())
        .current_dir(repo_root())
        .output()
        .expect("run the demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("port {port}")) && stderr.contains("DEMO_PORT"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "fails at once");
}

#[test]
fn sigterm_stops_every_process_and_removes_every_temporary_folder() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let demo = demo_binary();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(&demo)
        .env("DEMO_PORT", free_port().to_string())
        .env("TMPDIR", tmp.path())
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the demo");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = stdout.lines();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let line = lines.next().expect("the demo ended early").unwrap();
        if line.contains("stops everything") {
            break;
        }
        assert!(Instant::now() < deadline, "the demo never came up");
    }
    let started = descendants(child.id());
    assert!(
        started.len() >= 3,
        "nginx, the outpost and the IdP run: {started:?}"
    );
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().count() > 0,
        "it uses temporary folders"
    );

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the demo ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "a clean exit on SIGTERM: {status}");
    std::thread::sleep(Duration::from_millis(500));
    let left: Vec<u32> = started.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left running: {left:?}");
    let folders: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(folders.is_empty(), "temporary folders left: {folders:?}");
}
