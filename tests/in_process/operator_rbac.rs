//! The operator's RBAC manifest grants what the code uses, and no more on Secrets.

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use serde::Deserialize;

fn rules() -> (Vec<PolicyRule>, Vec<PolicyRule>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/manifests/operator-rbac.yaml"
    ))
    .unwrap();
    let (mut cluster, mut ns) = (Vec::new(), Vec::new());
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(doc).unwrap();
        match v["kind"].as_str() {
            Some("ClusterRole") => cluster.extend(
                serde_yaml::from_value::<ClusterRole>(v)
                    .unwrap()
                    .rules
                    .unwrap_or_default(),
            ),
            Some("Role") => ns.extend(
                serde_yaml::from_value::<Role>(v)
                    .unwrap()
                    .rules
                    .unwrap_or_default(),
            ),
            _ => {}
        }
    }
    (cluster, ns)
}

fn allows(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
    rules.iter().any(|r| {
        r.api_groups.iter().flatten().any(|g| g == group)
            && r.resources.iter().flatten().any(|x| x == resource)
            && r.verbs.iter().any(|v| v == verb)
    })
}

#[test]
fn every_call_the_operator_makes_is_allowed() {
    let (cluster, ns) = rules();
    for kind in ["oidcproviders", "oauthclients", "forwardauthroutes"] {
        for verb in ["list", "watch"] {
            assert!(
                allows(&cluster, "portcullis.dev", kind, verb),
                "{kind} {verb}"
            );
        }
        assert!(allows(
            &cluster,
            "portcullis.dev",
            &format!("{kind}/status"),
            "patch"
        ));
    }
    assert!(
        allows(&cluster, "portcullis.dev", "oauthclients", "patch"),
        "finalizer"
    );
    for verb in ["get", "list", "watch", "create", "patch"] {
        assert!(allows(&cluster, "", "secrets", verb), "secrets {verb}");
    }
    assert!(allows(&cluster, "events.k8s.io", "events", "create"));
    assert!(allows(&cluster, "apps", "deployments", "patch"));
    for verb in ["list", "watch", "create", "patch", "delete"] {
        assert!(allows(&ns, "", "configmaps", verb), "configmaps {verb}");
    }
    for verb in ["get", "create", "update"] {
        assert!(
            allows(&ns, "coordination.k8s.io", "leases", verb),
            "leases {verb}"
        );
    }
}

#[test]
fn nothing_beyond_least_privilege() {
    let (cluster, ns) = rules();
    let all: Vec<&PolicyRule> = cluster.iter().chain(&ns).collect();
    assert!(
        all.iter().all(|r| !r.verbs.iter().any(|v| v == "*")),
        "no wildcard verbs"
    );
    assert!(
        all.iter()
            .all(|r| !r.resources.iter().flatten().any(|x| x == "*")),
        "no wildcard resources"
    );
    assert!(
        !allows(&cluster, "", "secrets", "delete"),
        "owned Secrets are garbage-collected"
    );
    assert!(
        !allows(&cluster, "", "configmaps", "patch"),
        "only the operator namespace's ConfigMaps are written"
    );
    assert!(
        !allows(&cluster, "portcullis.dev", "oauthclients", "update"),
        "spec is never written"
    );
}
