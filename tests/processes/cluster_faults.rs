//! Tests that break a control plane of their own: supervisor deaths (no orphans), an
//! API server that admitted objects without the CRDs' rules, leader failover, and API
//! server and etcd restarts under a running operator.

use crate::cluster_operator::{base64_decode, local_manifests};
use crate::e2e::operator::{
    Operator, SERVICE_ACCOUNT_PREFIX, SYSTEM_NAMESPACE, install, install_with_crds_applied,
};
use crate::e2e::{
    ControlPlane, Idp, IdpOptions, Kubectl, Process, Tool, condition, has_condition, repo_root,
    require, require_control_plane,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Child processes of `pid` that are alive (a zombie counts as gone).
fn live_children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) && fields[0] != "Z" {
            out.extend(
                head.split_whitespace()
                    .next()
                    .and_then(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}

fn wait_gone(pids: &[u32], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "{what}: still running: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_control_plane_leaves_no_process_behind() {
    if !require_control_plane() {
        return;
    }
    // The test process goes (a panic, an abort, a SIGKILL): the supervisor's input ends
    // and it stops every process it started.
    let cp = ControlPlane::start().expect("control plane");
    let children = live_children(cp.supervisor_pid());
    assert_eq!(
        children.len(),
        3,
        "etcd, kube-apiserver, kube-controller-manager"
    );
    drop(cp);
    wait_gone(&children, "after the supervisor's input closed");

    // The supervisor itself is killed: the kernel kills its children (Pdeathsig).
    let cp = ControlPlane::start().expect("control plane");
    let supervisor = cp.supervisor_pid();
    let children = live_children(supervisor);
    assert_eq!(children.len(), 3);
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &supervisor.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    wait_gone(&children, "after the supervisor was killed");
}

fn without_cel_rules(node: &mut Value) {
    match node {
        Value::Object(map) => {
            map.remove("x-kubernetes-validations");
            map.values_mut().for_each(without_cel_rules);
        }
        Value::Array(items) => items.iter_mut().for_each(without_cel_rules),
        _ => {}
    }
}

/// An API server that admitted objects without the CRDs' CEL rules (an older server, a
/// rule added later): the operator still refuses them, naming the field, and registers
/// or publishes nothing for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_admitted_without_the_crd_rules_are_refused_by_the_operator() {
    if !require_control_plane() {
        return;
    }
    let cp = ControlPlane::start().expect("control plane");
    let k = cp.kubectl();
    for entry in std::fs::read_dir(repo_root().join("crds")).unwrap() {
        let mut crd: Value =
            serde_yaml::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        without_cel_rules(&mut crd);
        k.apply_yaml(&serde_yaml::to_string(&crd).unwrap());
    }
    let ids = install_with_crds_applied(&cp);
    let ns = cp.namespace("nocel");
    k.apply_yaml(&format!(
        r#"apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: both, namespace: {ns}}}
spec: {{issuerURL: "https://idp.example.com/", clientRef: {{name: app}}, clientSecretRef: {{name: s, key: k}}}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: idp, namespace: {ns}}}
spec: {{issuerURL: "https://idp.example.com/", clientRef: {{name: app}}}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: app, namespace: {ns}}}
spec:
  providerRef: {{name: idp}}
  mode: Generated
  redirectURIs: ["http://app.example.com/oauth2/callback"]
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: app, namespace: {ns}}}
spec:
  hosts: [app.example.com]
  authURL: http://app.example.com
  providerRef: {{name: idp}}
  policy: {{emailDomains: [example.com]}}
"#
    ));
    let op = Operator::start(&ids.operator, cp.dir(), "nocel");
    let refused = |kind: &str, name: &str, type_: &str, field: &str| {
        let object = k.eventually(
            &["get", kind, name, "-n", &ns],
            &format!("{kind}/{name} {type_}=False"),
            60,
            |v| has_condition(v, type_, "False"),
            || op.log(),
        );
        let c = condition(&object, type_).unwrap();
        assert_eq!(c["reason"], "InvalidSpec", "{object:#}");
        assert!(
            c["message"].as_str().unwrap_or("").contains(field),
            "{kind}/{name}: {c:#}"
        );
    };
    refused("oauthclient", "app", "Accepted", "spec.redirectURIs[0]");
    refused("forwardauthroute", "app", "Accepted", "spec.authURL");
    refused("oidcprovider", "both", "Ready", "clientSecretRef");
    let secrets = k.json(&["get", "secrets", "-n", &ns]);
    assert!(
        secrets["items"].as_array().unwrap().is_empty(),
        "nothing is published for a refused client: {secrets:#}"
    );
}

fn writes_by_operator(cp: &ControlPlane) -> Vec<String> {
    cp.audited_calls()
        .into_iter()
        .filter(|c| c.user == format!("{SERVICE_ACCOUNT_PREFIX}portcullis-operator"))
        .filter(|c| matches!(c.verb.as_str(), "create" | "patch" | "update" | "delete"))
        .filter(|c| c.resource != "leases" && c.group != "events.k8s.io")
        .map(|c| c.to_string())
        .collect()
}

