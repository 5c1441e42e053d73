//! A Dynamic client's deletion on the real control plane when the IdP does not play
//! along: a failed removal shows in status and in one Warning event (never a healthy
//! `Ready=True` over a stuck finalizer), and a client the IdP has forgotten (RFC 7592:
//! 401 on its configuration endpoint) counts as removed.

use super::cluster_operator::base64_decode;
use crate::e2e::flaky::FlakyProxy;
use crate::e2e::operator::Shared;
use crate::e2e::{Idp, IdpOptions, Tool, condition, has_condition, require, require_control_plane};

const TOKEN: &str = "initial-access-token-deletion";

/// A Secret with the initial access token, a provider and a Dynamic OAuthClient `dyn`
/// (deletionPolicy Delete) registering at `issuer`.
pub fn dynamic_manifests(ns: &str, issuer: &str, token: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: registration, namespace: {ns}}}
stringData: {{token: {token}}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: local, namespace: {ns}}}
spec:
  issuerURL: "{issuer}"
  clientID: set-by-hand
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: dyn, namespace: {ns}}}
spec:
  providerRef: {{name: local}}
  mode: Dynamic
  redirectURIs: [https://app.example.test/oauth2/callback]
  registration:
    initialAccessTokenRef: {{name: registration, key: token}}
  deletionPolicy: Delete
"#
    )
}

/// Waits until the namespace has no OAuthClient left (the finalizer let go).
fn gone(shared: &Shared, ns: &str, secs: u64) {
    shared.kubectl().eventually(
        &["get", "oauthclients", "-n", ns],
        "the OAuthClient gone",
        secs,
        |v| v["items"].as_array().is_some_and(|i| i.is_empty()),
        || shared.operator_log(),
    );
    shared.assert_nothing_forbidden();
}

async fn registered(proxy: &FlakyProxy, ns: &str) -> (Idp, &'static Shared) {
    let idp = proxy.front_idp(IdpOptions {
        registration_initial_access_token: Some(TOKEN.into()),
        ..IdpOptions::default()
    });
    let shared = Shared::get();
    shared
        .kubectl()
        .apply_yaml(&dynamic_manifests(ns, idp.issuer(), TOKEN));
    shared.kubectl().eventually(
        &["get", "oauthclient", "dyn", "-n", ns],
        "Registered=True",
        90,
        |v| has_condition(v, "Registered", "True") && has_condition(v, "Ready", "True"),
        || shared.operator_log(),
    );
    (idp, shared)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_deletion_says_why_and_finishes_once_the_idp_answers() {
    if !(require(&[Tool::Node, Tool::IdpPackages]) && require_control_plane()) {
        return;
    }
    let proxy = FlakyProxy::start().await;
    let shared = Shared::get();
    let ns = shared.cp.namespace("blocked");
    let (_idp, shared) = registered(&proxy, &ns).await;
    let k = shared.kubectl();
    proxy.set_down(true);
    k.ok(&["delete", "oauthclient", "dyn", "-n", &ns, "--wait=false"]);
    let stuck = k.eventually(
        &["get", "oauthclient", "dyn", "-n", &ns],
        "Ready=False DeletionBlocked",
        60,
        |v| {
            condition(v, "Ready")
                .is_some_and(|c| c["status"] == "False" && c["reason"] == "DeletionBlocked")
        },
        || shared.operator_log(),
    );
    let message = condition(&stuck, "Ready").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("removing the client at the IdP") && message.contains("deletionPolicy"),
        "{message}"
    );
    let events = k.json(&["get", "events.events.k8s.io", "-n", &ns]);
    let warnings: Vec<_> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "DeletionBlocked" && e["type"] == "Warning")
        .collect();
    assert_eq!(warnings.len(), 1, "one Warning event: {events:#}");
    proxy.set_down(false);
    gone(shared, &ns, 90);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_the_idp_forgot_is_not_held_by_the_finalizer() {
    if !(require(&[Tool::Node, Tool::IdpPackages]) && require_control_plane()) {
        return;
    }
    let proxy = FlakyProxy::start().await;
    let shared = Shared::get();
    let ns = shared.cp.namespace("forgotten");
    let (_idp, shared) = registered(&proxy, &ns).await;
    let k = shared.kubectl();
    // Someone removes the client at the IdP by hand.
    let state = k.json(&["get", "secret", "dyn-portcullis-state", "-n", &ns]);
    let token = base64_decode(state["data"]["registration-access-token"].as_str().unwrap());
    let uri = base64_decode(state["data"]["registration-client-uri"].as_str().unwrap());
    let deleted = reqwest::Client::new()
        .delete(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .expect("RFC 7592 delete");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    k.ok(&["delete", "oauthclient", "dyn", "-n", &ns, "--wait=false"]);
    gone(shared, &ns, 30);
}
