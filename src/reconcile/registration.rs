//! Dynamic registration (RFC 7591/7592) as pure functions: the metadata to register,
//! what the IdP's answer means for the state Secret and for `RedirectURIsInSync`. The
//! HTTP calls are the operator's (`operator::registration`).

use crate::api::{OAuthClient, TokenEndpointAuthMethod};
use crate::reconcile::client::{STATE_CLIENT_ID_KEY, STATE_SECRET_KEY};
use crate::reconcile::conditions::{ConditionReason, ConditionType, condition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// State key: the RFC 7592 registration access token.
pub(crate) const STATE_TOKEN_KEY: &str = "registration-access-token";
/// State key: the RFC 7592 client configuration URI.
pub(crate) const STATE_URI_KEY: &str = "registration-client-uri";

/// What the IdP side contributes to a reconcile.
// No Debug: `state` holds the client secret and the registration access token.
#[derive(Clone, PartialEq)]
pub struct Ensured {
    /// Keys to store in the state Secret (empty: nothing registered).
    pub state: BTreeMap<String, String>,
    /// `RedirectURIsInSync`.
    pub redirect_condition: Condition,
    /// The registration URI for status.
    pub registration_client_uri: Option<String>,
}

/// What the IdP returned for a registration.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Registration {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, when issued.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// `registration_access_token` (RFC 7592).
    #[serde(default)]
    pub registration_access_token: Option<String>,
    /// `registration_client_uri` (RFC 7592).
    #[serde(default)]
    pub registration_client_uri: Option<String>,
    /// The redirect URIs the IdP holds.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The back-channel logout URI the IdP holds, if any.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
}

impl std::fmt::Debug for Registration {
    // Secrets and tokens never reach Debug output (and so never a log line).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .field("registration_client_uri", &self.registration_client_uri)
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// The client metadata to register (RFC 7591 §2), with `backchannel_logout_uri` (OpenID
/// Connect Back-Channel Logout 1.0 §2.2, sid required) when routes can end sessions.
pub(crate) fn metadata(
    client: &OAuthClient,
    redirect_uris: &[String],
    backchannel_logout_uri: Option<&str>,
) -> Value {
    let reg = client.spec.registration.clone().unwrap_or_default();
    let name = reg
        .client_name
        .unwrap_or_else(|| crate::reconcile::key::ObjectKey::of(client).to_string());
    let method = match reg.token_endpoint_auth_method.unwrap_or_default() {
        TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
        TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
    };
    let mut m = json!({
        "client_name": name,
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    });
    if let Some(p) = client
        .spec
        .post_logout_redirect_uris
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        m["post_logout_redirect_uris"] = json!(p);
    }
    if let Some(uri) = backchannel_logout_uri {
        m["backchannel_logout_uri"] = json!(uri);
        m["backchannel_logout_session_required"] = json!(true);
    }
    m
}

/// Redirect URIs we need that the IdP does not hold (sorted, as given).
pub(crate) fn missing_redirects(wanted: &[String], at_idp: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|u| !at_idp.contains(u))
        .cloned()
        .collect()
}

/// The state Secret's keys for a registration, keeping what the IdP omitted.
pub(crate) fn state_of(
    r: &Registration,
    previous: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
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

/// `RedirectURIsInSync`: whether the IdP holds every wanted redirect URI (`note` says
/// why an update did not happen).
pub(crate) fn sync_condition(wanted: &[String], at_idp: &[String], note: &str) -> Condition {
    let missing = missing_redirects(wanted, at_idp);
    if missing.is_empty() {
        condition(
            ConditionType::RedirectUrisInSync,
            Some(true),
            ConditionReason::InSync,
            "the IdP holds every redirect URI",
        )
    } else {
        condition(
            ConditionType::RedirectUrisInSync,
            Some(false),
            ConditionReason::MissingAtIdp,
            format!("the IdP's registration lacks {missing:?}{note}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{OAuthClientSpec, RegistrationSpec};

    #[test]
    fn metadata_names_the_client_and_its_redirects() {
        let mut c = OAuthClient::new(
            "grafana",
            OAuthClientSpec {
                registration: Some(RegistrationSpec {
                    token_endpoint_auth_method: Some(TokenEndpointAuthMethod::ClientSecretPost),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        c.metadata.namespace = Some("mon".into());
        let m = metadata(&c, &["https://g.example/oauth2/callback".into()], None);
        assert_eq!(m["client_name"], "mon/grafana");
        assert_eq!(m["token_endpoint_auth_method"], "client_secret_post");
        assert_eq!(m["redirect_uris"][0], "https://g.example/oauth2/callback");
        assert!(m.get("post_logout_redirect_uris").is_none());
        assert!(m.get("backchannel_logout_uri").is_none());
        let uri = "https://g.example/oauth2/backchannel-logout";
        let m = metadata(&c, &[], Some(uri));
        assert_eq!(m["backchannel_logout_uri"], uri);
        assert_eq!(m["backchannel_logout_session_required"], true);
    }

    #[test]
    fn missing_redirects_lists_what_the_idp_lacks_and_debug_hides_secrets() {
        let wanted = vec!["https://a/cb".to_string(), "https://b/cb".to_string()];
        assert_eq!(
            missing_redirects(&wanted, &["https://a/cb".into()]),
            vec!["https://b/cb".to_string()]
        );
        let r = Registration {
            client_id: "id".into(),
            client_secret: Some("CANARY".into()),
            registration_access_token: Some("TOKEN".into()),
            ..Default::default()
        };
        let text = format!("{r:?}");
        assert!(!text.contains("CANARY") && !text.contains("TOKEN"));
    }

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
