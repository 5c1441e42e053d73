//! Unit tests of `client::desired`, without a cluster or the binary.

use super::*;
use crate::api::*;
use crate::reconcile::Desired;
use crate::reconcile::conditions::ConditionType;
use crate::reconcile::fixtures::{self as fx, meta};
use crate::reconcile::world::{World, secret_value};
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

fn world_with(client: OAuthClient, secrets: Vec<Secret>) -> (World, OAuthClient) {
    let world = World {
        providers: vec![fx::provider("auth", "idp", "https://idp.example.com")],
        clients: vec![client.clone()],
        routes: vec![],
        secrets,
        ..Default::default()
    };
    (world, client)
}

/// The client `ns/app` of the provider `auth/idp`.
fn client(ns: &str, mode: ClientMode) -> OAuthClient {
    fx::client(ns, "app", mode, "idp", Some("auth"))
}

fn secrets(objects: &[Desired]) -> Vec<&Secret> {
    objects
        .iter()
        .filter_map(|o| {
            if let Desired::Secret(s) = o {
                Some(s)
            } else {
                None
            }
        })
        .collect()
}

fn counting_mint() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("minted-{n}")
    }
}

#[test]
fn generated_mints_once_and_keeps_the_state_value_after_the_target_is_deleted() {
    let (world, c) = world_with(client("auth", ClientMode::Generated), vec![]);
    let mut mint = counting_mint();
    let first = desired(&world, &c, &[], &mut mint);
    let written = secrets(&first.objects);
    assert_eq!(written.len(), 2, "target and state Secrets");
    let state = written
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("app-portcullis-state"))
        .unwrap();
    assert_eq!(secret_value(state, STATE_SECRET_KEY).unwrap(), "minted-1");
    // The target Secret is gone; only the state Secret remains in the cluster.
    let (world, c) = world_with(c.clone(), vec![(*state).clone()]);
    let again = desired(&world, &c, &[], &mut mint);
    let target = secrets(&again.objects)
        .into_iter()
        .find(|s| s.metadata.name.as_deref() == Some("app-oauth"))
        .unwrap();
    assert_eq!(secret_value(target, "client-secret").unwrap(), "minted-1");
    assert_eq!(
        again.status.secret_fingerprint,
        first.status.secret_fingerprint
    );
    assert_eq!(again.status.client_id.as_deref(), Some("auth-app"));
}

#[test]
fn static_projects_the_users_secret_and_names_it_when_missing() {
    let mut c = client("auth", ClientMode::Static);
    c.spec.credentials_secret_ref = Some(CredentialsSecretRef {
        name: "mine".into(),
        ..Default::default()
    });
    c.spec.secret = Some(ClientSecretSpec {
        preset: Some(SecretPreset::OAuth2Proxy),
        ..Default::default()
    });
    let (world, c) = world_with(c, vec![]);
    let missing = desired(&world, &c, &[], &mut counting_mint());
    assert!(missing.objects.is_empty());
    let ready = missing
        .status
        .conditions
        .iter()
        .find(|x| x.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason, "SecretNotFound");
    assert!(ready.message.contains("auth/mine"), "{}", ready.message);

    let user = Secret {
        metadata: meta("auth", "mine"),
        string_data: Some(BTreeMap::from([
            ("client-id".into(), "id-1".into()),
            ("client-secret".into(), "user-secret".into()),
        ])),
        ..Default::default()
    };
    let (world, c) = world_with(c, vec![user]);
    let out = desired(&world, &c, &[], &mut counting_mint());
    let written = secrets(&out.objects);
    assert_eq!(written.len(), 1, "Static has no state Secret");
    assert_eq!(
        secret_value(written[0], "OAUTH2_PROXY_CLIENT_SECRET").unwrap(),
        "user-secret"
    );
    assert_eq!(
        secret_value(written[0], "OAUTH2_PROXY_CLIENT_ID").unwrap(),
        "id-1"
    );
    // oauth2-proxy also needs a cookie secret; it is minted, not the client secret.
    assert_eq!(
        secret_value(written[0], "OAUTH2_PROXY_COOKIE_SECRET").unwrap(),
        "minted-1"
    );
}

