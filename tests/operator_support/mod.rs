//! Shared pieces of the operator's mocked API-server scenarios (kube's tower-test
//! pattern, as in kube-rs controller-rs): a mock client, a verifier that answers the
//! expected requests in order, and a context with pre-filled caches.
#![allow(dead_code)]

mod scenario;
mod verifier;
pub use scenario::Scenario;
pub use verifier::ApiServerVerifier;

use http::{Request, Response};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::client::Body;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use portcullis::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};
use portcullis::operator::Context;
use portcullis::operator::context::Stores;
use serde_json::Value;
use std::sync::Arc;

/// The canary: a secret value that must never show up outside Secrets.
pub const CANARY: &str = "CANARY-s3cr3t-value-9f8e7d";

/// The mock API server's side.
pub type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// A client whose requests go to the returned handle.
pub fn mock() -> (kube::Client, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

/// One request the operator made.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The JSON body (Null when empty).
    pub body: Value,
    /// The body's length in bytes, as sent.
    pub size: usize,
}

/// Answers the next request with `status` and `respond(body)`; panics if the request is
/// not `method` on a path starting with `path`.
pub async fn expect(
    handle: &mut Handle,
    method: &str,
    path: &str,
    status: u16,
    respond: impl FnOnce(&Value) -> Value,
) -> Exchange {
    let (request, send) = handle
        .next_request()
        .await
        .expect("the operator made no further request");
    let uri = request.uri().to_string();
    let m = request.method().to_string();
    let bytes = request.into_body().collect_bytes().await.unwrap();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    assert_eq!(m, method, "unexpected request {m} {uri}");
    assert!(
        uri.starts_with(path),
        "expected {method} {path}, got {m} {uri}"
    );
    let answer = respond(&body);
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&answer).unwrap()))
            .unwrap(),
    );
    Exchange {
        method: m,
        uri,
        body,
        size: bytes.len(),
    }
}

/// A Kubernetes `Status` error body.
pub fn api_error(code: u16, reason: &str) -> Value {
    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": reason, "reason": reason, "code": code})
}

fn fill<K>(items: Vec<K>) -> (reflector::Store<K>, Writer<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let (store, mut writer) = reflector::store();
    for i in items {
        writer.apply_watcher_event(&watcher::Event::Apply(i));
    }
    (store, writer)
}

/// The fixed clock of the scenarios.
pub fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

/// The fixed mint of the scenarios.
pub fn mint() -> String {
    CANARY.to_string()
}

/// A context over the mock client with these objects cached.
pub fn context(
    client: kube::Client,
    providers: Vec<OIDCProvider>,
    clients: Vec<OAuthClient>,
    routes: Vec<ForwardAuthRoute>,
    owned: Vec<Secret>,
) -> Arc<Context> {
    let stores = Stores {
        providers: fill(providers).0,
        clients: fill(clients).0,
        routes: fill(routes).0,
        owned_secrets: fill(owned).0,
    };
    let mut ctx = Context::new(client, stores, "portcullis-system".into()).expect("an HTTP client");
    ctx.now = now;
    ctx.mint = mint;
    Arc::new(ctx)
}

/// The same caches as `ctx`, with `owned` Secrets added, over another client.
pub fn with_owned(ctx: &Context, client: kube::Client, owned: Vec<Secret>) -> Context {
    let mut stores = ctx.stores.clone();
    stores.owned_secrets = fill(owned).0;
    let mut fresh =
        Context::new(client, stores, "portcullis-system".into()).expect("an HTTP client");
    fresh.now = now;
    fresh.mint = mint;
    fresh
}

/// Whether `text` contains the canary, plainly or base64-encoded.
pub fn leaks(text: &str) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    text.contains(CANARY) || text.contains(&b64[..20])
}

/// A log sink for the canary check: everything logged on this thread while the guard
/// lives goes into the returned buffer.
pub fn capture_logs() -> (
    Arc<std::sync::Mutex<Vec<u8>>>,
    tracing::subscriber::DefaultGuard,
) {
    #[derive(Clone)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Sink(buf.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}
