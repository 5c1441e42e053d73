//! HTTP behaviour against the in-process IdP: discovery, JWKS rotation and outage,
//! the token endpoint's client authentication and errors, and the login URL.

use super::testkit::*;
use super::*;
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn header(alg: &str, kid: &str) -> serde_json::Value {
    json!({"alg": alg, "kid": kid})
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn discovery_refuses_a_trailing_slash_issuer_and_says_so() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let mut config = idp.config();
    config.issuer_url = format!("{}/", idp.base);
    let err = Provider::discover(config, None, None).await.unwrap_err();
    assert_eq!(err.reason().code(), "discovery_issuer_mismatch");
    let text = err.to_string();
    assert!(text.contains(&format!("{:?}", idp.base)), "{text}");
    assert!(
        text.contains(&format!("{:?}", format!("{}/", idp.base))),
        "{text}"
    );
    assert!(text.contains("trailing slash"), "{text}");
}

#[tokio::test]
async fn discovery_failure_is_idp_unreachable() {
    let idp = TestIdp::spawn(vec![]).await;
    let mut config = idp.config();
    config.issuer_url = format!("{}/missing", idp.base);
    let err = Provider::discover(config, None, None).await.unwrap_err();
    assert_eq!(err.reason().code(), "idp_unreachable");
}

#[tokio::test]
async fn an_unreachable_idp_says_why_not_just_error_sending_request() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let idp = TestIdp::spawn(vec![]).await;
    let mut config = idp.config();
    config.issuer_url = format!("http://127.0.0.1:{port}");
    let err = Provider::discover(config, None, None).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("connection refused"), "{text}");
    assert!(!text.contains("error sending request"), "{text}");
}

#[tokio::test]
async fn discovery_keeps_the_endpoints() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let p = idp.provider().await;
    let d = p.discovery();
    assert_eq!(d.issuer, idp.base);
    assert_eq!(d.jwks_uri, format!("{}/jwks", idp.base));
    assert_eq!(
        d.token_endpoint.as_deref(),
        Some(&*format!("{}/token", idp.base))
    );
    assert_eq!(d.code_challenge_methods_supported, vec!["S256"]);
    let stats = p.jwks().stats();
    assert_eq!(stats.key_ids, vec!["a"]);
    assert_eq!(stats.fetches, 1);
    assert!(stats.fetched_at.is_some());
}

#[tokio::test]
async fn rotated_key_costs_exactly_one_refetch_and_misses_are_rate_limited() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let p = idp.provider().await;
    assert_eq!(idp.jwks_hits(), 1);
    idp.state.set_keys(vec![RSA_B.jwk("b", None)]);
    let token = RSA_B.sign(&header("RS256", "b"), &id_claims(&idp.base));
    p.verify_id_token_at(&token, "n-0S6_WzA2Mj", None, NOW)
        .await
        .unwrap();
    assert_eq!(idp.jwks_hits(), 2);
    // The new key is now cached: no further fetch.
    p.verify_id_token_at(&token, "n-0S6_WzA2Mj", None, NOW)
        .await
        .unwrap();
    assert_eq!(idp.jwks_hits(), 2);
    // Another unknown kid inside the rate-limit window does not refetch.
    let unknown = RSA_A.sign(&header("RS256", "c"), &id_claims(&idp.base));
    let err = p
        .verify_id_token_at(&unknown, "n-0S6_WzA2Mj", None, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.reason().code(), "unknown_kid");
    assert_eq!(idp.jwks_hits(), 2);
    let stats = p.jwks().stats();
    assert_eq!((stats.fetches, stats.unknown_kid_refetches), (2, 1));
    assert_eq!(stats.key_ids, vec!["b"]);
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let p = Arc::new(idp.provider().await);
    idp.state.set_keys(vec![EC.jwk("e", None)]);
    let token = EC.sign(&header("ES256", "e"), &id_claims(&idp.base));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (p, token) = (p.clone(), token.clone());
            tokio::spawn(async move {
                p.verify_id_token_at(&token, "n-0S6_WzA2Mj", None, NOW)
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn idp_down_keeps_the_last_keys() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let p = idp.provider().await.with_jwks(
        JwksCache::new(build_client(None).unwrap(), format!("{}/jwks", idp.base))
            .with_min_refetch_interval(Duration::ZERO),
    );
    p.jwks().refresh().await.unwrap();
    idp.state.down.store(true, Ordering::SeqCst);
    assert_eq!(
        p.jwks().refresh().await.unwrap_err().reason().code(),
        "idp_unreachable"
    );
    // An IdP that answers with no usable key is treated the same way.
    idp.state.down.store(false, Ordering::SeqCst);
    idp.state.set_keys(vec![]);
    assert_eq!(
        p.jwks().refresh().await.unwrap_err().reason().code(),
        "idp_invalid_response"
    );
    idp.state.down.store(true, Ordering::SeqCst);
    let token = RSA_A.sign(&header("RS256", "a"), &id_claims(&idp.base));
    p.verify_id_token_at(&token, "n-0S6_WzA2Mj", None, NOW)
        .await
        .unwrap();
    let unknown = RSA_A.sign(&header("RS256", "z"), &id_claims(&idp.base));
    let err = p
        .verify_id_token_at(&unknown, "n-0S6_WzA2Mj", None, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.reason().code(), "unknown_kid");
    let stats = p.jwks().stats();
    assert_eq!(stats.key_ids, vec!["a"]);
    assert_eq!(stats.failures, 3);
    assert!(stats.last_error.is_some());
}

#[tokio::test]
async fn code_exchange_uses_client_secret_basic_by_default() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    *idp.state.token_reply.lock().unwrap() = (
        200,
        json!({"access_token": "at", "token_type": "Bearer", "id_token": "it", "refresh_token": "rt", "expires_in": 300}),
    );
    let p = Provider::discover(idp.config(), Some("p@ss:word".into()), None)
        .await
        .unwrap();
    let tokens = p
        .exchange_code(
            "the-code",
            "https://app.example/oauth2/callback",
            "verifier-123",
        )
        .await
        .unwrap();
    assert_eq!(tokens.access_token, "at");
    assert_eq!(tokens.id_token.as_deref(), Some("it"));
    assert_eq!(tokens.refresh_token.as_deref(), Some("rt"));
    assert_eq!(tokens.expires_in, Some(300));
    assert!(!format!("{tokens:?}").contains("rt\""));
    let (auth, body) = idp.state.token_requests.lock().unwrap().pop().unwrap();
    let basic = auth.unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("{CLIENT_ID}:p%40ss%3Aword")
    );
    let body = form(&body);
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["code"], "the-code");
    assert_eq!(body["code_verifier"], "verifier-123");
    assert_eq!(body["redirect_uri"], "https://app.example/oauth2/callback");
    assert!(!body.contains_key("client_secret"));
}