#[test]
fn tracking_labels_are_dropped_and_orphan_secrets_have_no_owner() {
    let mut c = client("auth", ClientMode::Generated);
    c.spec.secret = Some(ClientSecretSpec {
        labels: Some(BTreeMap::from([
            ("app.kubernetes.io/instance".into(), "argo-app".into()),
            ("argocd.argoproj.io/instance".into(), "x".into()),
            ("team".into(), "a".into()),
        ])),
        annotations: Some(BTreeMap::from([(
            "argocd.argoproj.io/sync-wave".into(),
            "1".into(),
        )])),
        ..Default::default()
    });
    c.spec.deletion_policy = Some(DeletionPolicy::Orphan);
    let (world, c) = world_with(c, vec![]);
    let out = desired(&world, &c, &[], &mut counting_mint());
    let target = secrets(&out.objects)
        .into_iter()
        .find(|s| s.metadata.name.as_deref() == Some("app-oauth"))
        .unwrap();
    let labels = target.metadata.labels.as_ref().unwrap();
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert!(
        labels
            .keys()
            .all(|k| !is_tracking_key(k) || k == "app.kubernetes.io/managed-by"),
        "{labels:?}"
    );
    assert!(
        !target
            .metadata
            .annotations
            .as_ref()
            .unwrap()
            .contains_key("argocd.argoproj.io/sync-wave")
    );
    assert!(target.metadata.owner_references.is_none());
}

#[test]
fn a_cross_namespace_client_needs_the_providers_permission() {
    let (world, c) = world_with(client("other", ClientMode::Generated), vec![]);
    let out = desired(&world, &c, &[], &mut counting_mint());
    assert!(out.objects.is_empty());
    let ready = out
        .status
        .conditions
        .iter()
        .find(|x| x.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason, "RefNotPermitted");
    assert!(ready.message.contains("allowedNamespaces"));
}

#[test]
fn route_redirect_uris_join_the_clients_own() {
    let mut c = client("auth", ClientMode::Generated);
    c.spec.redirect_uris = Some(vec!["https://b.example.com/cb".into()]);
    let (world, c) = world_with(c, vec![]);
    let out = desired(
        &world,
        &c,
        &[
            "https://a.example.com/oauth2/callback".into(),
            "https://b.example.com/cb".into(),
        ],
        &mut counting_mint(),
    );
    assert_eq!(
        out.status.redirect_uris,
        vec![
            "https://a.example.com/oauth2/callback",
            "https://b.example.com/cb"
        ]
    );
}

/// What the CRD's CEL rule refuses is refused here too, for objects a server admitted
/// without the rule: no Secret, `Accepted=False` naming the field, and no advice to
/// register the URI at the IdP.
#[test]
fn a_plain_http_redirect_uri_on_a_public_host_is_refused_naming_the_field() {
    let mut c = client("apps", ClientMode::Generated);
    c.spec.redirect_uris = Some(vec!["http://app.example.com/oauth2/callback".into()]);
    let (world, c) = world_with(c, vec![]);
    let outcome = desired(&world, &c, &[], &mut || "minted".into());
    assert!(outcome.objects.is_empty());
    let find = |t| crate::reconcile::conditions::find(&outcome.status.conditions, t);
    let accepted = find(ConditionType::Accepted).expect("Accepted");
    assert_eq!(accepted.status, "False");
    assert_eq!(accepted.reason, "InvalidSpec");
    assert!(
        accepted.message.contains("spec.redirectURIs[0]") && accepted.message.contains("https"),
        "{}",
        accepted.message
    );
    assert_eq!(find(ConditionType::Ready).unwrap().status, "False");
    assert!(find(ConditionType::RedirectUrisInSync).is_none());
}
