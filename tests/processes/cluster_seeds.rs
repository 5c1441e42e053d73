//! Symptoms from the seed troubleshooting guides, as the conditions a user reads on the
//! real control plane: issuer mismatch (trailing slash), clock skew, and scopes or
//! claims the IdP does not advertise (informational: it does not gate Ready).

use crate::e2e::operator::Shared;
use crate::e2e::{Idp, IdpOptions, Tool, condition, has_condition, require, require_control_plane};

fn message(object: &serde_json::Value, type_: &str) -> String {
    condition(object, type_).map_or_else(String::new, |c| {
        format!("{} {}: {}", c["status"], c["reason"], c["message"])
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_mismatch_clock_skew_and_missing_scopes_are_named() {
    if !(require(&[Tool::Node, Tool::IdpPackages]) && require_control_plane()) {
        return;
    }
    // An IdP advertising its issuer with a trailing slash, its clock 5 minutes ahead.
    let skewed = Idp::start(IdpOptions {
        trailing_slash: true,
        clock_offset_seconds: 300,
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    let healthy = Idp::start(IdpOptions::default()).expect("start the IdP");
    let shared = Shared::get();
    let k = shared.kubectl();
    let ns = shared.cp.namespace("seeds");
    k.apply_yaml(&format!(
        r#"apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: skewed, namespace: {ns}}}
spec: {{issuerURL: "{skewed}", clientID: x}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: healthy, namespace: {ns}}}
spec: {{issuerURL: "{healthy}", clientID: x, scopes: [openid, email, made_up_scope]}}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: dept, namespace: {ns}}}
spec:
  hosts: [dept.{ns}.test]
  providerRef: {{name: healthy}}
  policy: {{claims: [{{claim: department, values: [finance]}}]}}
"#,
        skewed = skewed.issuer().trim_end_matches('/'),
        healthy = healthy.issuer(),
    ));
    let p = k.eventually(
        &["get", "oidcprovider", "skewed", "-n", &ns],
        "IssuerMatches=False, ClockInSync=False",
        60,
        |v| has_condition(v, "IssuerMatches", "False") && has_condition(v, "ClockInSync", "False"),
        || shared.operator_log(),
    );
    let issuer = message(&p, "IssuerMatches");
    assert!(
        issuer.contains("IssuerMismatch") && issuer.contains("trailing slash"),
        "{issuer}"
    );
    let clock = message(&p, "ClockInSync");
    assert!(
        clock.contains("ClockSkew") && clock.contains("ahead of") && clock.contains("NTP"),
        "{clock}"
    );
    assert!(has_condition(&p, "Ready", "False"), "{p:#}");

    // Missing scopes and claims are named, and the provider is Ready all the same.
    let p = k.eventually(
        &["get", "oidcprovider", "healthy", "-n", &ns],
        "Ready=True, ScopesAndClaimsSupported=False",
        60,
        |v| {
            has_condition(v, "Ready", "True")
                && has_condition(v, "ScopesAndClaimsSupported", "False")
        },
        || shared.operator_log(),
    );
    let support = message(&p, "ScopesAndClaimsSupported");
    assert!(
        support.contains("made_up_scope") && support.contains("department"),
        "{support}"
    );
    shared.assert_quiet(&[&ns]);
    shared.assert_nothing_forbidden();
}
