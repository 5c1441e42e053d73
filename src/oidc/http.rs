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

/// What went wrong with a request, as status text: a class a person can act on
/// (connection refused, DNS, TLS, timeout, connection closed) and the causes that
/// reqwest's own message ("error sending request") hides in its source chain. The URL is
/// left out; callers name it.
pub fn transport_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    // reqwest's own top line ("error sending request") says nothing its causes do not.
    let top = e.to_string();
    let mut chain = if std::error::Error::source(&e).is_some() && top == "error sending request" {
        Vec::new()
    } else {
        vec![top]
    };
    let mut io_kind = None;
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        let text = cause.to_string();
        // Wrappers often repeat their cause's text; keep each piece once.
        if !chain.iter().any(|c| c.contains(&text)) {
            chain.retain(|c| !text.contains(c.as_str()));
            chain.push(text);
        }
        source = cause.source();
    }
    let detail = chain.join(": ");
    let lower = detail.to_ascii_lowercase();
    let class = if e.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        "timed out"
    } else if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        "connection refused"
    } else if lower.contains("dns error") || lower.contains("lookup address") {
        "DNS lookup failed"
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        "TLS failed"
    } else if matches!(
        io_kind,
        Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted)
    ) || lower.contains("connection closed")
        || lower.contains("incomplete message")
    {
        "connection closed by the server"
    } else if e.is_connect() {
        "could not connect"
    } else {
        return detail;
    };
    format!("{class} ({detail})")
}

/// Reads at most [`MAX_BODY`] bytes of a response body.
pub(crate) async fn read_limited(
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
                    detail: transport_error(e),
                });
            }
        }
    }
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
        .map_err(|e| unreachable(transport_error(e)))?;
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
