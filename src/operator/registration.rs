//! RFC 7591 dynamic client registration and RFC 7592 management (read, update, delete)
//! at a provider's `registration_endpoint`. Errors carry the URL, the HTTP status and the
//! IdP's `error` code only — never a token, a secret or a response body.

use super::Result;
use super::idp_error::{IdpCall, IdpError};
use crate::reconcile::registration::Registration;
use serde_json::{Value, json};

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
    call: IdpCall,
    url: &str,
    endpoint: Endpoint,
) -> Result<Option<Registration>> {
    let transport = |e| IdpError::Transport {
        call,
        url: url.to_string(),
        detail: crate::oidc::transport_error(e),
    };
    let resp = req
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport)?;
    let status = resp.status();
    let unknown_client = status == reqwest::StatusCode::NOT_FOUND
        || (endpoint == Endpoint::Configuration && status == reqwest::StatusCode::UNAUTHORIZED);
    if unknown_client {
        return Ok(None);
    }
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(Some(Registration::default()));
    }
    let body = resp.bytes().await.map_err(transport)?;
    if !status.is_success() {
        // Only the RFC 7591 §3.2.2 error code, which is a fixed vocabulary.
        let code = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .filter(|c| {
                !c.is_empty()
                    && c.len() < 64
                    && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });
        return Err(IdpError::Refused {
            call,
            url: url.to_string(),
            status,
            code,
        }
        .into());
    }
    serde_json::from_slice(&body).map(Some).map_err(|source| {
        IdpError::NotClientInformation {
            call,
            url: url.to_string(),
            source,
        }
        .into()
    })
}

fn bearer(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

/// Registers a client (RFC 7591 §3.1).
pub(crate) async fn register(
    http: &reqwest::Client,
    endpoint: &str,
    initial_access_token: Option<&str>,
    metadata: &Value,
) -> Result<Registration> {
    send(
        bearer(http.post(endpoint).json(metadata), initial_access_token),
        IdpCall::Register,
        endpoint,
        Endpoint::Registration,
    )
    .await?
    .ok_or_else(|| {
        IdpError::NotFound {
            call: IdpCall::Register,
            url: endpoint.to_string(),
        }
        .into()
    })
}

/// Reads the registration (RFC 7592 §2.1); `None` when the IdP no longer knows it
/// (401 or 404).
pub(crate) async fn read(
    http: &reqwest::Client,
    uri: &str,
    token: &str,
) -> Result<Option<Registration>> {
    send(
        http.get(uri).bearer_auth(token),
        IdpCall::Read,
        uri,
        Endpoint::Configuration,
    )
    .await
}

/// Updates the registration (RFC 7592 §2.2); the body carries the client id.
pub(crate) async fn update(
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
        IdpCall::Update,
        uri,
        Endpoint::Configuration,
    )
    .await
}

/// Deletes the registration (RFC 7592 §2.3); a client the IdP does not know (401 or
/// 404) is already gone, so that counts as done.
pub(crate) async fn delete(http: &reqwest::Client, uri: &str, token: &str) -> Result<()> {
    send(
        http.delete(uri).bearer_auth(token),
        IdpCall::Delete,
        uri,
        Endpoint::Configuration,
    )
    .await
    .map(|_| ())
}
