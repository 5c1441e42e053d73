//! OAuthClient → the Secrets it owns and its status. Pure: the caller passes the world
//! and a minting function; an existing secret value is always kept byte for byte.

use super::conditions::{
    ConditionExt, ConditionReason, ConditionStatus, ConditionType, condition, summarise,
};
use super::presets::{self, Credentials};
use super::world::{World, secret_value};
use super::{Desired, Outcome, fingerprint, owner_reference};
use crate::api::{ClientMode, OAuthClient, OAuthClientStatus, SecretPreset, Validate};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::ResourceExt;
use std::collections::BTreeMap;

/// Label on every object the operator writes.
pub(crate) const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "portcullis");
/// Label naming the OAuthClient a Secret belongs to.
pub(crate) const CLIENT_LABEL: &str = "portcullis.dev/oauthclient";
/// Annotation with a hash of the Secret's data (workloads can roll on it).
pub(crate) const CONTENT_HASH: &str = "portcullis.dev/content-hash";
/// Key of the minted secret in the state Secret.
pub(crate) const STATE_SECRET_KEY: &str = "client-secret";
/// Key of the client id in the state Secret (Dynamic registrations).
pub(crate) const STATE_CLIENT_ID_KEY: &str = "client-id";
/// Key of the minted oauth2-proxy cookie secret in the state Secret.
pub(crate) const STATE_COOKIE_KEY: &str = "cookie-secret";

/// The annotation client-side `kubectl apply` keeps its last input in (a second copy of
/// the object).
pub(crate) const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Label and annotation keys (or prefixes, ending in `/`) that GitOps tools use to track
/// what they own. Copying them onto a generated Secret makes Argo CD or Flux adopt it and
/// prune it on the next sync, so they are never copied.
const TRACKING_KEYS: &[&str] = &[
    "app.kubernetes.io/instance",
    "argocd.argoproj.io/",
    "kustomize.toolkit.fluxcd.io/",
    "helm.toolkit.fluxcd.io/",
    "meta.helm.sh/",
    "helm.sh/",
    LAST_APPLIED_ANNOTATION,
    "app.kubernetes.io/managed-by",
];

/// Whether a label or annotation key is a GitOps tracking key.
pub(crate) fn is_tracking_key(key: &str) -> bool {
    TRACKING_KEYS.iter().any(|t| {
        if t.ends_with('/') {
            key.starts_with(t)
        } else {
            key == *t
        }
    })
}

