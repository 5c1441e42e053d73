//! `portcullis render` is as strict as the API server: the same manifests are refused by
//! `kubectl apply --dry-run=server` (strict field validation) and by `render`, and
//! render's message names the field. `--strict` also refuses what would not become Ready.

use super::render::render;
use crate::e2e::operator::install;
use crate::e2e::{ControlPlane, require_control_plane};

const ROUTE: &str = "apiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {name: r, namespace: NS}\nspec:\n  hosts: [app.example.com]\n  providerRef: {name: p}\n";
const PROVIDER: &str = "apiVersion: portcullis.dev/v1alpha1\nkind: OIDCProvider\nmetadata: {name: p, namespace: NS}\nspec:\n  issuerURL: https://idp.example.com\n  clientID: x\n";
const CLIENT: &str = "apiVersion: portcullis.dev/v1alpha1\nkind: OAuthClient\nmetadata: {name: c, namespace: NS}\nspec:\n  providerRef: {name: p}\n";

/// A route with a policy (so only `extra` decides) and more spec lines.
fn route(extra: &str) -> String {
    format!("{ROUTE}  policy: {{groups: [admins]}}\n{extra}")
}

/// (manifest, whether valid, what render's error must contain when not).
fn table() -> Vec<(String, bool, &'static str)> {
    let mut cases = vec![
        (route(""), true, ""),
        (
            format!("{ROUTE}  polcy: {{groups: [admins]}}\n"),
            false,
            "spec.polcy: unknown field; did you mean \"policy\"?",
        ),
        (
            format!("{ROUTE}  policy: {{group: [admins]}}\n"),
            false,
            "spec.policy.group: unknown field; did you mean \"groups\"?",
        ),
        (
            route("  session: {cookieNme: x}\n"),
            false,
            "spec.session.cookieNme: unknown field; did you mean \"cookieName\"?",
        ),
        (
            route("  headers: {preset: oauth2proxy}\n"),
            false,
            "spec.headers.preset",
        ),
        (
            route("  policy: {groups: [a], permissions: ['docs:*']}\n")
                .replace("  policy: {groups: [admins]}\n", ""),
            false,
            "spec.policy.permissions[0]",
        ),
        (
            ROUTE.replace("app.example.com", "App.example.com") + "  policy: {groups: [a]}\n",
            false,
            "spec.hosts[0]",
        ),
        (
            route("  authURL: http://app.example.com\n"),
            false,
            "spec.authURL",
        ),
        (
            route("").replace("portcullis.dev/v1alpha1", "portcullis.dev/v1"),
            false,
            "apiVersion",
        ),
        (
            route("  headers: {map: {X-User: emial}}\n"),
            false,
            "spec.headers.map",
        ),
        (
            route("  headers: {map: {X-User: user, X-Tenant: 'claim:tenant'}}\n"),
            true,
            "",
        ),
        (format!("{CLIENT}  mode: Sometimes\n"), false, "spec.mode"),
        (
            format!("{PROVIDER}  clockSkew: 1d\n"),
            false,
            "spec.clockSkew",
        ),
        (
            format!("{PROVIDER}  scope: [openid]\n"),
            false,
            "spec.scope: unknown field; did you mean \"scopes\"?",
        ),
    ];
    for (value, ok) in [
        ("30s", true),
        ("1h30m", true),
        ("500ms", true),
        ("0s", true),
        ("1d", false),
        ("8 hours", false),
        ("1.5h", false),
        ("-5m", false),
        ("5", false),
        ("h", false),
        ("10us", false),
        ("1h 30m", false),
    ] {
        cases.push((
            route(&format!("  session: {{lifetime: {value:?}}}\n")),
            ok,
            "spec.session.lifetime",
        ));
    }
    cases
}

