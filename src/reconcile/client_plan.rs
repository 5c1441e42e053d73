//! An OAuthClient's whole desired state, pure: the Secrets to hold and the status to
//! publish, from everything the operator observed — the cached Secrets, the user's
//! credentials (Static), the IdP's answer (Dynamic) — with the rotation plan decided
//! here rather than patched onto `desired`'s output afterwards.
//!
//! The one step after it is the credential check of a Generated client at the IdP: it
//! needs the value this plan publishes, so the operator asks the IdP about
//! [`credential_check`] and folds the answer in with [`with_verification`].

use crate::api::{ClientMode, OAuthClient, OAuthClientStatus, OIDCProvider};
use crate::reconcile::client::{
    STATE_SECRET_KEY, data_of, desired as client_desired, preset_of, ready, state_secret_name,
};
use crate::reconcile::conditions::{
    self, ConditionExt, ConditionReason, ConditionStatus, ConditionType, condition,
};
use crate::reconcile::registration::Ensured;
use crate::reconcile::rotation::{
    self, PREVIOUS_UNTIL_KEY, Plan, ROTATED_AT_KEY, TARGET_PREVIOUS_KEY,
};
use crate::reconcile::world::{World, secret_value};
use crate::reconcile::{Desired, fingerprint};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::time::Duration;

/// How often a converged client is looked at again without a trigger.
pub(crate) const RESYNC: Duration = Duration::from_secs(3600);

/// Everything an OAuthClient's desired state depends on, as the operator observed it.
pub(crate) struct Observed<'a> {
    /// The client.
    pub client: &'a OAuthClient,
    /// Its provider, when it exists.
    pub provider: Option<&'a OIDCProvider>,
    /// The redirect URIs its provider's routes need.
    pub needed_redirects: &'a [String],
    /// The state Secret as cached (the operator's bookkeeping).
    pub cached_state: Option<&'a Secret>,
    /// The application's Secret as cached.
    pub cached_target: Option<&'a Secret>,
    /// Static: the user's credentials Secret, when it exists.
    pub credentials: Option<Secret>,
    /// Dynamic: what the IdP's registration contributed (`None`: not asked — another
    /// mode, no provider yet, or an invalid spec).
    pub registration: Option<Ensured>,
    /// The outposts' back-channel logout URI the routes need (see
    /// [`crate::reconcile::index::needed_backchannel_logout_uri`]), for status.
    pub backchannel_logout_uri: Option<String>,
    /// Now.
    pub now: Timestamp,
}

/// What the client should look like after this reconcile.
pub struct ClientPlan {
    /// The Secrets to hold (written only where they differ from the cache).
    pub objects: Vec<Desired>,
    /// The status to publish.
    pub status: OAuthClientStatus,
    /// The rotation decided for this reconcile.
    pub rotation: Plan,
    /// Whether this reconcile rotates the secret (the plan's rotation, when the state
    /// Secret that records it is written).
    pub rotated: bool,
    /// The state Secret as it stands afterwards: the copy written now, else the cached.
    pub state: Option<Secret>,
}

fn put(secret: &mut Secret, key: &str, value: &str) {
    secret
        .data
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_string(), ByteString(value.as_bytes().to_vec()));
}

