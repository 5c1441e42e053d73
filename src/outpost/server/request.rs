//! Small request/response helpers shared by the handlers: request ids, cookies, the
//! browser-navigation test, the session payload and its conversion to a [`Subject`].

use crate::oidc::Identity;
use crate::outpost::Subject;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// What the session cookie stores (field names short: it travels on every request).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionData {
    /// The provider key the identity came from; a session is only honoured by routes of
    /// the same provider, even when two routes share a cookie name and host.
    #[serde(rename = "p")]
    pub provider: String,
    /// Who the user is.
    #[serde(rename = "i")]
    pub identity: Identity,
    /// When the tokens behind the session expire (unix seconds), when known.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<u64>,
    /// When those tokens were obtained (unix seconds), so the refresh lead can be kept
    /// below half their lifetime; absent in cookies written before it existed.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub tokens_obtained_at: Option<u64>,
    /// The refresh token, when the IdP issued one.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The access token, only when the route passes it upstream.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The ID token, only when the IdP offers RP-initiated logout (for `id_token_hint`).
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The IdP session the login happened in (the ID token's `sid`), kept in Redis mode
    /// only: a back-channel logout naming it ends this session.
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub idp_session: Option<String>,
    /// The browser's `User-Agent` at login (Redis mode only), for the user's sessions page.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The client address at login, from trusted forwarding only (Redis mode only).
    #[serde(rename = "ip", default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// The policy/header view of an identity: kept claims plus `sub`, `email`, `name` and
/// `preferred_username` filled from the identity fields when absent.
pub fn subject_of(identity: &Identity) -> Subject {
    let mut claims: serde_json::Map<String, serde_json::Value> = identity
        .claims
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    claims
        .entry("sub")
        .or_insert_with(|| identity.sub.clone().into());
    if let Some(e) = &identity.email {
        claims.entry("email").or_insert_with(|| e.clone().into());
    }
    if let Some(n) = &identity.name {
        claims.entry("name").or_insert_with(|| n.clone().into());
    }
    Subject {
        user: identity.username.clone(),
        email: identity.email.clone(),
        groups: identity.groups.clone(),
        permissions: identity.permissions.clone(),
        name: identity.name.clone(),
        sub: identity.sub.clone(),
        claims,
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Longest request id taken from a client or proxy.
const MAX_REQUEST_ID_LEN: usize = 128;

/// A request id: a sane client/proxy `X-Request-Id` (visible ASCII, at most 128
/// characters) or a fresh one. Held inline, so assigning and copying one allocates
/// nothing (the auth subrequest is the hot path).
#[derive(Clone, Copy)]
pub struct RequestId {
    bytes: [u8; MAX_REQUEST_ID_LEN],
    len: u8,
}

impl RequestId {
    /// The id for a request with these headers.
    pub fn of(headers: &HeaderMap) -> Self {
        if let Some(id) = headers
            .get("x-request-id")
            .map(HeaderValue::as_bytes)
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= MAX_REQUEST_ID_LEN
                    && v.iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
            })
        {
            return Self::from_ascii(id);
        }
        // A random per-process prefix and a counter: unique across replicas and restarts,
        // and without a CSPRNG call and 16 small allocations on every request (the old id
        // cost ~5% of a cookie check, docs/benchmarks.md). It only correlates log lines.
        static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let prefix = PREFIX.get_or_init(|| {
            let mut bytes = [0u8; 8];
            if aws_lc_rs::rand::fill(&mut bytes).is_err() {
                bytes.copy_from_slice(&now().to_be_bytes());
            }
            u64::from_be_bytes(bytes)
        });
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut id = Self {
            bytes: [0; MAX_REQUEST_ID_LEN],
            len: 32,
        };
        for (i, word) in [*prefix, n].into_iter().enumerate() {
            for (j, out) in id.bytes[i * 16..(i + 1) * 16].iter_mut().enumerate() {
                let nibble = (word >> (60 - 4 * j)) & 0xf;
                *out = b"0123456789abcdef"[nibble as usize];
            }
        }
        id
    }

    /// An id from checked ASCII of at most [`MAX_REQUEST_ID_LEN`] bytes.
    fn from_ascii(text: &[u8]) -> Self {
        let mut bytes = [0; MAX_REQUEST_ID_LEN];
        bytes[..text.len()].copy_from_slice(text);
        Self {
            bytes,
            len: text.len() as u8,
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked in `of`, hex digits otherwise).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// The request id of a request with these headers, as text (see [`RequestId::of`]).
pub fn request_id(headers: &HeaderMap) -> String {
    RequestId::of(headers).to_string()
}

/// The `Cookie` header values (non-UTF-8 ones are skipped: they hold no cookie of ours).
pub(crate) fn cookie_headers(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// Whether a login redirect makes sense: a top-level browser navigation. GET (or HEAD)
/// whose `Accept` names `text/html`, not an XHR, not a CORS preflight.
pub(crate) fn is_browser_navigation(method: &Method, headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    let xhr = headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest"));
    (method == Method::GET || method == Method::HEAD) && accepts_html && !xhr
}

/// The `Authorization: Bearer` token: `None` when there is no bearer authorization,
/// `Some(Err(()))` when the header is malformed.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(text) = value.to_str() else {
        return Some(Err(()));
    };
    let (scheme, token) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 16 * 1024 || token.contains(' ') {
        return Some(Err(()));
    }
    Some(Ok(token))
}

/// A header value from trusted text (URLs we built); empty when it cannot be one.
pub(crate) fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn browser_navigation_needs_get_html_and_no_xhr() {
        let html = headers(&[("accept", "text/html,application/xhtml+xml")]);
        assert!(is_browser_navigation(&Method::GET, &html));
        assert!(!is_browser_navigation(&Method::POST, &html));
        assert!(!is_browser_navigation(&Method::OPTIONS, &html));
        let json = headers(&[("accept", "application/json")]);
        assert!(!is_browser_navigation(&Method::GET, &json));
        let xhr = headers(&[
            ("accept", "text/html"),
            ("x-requested-with", "XMLHttpRequest"),
        ]);
        assert!(!is_browser_navigation(&Method::GET, &xhr));
        assert!(!is_browser_navigation(&Method::GET, &HeaderMap::new()));
    }

    #[test]
    fn request_ids_are_taken_when_sane_else_generated() {
        assert_eq!(
            request_id(&headers(&[("x-request-id", "abc-123")])),
            "abc-123"
        );
        let evil = request_id(&headers(&[("x-request-id", "a b<script>")]));
        assert_eq!(evil.len(), 32);
        assert!(evil.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
        let long = "a".repeat(128);
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_str(&long).unwrap());
        assert_eq!(request_id(&h), long, "128 characters are taken whole");
        h.insert(
            "x-request-id",
            HeaderValue::from_str(&"a".repeat(129)).unwrap(),
        );
        assert_ne!(request_id(&h).len(), 129, "longer ones are replaced");
        assert_eq!(request_id(&h).len(), 32);
    }

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer abc.def")])),
            Some(Ok("abc.def"))
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "bearer  abc")])),
            Some(Ok("abc"))
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Basic eHg6eQ==")])),
            None
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer a b")])),
            Some(Err(()))
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer ")])),
            Some(Err(()))
        );
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn subject_fills_standard_claims_from_the_identity() {
        let mut identity = Identity {
            sub: "u1".into(),
            username: "jane".into(),
            email: Some("jane@example.com".into()),
            groups: vec!["g".into()],
            ..Identity::default()
        };
        identity
            .claims
            .insert("preferred_username".into(), "jdoe".into());
        let s = subject_of(&identity);
        assert_eq!(s.user, "jane");
        assert_eq!(s.claim("email").unwrap(), "jane@example.com");
        assert_eq!(s.claim("preferred_username").unwrap(), "jdoe");
        assert_eq!(s.claim("sub").unwrap(), "u1");
        assert_eq!(s.groups, vec!["g"]);
    }
}
