//! OAuthClient controller scenarios against a mocked API server.

use crate::operator_support;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use operator_support::*;
use portcullis::api::*;
use portcullis::operator::client::reconcile;
use portcullis::reconcile::fixtures as fx;
use serde_json::{Value, json};
use std::sync::Arc;

/// The provider `team/idp`.
fn provider() -> OIDCProvider {
    fx::provider("team", "idp", "https://idp.example")
}

/// The Static client `team/grafana` of `provider`, reading Secret `creds`, for Grafana.
fn static_client(provider: &str) -> OAuthClient {
    let mut c = fx::client("team", "grafana", ClientMode::Static, provider, None);
    c.spec.credentials_secret_ref = Some(CredentialsSecretRef {
        name: "creds".into(),
        ..Default::default()
    });
    c.spec.secret = Some(ClientSecretSpec {
        preset: Some(SecretPreset::Grafana),
        ..Default::default()
    });
    c
}

fn user_secret() -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "team"},
           "data": {"client-id": "Z3JhZmFuYQ==", "client-secret": base64(CANARY)}})
}

fn base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(!leaks(text), "the secret value leaked into {what}: {text}");
}

#[tokio::test]
async fn static_client_projects_the_users_secret_then_converges_without_writes() {
    let (logs, _guard) = capture_logs();
    let (client, handle) = mock();
    let ctx = context(
        client,
        vec![provider()],
        vec![static_client("idp")],
        vec![],
        vec![],
    );
    let verifier = ApiServerVerifier(handle).run(Scenario::StaticClientProjected {
        client: static_client("idp"),
        credentials: user_secret(),
    });
    let result = reconcile(Arc::new(static_client("idp")), ctx.clone()).await;
    let [_, apply, status] = <[Exchange; 3]>::try_from(verifier.await.unwrap()).unwrap();
    result.expect("reconcile succeeds");

    // The projected Secret: the preset's key names, server-side applied by our manager.
    assert!(
        apply.uri.contains("fieldManager=portcullis") && apply.uri.contains("force=true"),
        "{}",
        apply.uri
    );
    assert_eq!(
        apply.body["data"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"],
        base64(CANARY)
    );
    assert_eq!(
        apply.body["data"]["GF_AUTH_GENERIC_OAUTH_CLIENT_ID"],
        base64("grafana")
    );
    assert_eq!(
        apply.body["metadata"]["ownerReferences"][0]["uid"],
        "uid-grafana"
    );
    // Status: fingerprint, conditions, never the value.
    let st = &status.body["status"];
    assert_eq!(st["clientID"], "grafana");
    assert!(
        st["secretFingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let ready = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    assert_eq!(ready["observedGeneration"], 1);
    assert_no_canary("status", &status.body.to_string());

    // Second pass: the caches hold what was written; only the user's Secret is read.
    let written: Secret = serde_json::from_value(apply.body.clone()).unwrap();
    let mut converged = static_client("idp");
    converged.status = Some(serde_json::from_value(status.body["status"].clone()).unwrap());
    let (client, handle) = mock();
    let ctx = context(
        client,
        vec![provider()],
        vec![converged.clone()],
        vec![],
        vec![written],
    );
    // Only the read; the verifier then drops the handle, so any further request fails
    // and a write would surface as a reconcile error below.
    let verifier = ApiServerVerifier(handle).run(Scenario::StaticClientConverged {
        client: converged.clone(),
        credentials: user_secret(),
    });
    let again = reconcile(Arc::new(converged), ctx.clone()).await;
    verifier.await.unwrap();
    again.expect("no request beyond the read");
    assert_eq!(
        ctx.metrics.writes_of("secret") + ctx.metrics.writes_of("oauthclient_status"),
        0
    );
    assert_no_canary("logs", &String::from_utf8_lossy(&logs.lock().unwrap()));
}

#[tokio::test]
async fn missing_provider_sets_ready_false_and_publishes_an_event_naming_it() {
    let (logs, _guard) = capture_logs();
    let (client, handle) = mock();
    let mut c = static_client("nope");
    c.spec.mode = ClientMode::Generated;
    c.spec.credentials_secret_ref = None;
    let ctx = context(client, vec![provider()], vec![c.clone()], vec![], vec![]);
    let verifier = ApiServerVerifier(handle).run(Scenario::ClientProviderMissing(c.clone()));
    let result = reconcile(Arc::new(c), ctx).await;
    let [status, event] = <[Exchange; 2]>::try_from(verifier.await.unwrap()).unwrap();
    result.unwrap();
    let ready = status.body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ProviderNotFound");
    assert!(ready["message"].as_str().unwrap().contains("team/nope"));
    assert_eq!(event.body["type"], "Warning");
    assert_eq!(event.body["reason"], "ProviderNotFound");
    assert_eq!(event.body["regarding"]["kind"], "OAuthClient");
    assert_eq!(event.body["regarding"]["name"], "grafana");
    assert!(
        event.body["note"]
            .as_str()
            .unwrap()
            .contains("OIDCProvider team/nope not found")
    );
    assert_no_canary("logs", &String::from_utf8_lossy(&logs.lock().unwrap()));
}

#[tokio::test]
async fn generated_secret_survives_a_deleted_target_and_errors_do_not_leak_it() {
    let (logs, _guard) = capture_logs();
    let mut c = static_client("idp");
    c.spec.mode = ClientMode::Generated;
    c.spec.credentials_secret_ref = None;
    // The state Secret holds a value minted earlier; the target Secret was deleted.
    let state = Secret {
        metadata: ObjectMeta {
            name: Some("grafana-portcullis-state".into()),
            namespace: Some("team".into()),
            ..Default::default()
        },
        data: Some(
            [(
                "client-secret".to_string(),
                ByteString(b"earlier-minted-value".to_vec()),
            )]
            .into(),
        ),
        ..Default::default()
    };
    let (client, handle) = mock();
    let ctx = context(
        client,
        vec![provider()],
        vec![c.clone()],
        vec![],
        vec![state],
    );
    // The status write fails: the error must not carry the secret.
    let verifier = ApiServerVerifier(handle).run(Scenario::GeneratedClientStatusRefused(c.clone()));
    let result = reconcile(Arc::new(c), ctx).await;
    let [target, state, _] = <[Exchange; 3]>::try_from(verifier.await.unwrap()).unwrap();
    assert_eq!(
        target.body["data"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"],
        base64("earlier-minted-value")
    );
    // Only the rotation bookkeeping is added to the state Secret; the value is kept.
    assert_eq!(
        state.body["data"]["client-secret"],
        base64("earlier-minted-value")
    );
    let err = result.expect_err("the status write failed");
    assert_no_canary("error", &format!("{err} {err:?}"));
    assert!(!format!("{err}").contains("earlier-minted-value"));
    assert_no_canary("logs", &String::from_utf8_lossy(&logs.lock().unwrap()));
}

#[tokio::test]
async fn generated_client_is_created_in_one_round_and_then_converges() {
    let mut c = static_client("idp");
    c.spec.mode = ClientMode::Generated;
    c.spec.credentials_secret_ref = None;
    c.spec.rotation = Some(RotationSpec {
        period: "720h".into(),
        grace: None,
    });
    let (client, handle) = mock();
    let ctx = context(client, vec![provider()], vec![c.clone()], vec![], vec![]);
    let verifier = ApiServerVerifier(handle).run(Scenario::GeneratedClientProjected(c.clone()));
    reconcile(Arc::new(c.clone()), ctx).await.unwrap();
    let [target, state, status] = <[Exchange; 3]>::try_from(verifier.await.unwrap()).unwrap();
    assert_eq!(
        target.body["data"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"],
        base64(CANARY)
    );
    assert_eq!(state.body["data"]["client-secret"], base64(CANARY));
    assert!(
        state.body["data"]["rotated-at"].is_string(),
        "bookkeeping in the first write"
    );
    assert_no_canary("status", &status.body.to_string());

    // The owned-Secret watch triggers again: nothing left to write.
    let mut converged = c.clone();
    converged.status = Some(serde_json::from_value(status.body["status"].clone()).unwrap());
    let owned: Vec<Secret> = [target, state]
        .iter()
        .map(|e| serde_json::from_value(e.body.clone()).unwrap())
        .collect();
    let (client, handle) = mock();
    drop(handle);
    let ctx = context(
        client,
        vec![provider()],
        vec![converged.clone()],
        vec![],
        owned,
    );
    reconcile(Arc::new(converged), ctx.clone())
        .await
        .expect("no request");
    assert_eq!(ctx.metrics.writes_of("secret"), 0);
}

/// A route of `provider` in namespace `team` on `host`, its sessions in Redis or not.
fn route(host: &str, redis: bool) -> ForwardAuthRoute {
    let mut r = fx::route("team", host, host, "idp", None);
    r.spec.policy = Some(PolicySpec {
        groups: Some(vec!["admins".into()]),
        ..Default::default()
    });
    r.spec.session = redis.then(|| SessionSpec {
        store: Some(SessionStoreSpec {
            redis: Some(Default::default()),
        }),
        ..Default::default()
    });
    r
}

/// The status a Static client publishes when its provider signs in with it for `routes`.
async fn published_status(routes: Vec<ForwardAuthRoute>) -> Value {
    let mut p = provider();
    p.spec.client_ref = Some(portcullis::api::ObjectRef {
        name: "grafana".into(),
        namespace: None,
    });
    let (client, handle) = mock();
    let ctx = context(client, vec![p], vec![static_client("idp")], routes, vec![]);
    let verifier = ApiServerVerifier(handle).run(Scenario::StaticClientProjected {
        client: static_client("idp"),
        credentials: user_secret(),
    });
    reconcile(Arc::new(static_client("idp")), ctx)
        .await
        .expect("reconcile succeeds");
    let [_, _, status] = <[Exchange; 3]>::try_from(verifier.await.unwrap()).unwrap();
    status.body["status"].clone()
}

#[tokio::test]
async fn a_static_client_lists_the_backchannel_logout_uri_to_paste_into_the_idp() {
    // Two Redis routes: the first host (sorted) is named, as a Dynamic client registers.
    let status = published_status(vec![
        route("b.example.com", true),
        route("a.example.com", true),
        route("cookie.example.com", false),
    ])
    .await;
    assert_eq!(
        status["backchannelLogoutURI"],
        "https://a.example.com/oauth2/backchannel-logout"
    );
    // Cookie sessions only: the server cannot end them, so there is nothing to paste.
    let status = published_status(vec![route("cookie.example.com", false)]).await;
    assert!(status.get("backchannelLogoutURI").is_none(), "{status}");
}

#[tokio::test]
async fn the_verifier_refuses_a_request_out_of_the_scenarios_order() {
    let (client, handle) = mock();
    let mut c = static_client("nope");
    c.spec.mode = ClientMode::Generated;
    // The scenario is status, then event; an event first is another conversation.
    let verifier = ApiServerVerifier(handle).run(Scenario::ClientProviderMissing(c));
    let event_first = http::Request::post("/apis/events.k8s.io/v1/namespaces/team/events")
        .body(b"{}".to_vec())
        .unwrap();
    let answered = client.request::<Value>(event_first).await;
    assert!(answered.is_err(), "{answered:?}");
    let verdict = verifier.await;
    assert!(
        verdict.as_ref().is_err_and(|e| e.is_panic()),
        "the verifier must fail the test: {verdict:?}"
    );
}