/// Every case is accepted or refused alike by the API server and by `render`.
#[test]
fn render_and_the_api_server_agree_on_a_table_of_manifests() {
    if !require_control_plane() {
        return;
    }
    let cp = ControlPlane::shared();
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        install(cp);
    });
    let k = cp.kubectl();
    let ns = cp.namespace("strict");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("case.yaml");
    let mut disagreements = Vec::new();
    for (manifest, valid, field) in table() {
        let manifest = manifest.replace("NS", &ns);
        let server = k.run(
            &["apply", "--server-side", "--dry-run=server", "-f", "-"],
            Some(&manifest),
        );
        std::fs::write(&file, &manifest).unwrap();
        let (rendered, _, err) = render(&["-f", file.to_str().unwrap()]);
        let server_ok = server.status.success();
        if server_ok != valid || rendered != valid || (!valid && !err.contains(field)) {
            disagreements.push(format!(
                "{manifest}expected valid={valid}: server={server_ok} ({}) render={rendered} ({})",
                String::from_utf8_lossy(&server.stderr).trim(),
                err.trim()
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n\n"));
}

/// `render --strict` fails on objects that would not become Ready; without it they
/// render, with the reason in status.
#[test]
fn strict_render_refuses_what_would_not_become_ready() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("case.yaml");
    for (manifest, words) in [
        (route(""), "ProviderNotFound"),
        (
            format!(
                "{PROVIDER}---\n{CLIENT}  mode: Static\n  credentialsSecretRef: {{name: creds}}\n"
            ),
            "creds",
        ),
    ] {
        let manifest = manifest.replace("NS", "apps");
        std::fs::write(&file, &manifest).unwrap();
        let (ok, _, err) = render(&["-f", file.to_str().unwrap()]);
        assert!(ok, "{err}");
        let (ok, _, err) = render(&["--strict", "-f", file.to_str().unwrap()]);
        assert!(!ok, "--strict accepted {manifest}");
        assert!(err.contains(words), "{err}");
    }
    let fine = format!("{PROVIDER}---\n{}", route("")).replace("NS", "apps");
    std::fs::write(&file, fine).unwrap();
    let (ok, _, err) = render(&["--strict", "-f", file.to_str().unwrap()]);
    assert!(ok, "{err}");
}

/// Every CEL rule of the CRDs, admitted and refused (the table `render`'s unit tests
/// use): the API server and `render` give the same verdict, and for a refusal the same
/// words (`spec.redirectURIs[1]: Invalid value: "string": must be ...`).
#[test]
fn render_and_the_api_server_agree_on_every_cel_rule_word_for_word() {
    if !require_control_plane() {
        return;
    }
    let cp = ControlPlane::shared();
    install(cp);
    let k = cp.kubectl();
    let ns = cp.namespace("cel-words");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("case.yaml");
    let mut disagreements = Vec::new();
    let cases = portcullis::api::cel_cases::cases();
    for (kind, spec, expected) in &cases {
        let manifest = serde_json::json!({
            "apiVersion": "portcullis.dev/v1alpha1",
            "kind": kind,
            "metadata": {"name": "x", "namespace": ns},
            "spec": spec,
        })
        .to_string();
        let server = k.run(
            &["apply", "--server-side", "--dry-run=server", "-f", "-"],
            Some(&manifest),
        );
        let server_err = String::from_utf8_lossy(&server.stderr).to_string();
        std::fs::write(&file, &manifest).unwrap();
        let (rendered, _, render_err) = render(&["-f", file.to_str().unwrap()]);
        let agree = match expected {
            None => server.status.success() && rendered,
            Some((field, message)) => {
                let words = format!("{field}: {message}");
                !server.status.success()
                    && !rendered
                    && server_err.contains(&words)
                    && render_err.contains(&words)
            }
        };
        if !agree {
            disagreements.push(format!(
                "{manifest}\nexpected {expected:?}\n  server: {} {}\n  render: {rendered} {}",
                server.status.success(),
                server_err.trim(),
                render_err.trim()
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n\n")
    );
}
