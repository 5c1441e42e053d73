//! `render` and the operator compile one way: for the same objects, the outpost
//! configuration (and so its shards) and every route's verdict are the same, because both
//! call `reconcile::compile::outpost_config`. The inputs exercise every way a route can
//! be left out: a younger claim to a taken host, a missing provider, a provider that does
//! not admit the route's namespace.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use portcullis::reconcile::compile::compile;
use portcullis::reconcile::{Desired, outpost_credentials, shard};
use portcullis::render::Loaded;
use portcullis::render::load::load_text;
use std::sync::Arc;

const OBJECTS: &str = r#"
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {name: inline, namespace: auth, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  issuerURL: https://idp.example.com
  clientID: portcullis
  clientSecretRef: {name: idp-secret, key: client-secret}
  allowedNamespaces: ["*"]
---
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {name: via-client, namespace: auth, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  issuerURL: https://other.example.com/realms/x/
  clientRef: {name: static}
  allowedNamespaces: [apps]
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {name: static, namespace: auth, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  providerRef: {name: via-client}
  mode: Static
  clientID: static-client
  credentialsSecretRef: {name: static-credentials}
  redirectURIs: [https://a.example.com/oauth2/callback]
---
apiVersion: v1
kind: Secret
metadata: {name: idp-secret, namespace: auth}
stringData: {client-secret: s3cr3t-value-one}
---
apiVersion: v1
kind: Secret
metadata: {name: static-credentials, namespace: auth}
stringData: {client-id: static-client, client-secret: s3cr3t-value-two}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {name: a, namespace: apps, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  hosts: [a.example.com]
  providerRef: {name: inline, namespace: auth}
  policy: {groups: [staff]}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {name: b, namespace: apps, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  hosts: [b.example.com]
  paths: [/api]
  providerRef: {name: via-client, namespace: auth}
  policy: {allowAnyAuthenticated: true}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {name: younger, namespace: other, creationTimestamp: "2026-01-03T00:00:00Z"}
spec:
  hosts: [a.example.com]
  providerRef: {name: inline, namespace: auth}
  policy: {emails: [x@example.com]}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {name: orphan, namespace: apps, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  hosts: [c.example.com]
  providerRef: {name: nowhere, namespace: auth}
  policy: {groups: [staff]}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {name: outsider, namespace: other, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  hosts: [d.example.com]
  providerRef: {name: via-client, namespace: auth}
  policy: {groups: [staff]}
"#;

fn shards_of(objects: &[Desired]) -> Vec<ConfigMap> {
    objects
        .iter()
        .filter_map(|o| match o {
            Desired::ConfigMap(c) => Some(c.clone()),
            Desired::Secret(_) => None,
        })
        .collect()
}

#[test]
fn render_and_the_operator_compile_the_same_configuration_and_verdicts() {
    let mut loaded = Loaded::default();
    load_text(OBJECTS, "parity.yaml", "default", &mut loaded).expect("objects load");
    let world = loaded.world;
    let ns = "portcullis-system";
    let rendered = compile(&world, ns, Timestamp::UNIX_EPOCH, &mut || "minted".into());

    fn arcs<T: Clone>(v: &[T]) -> Vec<Arc<T>> {
        v.iter().cloned().map(Arc::new).collect()
    }
    let (mut operator, verdicts) = portcullis::reconcile::writer_plan::compile(
        &arcs(&world.providers),
        &arcs(&world.clients),
        &arcs(&world.routes),
    );
    outpost_credentials::localise(&mut operator, ns);

    assert_eq!(
        rendered.config, operator,
        "the outpost configuration differs"
    );
    assert_eq!(
        shards_of(&rendered.objects),
        shard::shards(&operator, ns),
        "the shards differ"
    );
    // What is in and what is out, and why, is the same verdict on both sides.
    let served: Vec<&str> = operator.routes.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(served, ["apps/a", "apps/b"]);
    assert_eq!(operator.providers.len(), 2);
    for (id, verdict) in &verdicts {
        let programmed = rendered.route_status[id]
            .conditions
            .iter()
            .find(|c| c.type_ == "Programmed")
            .expect("Programmed");
        match verdict {
            Ok(()) => assert_eq!(programmed.status, "True", "{id}"),
            Err(why) => {
                assert_eq!(programmed.status, "False", "{id}");
                assert_eq!(&programmed.message, why, "{id}");
            }
        }
    }
    assert_eq!(verdicts.len(), 5);
}

#[test]
fn render_lists_the_backchannel_logout_uri_the_operator_publishes() {
    // Route b (admitted, signing in through the Static client) keeps its sessions in
    // Redis; route outsider would too, but via-client does not admit its namespace.
    let redis = "  session: {store: {redis: {urls: [\"redis://redis.apps:6379\"]}}}\n";
    let objects = OBJECTS
        .replace(
            "  policy: {allowAnyAuthenticated: true}\n",
            &format!("  policy: {{allowAnyAuthenticated: true}}\n{redis}"),
        )
        .replace(
            "  hosts: [d.example.com]\n",
            &format!("  hosts: [d.example.com]\n{redis}"),
        );
    let mut loaded = Loaded::default();
    load_text(&objects, "parity.yaml", "default", &mut loaded).expect("objects load");
    let world = loaded.world;
    let rendered = compile(
        &world,
        "portcullis-system",
        Timestamp::UNIX_EPOCH,
        &mut || "minted".into(),
    );
    fn arcs<T: Clone>(v: &[T]) -> Vec<Arc<T>> {
        v.iter().cloned().map(Arc::new).collect()
    }
    let client = world.clients.first().expect("the Static client");
    let operator = portcullis::reconcile::index::needed_backchannel_logout_uri(
        &arcs(&world.providers),
        &arcs(&world.routes),
        client,
    );
    assert_eq!(
        operator.as_deref(),
        Some("https://b.example.com/oauth2/backchannel-logout")
    );
    assert_eq!(
        rendered.client_status[&portcullis::reconcile::key::ObjectKey::new("auth", "static")]
            .backchannel_logout_uri,
        operator
    );
}
