//! `portcullis render` shows the rotation the operator would carry out, through the real
//! binary: the state Secret of a first render, fed back as the cluster would hold it,
//! schedules the next rotation; the same Secret with its last rotation a period ago
//! makes render mint a new secret and keep the previous one, both redacted.

use crate::render::{docs, render};
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// The example Grafana client (period 2160h, grace 24h) with `state` beside it.
fn render_with_state(state: &serde_json::Value, show: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("state.yaml"),
        serde_yaml::to_string(state).unwrap(),
    )
    .unwrap();
    let client = example("grafana-client.yaml");
    let provider = example("provider.yaml");
    let mut args = vec!["-f", client.to_str().unwrap()];
    args.extend(["-f", provider.to_str().unwrap()]);
    args.extend(["-f", dir.path().to_str().unwrap()]);
    if show {
        args.push("--show-secrets");
    }
    let (ok, out, err) = render(&args);
    assert!(ok, "{err}");
    out
}

fn rotation_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("# OAuthClient monitoring/grafana: "))
        .unwrap_or_else(|| panic!("no rotation line in\n{out}"))
}

#[test]
fn render_schedules_the_next_rotation_and_shows_a_due_one() {
    let (ok, first, err) = render(&[
        "--show-secrets",
        "-f",
        example("grafana-client.yaml").to_str().unwrap(),
        "-f",
        example("provider.yaml").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let first_docs = docs(&first);
    let mut state = first_docs
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "grafana-portcullis-state")
        .expect("the state Secret")
        .clone();
    let minted = state["stringData"]["client-secret"]
        .as_str()
        .unwrap()
        .to_string();
    let rotated_at: k8s_openapi::jiff::Timestamp = state["stringData"]["rotated-at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let next =
        k8s_openapi::jiff::Timestamp::from_second(rotated_at.as_second() + 2160 * 3600).unwrap();

    // As the cluster holds it: the recorded rotation stands, the next is a period later.
    let again = render_with_state(&state, false);
    assert_eq!(
        rotation_line(&again),
        format!("# OAuthClient monitoring/grafana: secret rotation: next due {next}")
    );
    let client = docs(&again)
        .into_iter()
        .find(|d| d["kind"] == "OAuthClient")
        .unwrap();
    assert_eq!(
        client["status"]["lastRotationTime"],
        state["stringData"]["rotated-at"]
    );

    // Recorded a period and a day ago: due now, the minted value kept as the previous.
    state["stringData"]["rotated-at"] = "2020-01-01T00:00:00Z".into();
    let due = render_with_state(&state, false);
    let line = rotation_line(&due);
    assert!(
        line.starts_with(
            "# OAuthClient monitoring/grafana: secret rotation due now (spec.rotation.period \
             elapsed): a new secret would be minted, the previous kept until "
        ),
        "{line}"
    );
    assert!(
        !due.contains(&minted),
        "the previous secret is redacted:\n{due}"
    );
    let shown = render_with_state(&state, true);
    assert!(
        shown.contains(&format!("client-secret-previous: {minted}")),
        "{shown}"
    );
}
