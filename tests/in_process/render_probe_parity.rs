//! `render --probe` and the operator judge an IdP the same way: both probe it with
//! `operator::probe::probe` and turn the report into status with
//! `reconcile::provider_status::desired`. For one provider and one IdP, the conditions
//! `render` prints are the ones the operator publishes.

use crate::operator_provider::{provider, start_idp};
use crate::operator_support::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use portcullis::api::*;
use portcullis::reconcile::World;
use portcullis::reconcile::compile::compile;
use portcullis::reconcile::key::ObjectKey;
use std::sync::Arc;

/// What `render --probe` prints for the provider.
async fn rendered(p: &OIDCProvider) -> Vec<Condition> {
    let mut world = World {
        providers: vec![p.clone()],
        ..Default::default()
    };
    portcullis::render::probe_providers(&mut world, Timestamp::now).await;
    let compiled = compile(&world, "portcullis-system", Timestamp::now(), &mut || {
        "minted".into()
    });
    compiled.provider_status[&ObjectKey::new("auth", "idp")]
        .conditions
        .clone()
}

/// What the operator publishes for the provider.
async fn published(p: &OIDCProvider) -> Vec<Condition> {
    let (kc, handle) = mock();
    let mut ctx = context(kc, vec![p.clone()], vec![], vec![], vec![]);
    Arc::get_mut(&mut ctx).unwrap().now = Timestamp::now;
    let scenario = if rendered_ready(p).await {
        Scenario::ProviderDiscovered(p.clone())
    } else {
        Scenario::ProviderNotReady(p.clone())
    };
    let v = ApiServerVerifier(handle).run(scenario);
    portcullis::operator::provider::reconcile(Arc::new(p.clone()), ctx)
        .await
        .unwrap();
    let exchanges = v.await.unwrap();
    serde_json::from_value(exchanges[0].body["status"]["conditions"].clone()).unwrap()
}

async fn rendered_ready(p: &OIDCProvider) -> bool {
    rendered(p)
        .await
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Type, status, reason and (where no clock reading or instant is in it) message.
fn verdicts(
    conditions: &[Condition],
    with_messages: bool,
) -> Vec<(String, String, String, String)> {
    conditions
        .iter()
        .map(|c| {
            let message = if with_messages && c.type_ != "ClockInSync" {
                c.message.clone()
            } else {
                String::new()
            };
            (c.type_.clone(), c.status.clone(), c.reason.clone(), message)
        })
        .collect()
}

#[tokio::test]
async fn render_probe_shows_the_conditions_the_operator_publishes_for_a_healthy_idp() {
    let (base, _idp) = start_idp("").await;
    let p = provider(&base);
    let (render, operator) = (rendered(&p).await, published(&p).await);
    assert_eq!(verdicts(&render, true), verdicts(&operator, true));
    // Not vacuous: the probe found the IdP (render without --probe says Unknown).
    let ready = render.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "True", "{render:?}");
    assert!(
        render
            .iter()
            .any(|c| c.type_ == "JWKSAvailable" && c.message == "1 signing key(s)")
    );
}

#[tokio::test]
async fn render_probe_names_an_issuer_mismatch_as_the_operator_does() {
    let (base, _idp) = start_idp("/").await;
    let p = provider(&base);
    let (render, operator) = (rendered(&p).await, published(&p).await);
    assert_eq!(verdicts(&render, true), verdicts(&operator, true));
    assert!(
        render
            .iter()
            .any(|c| c.type_ == "IssuerMatches" && c.reason == "IssuerMismatch")
    );
}

#[tokio::test]
async fn render_probe_reports_an_unreachable_idp_as_the_operator_does() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let p = provider(&base);
    let (render, operator) = (rendered(&p).await, published(&p).await);
    // The messages carry the instant the failure began, which differs by a moment.
    assert_eq!(verdicts(&render, false), verdicts(&operator, false));
    assert!(
        render.iter().any(|c| c.type_ == "Discovered"
            && c.status == "False"
            && c.reason == "IdPUnreachable"),
        "{render:?}"
    );
}

#[test]
fn without_probe_the_idp_conditions_stay_unknown() {
    let world = World {
        providers: vec![provider("https://idp.example.com")],
        ..Default::default()
    };
    let compiled = compile(&world, "portcullis-system", Timestamp::now(), &mut || {
        "m".into()
    });
    let conditions = &compiled.provider_status[&ObjectKey::new("auth", "idp")].conditions;
    let discovered = conditions.iter().find(|c| c.type_ == "Discovered").unwrap();
    assert_eq!(
        (discovered.status.as_str(), discovered.reason.as_str()),
        ("Unknown", "Pending")
    );
}
