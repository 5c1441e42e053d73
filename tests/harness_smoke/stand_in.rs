//! A throwaway stand-in for the outpost, only to prove the harness: answers the auth
//! endpoints from a `stand_in` cookie, runs a bare authorization-code flow against the
//! test IdP, and records the auth subrequests it gets. Not a model for the real thing
//! (no state check, no PKCE, hard-coded identity).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

/// The value of one query parameter.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Verify an ID token's signature against a JWKS (by kid and the alg the key declares)
/// and return its claims.
pub fn verify_id_token(token: &str, jwks: &Value) -> Value {
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let header = decode_header(token).expect("JWT header");
    let set: JwkSet = serde_json::from_value(jwks.clone()).expect("JWKS parses");
    let jwk = set
        .find(header.kid.as_deref().expect("kid"))
        .expect("kid in JWKS");
    let key = DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = Validation::new(header.alg);
    validation.validate_aud = false;
    decode::<Value>(token, &key, &validation)
        .expect("signature and exp valid")
        .claims
}

/// A minimal confidential OIDC client.
#[derive(Debug, Clone)]
pub struct OidcClient {
    authorization_endpoint: String,
    token_endpoint: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    http: reqwest::Client,
}

impl OidcClient {
    /// From a discovery document.
    pub fn new(disco: &Value, client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            authorization_endpoint: disco["authorization_endpoint"]
                .as_str()
                .expect("authz")
                .into(),
            token_endpoint: disco["token_endpoint"].as_str().expect("token").into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: redirect_uri.into(),
            http: reqwest::Client::new(),
        }
    }

    /// The authorization request URL.
    pub fn authorize_url(&self, state: &str) -> String {
        let mut u = Url::parse(&self.authorization_endpoint).expect("authz URL");
        u.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email groups")
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state);
        u.to_string()
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Value, String> {
        let resp = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(form)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("token endpoint {status}: {}", body["error"]))
        }
    }

    /// Exchange a code.
    pub async fn exchange(&self, code: &str) -> Result<Value, String> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
        ])
        .await
    }

    /// Use a refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Value, String> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }
}

/// An auth subrequest as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct SeenAuth {
    /// Path requested.
    pub path: String,
    /// Headers (lowercase names, last value wins).
    pub headers: BTreeMap<String, String>,
}

impl SeenAuth {
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

struct State {
    client: Option<OidcClient>,
    seen: Mutex<Vec<SeenAuth>>,
}

/// The running stand-in; stops on drop.
pub struct StandIn {
    port: u16,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl StandIn {
    /// Start with an OIDC client for the IdP; `front` names the proxy in front (unused
    /// except for readability of failures).
    pub async fn start(
        disco: &Value,
        client_id: &str,
        client_secret: &str,
        _front: &str,
    ) -> std::io::Result<StandIn> {
        // The redirect URI is rebuilt per request from the Host the proxy forwards.
        let client = OidcClient::new(disco, client_id, client_secret, "");
        Self::serve(Some(client)).await
    }

    /// Start without an IdP (only the cookie check works).
    pub async fn start_offline(_front: &str) -> std::io::Result<StandIn> {
        Self::serve(None).await
    }

    async fn serve(client: Option<OidcClient>) -> std::io::Result<StandIn> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State {
            client,
            seen: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let st = st.clone();
            async move { handle(&st, req).await }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(StandIn { port, state, task })
    }

    /// `127.0.0.1:PORT`, for proxy configs.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The most recent auth subrequest.
    pub fn last_auth_request(&self) -> Option<SeenAuth> {
        self.state.seen.lock().expect("lock").last().cloned()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [("location", location.to_owned())]).into_response()
}

async fn handle(state: &State, req: Request<Body>) -> Response {
    let path = req.uri().path().to_owned();
    let url = Url::parse(&format!("http://x{}", req.uri())).expect("request URI");
    let headers = req.headers().clone();
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    match path.as_str() {
        "/oauth2/auth" | "/oauth2/auth/caddy" => {
            state.seen.lock().expect("lock").push(SeenAuth {
                path: path.clone(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect(),
            });
            match cookie_value(&headers, "stand_in").as_deref() {
                Some("ok") => (
                    StatusCode::OK,
                    [
                        ("x-auth-request-user", "alice"),
                        ("x-auth-request-email", "alice@example.test"),
                        ("x-auth-request-groups", "admins,devs"),
                        ("x-auth-request-preferred-username", "alice"),
                    ],
                )
                    .into_response(),
                Some("deny") => StatusCode::FORBIDDEN.into_response(),
                _ => {
                    let html = headers
                        .get("accept")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|a| a.contains("text/html"));
                    let get = headers
                        .get("x-forwarded-method")
                        .is_some_and(|m| m == "GET");
                    if path.ends_with("/caddy") && html && get {
                        let fwd = |h: &str| {
                            headers
                                .get(h)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned()
                        };
                        let rd = format!(
                            "http://{}{}",
                            fwd("x-forwarded-host"),
                            fwd("x-forwarded-uri")
                        );
                        let q: String =
                            url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
                        redirect(&format!("/oauth2/start?rd={q}"))
                    } else {
                        StatusCode::UNAUTHORIZED.into_response()
                    }
                }
            }
        }
        "/oauth2/start" => {
            let Some(client) = &state.client else {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            };
            let mut client = client.clone();
            client.redirect_uri = format!("http://{host}/oauth2/callback");
            let rd = query_param(&url, "rd").unwrap_or_else(|| "/".into());
            redirect(&client.authorize_url(&rd))
        }
        "/oauth2/callback" => {
            let Some(client) = &state.client else {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            };
            let mut client = client.clone();
            client.redirect_uri = format!("http://{host}/oauth2/callback");
            let (Some(code), Some(rd)) = (query_param(&url, "code"), query_param(&url, "state"))
            else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            match client.exchange(&code).await {
                Ok(tokens) if tokens["id_token"].is_string() => (
                    StatusCode::FOUND,
                    [
                        ("location", rd),
                        (
                            "set-cookie",
                            "stand_in=ok; Path=/; HttpOnly; SameSite=Lax".to_owned(),
                        ),
                    ],
                )
                    .into_response(),
                Ok(_) => (StatusCode::BAD_GATEWAY, "no id_token").into_response(),
                Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
            }
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
