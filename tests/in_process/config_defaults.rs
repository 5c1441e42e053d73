//! A field left out means the same thing in a hand-written `--config` file as in the
//! kinds the operator compiles: an `OIDCProvider` without `scopes`, `claims` or
//! `clockSkew` and a `ForwardAuthRoute` without `paths` compile to the very values the
//! minimal file loads with. Both read one definition (`portcullis::config`); this proves
//! they still do.

use k8s_openapi::jiff::Timestamp;
use portcullis::config::{MINIMAL_EXAMPLE, OutpostConfig};
use portcullis::reconcile::compile::compile;
use portcullis::render::Loaded;
use portcullis::render::load::load_text;

/// The kinds behind the minimal file, every defaulted field left out.
const OBJECTS: &str = r#"
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {name: idp, namespace: team, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  issuerURL: https://idp.example.com/
  clientID: portcullis
  clientSecretRef: {name: idp-secret, key: client-secret}
---
apiVersion: v1
kind: Secret
metadata: {name: idp-secret, namespace: team}
stringData: {client-secret: s3cr3t}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {name: app, namespace: team, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  hosts: [app.example.com]
  providerRef: {name: idp}
  policy: {groups: [staff]}
"#;

/// The configuration the operator compiles from `objects`.
fn compiled(objects: &str) -> OutpostConfig {
    let mut loaded = Loaded::default();
    load_text(objects, "defaults.yaml", "default", &mut loaded).expect("objects load");
    compile(
        &loaded.world,
        "portcullis-system",
        Timestamp::UNIX_EPOCH,
        &mut || "minted".into(),
    )
    .config
}

#[test]
fn a_field_left_out_of_a_file_or_a_kind_means_the_same() {
    let compiled = compiled(OBJECTS);
    let file = OutpostConfig::from_yaml(MINIMAL_EXAMPLE, "minimal.yaml").expect("loads");

    let (from_kind, from_file) = (&compiled.providers["team/idp"], &file.providers["team/idp"]);
    assert_eq!(from_kind.scopes, from_file.scopes);
    assert_eq!(from_kind.claims, from_file.claims);
    assert_eq!(from_kind.clock_skew_seconds, from_file.clock_skew_seconds);
    assert_eq!(compiled.routes.len(), 1, "{compiled:?}");
    assert_eq!(compiled.routes[0].paths, file.routes[0].paths);
    // The rest of the route is the same too: the file is what the operator would write
    // for these objects, less the fields it may leave out.
    assert_eq!(compiled.routes[0], file.routes[0]);
}

/// A route's `session`, `headers` and `identityJWT` blocks that set one field each: the
/// fields left out take the same defaults in the file as in the kind.
#[test]
fn a_block_that_sets_one_field_keeps_the_defaults_of_the_others() {
    let route_blocks = "  session: {cookieName: app}\n  headers: {accessTokenHeader: X-Token, identityJWT: {audience: api}}\n";
    let objects = format!("{OBJECTS}{route_blocks}");
    let compiled = compiled(&objects);
    let file_text = format!(
        "{MINIMAL_EXAMPLE}    session: {{cookieName: app}}\n    headers: {{accessToken: X-Token, identityJwt: {{audience: api}}}}\n"
    );
    let file = OutpostConfig::from_yaml(&file_text, "blocks.yaml").expect("loads");
    let route = &file.routes[0];
    assert_eq!(route.session.cookie_name, "app");
    assert_eq!(route.session.lifetime_seconds, 12 * 3600);
    assert_eq!(route.headers.access_token.as_deref(), Some("X-Token"));
    assert!(
        route.headers.map.contains_key("X-Auth-Request-User"),
        "{:?}",
        route.headers.map
    );
    let jwt = route.headers.identity_jwt.as_ref().expect("identity JWT");
    assert_eq!(
        (jwt.header.as_str(), jwt.lifetime_seconds),
        ("X-Portcullis-Identity", 300)
    );
    assert_eq!(compiled.routes[0], *route);
}