/// Labels or annotations requested for the Secret, minus GitOps tracking keys.
fn without_tracking_keys(requested: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    requested
        .into_iter()
        .flatten()
        .filter(|(k, _)| !is_tracking_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The key layout of the Secret an application reads (`generic` unless set).
pub(crate) fn preset_of(client: &OAuthClient) -> SecretPreset {
    client
        .spec
        .secret
        .as_ref()
        .and_then(|s| s.preset)
        .unwrap_or_default()
}

/// The name of the Secret an application reads.
pub fn target_secret_name(client: &OAuthClient) -> String {
    client
        .spec
        .secret
        .as_ref()
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| format!("{}-oauth", client.name_any()))
}

/// The name of the operator's own Secret that keeps minted values.
pub fn state_secret_name(client: &OAuthClient) -> String {
    format!("{}-portcullis-state", client.name_any())
}

/// The client id of a client, where it can be known without the IdP.
pub(crate) fn client_id(world: &World, client: &OAuthClient) -> Option<String> {
    let ns = client.namespace().unwrap_or_default();
    if let Some(id) = &client.spec.client_id {
        return Some(id.clone());
    }
    match client.spec.mode {
        ClientMode::Generated => Some(format!("{ns}-{}", client.name_any())),
        ClientMode::Static => {
            let r = client.spec.credentials_secret_ref.as_ref()?;
            world.secret_value(
                &ns,
                &r.name,
                r.client_id_key.as_deref().unwrap_or("client-id"),
            )
        }
        ClientMode::Dynamic => {
            world.secret_value(&ns, &state_secret_name(client), STATE_CLIENT_ID_KEY)
        }
    }
}

/// What the operator writes for one OAuthClient.
pub(crate) fn desired(
    world: &World,
    client: &OAuthClient,
    needed_redirects: &[String],
    mint: &mut dyn FnMut() -> String,
) -> Outcome<OAuthClientStatus> {
    let ns = client.namespace().unwrap_or_default();
    let preset = preset_of(client);
    let target = target_secret_name(client);
    let mut conditions: Vec<Condition> = Vec::new();
    let mut objects = Vec::new();

    // The API server checks these rules too, but an object admitted by an older server,
    // or before a rule was added, must not be served: say which field is wrong instead.
    if let Err((field, message)) = client.validate() {
        conditions.push(condition(
            ConditionType::Accepted,
            Some(false),
            ConditionReason::InvalidSpec,
            format!("{field}: {message}"),
        ));
        return finish(client, conditions, None, &target, None, needed_redirects);
    }
    let provider_ref = &client.spec.provider_ref;
    let provider = world.provider(provider_ref.namespace_or(&ns), &provider_ref.name);
    let Some(provider) = provider else {
        let missing = format!(
            "OIDCProvider {}/{} not found (spec.providerRef)",
            provider_ref.namespace_or(&ns),
            provider_ref.name
        );
        conditions.push(condition(
            ConditionType::SecretSynced,
            Some(false),
            ConditionReason::ProviderNotFound,
            missing,
        ));
        return finish(client, conditions, None, &target, None, needed_redirects);
    };
    if let Err(message) = super::reference_allowed(provider, &ns) {
        conditions.push(condition(
            ConditionType::SecretSynced,
            Some(false),
            ConditionReason::ReferenceNotPermitted,
            message,
        ));
        return finish(client, conditions, None, &target, None, needed_redirects);
    }

    let state_name = state_secret_name(client);
    let existing_state = |key: &str| world.secret_value(&ns, &state_name, key);
    // Order matters: the operator's state, then the Secret the app already reads, then a
    // fresh value. A restart, a deleted target or a resync therefore never re-mints.
    let keep_or_mint = |state_key: &str, target_key: &str, mint: &mut dyn FnMut() -> String| {
        existing_state(state_key)
            .or_else(|| world.secret_value(&ns, &target, target_key))
            .unwrap_or_else(mint)
    };

    let (client_id, client_secret, registered) = match client.spec.mode {
        ClientMode::Static => {
            let r = client.spec.credentials_secret_ref.as_ref();
            let key = r
                .and_then(|r| r.client_secret_key.clone())
                .unwrap_or_else(|| "client-secret".into());
            match r.and_then(|r| world.secret_value(&ns, &r.name, &key)) {
                Some(secret) => {
                    let id = client_id(world, client);
                    match id {
                        Some(id) => (
                            id,
                            secret,
                            condition(
                                ConditionType::Registered,
                                Some(true),
                                ConditionReason::Manual,
                                "credentials are managed outside Portcullis",
                            ),
                        ),
                        None => {
                            let name = r.map(|r| r.name.as_str()).unwrap_or_default();
                            conditions.push(condition(ConditionType::SecretSynced, Some(false), ConditionReason::SecretNotFound, format!("Secret {ns}/{name} has no client id key and spec.clientID is unset")));
                            return finish(
                                client,
                                conditions,
                                None,
                                &target,
                                None,
                                needed_redirects,
                            );
                        }
                    }
                }
                None => {
                    let name = r.map(|r| r.name.as_str()).unwrap_or("<unset>");
                    conditions.push(condition(ConditionType::SecretSynced, Some(false), ConditionReason::SecretNotFound, format!("Secret {ns}/{name} or its key {key:?} not found (spec.credentialsSecretRef)")));
                    return finish(client, conditions, None, &target, None, needed_redirects);
                }
            }
        }
        ClientMode::Generated => {
            let id = client_id(world, client).unwrap_or_default();
            let secret = keep_or_mint(STATE_SECRET_KEY, presets::secret_key(preset), mint);
            (
                id,
                secret,
                condition(
                    ConditionType::Registered,
                    None,
                    ConditionReason::Manual,
                    "register this client id and secret at the IdP; Portcullis cannot check a manual registration",
                ),
            )
        }
        ClientMode::Dynamic => match (
            existing_state(STATE_CLIENT_ID_KEY),
            existing_state(STATE_SECRET_KEY),
        ) {
            (Some(id), Some(secret)) => (
                id,
                secret,
                condition(
                    ConditionType::Registered,
                    Some(true),
                    ConditionReason::Ready,
                    "registered at the IdP",
                ),
            ),
            _ => {
                conditions.push(condition(
                    ConditionType::Registered,
                    None,
                    ConditionReason::AwaitingRegistration,
                    "not yet registered at the IdP's registration endpoint",
                ));
                return finish(client, conditions, None, &target, None, needed_redirects);
            }
        },
    };
    conditions.push(registered);

    let endpoints = provider
        .status
        .as_ref()
        .and_then(|s| s.endpoints.clone())
        .unwrap_or_default();
    let cookie_secret = (preset == SecretPreset::OAuth2Proxy)
        .then(|| keep_or_mint(STATE_COOKIE_KEY, "OAUTH2_PROXY_COOKIE_SECRET", mint));
    let creds = Credentials {
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
        issuer_url: provider.spec.issuer_url.clone(),
        scopes: provider.spec.requested_scopes(),
        authorization_url: endpoints.authorization,
        token_url: endpoints.token,
        userinfo_url: endpoints.userinfo,
        cookie_secret: cookie_secret.clone(),
    };
    let mut data = presets::data(preset, &creds);
    for (key, template) in client
        .spec
        .secret
        .as_ref()
        .and_then(|s| s.templates.clone())
        .unwrap_or_default()
    {
        match presets::render_template(&template, &creds) {
            Ok(value) => {
                data.insert(key, value);
            }
            Err(e) => {
                conditions.push(condition(
                    ConditionType::SecretSynced,
                    Some(false),
                    ConditionReason::InvalidSpec,
                    format!("spec.secret.templates[{key:?}]: {e}"),
                ));
                return finish(
                    client,
                    conditions,
                    Some(&client_id),
                    &target,
                    None,
                    needed_redirects,
                );
            }
        }
    }

    let secret_spec = client.spec.secret.as_ref();
    let mut labels = without_tracking_keys(secret_spec.and_then(|s| s.labels.as_ref()));
    labels.extend(presets::labels(preset));
    labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    labels.insert(CLIENT_LABEL.into(), client.name_any());
    let mut annotations = without_tracking_keys(secret_spec.and_then(|s| s.annotations.as_ref()));
    annotations.insert(CONTENT_HASH.into(), content_hash(&data));

    let orphan = client.spec.deletion_policy == Some(crate::api::DeletionPolicy::Orphan);
    let owners = if orphan {
        None
    } else {
        owner_reference(client).map(|o| vec![o])
    };
    objects.push(Desired::Secret(secret(
        &ns,
        &target,
        labels,
        annotations,
        owners.clone(),
        data,
    )));

    if client.spec.mode != ClientMode::Static {
        let mut state = BTreeMap::from([(STATE_SECRET_KEY.to_string(), client_secret.clone())]);
        if client.spec.mode == ClientMode::Dynamic {
            state.insert(STATE_CLIENT_ID_KEY.into(), client_id.clone());
        }
        if let Some(c) = &cookie_secret {
            state.insert(STATE_COOKIE_KEY.into(), c.clone());
        }
        let state_labels = BTreeMap::from([
            (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
            (CLIENT_LABEL.to_string(), client.name_any()),
        ]);
        objects.push(Desired::Secret(secret(
            &ns,
            &state_name,
            state_labels,
            BTreeMap::new(),
            owners,
            state,
        )));
    }
    conditions.push(condition(
        ConditionType::SecretSynced,
        Some(true),
        ConditionReason::Ready,
        format!("Secret {target} holds the current credentials"),
    ));
    let mut outcome = finish(
        client,
        conditions,
        Some(&client_id),
        &target,
        Some(&client_secret),
        needed_redirects,
    );
    outcome.objects = objects;
    outcome
}

/// The redirect URIs a client must have (the status shows them; a Dynamic client
/// registers them): the spec's plus what routes need, sorted.
pub(crate) fn wanted_redirects(client: &OAuthClient, needed: &[String]) -> Vec<String> {
    let mut all: Vec<String> = client.spec.redirect_uris.clone().unwrap_or_default();
    all.extend(needed.iter().cloned());
    all.sort();
    all.dedup();
    all
}

fn finish(
    client: &OAuthClient,
    mut conditions: Vec<Condition>,
    client_id: Option<&String>,
    target: &str,
    secret: Option<&String>,
    needed: &[String],
) -> Outcome<OAuthClientStatus> {
    let redirect_uris = wanted_redirects(client, needed);
    let refused = conditions
        .iter()
        .any(|c| c.is(ConditionType::Accepted) && c.has_status(ConditionStatus::False));
    if client.spec.mode != ClientMode::Dynamic && !refused {
        // Only a Dynamic registration can be compared with the IdP; say so instead of
        // claiming a sync that nobody checked.
        conditions.push(condition(
            ConditionType::RedirectUrisInSync,
            None,
            ConditionReason::Manual,
            if redirect_uris.is_empty() {
                // An empty list reads as "nothing to do"; say what fills it.
                "no redirect URIs yet: waiting for spec.redirectURIs or a ForwardAuthRoute whose provider uses this client".to_string()
            } else {
                format!(
                    "make sure the IdP lists exactly: {}",
                    redirect_uris.join(", ")
                )
            },
        ));
    }
    conditions.push(condition(
        ConditionType::Rotating,
        Some(false),
        ConditionReason::NotRotating,
        "",
    ));
    conditions.push(ready(&conditions));
    Outcome {
        objects: Vec::new(),
        status: OAuthClientStatus {
            observed_generation: client.metadata.generation,
            conditions,
            client_id: client_id.cloned(),
            secret_name: secret.map(|_| target.to_string()),
            secret_fingerprint: secret.map(|s| fingerprint(s)),
            redirect_uris,
            ..Default::default()
        },
    }
}

/// A client's `Ready` from its other conditions (Rotating and RedirectURIsInSync
/// inform, they do not gate).
pub(crate) fn ready(conditions: &[Condition]) -> Condition {
    let relevant: Vec<Condition> = conditions
        .iter()
        .filter(|c| {
            !c.is(ConditionType::Rotating)
                && !c.is(ConditionType::RedirectUrisInSync)
                && !c.is(ConditionType::Ready)
        })
        .cloned()
        .collect();
    summarise(&relevant, "credentials published")
}

fn secret(
    ns: &str,
    name: &str,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    owners: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
    data: BTreeMap<String, String>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: owners,
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Default::default()
    }
}

/// `sha256:` + hex of the data (sorted by key), so a workload template can carry it and
/// roll when the credentials change.
fn content_hash(data: &BTreeMap<String, String>) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for (k, v) in data {
        ctx.update(k.as_bytes());
        ctx.update(&[0]);
        ctx.update(v.as_bytes());
        ctx.update(&[0]);
    }
    format!("sha256:{}", super::hex(ctx.finish().as_ref()))
}

/// The target Secret's data as strings (for tests and render).
pub fn secret_data(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, _)| (k.clone(), secret_value(secret, k).unwrap_or_default()))
        .collect()
}

/// The data of a Secret as strings.
pub(crate) fn data_of(secret: Option<&Secret>) -> BTreeMap<String, String> {
    secret.map(secret_data).unwrap_or_default()
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
