//! Tests of the provider's desired status.

use super::*;
use crate::api::OIDCProvider;
use crate::oidc::Discovery;
use crate::reconcile::conditions::{ConditionType, find};
use crate::reconcile::fixtures::{self as fx, Fixture};
use crate::reconcile::probe::{Report, parse_http_date};
use crate::reconcile::provider::world_with_client;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeSet;

/// The provider `auth/idp` at `issuer`, in its third generation.
fn provider(issuer: &str) -> OIDCProvider {
    fx::provider("auth", "idp", issuer).generation(3)
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
    let ready = find(&s.conditions, ConditionType::Ready).unwrap();
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
    let c = find(&s.conditions, ConditionType::IssuerMatches).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "IssuerMismatch")
    );
    assert!(
        c.message.contains("\"https://idp.example\"")
            && c.message.contains("\"https://idp.example/\"")
    );
    assert!(c.message.contains("only by a trailing slash"));
    assert_eq!(
        find(&s.conditions, ConditionType::Ready).unwrap().status,
        "False"
    );
}

#[test]
fn clock_skew_beyond_the_allowance_is_reported_with_direction() {
    let c = clock_condition(Some((at(1100), at(1000))), 30);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "ClockSkew")
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
    let c = find(&s.conditions, ConditionType::ScopesAndClaimsSupported).unwrap();
    assert_eq!(c.status, "False");
    assert!(c.message.contains("\"profile\"") && c.message.contains("\"groups\""));
    assert!(!c.message.contains("\"email\""));
    assert_eq!(
        find(&s.conditions, ConditionType::Ready).unwrap().status,
        "True"
    );
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
    let d = find(&s.conditions, ConditionType::Discovered).unwrap();
    assert_eq!(
        (d.status.as_str(), d.reason.as_str()),
        ("False", "IdPUnreachable")
    );
    assert!(d.message.contains("HTTP 503") && d.message.contains("last successful fetch"));
    assert_eq!(s.key_ids, vec!["k1"]);
    assert!(s.endpoints.is_some());
    assert_eq!(
        find(&s.conditions, ConditionType::Ready).unwrap().status,
        "False"
    );
}

#[test]
fn http_dates_parse() {
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(Timestamp::from_second(784111777).unwrap())
    );
    assert_eq!(parse_http_date("yesterday"), None);
}

fn outage(error: &str, when: i64) -> Report {
    Report {
        discovery_error: Some(error.into()),
        at: Some(at(when)),
        ..Default::default()
    }
}

fn observe<'a>(
    p: &'a OIDCProvider,
    compiled: &'a Result<
        crate::config::ProviderConfig,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition,
    >,
    report: Report,
    failing_since: Option<Timestamp>,
    now: i64,
) -> Observed<'a> {
    static NONE: std::sync::LazyLock<BTreeSet<String>> = std::sync::LazyLock::new(BTreeSet::new);
    Observed {
        provider: p,
        compiled,
        report,
        needed_claims: &NONE,
        failing_since,
        now: at(now),
        grace: Duration::from_secs(30),
    }
}

#[test]
fn desired_holds_a_short_failure_of_a_good_provider_then_names_when_it_began() {
    let mut p = provider("https://idp.example");
    let c = compiled(&p);
    let Verdict::Publish(good) =
        desired(observe(&p, &c, report("https://idp.example"), None, 1000))
    else {
        panic!("a healthy probe publishes");
    };
    p.status = Some(*good);
    // Ten seconds into an outage: not believed yet.
    assert_eq!(
        desired(observe(
            &p,
            &c,
            outage("GET …: connection reset", 1010),
            Some(at(1000)),
            1010
        )),
        Verdict::HoldLastGood
    );
    // Past the grace: published, with the instant it began (not an age).
    let Verdict::Publish(down) = desired(observe(
        &p,
        &c,
        outage("GET …: connection reset", 1031),
        Some(at(1000)),
        1031,
    )) else {
        panic!("a lasting failure is published");
    };
    let discovered = find(&down.conditions, ConditionType::Discovered).unwrap();
    assert_eq!(discovered.status, "False");
    assert!(
        discovered
            .message
            .contains(": connection reset (failing since 1970-01-01T00:16:40Z)"),
        "{}",
        discovered.message
    );
    // The same outage worded differently by the next attempt keeps the first wording,
    // so it is not a status write.
    p.status = Some(*down.clone());
    let Verdict::Publish(again) = desired(observe(
        &p,
        &c,
        outage("GET …: connection closed", 1100),
        Some(at(1000)),
        1100,
    )) else {
        panic!("still published");
    };
    assert_eq!(
        find(&again.conditions, ConditionType::Discovered)
            .unwrap()
            .message,
        discovered.message
    );
}

#[test]
fn desired_reports_a_provider_never_reached_at_once() {
    let p = provider("https://idp.example");
    let c = compiled(&p);
    let verdict = desired(observe(
        &p,
        &c,
        outage("GET …: HTTP 503", 1000),
        Some(at(1000)),
        1000,
    ));
    let Verdict::Publish(status) = verdict else {
        panic!("nothing good to hold: say it at once");
    };
    assert_eq!(
        find(&status.conditions, ConditionType::Ready)
            .unwrap()
            .status,
        "False"
    );
}