fn bump_policy(k: &Kubectl, ns: &str, group: &str) -> i64 {
    k.ok(&[
        "patch",
        "forwardauthroute",
        "app",
        "-n",
        ns,
        "--type=merge",
        "-p",
        &format!(r#"{{"spec":{{"policy":{{"groups":["{group}"]}}}}}}"#),
    ]);
    k.json(&["get", "forwardauthroute", "app", "-n", ns])["metadata"]["generation"]
        .as_i64()
        .unwrap()
}

fn wait_observed(k: &Kubectl, ns: &str, generation: i64, what: &str, log: impl Fn() -> String) {
    k.eventually(
        &["get", "forwardauthroute", "app", "-n", ns],
        &format!("generation {generation} reconciled {what}"),
        90,
        |v| {
            condition(v, "Ready")
                .is_some_and(|c| c["observedGeneration"].as_i64() == Some(generation))
        },
        log,
    );
}

fn lease_holder(k: &Kubectl) -> String {
    k.json(&[
        "get",
        "lease",
        "portcullis-operator",
        "-n",
        SYSTEM_NAMESPACE,
    ])["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Two replicas on one Lease; the leader killed; the API server restarted and stopped
/// for a moment; etcd restarted; the published Secret deleted. Through all of it: only
/// the leader writes, every change is reconciled, the minted secret never changes, and
/// a converged cluster sees no write at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_rides_out_failover_and_control_plane_restarts() {
    if !(require(&[Tool::Node, Tool::IdpPackages]) && require_control_plane()) {
        return;
    }
    let idp = Idp::start(IdpOptions::default()).expect("start the IdP");
    let cp = ControlPlane::start().expect("control plane");
    let ids = install(&cp);
    let k = cp.kubectl();
    let ns = cp.namespace("faults");
    k.apply_yaml(&local_manifests(idp.issuer(), &ns));
    let a = Operator::start(&ids.operator, cp.dir(), "replica-a");
    wait_observed(&k, &ns, 1, "by the first leader", || a.log());
    let mut b = Operator::start(&ids.operator, cp.dir(), "replica-b");
    assert_eq!(lease_holder(&k), "replica-a");
    let secret_of = || {
        let s = k.eventually(
            &["get", "secret", "outpost-oauth", "-n", &ns],
            "the client Secret",
            60,
            |v| v["data"]["client-secret"].is_string(),
            String::new,
        );
        base64_decode(s["data"]["client-secret"].as_str().unwrap())
    };
    let minted = secret_of();

    // The leader dies: the standby takes the Lease and carries on.
    drop(a);
    let generation = bump_policy(&k, &ns, "ops");
    wait_observed(&k, &ns, generation, "after failover", || b.log());
    assert_eq!(lease_holder(&k), "replica-b");
    assert!(b.log().contains("leading"), "{}", b.log());

    // The API server restarts: the watches resume.
    cp.control("restart", Process::ApiServer);
    let generation = bump_policy(&k, &ns, "devs");
    wait_observed(&k, &ns, generation, "after an API server restart", || {
        b.log()
    });

    // etcd restarts under the API server.
    cp.control("restart", Process::Etcd);
    let generation = bump_policy(&k, &ns, "admins");
    wait_observed(&k, &ns, generation, "after an etcd restart", || b.log());

    // The API server goes away for a moment: readiness says so, the operator stays up
    // with its caches and resumes when the server answers again.
    cp.control("stop", Process::ApiServer);
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut readyz = (0, String::new());
    while Instant::now() < deadline {
        readyz = b.admin_get("/readyz").await;
        if readyz.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cp.control("start", Process::ApiServer);
    assert_eq!(readyz.0, 503, "{readyz:?}");
    assert!(readyz.1.contains("API server unreachable"), "{readyz:?}");
    assert!(
        b.running(),
        "the operator rode out the outage:\n{}",
        b.log()
    );
    let generation = bump_policy(&k, &ns, "ops");
    wait_observed(
        &k,
        &ns,
        generation,
        "after the API server came back",
        || b.log(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.admin_get("/readyz").await.0 != 200 {
        assert!(Instant::now() < deadline, "readiness never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The Secret an app reads is deleted: the same value comes back.
    k.ok(&["delete", "secret", "outpost-oauth", "-n", &ns]);
    assert_eq!(secret_of(), minted, "{}", b.log());

    // Converged: a quiet spell with IdP re-checks every 2 s writes nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = writes_by_operator(&cp).len();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = writes_by_operator(&cp);
    assert_eq!(
        after.len(),
        before,
        "writes while nothing changed:\n{}",
        after[before..].join("\n")
    );
    assert_eq!(secret_of(), minted);
    cp.assert_nothing_forbidden(SERVICE_ACCOUNT_PREFIX);
}