/// The client's desired Secrets and status. `mint` makes a new secret value (a first
/// Generated secret, a rotation).
pub(crate) fn desired(observed: Observed<'_>, mint: &mut dyn FnMut() -> String) -> ClientPlan {
    let Observed {
        client,
        provider,
        needed_redirects,
        cached_state,
        cached_target,
        credentials,
        registration,
        backchannel_logout_uri,
        now,
    } = observed;
    let generated = client.spec.mode == ClientMode::Generated;
    let state_name = state_secret_name(client);
    let mut world = World {
        clients: vec![client.clone()],
        providers: provider.into_iter().cloned().collect(),
        ..Default::default()
    };
    let mut state = cached_state.cloned().unwrap_or_default();
    state.metadata.name = Some(state_name.clone());
    state.metadata.namespace = client.namespace();
    world.secrets.extend(cached_target.cloned());
    world.secrets.extend(credentials);
    let (registered_state, redirect_condition, registration_uri) = match registration {
        Some(r) => (
            r.state,
            Some(r.redirect_condition),
            r.registration_client_uri,
        ),
        None => (BTreeMap::new(), None, None),
    };
    for (k, v) in &registered_state {
        put(&mut state, k, v);
    }

    // Rotation (Generated): decided before `desired`, which keeps whatever the state
    // Secret holds — so a rotation is the only way the value changes.
    let mut current = data_of(Some(&state)).get(STATE_SECRET_KEY).cloned();
    if generated && current.is_none() {
        // Mint (or adopt the value the app already reads) here rather than inside
        // `desired`, so the first write of the state Secret already carries the
        // rotation bookkeeping — otherwise a second, redundant write would follow.
        let key = crate::reconcile::presets::secret_key(preset_of(client));
        let value = cached_target
            .and_then(|t| secret_value(t, key))
            .unwrap_or_else(&mut *mint);
        put(&mut state, STATE_SECRET_KEY, &value);
        current = Some(value);
    }
    let plan = if generated {
        rotation::plan(client, &data_of(Some(&state)), current.as_deref(), now)
    } else {
        rotation::plan(
            &OAuthClient::new("", Default::default()),
            &BTreeMap::new(),
            None,
            now,
        )
    };
    if plan.rotate {
        put(&mut state, STATE_SECRET_KEY, &mint());
    }
    world.secrets.push(state);

    let mut outcome = client_desired(&world, client, needed_redirects, mint);
    for object in &mut outcome.objects {
        let Desired::Secret(s) = object else { continue };
        if s.metadata.name.as_deref() == Some(state_name.as_str()) {
            for (k, v) in plan.state.iter().chain(registered_state.iter()) {
                put(s, k, v);
            }
        } else if let Some(prev) = &plan.previous {
            put(s, TARGET_PREVIOUS_KEY, prev);
        }
    }

    // Status reports the rotation the state Secret holds after this reconcile: the copy
    // written now, else the cached one. A plan that `desired` did not write (no provider
    // yet, an invalid spec) rotated nothing; stamping its time would rewrite status on
    // every reconcile (issue 10: 62 writes a minute).
    let written_state = outcome.objects.iter().find_map(|o| match o {
        Desired::Secret(s) if s.metadata.name.as_deref() == Some(state_name.as_str()) => {
            Some(s.clone())
        }
        _ => None,
    });
    let rotated = plan.rotate && written_state.is_some();
    let state = written_state.or_else(|| cached_state.cloned());
    let mut status = outcome.status;
    status.registration_client_uri = registration_uri;
    status.backchannel_logout_uri = backchannel_logout_uri;
    status.last_rotation_time = data_of(state.as_ref()).get(ROTATED_AT_KEY).cloned();
    if let Some(prev) = &plan.previous {
        for c in status
            .conditions
            .iter_mut()
            .filter(|c| c.is(ConditionType::Rotating))
        {
            *c = condition(
                ConditionType::Rotating,
                Some(true),
                ConditionReason::GracePeriod,
                format!(
                    "the previous secret ({}) stays published as {TARGET_PREVIOUS_KEY:?} until {}",
                    fingerprint(prev),
                    plan.state
                        .get(PREVIOUS_UNTIL_KEY)
                        .cloned()
                        .unwrap_or_default()
                ),
            );
        }
    }
    if let Some(rc) = redirect_condition {
        status
            .conditions
            .retain(|c| !c.is(ConditionType::RedirectUrisInSync));
        status.conditions.push(rc);
    }
    ClientPlan {
        objects: outcome.objects,
        status,
        rotation: plan,
        rotated,
        state,
    }
}

/// What to ask the IdP to learn whether a Generated client is registered there.
#[derive(Clone, PartialEq)]
pub struct CredentialCheck {
    /// The provider's token endpoint.
    pub token_endpoint: String,
    /// The client id.
    pub client_id: String,
    /// The secret this plan publishes (never logged: no Debug).
    pub client_secret: String,
    /// The application's Secret, named in the condition.
    pub secret_name: String,
}

/// The credential check a Generated client's plan calls for: when `desired` published
/// credentials awaiting the admin's manual registration and the provider's token
/// endpoint is known. `None`: nothing to check.
pub fn credential_check(
    client: &OAuthClient,
    provider: Option<&OIDCProvider>,
    plan: &ClientPlan,
) -> Option<CredentialCheck> {
    if client.spec.mode != ClientMode::Generated {
        return None;
    }
    let manual = conditions::find(&plan.status.conditions, ConditionType::Registered)
        .is_some_and(|c| c.has_reason(ConditionReason::Manual));
    let token_endpoint = provider?
        .status
        .as_ref()?
        .endpoints
        .as_ref()?
        .token
        .clone()?;
    let client_secret = data_of(plan.state.as_ref())
        .get(STATE_SECRET_KEY)
        .cloned()?;
    Some(CredentialCheck {
        token_endpoint,
        client_id: plan.status.client_id.clone()?,
        client_secret,
        secret_name: plan.status.secret_name.clone().unwrap_or_default(),
    })
    .filter(|_| manual)
}

/// Folds the IdP's answer to a [`CredentialCheck`] (`Registered`) into the status, and
/// `Ready` with it.
pub fn with_verification(status: &mut OAuthClientStatus, registered: Condition) {
    status
        .conditions
        .retain(|c| !c.is(ConditionType::Registered) && !c.is(ConditionType::Ready));
    status.conditions.push(registered);
    let ready = ready(&status.conditions);
    status.conditions.push(ready);
}

/// When to look at the client again without a trigger: at the rotation plan's next
/// step, at most after [`RESYNC`]; as often as the IdP is re-checked while a Dynamic
/// client depends on the IdP or a Generated one awaits its registration (`Ready` follows
/// soon after the admin registers it).
pub(crate) fn requeue_after(
    client: &OAuthClient,
    plan: &Plan,
    status: &OAuthClientStatus,
    idp_recheck: Duration,
) -> Duration {
    let requeue = plan.requeue_after.unwrap_or(RESYNC).min(RESYNC);
    let unverified = client.spec.mode == ClientMode::Generated
        && conditions::find(&status.conditions, ConditionType::Registered)
            .is_none_or(|c| !c.has_status(ConditionStatus::True));
    if client.spec.mode == ClientMode::Dynamic || unverified {
        requeue.min(idp_recheck)
    } else {
        requeue
    }
}

#[cfg(test)]
#[path = "client_plan_tests.rs"]
mod tests;
