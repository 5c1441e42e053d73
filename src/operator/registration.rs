//! RFC 7591 dynamic client registration and RFC 7592 management (read, update, delete)
//! at a provider's `registration_endpoint`. Errors carry the URL, the HTTP status and the
//! IdP's `error` code only — never a token, a secret or a response body.

use super::{Error, Result};
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
