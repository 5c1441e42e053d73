//! Tests of the provider diagnosis and the probe against an in-process IdP.
#![allow(clippy::result_large_err)]

use super::probe::{Report, parse_http_date, probe};
use super::provider::*;
use crate::api::{OIDCProvider, OIDCProviderSpec};
use crate::oidc::Discovery;
use crate::reconcile::conditions::{find, types};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeSet;

fn provider(issuer: &str) -> OIDCProvider {
    let mut p = OIDCProvider::new(
        "idp",
        OIDCProviderSpec {
            issuer_url: issuer.into(),
            client_id: Some("c".into()),
            ..Default::default()
        },
    );
    p.metadata.namespace = Some("auth".into());
    p.metadata.generation = Some(3);
    p
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn report(issuer: &str) -> Report {
    Report {
        discovery: Some(Discovery {
            issuer: issuer.into(),
            authorization_endpoint: "https://idp.example/authorize".into(),
            jwks_uri: "https://idp.example/jwks".into(),
            id_token_signing_alg_values_supported: vec!["RS256".into(), "HS256".into()],
            scopes_supported: vec!["openid".into(), "email".into()],
            claims_supported: vec!["sub".into(), "email".into()],
            ..Default::default()
        }),
        clock: Some((at(1000), at(1003))),
        key_ids: Some(vec!["k1".into()]),
        at: Some(at(1000)),
        ..Default::default()
    }
}

fn compiled(
    p: &OIDCProvider,
) -> Result<crate::config::ProviderConfig, k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>
{
    crate::reconcile::provider::config(&world_with_client(p, None), p)
}

#[test]
fn healthy_idp_is_ready_and_status_lists_what_it_advertises() {
    let p = provider("https://idp.example");
    let s = diagnose(
        &p,
        &compiled(&p),
        &report("https://idp.example"),
        &BTreeSet::new(),
    );
    let ready = find(&s.conditions, types::READY).unwrap();
    assert_eq!(ready.status, "True", "{:?}", s.conditions);
    assert_eq!(s.key_ids, vec!["k1"]);
    assert_eq!(s.accepted_algorithms, vec!["RS256"]);
    assert_eq!(
        s.endpoints.unwrap().jwks.as_deref(),
        Some("https://idp.example/jwks")
    );
    assert_eq!(s.observed_generation, Some(3));
}

#[test]
fn trailing_slash_mismatch_quotes_both_values() {
    let p = provider("https://idp.example");
    let s = diagnose(
        &p,
        &compiled(&p),
        &report("https://idp.example/"),
        &BTreeSet::new(),
    );
    let c = find(&s.conditions, types::ISSUER_MATCHES).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", reasons::ISSUER_MISMATCH)
    );
    assert!(
        c.message.contains("\"https://idp.example\"")
            && c.message.contains("\"https://idp.example/\"")
    );
    assert!(c.message.contains("only by a trailing slash"));
    assert_eq!(find(&s.conditions, types::READY).unwrap().status, "False");
}

#[test]
fn clock_skew_beyond_the_allowance_is_reported_with_direction() {
    let c = clock_condition(Some((at(1100), at(1000))), 30);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", reasons::CLOCK_SKEW)
    );
    assert!(c.message.contains("100s ahead of"));
    assert_eq!(
        clock_condition(Some((at(1000), at(1030))), 30).status,
        "True"
    );
    assert_eq!(clock_condition(None, 30).status, "Unknown");
}

#[test]
fn missing_scopes_and_claims_are_named_without_blocking_ready() {
    let p = provider("https://idp.example");
    let needed = BTreeSet::from(["groups".to_string()]);
    let s = diagnose(&p, &compiled(&p), &report("https://idp.example"), &needed);
    let c = find(&s.conditions, SCOPES_AND_CLAIMS_SUPPORTED).unwrap();
    assert_eq!(c.status, "False");
    assert!(c.message.contains("\"profile\"") && c.message.contains("\"groups\""));
    assert!(!c.message.contains("\"email\""));
    assert_eq!(find(&s.conditions, types::READY).unwrap().status, "True");
}

#[test]
fn an_outage_keeps_the_last_good_data_and_says_so_and_a_rerun_writes_nothing() {
    let mut p = provider("https://idp.example");
    let good = diagnose(
        &p,
        &compiled(&p),
        &report("https://idp.example"),
        &BTreeSet::new(),
    );
    p.status = Some(good.clone());
    // Same IdP, later probe: identical status (jwksFetchedAt only moves with the keys).
    let mut later = report("https://idp.example");
    later.at = Some(at(2000));
    assert_eq!(diagnose(&p, &compiled(&p), &later, &BTreeSet::new()), good);
    let down = Report {
        discovery_error: Some(
            "GET https://idp.example/.well-known/openid-configuration: HTTP 503".into(),
        ),
        at: Some(at(3000)),
        ..Default::default()
    };
    let s = diagnose(&p, &compiled(&p), &down, &BTreeSet::new());
    let d = find(&s.conditions, types::DISCOVERED).unwrap();
    assert_eq!(
        (d.status.as_str(), d.reason.as_str()),
        ("False", reasons::IDP_UNREACHABLE)
    );
    assert!(d.message.contains("HTTP 503") && d.message.contains("last successful fetch"));
    assert_eq!(s.key_ids, vec!["k1"]);
    assert!(s.endpoints.is_some());
    assert_eq!(find(&s.conditions, types::READY).unwrap().status, "False");
}

#[test]
fn http_dates_parse() {
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(Timestamp::from_second(784111777).unwrap())
    );
    assert_eq!(parse_http_date("yesterday"), None);
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
    let app =
        axum::Router::new()
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
    let s = diagnose(&p, &compiled(&p), &r, &BTreeSet::new());
    let issuer_c = find(&s.conditions, types::ISSUER_MATCHES).unwrap();
    assert!(
        issuer_c.message.contains("trailing slash"),
        "{}",
        issuer_c.message
    );
    assert_eq!(
        find(&s.conditions, types::CLOCK_IN_SYNC).unwrap().status,
        "False"
    );
    // The unreachable case: a closed port.
    let down = probe(&http, &base, Timestamp::now).await;
    assert!(down.discovery.is_none() && down.discovery_error.is_some());
}
