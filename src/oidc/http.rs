//! The HTTP client the relying party talks to its IdP with, and bounded JSON reads.

use super::OidcError;
use std::time::Duration;

/// Largest discovery/JWKS/token response we read; anything bigger is not an IdP answer.
const MAX_BODY: usize = 1 << 20;

/// Builds the client for one provider: system roots plus the optional extra CA bundle
/// (PEM text, already resolved from `ProviderConfig::ca_bundle` by the caller).
/// Redirects are not followed, so a client secret in a token request body is never
/// replayed to another host.
pub fn build_client(ca_bundle_pem: Option<&str>) -> Result<reqwest::Client, OidcError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_bundle_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| OidcError::Config(format!("caBundle is not a PEM bundle: {e}")))?;
        if certs.is_empty() {
            return Err(OidcError::Config("caBundle contains no certificate".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| OidcError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Reads at most [`MAX_BODY`] bytes of a response body.
pub async fn read_limited(
    mut response: reqwest::Response,
    what: &'static str,
    url: &str,
) -> Result<Vec<u8>, OidcError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(OidcError::IdpInvalidResponse {
                        what,
                        url: url.to_string(),
                        detail: format!("response larger than {MAX_BODY} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(OidcError::IdpUnreachable {
                    what,
                    url: url.to_string(),
                    detail: transport_cause(&e),
                });
            }
        }
    }
}

/// Why a request to the IdP failed, in the words an operator acts on (connection
/// refused, name not found, TLS, timeout), not reqwest's "error sending request".
pub fn transport_cause(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    let mut innermost = e.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::TimedOut => return "timeout".into(),
                _ => {}
            }
        }
        let text = err.to_string();
        let lower = text.to_ascii_lowercase();
        if lower.contains("dns") || lower.contains("failed to lookup address") {
            return format!("name not found ({text})");
        }
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            return format!("TLS: {text}");
        }
        innermost = text;
        source = err.source();
    }
    innermost
}

/// GETs a JSON document; a non-2xx status is "unreachable" (the IdP is not serving it).
pub async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    what: &'static str,
) -> Result<T, OidcError> {
    let unreachable = |detail: String| OidcError::IdpUnreachable {
        what,
        url: url.to_string(),
        detail,
    };
    let response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unreachable(transport_cause(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(unreachable(format!("HTTP {status}")));
    }
    let body = read_limited(response, what, url).await?;
    serde_json::from_slice(&body).map_err(|e| OidcError::IdpInvalidResponse {
        what,
        url: url.to_string(),
        detail: e.to_string(),
    })
}
