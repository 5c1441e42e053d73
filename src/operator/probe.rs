//! The IdP probe: fetch the discovery document (keeping it even when its issuer differs,
//! so status can say precisely how), the `Date` header for clock skew, and the JWKS.
//! Only URLs, status codes and key ids end up in a [`Report`]; no body is kept.

use crate::oidc::{Discovery, JwksCache, OidcError, well_known_url};
use crate::reconcile::conditions::{self, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
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
        Err(e) => {
            return (
                Err(format!("GET {url}: {}", crate::oidc::transport_error(e))),
                None,
            );
        }
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
            Err(e) => {
                return (
                    Err(format!("GET {url}: {}", crate::oidc::transport_error(e))),
                    clock,
                );
            }
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

/// Pauses before the second and third attempt of a fetch. A request sent on a pooled
/// connection the IdP is just closing (its keep-alive timeout) fails once and succeeds
/// on a fresh connection: a failure is believed only when the retries fail too.
const RETRY_PAUSES: [std::time::Duration; 2] = [
    std::time::Duration::from_millis(200),
    std::time::Duration::from_millis(1000),
];

/// Probes the IdP of `issuer`, each fetch tried up to three times.
pub async fn probe(http: &reqwest::Client, issuer: &str, now: fn() -> Timestamp) -> Report {
    let mut report = Report {
        at: Some(now()),
        ..Default::default()
    };
    let (mut discovery, mut clock) = fetch_discovery(http, issuer, now).await;
    for pause in RETRY_PAUSES {
        if discovery.is_ok() {
            break;
        }
        tokio::time::sleep(pause).await;
        (discovery, clock) = fetch_discovery(http, issuer, now).await;
    }
    report.clock = clock;
    match discovery {
        Ok(d) => {
            let jwks = JwksCache::new(http.clone(), d.jwks_uri.clone());
            let mut fetched = jwks.refresh().await;
            for pause in RETRY_PAUSES {
                if fetched.is_ok() {
                    break;
                }
                tokio::time::sleep(pause).await;
                fetched = jwks.refresh().await;
            }
            match fetched {
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

/// Whether a failed probe should be kept from status: the IdP answered before
/// (`Discovered` and `JWKSAvailable` True) and the failures have lasted less than
/// `grace`. A provider never reached is reported at once: there is nothing to keep.
pub fn hold_last_good(
    previous: &[Condition],
    failing_since: Timestamp,
    now: Timestamp,
    grace: std::time::Duration,
) -> bool {
    let was_good = [types::DISCOVERED, types::JWKS_AVAILABLE]
        .iter()
        .all(|t| conditions::find(previous, t).is_some_and(|c| c.status == "True"));
    let lasted = now
        .as_millisecond()
        .saturating_sub(failing_since.as_millisecond());
    was_good && u128::try_from(lasted).unwrap_or(0) < grace.as_millis()
}

/// Conditions reporting the same ongoing failure (the same `failing since` note) keep
/// the wording they were first published with: the cause's text varies from attempt to
/// attempt ("connection reset" one time, "connection closed" the next), and each
/// variant would otherwise be a status write for nothing new.
pub fn keep_first_wording(previous: &[Condition], conditions: &mut [Condition], note: &str) {
    for c in conditions.iter_mut().filter(|c| c.message.contains(note)) {
        if let Some(p) = conditions::find(previous, &c.type_)
            && p.status == c.status
            && p.reason == c.reason
            && p.message.contains(note)
        {
            c.message = p.message.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::conditions::condition;
    use std::time::Duration;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn a_failure_is_held_only_for_a_provider_that_answered_and_only_for_the_grace() {
        let good = [
            condition(types::DISCOVERED, Some(true), "Ready", ""),
            condition(types::JWKS_AVAILABLE, Some(true), "Ready", ""),
        ];
        let grace = Duration::from_secs(30);
        assert!(hold_last_good(&good, at(100), at(100), grace));
        assert!(hold_last_good(&good, at(100), at(129), grace));
        assert!(!hold_last_good(&good, at(100), at(130), grace));
        // Never reached: nothing to keep, say it at once.
        assert!(!hold_last_good(&[], at(100), at(100), grace));
        let down = [condition(
            types::DISCOVERED,
            Some(false),
            "IdPUnreachable",
            "",
        )];
        assert!(!hold_last_good(&down, at(100), at(101), grace));
    }

    #[test]
    fn an_ongoing_failure_keeps_its_first_wording() {
        let note = " (failing since 1970-01-01T00:01:40Z)";
        let previous = [condition(
            types::DISCOVERED,
            Some(false),
            "IdPUnreachable",
            format!("connection reset{note}"),
        )];
        let mut now = [condition(
            types::DISCOVERED,
            Some(false),
            "IdPUnreachable",
            format!("connection closed{note}"),
        )];
        keep_first_wording(&previous, &mut now, note);
        assert_eq!(now[0].message, previous[0].message);
        // A new outage (another instant) is worded afresh.
        let mut later = [condition(
            types::DISCOVERED,
            Some(false),
            "IdPUnreachable",
            "refused (failing since 1970-01-01T00:05:00Z)",
        )];
        keep_first_wording(
            &previous,
            &mut later,
            " (failing since 1970-01-01T00:05:00Z)",
        );
        assert!(later[0].message.starts_with("refused"));
    }

    #[tokio::test]
    async fn transport_errors_name_their_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let http = crate::oidc::build_client(None).unwrap();
        let report = probe(&http, &format!("http://127.0.0.1:{port}"), Timestamp::now).await;
        let error = report.discovery_error.unwrap();
        assert!(error.contains("connection refused ("), "{error}");
        assert!(!error.ends_with("error sending request"), "{error}");
    }
}
