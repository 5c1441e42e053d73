//! OIDCProvider scenarios: a mocked API server and an in-process IdP.

use crate::operator_support;

use axum::routing::get;
use operator_support::*;
use portcullis::api::*;
use portcullis::operator::provider::reconcile;
use portcullis::reconcile::fixtures::{self as fx, Fixture};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn start_idp(
    advertised_suffix: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = json!({
        "issuer": format!("{base}{advertised_suffix}"), "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/jwks"),
        "id_token_signing_alg_values_supported": ["EdDSA"], "scopes_supported": ["openid", "profile", "email"],
    });
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(doc) }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task)
}

/// The provider `auth/idp` at `issuer`, in its second generation.
pub(crate) fn provider(issuer: &str) -> OIDCProvider {
    fx::provider("auth", "idp", issuer).generation(2)
}

/// A context on the real clock: the probe compares it with the IdP's `Date` header.
fn real_clock(mut ctx: Arc<portcullis::operator::Context>) -> Arc<portcullis::operator::Context> {
    Arc::get_mut(&mut ctx).unwrap().now = k8s_openapi::jiff::Timestamp::now;
    ctx
}

fn ready(status: &Value) -> Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone()
}

#[tokio::test]
async fn healthy_idp_converges_and_an_outage_keeps_the_last_good_data() {
    let (base, idp) = start_idp("").await;
    let p = provider(&base);
    let (kc, handle) = mock();
    let ctx = real_clock(context(kc, vec![p.clone()], vec![], vec![], vec![]));
    let v = ApiServerVerifier(handle).run(Scenario::ProviderDiscovered(p.clone()));
    reconcile(Arc::new(p.clone()), ctx).await.unwrap();
    let [published] = <[Exchange; 1]>::try_from(v.await.unwrap()).unwrap();
    let status = published.body["status"].clone();
    // axum sends a Date header, so the clock comparison is real here.
    assert_eq!(ready(&status)["status"], "True", "{status}");
    assert_eq!(status["keyIds"], json!(["ed-1"]));
    assert_eq!(status["acceptedAlgorithms"], json!(["EdDSA"]));
    assert_eq!(status["endpoints"]["token"], format!("{base}/token"));
    assert_eq!(status["observedGeneration"], 2);

    // Probed again, nothing changed at the IdP: no write.
    let mut converged = p.clone();
    converged.status = Some(serde_json::from_value(status.clone()).unwrap());
    let (kc, handle) = mock();
    drop(handle);
    let ctx = real_clock(context(kc, vec![converged.clone()], vec![], vec![], vec![]));
    let action = reconcile(Arc::new(converged.clone()), ctx.clone())
        .await
        .expect("no write");
    assert_eq!(ctx.metrics.writes_of("oidcprovider_status"), 0);
    // The IdP is looked at again periodically even when nothing triggers.
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(300))
    );

    // The IdP goes away. The first failed probe is not believed: no write, and the IdP
    // is asked again sooner than the usual re-check.
    idp.abort();
    let _ = idp.await;
    let (kc, handle) = mock();
    let mut ctx = real_clock(context(kc, vec![converged.clone()], vec![], vec![], vec![]));
    let action = reconcile(Arc::new(converged.clone()), ctx.clone())
        .await
        .expect("no write while the failure is young");
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(10))
    );
    // Once the failures outlast the grace, status keeps the endpoints and keys and says
    // why and since when; an event.
    Arc::get_mut(&mut ctx).unwrap().idp_failure_grace = std::time::Duration::ZERO;
    let v = ApiServerVerifier(handle).run(Scenario::ProviderNotReady(converged.clone()));
    reconcile(Arc::new(converged), ctx).await.unwrap();
    let [s, e] = <[Exchange; 2]>::try_from(v.await.unwrap()).unwrap();
    let down = &s.body["status"];
    assert_eq!(ready(down)["status"], "False");
    assert_eq!(ready(down)["reason"], "IdPUnreachable");
    assert_eq!(down["keyIds"], json!(["ed-1"]));
    assert_eq!(down["endpoints"]["token"], format!("{base}/token"));
    assert!(
        ready(down)["message"]
            .as_str()
            .unwrap()
            .contains("last successful fetch")
    );
    assert!(
        ready(down)["message"]
            .as_str()
            .unwrap()
            .contains("(failing since "),
        "{down}"
    );
    assert_eq!(e.body["regarding"]["kind"], "OIDCProvider");
    assert_eq!(e.body["reason"], "IdPUnreachable");
}

#[tokio::test]
async fn a_trailing_slash_mismatch_is_named_in_status_and_event() {
    let (base, _idp) = start_idp("/").await;
    let p = provider(&base);
    let (kc, handle) = mock();
    let ctx = real_clock(context(kc, vec![p.clone()], vec![], vec![], vec![]));
    let v = ApiServerVerifier(handle).run(Scenario::ProviderNotReady(p.clone()));
    reconcile(Arc::new(p), ctx).await.unwrap();
    let [s, e] = <[Exchange; 2]>::try_from(v.await.unwrap()).unwrap();
    let r = ready(&s.body["status"]);
    assert_eq!(r["reason"], "IssuerMismatch");
    let note = e.body["note"].as_str().unwrap();
    assert!(
        note.contains(&format!("{base:?}"))
            && note.contains(&format!("\"{base}/\""))
            && note.contains("trailing slash"),
        "{note}"
    );
}
