//! OIDCProvider → its compiled [`ProviderConfig`] and status. The IdP probe (discovery,
//! JWKS, clock) belongs to the operator; offline its conditions are `Unknown`.

use super::Outcome;
use super::client;
use super::conditions::{ConditionReason, ConditionType, condition, summarise};
use super::world::World;
use crate::api::{CABundleKind, OIDCProvider, OIDCProviderStatus, Validate};
use crate::config::{
    ClaimNames, DEFAULT_CLOCK_SKEW_SECONDS, ProviderConfig, SecretKeyRef, SecretSource,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;

/// The resolved claim names.
pub(crate) fn claim_names(provider: &OIDCProvider) -> ClaimNames {
    let spec = provider.spec.claims.clone().unwrap_or_default();
    let default = ClaimNames::default();
    ClaimNames {
        username: spec
            .username
            .filter(|u| !u.is_empty())
            .unwrap_or(default.username),
        email: spec.email.unwrap_or(default.email),
        groups: spec.groups.unwrap_or(default.groups),
        permissions: spec.permissions.unwrap_or(default.permissions),
    }
}

/// A CA bundle reference in namespace `ns` as the outpost reads it (a ConfigMap key or
/// a Secret key).
pub(crate) fn ca_bundle_source(ns: &str, r: &crate::api::CABundleRef) -> SecretSource {
    let key_ref = SecretKeyRef {
        namespace: ns.to_string(),
        name: r.name.clone(),
        key: r.key.clone(),
    };
    match r.kind {
        CABundleKind::Secret => SecretSource {
            secret_key_ref: Some(key_ref),
            ..Default::default()
        },
        CABundleKind::ConfigMap => SecretSource {
            config_map_key_ref: Some(key_ref),
            ..Default::default()
        },
    }
}

/// The compiled provider, or the condition that says why there is none.
pub(crate) fn config(world: &World, provider: &OIDCProvider) -> Result<ProviderConfig, Condition> {
    let ns = provider.namespace().unwrap_or_default();
    let fail = |reason: ConditionReason, message: String| {
        condition(ConditionType::Ready, Some(false), reason, message)
    };
    // The schema's rules, checked here too: the server that admitted the object may not
    // have had them (an older server, a rule added later).
    provider.validate().map_err(|(field, message)| {
        fail(ConditionReason::InvalidSpec, format!("{field}: {message}"))
    })?;
    let (client_id, client_secret) = match (&provider.spec.client_ref, &provider.spec.client_id) {
        (Some(r), _) => {
            let client_ns = r.namespace_or(&ns);
            let oac = world.client(client_ns, &r.name).ok_or_else(|| {
                fail(
                    ConditionReason::ClientNotFound,
                    format!(
                        "OAuthClient {client_ns}/{} not found (spec.clientRef)",
                        r.name
                    ),
                )
            })?;
            let id = client::client_id(world, oac).ok_or_else(|| {
                fail(
                    ConditionReason::DependencyNotReady,
                    format!("OAuthClient {client_ns}/{} has no client id yet", r.name),
                )
            })?;
            let preset = client::preset_of(oac);
            let secret = SecretSource {
                secret_key_ref: Some(SecretKeyRef {
                    namespace: client_ns.to_string(),
                    name: client::target_secret_name(oac),
                    key: super::presets::secret_key(preset).to_string(),
                }),
                ..Default::default()
            };
            (id, Some(secret))
        }
        (None, Some(id)) => {
            let secret = provider
                .spec
                .client_secret_ref
                .as_ref()
                .map(|r| SecretSource {
                    secret_key_ref: Some(SecretKeyRef {
                        namespace: ns.clone(),
                        name: r.name.clone(),
                        key: r.key.clone(),
                    }),
                    ..Default::default()
                });
            (id.clone(), secret)
        }
        (None, None) => {
            return Err(fail(
                ConditionReason::InvalidSpec,
                "set spec.clientRef or spec.clientID".into(),
            ));
        }
    };
    let clock_skew_seconds = match &provider.spec.clock_skew {
        Some(s) => crate::api::parse_duration(s)
            .map_err(|e| fail(ConditionReason::InvalidSpec, format!("spec.clockSkew: {e}")))?,
        None => DEFAULT_CLOCK_SKEW_SECONDS,
    };
    let ca_bundle = provider
        .spec
        .ca_bundle_ref
        .as_ref()
        .map(|r| ca_bundle_source(&ns, r));
    Ok(ProviderConfig {
        issuer_url: provider.spec.issuer_url.clone(),
        client_id,
        client_secret,
        scopes: provider.spec.requested_scopes(),
        claims: claim_names(provider),
        allowed_algorithms: provider
            .spec
            .allowed_algorithms
            .iter()
            .flatten()
            .map(|a| a.as_str().to_string())
            .collect(),
        clock_skew_seconds,
        audiences: provider.spec.audiences.clone().unwrap_or_default(),
        ca_bundle,
    })
}

/// The provider's compiled config (if any) and its status, without contacting the IdP:
/// the IdP-facing conditions stay `Unknown` until the operator probes it.
pub fn desired(
    world: &World,
    provider: &OIDCProvider,
) -> (Option<ProviderConfig>, Outcome<OIDCProviderStatus>) {
    let previous = provider.status.clone().unwrap_or_default();
    let compiled = config(world, provider);
    let mut conditions = Vec::new();
    let pending = |t: ConditionType| {
        condition(
            t,
            None,
            ConditionReason::Pending,
            "the IdP has not been contacted yet",
        )
    };
    conditions.push(pending(ConditionType::Discovered));
    conditions.push(pending(ConditionType::JwksAvailable));
    conditions.push(pending(ConditionType::IssuerMatches));
    conditions.push(pending(ConditionType::ClockInSync));
    let ready = match &compiled {
        Ok(_) => summarise(&conditions, "discovery and keys loaded"),
        Err(c) => c.clone(),
    };
    conditions.push(ready);
    let status = OIDCProviderStatus {
        observed_generation: provider.metadata.generation,
        conditions,
        client_id: compiled.as_ref().ok().map(|c| c.client_id.clone()),
        scopes: provider.spec.requested_scopes(),
        accepted_algorithms: compiled
            .as_ref()
            .map(|c| c.allowed_algorithms.clone())
            .unwrap_or_default(),
        ..previous
    };
    (
        compiled.ok(),
        Outcome {
            objects: Vec::new(),
            status,
        },
    )
}

/// A world of the provider and its client, whose id comes from the client's status when
/// only the IdP or a user's Secret knows it (Static, Dynamic): the operator's caches hold
/// no user Secrets.
pub(crate) fn world_with_client(
    provider: &OIDCProvider,
    client: Option<&crate::api::OAuthClient>,
) -> World {
    let mut world = World {
        providers: vec![provider.clone()],
        ..Default::default()
    };
    if let Some(c) = client {
        let mut c = c.clone();
        if c.spec.client_id.is_none() {
            c.spec.client_id = c.status.as_ref().and_then(|s| s.client_id.clone());
        }
        if c.spec.client_id.is_none() && c.spec.mode != crate::api::ClientMode::Generated {
            // Keep the client so the error is "no client id yet", not "not found".
            c.spec.mode = crate::api::ClientMode::Static;
            c.spec.credentials_secret_ref = None;
        }
        world.clients.push(c);
    }
    world
}
