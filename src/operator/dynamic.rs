//! The Dynamic mode's IdP side: register once (RFC 7591), then read the registration
//! back on every reconcile (RFC 7592) to detect drift, update missing redirect URIs,
//! and delete the client at the IdP when the OAuthClient goes (finalizer).

use super::context::Context;
use super::idp_error::IdpError;
use super::registration;
use super::{ApiContext, Error, Result, Verb};
use crate::api::{OAuthClient, OIDCProvider};
use crate::reconcile::client::wanted_redirects;
use crate::reconcile::client::{STATE_CLIENT_ID_KEY, state_secret_name};
use crate::reconcile::conditions::{ConditionReason, ConditionType, condition};
use crate::reconcile::events::EventReason;
use crate::reconcile::key::ObjectKey;
pub use crate::reconcile::registration::Ensured;
use crate::reconcile::registration::{STATE_TOKEN_KEY, STATE_URI_KEY};
use crate::reconcile::registration::{state_of, sync_condition};
use crate::reconcile::world::secret_value;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Registers or checks the client at the IdP.
pub(crate) async fn ensure(
    ctx: &Context,
    client: &OAuthClient,
    provider: Option<&OIDCProvider>,
    state: &BTreeMap<String, String>,
    needed: &[String],
    backchannel_logout_uri: Option<&str>,
) -> Result<Ensured> {
    let ns = client
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let wanted = wanted_redirects(client, needed);
    let http = match provider {
        Some(p) => super::provider::http_for(ctx, p).await?,
        None => ctx.http.clone(),
    };
    let metadata =
        crate::reconcile::registration::metadata(client, &wanted, backchannel_logout_uri);
    let (token, uri) = (state.get(STATE_TOKEN_KEY), state.get(STATE_URI_KEY));
    if let (Some(id), Some(token), Some(uri)) = (state.get(STATE_CLIENT_ID_KEY), token, uri) {
        match registration::read(&http, uri, token).await? {
            Some(at_idp) => {
                let mut current = at_idp;
                let mut note = String::new();
                // A route that moved its sessions to Redis (or back) changes the
                // back-channel logout URI the IdP must hold.
                let logout_drift = backchannel_logout_uri.is_some()
                    && current.backchannel_logout_uri.as_deref() != backchannel_logout_uri;
                if logout_drift
                    || !crate::reconcile::registration::missing_redirects(
                        &wanted,
                        &current.redirect_uris,
                    )
                    .is_empty()
                {
                    match registration::update(&http, uri, token, id, &metadata).await {
                        Ok(Some(updated)) => {
                            ctx.metrics.write("idp_registration_update");
                            current = updated;
                        }
                        Ok(None) => note = "; the update found no client (HTTP 404)".into(),
                        Err(e) => note = format!("; updating the registration failed: {e}"),
                    }
                }
                return Ok(Ensured {
                    redirect_condition: sync_condition(&wanted, &current.redirect_uris, &note),
                    registration_client_uri: Some(uri.clone()),
                    state: state_of(&current, state),
                });
            }
            None => {
                ctx.event(&client.object_ref(&()), EventReason::DeletedAtIdp,
                    format!("the IdP no longer knows client {id:?} (its RFC 7592 configuration endpoint {uri} answered 401 or 404); registering again")).await;
            }
        }
    }
    let endpoint = provider
        .and_then(|p| p.status.as_ref())
        .and_then(|s| s.endpoints.as_ref())
        .and_then(|e| e.registration.clone());
    let Some(endpoint) = endpoint else {
        return Ok(Ensured {
            state: BTreeMap::new(),
            redirect_condition: condition(
                ConditionType::RedirectUrisInSync,
                Some(false),
                ConditionReason::NoRegistrationEndpoint,
                "the provider's discovery document has no registration_endpoint (or was not fetched yet); use mode Generated or Static",
            ),
            registration_client_uri: None,
        });
    };
    let initial = match client
        .spec
        .registration
        .as_ref()
        .and_then(|r| r.initial_access_token_ref.as_ref())
    {
        Some(r) => {
            let s = Api::<Secret>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&r.name)
                .await
                .during(Verb::Get, || format!("Secret {ns}/{}", r.name))?;
            Some(
                s.as_ref()
                    .and_then(|s| secret_value(s, &r.key))
                    .ok_or_else(|| {
                        Error::from(IdpError::InitialAccessTokenMissing {
                            secret: ObjectKey::new(&ns, &r.name),
                            key: r.key.clone(),
                        })
                    })?,
            )
        }
        None => None,
    };
    let registered =
        registration::register(&http, &endpoint, initial.as_deref(), &metadata).await?;
    ctx.metrics.write("idp_registration");
    Ok(Ensured {
        redirect_condition: sync_condition(&wanted, &registered.redirect_uris, ""),
        registration_client_uri: registered.registration_client_uri.clone(),
        state: state_of(&registered, &BTreeMap::new()),
    })
}

/// Finalizer cleanup: delete the client at the IdP (a client it does not know counts as
/// done). A failure holds the deletion; status and one Warning event say so.
pub(crate) async fn cleanup(client: Arc<OAuthClient>, ctx: Arc<Context>) -> Result<Action> {
    let result = remove_at_idp(&client, &ctx).await;
    if let Err(e) = &result {
        super::deletion::report_blocked(&client, &ctx, e).await;
    }
    result
}

async fn remove_at_idp(client: &OAuthClient, ctx: &Context) -> Result<Action> {
    let ns = client
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    if client.spec.deletion_policy == Some(crate::api::DeletionPolicy::Orphan) {
        return Ok(Action::await_change());
    }
    let state = ctx.stores.owned_secret(&ns, &state_secret_name(client));
    let data = crate::reconcile::client::data_of(state.as_deref());
    if let (Some(token), Some(uri)) = (data.get(STATE_TOKEN_KEY), data.get(STATE_URI_KEY)) {
        let pref = &client.spec.provider_ref;
        let http = match ctx.stores.provider(pref.namespace_or(&ns), &pref.name) {
            Some(p) => super::provider::http_for(ctx, &p).await?,
            None => ctx.http.clone(),
        };
        registration::delete(&http, uri, token).await?;
        ctx.metrics.write("idp_registration_delete");
    }
    Ok(Action::await_change())
}
