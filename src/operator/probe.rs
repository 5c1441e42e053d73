//! The IdP probe: fetch the discovery document (keeping it even when its issuer differs,
//! so status can say precisely how), the `Date` header for clock skew, and the JWKS.
//! Only URLs, status codes and key ids end up in a [`Report`]; no body is kept.

use crate::oidc::{Discovery, JwksCache, OidcError, well_known_url};
use k8s_openapi::jiff::Timestamp;

/// Largest discovery document read.
const MAX_BODY: usize = 1 << 20;

/// What one probe of an IdP found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// The discovery document, when one was fetched and parsed (issuer not yet checked).
    pub discovery: Option<Discovery>,
    /// Why there is no discovery document (URL and HTTP status or transport error).
    pub discovery_error: Option<String>,
    /// The IdP's clock per its `Date` header, and ours when the answer arrived.
    pub clock: Option<(Timestamp, Timestamp)>,
    /// Key ids of the usable signing keys.
    pub key_ids: Option<Vec<String>>,
    /// Why there are no keys.
    pub jwks_error: Option<String>,
    /// When the probe ran.
    pub at: Option<Timestamp>,
}

/// Parses an HTTP `Date` header (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_http_date(value: &str) -> Option<Timestamp> {
    k8s_openapi::jiff::fmt::rfc2822::parse(value)
        .ok()
        .map(|z| z.timestamp())
}

async fn fetch_discovery(
    http: &reqwest::Client,
    issuer: &str,
    now: fn() -> Timestamp,
) -> (Result<Discovery, String>, Option<(Timestamp, Timestamp)>) {
    let url = well_known_url(issuer);
    let response = match http
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return (Err(format!("GET {url}: {}", e.without_url())), None),
    };
    let clock = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .map(|idp| (idp, now()));
    let status = response.status();
    if !status.is_success() {
        return (Err(format!("GET {url}: HTTP {status}")), clock);
    }
    let mut body = Vec::new();
    let mut response = response;
    loop {
        match response.chunk().await {
            Ok(Some(c)) if body.len() + c.len() <= MAX_BODY => body.extend_from_slice(&c),
            Ok(Some(_)) => return (Err(format!("GET {url}: document larger than 1 MiB")), clock),
            Ok(None) => break,
            Err(e) => return (Err(format!("GET {url}: {}", e.without_url())), clock),
        }
    }
    match serde_json::from_slice::<Discovery>(&body) {
        Ok(d) => (Ok(d), clock),
        Err(e) => (
            Err(format!("GET {url}: not a discovery document: {e}")),
            clock,
        ),
    }
}

/// Probes the IdP of `issuer`.
pub async fn probe(http: &reqwest::Client, issuer: &str, now: fn() -> Timestamp) -> Report {
    let mut report = Report {
        at: Some(now()),
        ..Default::default()
    };
    let (discovery, clock) = fetch_discovery(http, issuer, now).await;
    report.clock = clock;
    match discovery {
        Ok(d) => {
            let jwks = JwksCache::new(http.clone(), d.jwks_uri.clone());
            match jwks.refresh().await {
                Ok(()) => report.key_ids = Some(jwks.snapshot().key_ids()),
                Err(e) => report.jwks_error = Some(describe(&e)),
            }
            report.discovery = Some(d);
        }
        Err(e) => report.discovery_error = Some(e),
    }
    report
}

/// An IdP error as status text (OidcError never carries a secret; it names URLs).
pub fn describe(e: &OidcError) -> String {
    e.to_string()
}
