//! The operator's IdP probe on the real control plane, through a proxy that drops
//! connections: one failed connection is retried, not believed; an outage that persists
//! flips `Discovered` once, saying since when and why; the last good data stays.

use crate::e2e::flaky::FlakyProxy;
use crate::e2e::operator::{SERVICE_ACCOUNT_PREFIX, Shared};
use crate::e2e::{IdpOptions, Tool, condition, has_condition, require, require_control_plane};
use std::time::{Duration, SystemTime};

fn provider_status_writes(shared: &Shared, ns: &str, since: SystemTime) -> usize {
    let user = format!("{SERVICE_ACCOUNT_PREFIX}portcullis-operator");
    shared
        .cp
        .audited_calls()
        .into_iter()
        .filter(|c| c.user == user && c.namespace == ns && c.received >= since)
        .filter(|c| c.resource == "oidcproviders/status" && c.verb == "patch")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_does_not_flip_discovered_but_an_outage_does_once() {
    if !(require(&[Tool::Node, Tool::IdpPackages]) && require_control_plane()) {
        return;
    }
    let proxy = FlakyProxy::start().await;
    let idp = proxy.front_idp(IdpOptions::default());
    let shared = Shared::get();
    let k = shared.kubectl();
    let ns = shared.cp.namespace("flaky");
    k.apply_yaml(&format!(
        "apiVersion: portcullis.dev/v1alpha1\nkind: OIDCProvider\nmetadata: {{name: flaky, namespace: {ns}}}\nspec: {{issuerURL: \"{}\", clientID: x}}\n",
        idp.issuer()
    ));
    let get = ["get", "oidcprovider", "flaky", "-n", ns.as_str()];
    k.eventually(
        &get,
        "Ready=True",
        60,
        |v| has_condition(v, "Ready", "True"),
        || shared.operator_log(),
    );
    // Let the status settle (the first probes may still be writing), then drop single
    // connections across several re-checks (`--idp-recheck 2s`).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let start = SystemTime::now();
    for _ in 0..4 {
        proxy.drop_next(1);
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    let writes = provider_status_writes(shared, &ns, start);
    assert_eq!(
        writes,
        0,
        "single dropped connections rewrote the provider's status {writes} time(s):\n{:#}\n{}",
        k.json(&get),
        shared.operator_log()
    );

    // A lasting outage: Discovered=False once, with the cause and since when; the
    // endpoints found before stay in status.
    let start = SystemTime::now();
    proxy.set_down(true);
    let down = k.eventually(
        &get,
        "Discovered=False",
        60,
        |v| has_condition(v, "Discovered", "False"),
        || shared.operator_log(),
    );
    let message = condition(&down, "Discovered").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("failing since"), "{message}");
    assert!(!message.ends_with("error sending request"), "{message}");
    let clock = condition(&down, "ClockInSync").unwrap()["message"]
        .as_str()
        .unwrap();
    assert!(clock.contains("did not answer"), "{clock}");
    assert!(
        down["status"]["endpoints"]["jwks"].is_string(),
        "the last good data stays: {down:#}"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    let writes = provider_status_writes(shared, &ns, start);
    assert_eq!(
        writes,
        1,
        "an outage flips status once: {writes} writes\n{message}\n{:#}",
        k.json(&get)
    );
    proxy.set_down(false);
    k.eventually(
        &get,
        "Discovered=True again",
        60,
        |v| has_condition(v, "Discovered", "True"),
        || shared.operator_log(),
    );
    shared.assert_nothing_forbidden();
}