#[tokio::test]
async fn client_secret_post_when_that_is_all_the_idp_supports() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    idp.state.discovery.lock().unwrap()["token_endpoint_auth_methods_supported"] =
        json!(["client_secret_post"]);
    let p = idp.provider().await;
    p.refresh_tokens("refresh-1").await.unwrap();
    let (auth, body) = idp.state.token_requests.lock().unwrap().pop().unwrap();
    assert_eq!(auth, None);
    let body = form(&body);
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "refresh-1");
    assert_eq!(body["client_id"], CLIENT_ID);
    assert_eq!(body["client_secret"], "s3cret");
}

#[tokio::test]
async fn public_client_sends_only_its_id() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let p = Provider::discover(idp.config(), None, None).await.unwrap();
    p.exchange_code("c0de", "https://app.example/cb", "v")
        .await
        .unwrap();
    let (auth, body) = idp.state.token_requests.lock().unwrap().pop().unwrap();
    assert_eq!(auth, None);
    let body = form(&body);
    assert_eq!(body["client_id"], CLIENT_ID);
    assert!(!body.contains_key("client_secret"));
}

#[tokio::test]
async fn token_endpoint_errors_map_to_reasons() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let p = idp.provider().await;
    *idp.state.token_reply.lock().unwrap() = (
        401,
        json!({"error": "invalid_client", "error_description": "bad secret"}),
    );
    let err = p
        .exchange_code("code-1234", "https://a/cb", "v")
        .await
        .unwrap_err();
    assert_eq!(err.reason().code(), "invalid_client");
    assert!(
        err.to_string()
            .contains("check the client id and client secret")
    );
    *idp.state.token_reply.lock().unwrap() = (
        400,
        json!({"error": "invalid_grant", "error_description": "code code-1234 expired"}),
    );
    let err = p
        .exchange_code("code-1234", "https://a/cb", "v")
        .await
        .unwrap_err();
    assert_eq!(err.reason().code(), "invalid_grant");
    assert!(!err.to_string().contains("code-1234"), "{err}");
    *idp.state.token_reply.lock().unwrap() = (500, json!({"oops": true}));
    let err = p.refresh_tokens("rt-5678").await.unwrap_err();
    assert_eq!(err.reason().code(), "token_exchange_failed");
}

#[tokio::test]
async fn login_url_carries_pkce_state_and_nonce() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let mut config = idp.config();
    config.scopes = vec!["profile".into(), "groups".into()];
    let p = Provider::discover(config, None, None).await.unwrap();
    let login = p
        .login_request("https://app.example/oauth2/callback")
        .unwrap();
    assert!(!format!("{login:?}").contains(&login.pkce_verifier));
    assert!(
        login
            .url
            .as_str()
            .starts_with(&format!("{}/authorize?", idp.base))
    );
    let q: HashMap<_, _> = login.url.query_pairs().into_owned().collect();
    assert_eq!(q["tenant"], "t1");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], "https://app.example/oauth2/callback");
    assert_eq!(q["scope"], "openid profile groups");
    assert_eq!(q["state"], login.state);
    assert_eq!(q["nonce"], login.nonce);
    assert_eq!(q["code_challenge"], pkce_challenge(&login.pkce_verifier));
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(login.pkce_verifier.len() >= 43);
    assert_ne!(login.state, login.nonce);
    let logout = p
        .end_session_url(None, Some("https://app.example/"))
        .unwrap();
    assert!(
        logout
            .as_str()
            .starts_with(&format!("{}/logout?", idp.base))
    );
}

#[tokio::test]
async fn rfc9207_iss_parameter() {
    let idp = TestIdp::spawn(vec![RSA_A.jwk("a", None)]).await;
    let p = idp.provider().await;
    // Not advertised: missing is fine, a wrong one is not.
    assert!(p.check_authorization_response_iss(None).is_ok());
    assert!(p.check_authorization_response_iss(Some(&idp.base)).is_ok());
    let err = p
        .check_authorization_response_iss(Some("https://evil.example"))
        .unwrap_err();
    assert_eq!(err.reason().code(), "callback_iss_mismatch");
    idp.state.discovery.lock().unwrap()["authorization_response_iss_parameter_supported"] =
        json!(true);
    let p = idp.provider().await;
    assert_eq!(
        p.check_authorization_response_iss(None)
            .unwrap_err()
            .reason()
            .code(),
        "callback_iss_mismatch"
    );
    assert!(p.check_authorization_response_iss(Some(&idp.base)).is_ok());
}

#[test]
fn bad_ca_bundle_is_a_config_error() {
    let err = build_client(Some("not a pem")).unwrap_err();
    assert_eq!(err.reason().code(), "provider_config");
}
