//! The IdP probe: fetch the discovery document (keeping it even when its issuer differs,
//! so status can say precisely how), the `Date` header for clock skew, and the JWKS.
//! Only URLs, status codes and key ids end up in a [`Report`]; no body is kept.

use crate::oidc::{Discovery, JwksCache, OidcError, well_known_url};
pub use crate::reconcile::probe::Report;
use crate::reconcile::probe::parse_http_date;
use k8s_openapi::jiff::Timestamp;

/// Largest discovery document read.
const MAX_BODY: usize = 1 << 20;

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
pub(crate) async fn probe(http: &reqwest::Client, issuer: &str, now: fn() -> Timestamp) -> Report {
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
pub(crate) fn describe(e: &OidcError) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OIDCProvider;
    use crate::reconcile::conditions::{ConditionType, find};
    use crate::reconcile::provider::world_with_client;
    use crate::reconcile::provider_status::diagnose;
    use std::collections::BTreeSet;

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

    #[tokio::test]
    async fn probe_reads_discovery_date_and_keys_from_an_idp() {
        use axum::routing::get;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}/");
        let doc = serde_json::json!({
            "issuer": issuer, "authorization_endpoint": format!("{base}/a"), "jwks_uri": format!("{base}/jwks"),
            "id_token_signing_alg_values_supported": ["EdDSA"],
        });
        let jwks = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move {
                    ([("date", "Sun, 06 Nov 1994 08:49:37 GMT")], axum::Json(doc))
                }),
            )
            .route("/jwks", get(move || async move { axum::Json(jwks) }));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = crate::oidc::build_client(None).unwrap();
        // Configured without the trailing slash the IdP advertises.
        let r = probe(&http, &base, Timestamp::now).await;
        server.abort();
        assert_eq!(
            r.key_ids,
            Some(vec!["ed1".to_string()]),
            "{:?}",
            r.jwks_error
        );
        let (idp, _) = r.clock.unwrap();
        assert_eq!(idp, Timestamp::from_second(784111777).unwrap());
        let mut p = provider(&base);
        p.metadata.generation = None;
        let compiled = crate::reconcile::provider::config(&world_with_client(&p, None), &p);
        let s = diagnose(&p, &compiled, &r, &BTreeSet::new());
        let issuer_c = find(&s.conditions, ConditionType::IssuerMatches).unwrap();
        assert!(
            issuer_c.message.contains("trailing slash"),
            "{}",
            issuer_c.message
        );
        assert_eq!(
            find(&s.conditions, ConditionType::ClockInSync)
                .unwrap()
                .status,
            "False"
        );
        // The unreachable case: a closed port.
        let down = probe(&http, &base, Timestamp::now).await;
        assert!(down.discovery.is_none() && down.discovery_error.is_some());
    }

    fn provider(issuer: &str) -> OIDCProvider {
        crate::reconcile::fixtures::provider("auth", "idp", issuer)
    }
}
