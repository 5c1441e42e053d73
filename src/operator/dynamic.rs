//! The Dynamic mode's IdP side: register once (RFC 7591), then read the registration
//! back on every reconcile (RFC 7592) to detect drift, update missing redirect URIs,
//! and delete the client at the IdP when the OAuthClient goes (finalizer).

use super::context::Context;
use super::registration::{self, Registration};
use super::{Error, Result};
use crate::api::{OAuthClient, OIDCProvider};
use crate::reconcile::client::{STATE_CLIENT_ID_KEY, STATE_SECRET_KEY, state_secret_name};
use crate::reconcile::conditions::{condition, types};
use crate::reconcile::world::secret_value;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// State key: the RFC 7592 registration access token.
pub const STATE_TOKEN_KEY: &str = "registration-access-token";
/// State key: the RFC 7592 client configuration URI.
pub const STATE_URI_KEY: &str = "registration-client-uri";

/// What the IdP side contributes to a reconcile.
pub struct Ensured {
    /// Keys to store in the state Secret (empty: nothing registered).
    pub state: BTreeMap<String, String>,
    /// `RedirectURIsInSync`.
    pub redirect_condition: Condition,
    /// The registration URI for status.
    pub registration_client_uri: Option<String>,
}

/// The redirect URIs to register: the spec's plus what routes need, sorted.
pub fn wanted_redirects(client: &OAuthClient, needed: &[String]) -> Vec<String> {
    let mut all: Vec<String> = client.spec.redirect_uris.clone().unwrap_or_default();
    all.extend(needed.iter().cloned());
    all.sort();
    all.dedup();
    all
}

fn state_of(r: &Registration, previous: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    s.insert(STATE_CLIENT_ID_KEY.to_string(), r.client_id.clone());
    // RFC 7592 lets the IdP omit unchanged values on read/update: keep what we have.
    let keep = |key: &str, new: &Option<String>| new.clone().or_else(|| previous.get(key).cloned());
    for (k, v) in [
        (STATE_SECRET_KEY, keep(STATE_SECRET_KEY, &r.client_secret)),
        (
            STATE_TOKEN_KEY,
            keep(STATE_TOKEN_KEY, &r.registration_access_token),
        ),
        (
            STATE_URI_KEY,
            keep(STATE_URI_KEY, &r.registration_client_uri),
        ),
    ] {
        if let Some(v) = v {
            s.insert(k.to_string(), v);
        }
    }
    s
}

fn sync_condition(wanted: &[String], at_idp: &[String], note: &str) -> Condition {
    let missing = registration::missing_redirects(wanted, at_idp);
    if missing.is_empty() {
        condition(
            types::REDIRECT_URIS_IN_SYNC,
            Some(true),
            crate::reconcile::conditions::reasons::IN_SYNC,
            "the IdP holds every redirect URI",
        )
    } else {
        condition(
            types::REDIRECT_URIS_IN_SYNC,
            Some(false),
            crate::reconcile::conditions::reasons::MISSING_AT_IDP,
            format!("the IdP's registration lacks {missing:?}{note}"),
        )
    }
}

/// Registers or checks the client at the IdP.
pub async fn ensure(
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
    let metadata = registration::metadata(client, &wanted, backchannel_logout_uri);
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
                    || !registration::missing_redirects(&wanted, &current.redirect_uris).is_empty()
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
                ctx.event(&client.object_ref(&()), true, "DeletedAtIdP",
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
                types::REDIRECT_URIS_IN_SYNC,
                Some(false),
                "NoRegistrationEndpoint",
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
                .await?;
            Some(s.as_ref().and_then(|s| secret_value(s, &r.key)).ok_or_else(|| {
                Error::Idp(format!("Secret {ns}/{} key {:?} not found (spec.registration.initialAccessTokenRef)", r.name, r.key))
            })?)
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
pub async fn cleanup(client: Arc<OAuthClient>, ctx: Arc<Context>) -> Result<Action> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keeps_values_the_idp_omits_and_sync_lists_missing() {
        let prev = BTreeMap::from([
            (STATE_SECRET_KEY.to_string(), "s".to_string()),
            (STATE_TOKEN_KEY.to_string(), "t".to_string()),
        ]);
        let r = Registration {
            client_id: "id".into(),
            registration_access_token: Some("t2".into()),
            ..Default::default()
        };
        let s = state_of(&r, &prev);
        assert_eq!(s[STATE_SECRET_KEY], "s");
        assert_eq!(s[STATE_TOKEN_KEY], "t2");
        let c = sync_condition(
            &["https://a/cb".into(), "https://b/cb".into()],
            &["https://a/cb".into()],
            "",
        );
        assert_eq!(c.status, "False");
        assert!(c.message.contains("https://b/cb") && !c.message.contains("https://a/cb"));
    }
}
