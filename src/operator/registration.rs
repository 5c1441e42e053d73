//! RFC 7591 dynamic client registration and RFC 7592 management (read, update, delete)
//! at a provider's `registration_endpoint`. Errors carry the URL, the HTTP status and the
//! IdP's `error` code only — never a token, a secret or a response body.

use super::{Error, Result};
use crate::api::{OAuthClient, TokenEndpointAuthMethod};
use kube::ResourceExt;
use serde::Deserialize;
use serde_json::{Value, json};

/// What the IdP returned for a registration.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Registration {
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
pub fn metadata(
    client: &OAuthClient,
    redirect_uris: &[String],
    backchannel_logout_uri: Option<&str>,
) -> Value {
    let reg = client.spec.registration.clone().unwrap_or_default();
    let name = reg.client_name.unwrap_or_else(|| {
        format!(
            "{}/{}",
            client.namespace().unwrap_or_default(),
            client.name_any()
        )
    });
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
pub fn missing_redirects(wanted: &[String], at_idp: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|u| !at_idp.contains(u))
        .cloned()
        .collect()
}

/// Who answers for a missing client. RFC 7592 §2.1: a client configuration endpoint
/// answers 401 for a client it does not know (and revokes the token); 404 is what many
/// servers send anyway. At the RFC 7591 registration endpoint a 401 is a bad initial
/// access token, never a missing client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// RFC 7591 registration: 401 is an error.
    Registration,
    /// RFC 7592 client configuration: 401 and 404 mean the IdP does not know the client.
    Configuration,
}

async fn send(
    req: reqwest::RequestBuilder,
    what: &str,
    url: &str,
    endpoint: Endpoint,
) -> Result<Option<Registration>> {
    let resp = req
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            Error::Idp(format!(
                "{what} at {url}: {}",
                crate::oidc::transport_error(e)
            ))
        })?;
    let status = resp.status();
    let unknown_client = status == reqwest::StatusCode::NOT_FOUND
        || (endpoint == Endpoint::Configuration && status == reqwest::StatusCode::UNAUTHORIZED);
    if unknown_client {
        return Ok(None);
    }
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(Some(Registration::default()));
    }
    let body = resp.bytes().await.map_err(|e| {
        Error::Idp(format!(
            "{what} at {url}: {}",
            crate::oidc::transport_error(e)
        ))
    })?;
    if !status.is_success() {
        // Only the RFC 7591 §3.2.2 error code, which is a fixed vocabulary.
        let code = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .filter(|c| c.len() < 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .unwrap_or_default();
        return Err(Error::Idp(
            format!("{what} at {url}: HTTP {status} {code}")
                .trim_end()
                .to_string(),
        ));
    }
    serde_json::from_slice(&body).map(Some).map_err(|_| {
        Error::Idp(format!(
            "{what} at {url}: the response is not client information (RFC 7591 §3.2.1)"
        ))
    })
}

fn bearer(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

/// Registers a client (RFC 7591 §3.1).
pub async fn register(
    http: &reqwest::Client,
    endpoint: &str,
    initial_access_token: Option<&str>,
    metadata: &Value,
) -> Result<Registration> {
    send(
        bearer(http.post(endpoint).json(metadata), initial_access_token),
        "client registration",
        endpoint,
        Endpoint::Registration,
    )
    .await?
    .ok_or_else(|| Error::Idp(format!("client registration at {endpoint}: HTTP 404")))
}

/// Reads the registration (RFC 7592 §2.1); `None` when the IdP no longer knows it
/// (401 or 404).
pub async fn read(http: &reqwest::Client, uri: &str, token: &str) -> Result<Option<Registration>> {
    send(
        http.get(uri).bearer_auth(token),
        "client read",
        uri,
        Endpoint::Configuration,
    )
    .await
}

/// Updates the registration (RFC 7592 §2.2); the body carries the client id.
pub async fn update(
    http: &reqwest::Client,
    uri: &str,
    token: &str,
    client_id: &str,
    metadata: &Value,
) -> Result<Option<Registration>> {
    let mut body = metadata.clone();
    body["client_id"] = json!(client_id);
    send(
        http.put(uri).bearer_auth(token).json(&body),
        "client update",
        uri,
        Endpoint::Configuration,
    )
    .await
}

/// Deletes the registration (RFC 7592 §2.3); a client the IdP does not know (401 or
/// 404) is already gone, so that counts as done.
pub async fn delete(http: &reqwest::Client, uri: &str, token: &str) -> Result<()> {
    send(
        http.delete(uri).bearer_auth(token),
        "client delete",
        uri,
        Endpoint::Configuration,
    )
    .await
    .map(|_| ())
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
}
