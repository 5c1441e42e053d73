//! Dynamic OAuthClient scenarios: RFC 7591 registration, RFC 7592 drift detection and
//! update, and deletion at the IdP through the finalizer — a mocked API server on one
//! side, an in-process IdP on the other.

use crate::operator_support;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use k8s_openapi::api::core::v1::Secret;
use operator_support::*;
use portcullis::api::*;
use portcullis::operator::client::reconcile;
use portcullis::reconcile::fixtures as fx;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const RAT: &str = "rat-token-7c1d";

#[derive(Default)]
struct Idp {
    base: String,
    redirect_uris: Option<Vec<String>>,
    refuse_updates: bool,
    calls: Vec<String>,
}

type Shared = Arc<Mutex<Idp>>;

fn auth(headers: &HeaderMap, token: &str) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {token}"))
}

async fn register(
    State(idp): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut idp = idp.lock().unwrap();
    idp.calls.push("register".into());
    if !auth(&headers, "initial-token") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token"})),
        );
    }
    let uris: Vec<String> = serde_json::from_value(body["redirect_uris"].clone()).unwrap();
    idp.redirect_uris = Some(uris.clone());
    let base = idp.base.clone();
    (
        StatusCode::CREATED,
        Json(json!({
            "client_id": "dyn-1", "client_secret": CANARY, "redirect_uris": uris,
            "registration_access_token": RAT, "registration_client_uri": format!("{base}/register/dyn-1"),
        })),
    )
}

async fn manage(
    State(idp): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    method: axum::http::Method,
    body: Option<Json<Value>>,
) -> (StatusCode, Json<Value>) {
    let mut idp = idp.lock().unwrap();
    idp.calls.push(format!("{method}"));
    if !auth(&headers, RAT) || id != "dyn-1" {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token"})),
        );
    }
    let Some(uris) = idp.redirect_uris.clone() else {
        return (StatusCode::NOT_FOUND, Json(json!({})));
    };
    match method.as_str() {
        "GET" => (
            StatusCode::OK,
            Json(json!({"client_id": "dyn-1", "redirect_uris": uris})),
        ),
        "PUT" if idp.refuse_updates => (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": "invalid_redirect_uri", "error_description": "echo CANARY-s3cr3t-value-9f8e7d"}),
            ),
        ),
        "PUT" => {
            let new: Vec<String> =
                serde_json::from_value(body.unwrap().0["redirect_uris"].clone()).unwrap();
            idp.redirect_uris = Some(new.clone());
            (
                StatusCode::OK,
                Json(json!({"client_id": "dyn-1", "redirect_uris": new})),
            )
        }
        "DELETE" => {
            idp.redirect_uris = None;
            (StatusCode::NO_CONTENT, Json(json!({})))
        }
        _ => (StatusCode::METHOD_NOT_ALLOWED, Json(json!({}))),
    }
}

async fn start_idp() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let idp: Shared = Arc::new(Mutex::new(Idp {
        base,
        ..Default::default()
    }));
    let app = Router::new()
        .route("/register", post(register))
        .route("/register/{id}", get(manage).put(manage).delete(manage))
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    idp
}

/// The provider `team/idp` at `base`, signing in with client `app`, its registration
/// endpoint discovered.
fn provider(base: &str) -> OIDCProvider {
    let mut p = fx::provider("team", "idp", base);
    p.spec.client_id = None;
    p.spec.client_ref = Some(fx::reference("app", None));
    fx::discovered(
        p,
        ProviderEndpoints {
            registration: Some(format!("{base}/register")),
            ..Default::default()
        },
    )
}

/// The route `team/web` of `team/idp`.
fn route() -> ForwardAuthRoute {
    fx::route("team", "web", "web.example.com", "idp", None)
}

/// The Dynamic client `team/app` with an initial access token, its finalizer set or not.
fn client(finalized: bool) -> OAuthClient {
    let mut c = fx::client("team", "app", ClientMode::Dynamic, "idp", None);
    c.spec.redirect_uris = Some(vec!["https://app.example.com/cb".into()]);
    c.spec.registration = Some(RegistrationSpec {
        initial_access_token_ref: Some(SecretKeySelector {
            name: "iat".into(),
            key: "token".into(),
        }),
        ..Default::default()
    });
    c.metadata.finalizers = finalized.then(|| vec![portcullis::operator::FINALIZER.to_string()]);
    c
}

fn condition<'a>(status: &'a Value, t: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == t)
        .unwrap()
}

#[tokio::test]
async fn register_detect_drift_and_delete_at_the_idp() {
    let (logs, _guard) = capture_logs();
    let idp = start_idp().await;
    let base = idp.lock().unwrap().base.clone();

    // 1. No finalizer yet: the first reconcile only adds it.
    let (kc, handle) = mock();
    let ctx = context(
        kc,
        vec![provider(&base)],
        vec![client(false)],
        vec![route()],
        vec![],
    );
    let v = ApiServerVerifier(handle).run(Scenario::FinalizerAdded(client(false)));
    reconcile(Arc::new(client(false)), ctx).await.unwrap();
    let [patch] = <[Exchange; 1]>::try_from(v.await.unwrap()).unwrap();
    assert!(
        patch
            .body
            .to_string()
            .contains(portcullis::operator::FINALIZER)
    );

    // 2. Registration: initial access token read, RFC 7591 POST, Secrets and status.
    let (kc, handle) = mock();
    let ctx = context(
        kc,
        vec![provider(&base)],
        vec![client(true)],
        vec![route()],
        vec![],
    );
    let v = ApiServerVerifier(handle).run(Scenario::DynamicClientRegistered {
        client: client(true),
        initial_access_token: json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "iat", "namespace": "team"},
            "data": {"token": "aW5pdGlhbC10b2tlbg=="}}),
    });
    reconcile(Arc::new(client(true)), ctx).await.unwrap();
    let [_, target, state, status] = <[Exchange; 4]>::try_from(v.await.unwrap()).unwrap();
    assert_eq!(
        idp.lock().unwrap().redirect_uris.clone().unwrap(),
        vec![
            "https://app.example.com/cb",
            "https://web.example.com/oauth2/callback"
        ]
    );
    let st = &status.body["status"];
    assert_eq!(st["clientID"], "dyn-1");
    assert_eq!(
        st["registrationClientURI"],
        format!("{base}/register/dyn-1")
    );
    assert_eq!(condition(st, "RedirectURIsInSync")["status"], "True");
    assert_eq!(condition(st, "Registered")["status"], "True");
    assert_no_leak("status", &status.body.to_string());
    let state_secret: Secret = serde_json::from_value(state.body.clone()).unwrap();
    let state_data = portcullis::reconcile::client::secret_data(&state_secret);
    assert_eq!(state_data["client-secret"], CANARY);
    assert_eq!(state_data["registration-access-token"], RAT);
    let target_secret: Secret = serde_json::from_value(target.body.clone()).unwrap();
    assert_eq!(
        portcullis::reconcile::client::secret_data(&target_secret)["client-secret"],
        CANARY
    );

    // 3. Drift: someone removed the route's URI at the IdP, and the IdP refuses updates.
    idp.lock().unwrap().redirect_uris = Some(vec!["https://app.example.com/cb".into()]);
    idp.lock().unwrap().refuse_updates = true;
    let mut converged = client(true);
    converged.status = Some(serde_json::from_value(st.clone()).unwrap());
    let (kc, handle) = mock();
    let ctx = context(
        kc,
        vec![provider(&base)],
        vec![converged.clone()],
        vec![route()],
        vec![target_secret.clone(), state_secret.clone()],
    );
    let v = ApiServerVerifier(handle).run(Scenario::RegistrationUpdateRefused(converged.clone()));
    reconcile(Arc::new(converged.clone()), ctx).await.unwrap();
    let [status] = <[Exchange; 1]>::try_from(v.await.unwrap()).unwrap();
    let sync = condition(&status.body["status"], "RedirectURIsInSync").clone();
    assert_eq!(sync["status"], "False");
    let msg = sync["message"].as_str().unwrap();
    assert!(
        msg.contains("https://web.example.com/oauth2/callback")
            && msg.contains("HTTP 400")
            && msg.contains("invalid_redirect_uri"),
        "{msg}"
    );
    assert_no_leak(
        "status (IdP error echoing the secret)",
        &status.body.to_string(),
    );

    // 4. The IdP accepts updates again: the reconcile fixes the registration.
    idp.lock().unwrap().refuse_updates = false;
    let (kc, handle) = mock();
    let ctx = context(
        kc,
        vec![provider(&base)],
        vec![converged.clone()],
        vec![route()],
        vec![target_secret.clone(), state_secret.clone()],
    );
    // Status is unchanged from the converged one (InSync again): no API request at all,
    // so the API side is gone and any write would fail the reconcile.
    drop(handle);
    reconcile(Arc::new(converged.clone()), ctx.clone())
        .await
        .unwrap();
    assert_eq!(ctx.metrics.writes_of("idp_registration_update"), 1);
    assert_eq!(
        ctx.metrics.writes_of("secret") + ctx.metrics.writes_of("oauthclient_status"),
        0
    );
    assert_eq!(idp.lock().unwrap().redirect_uris.clone().unwrap().len(), 2);

    // 5. Deletion: the finalizer deletes the client at the IdP, then lets go.
    let mut deleted = converged.clone();
    deleted.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    let (kc, handle) = mock();
    let ctx = context(
        kc,
        vec![provider(&base)],
        vec![deleted.clone()],
        vec![route()],
        vec![target_secret, state_secret],
    );
    let v = ApiServerVerifier(handle).run(Scenario::FinalizerRemoved(deleted.clone()));
    reconcile(Arc::new(deleted.clone()), ctx.clone())
        .await
        .unwrap();
    let [remove] = <[Exchange; 1]>::try_from(v.await.unwrap()).unwrap();
    assert!(
        remove.body.to_string().contains("remove")
            || remove.body.to_string().contains("finalizers")
    );
    assert!(
        idp.lock().unwrap().redirect_uris.is_none(),
        "deleted at the IdP"
    );
    assert!(idp.lock().unwrap().calls.contains(&"DELETE".to_string()));
    assert_no_leak("logs", &String::from_utf8_lossy(&logs.lock().unwrap()));
}

fn assert_no_leak(what: &str, text: &str) {
    assert!(!leaks(text), "the secret leaked into {what}: {text}");
    assert!(
        !text.contains(RAT),
        "the registration access token leaked into {what}"
    );
}
