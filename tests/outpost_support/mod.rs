//! Shared pieces of the outpost integration tests: the scripted IdP, an outpost started
//! in-process on 127.0.0.1, and a browser-like client with a cookie jar.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod browser;
pub mod idp;

pub use browser::Browser;

use portcullis::outpost::server::source::FileSource;
use portcullis::outpost::server::{Options, Running, start};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const COOKIE_SECRET: &str = "test-cookie-secret-0123456789abcdef";

/// The test configuration: one route `test/app` for `app.localhost`, whose external URL
/// is `http://app.localhost:PORT` (the outpost's own port; every `*.localhost` name is
/// loopback, so plain http is allowed). `PORT` in `extra_routes` is that port. The
/// session cookie is host-only on `app.localhost`, so it reaches the app exactly as a
/// browser would send it: the [`Browser`] keeps cookies by RFC 6265 rules.
pub fn config(idp: &str, port: u16, extra_routes: &str) -> String {
    format!(
        r#"
providers:
  test/idp:
    issuerURL: {idp}
    clientID: {client}
    clientSecret: {{ value: {secret} }}
    scopes: [openid, email, profile]
    claims: {{ username: [preferred_username, email], email: email, groups: groups, permissions: permissions }}
    clockSkewSeconds: 30
routes:
  - id: test/app
    hosts: [app.localhost, "app.localhost:{port}"]
    paths: [/]
    provider: test/idp
    authURL: http://app.localhost:{port}
    redirectURI: http://app.localhost:{port}/oauth2/callback
    policy: {{ groups: [staff], publicPaths: [/health] }}
    headers:
      map: {{ X-Auth-Request-User: user, X-Auth-Request-Email: email, X-Auth-Request-Groups: groups, X-Team: "claim:team" }}
      accessToken: X-Access-Token
      identityJwt: {{ header: X-Identity, audience: app, lifetimeSeconds: 60 }}
    bearer: {{ enabled: true, audiences: [api] }}
{extra_routes}"#,
        client = idp::CLIENT_ID,
        secret = idp::CLIENT_SECRET,
        // Extra routes may name the outpost's own address as `PORT`.
        extra_routes = extra_routes.replace("PORT", &port.to_string()),
    )
}

/// An outpost serving a config file in a temp dir.
pub struct Outpost {
    pub running: Running,
    pub base: String,
    pub admin: String,
    pub config_path: PathBuf,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Outpost {
    /// Starts an outpost for `idp` (the config may add routes after the first).
    pub async fn start(idp: &str, extra_routes: &str) -> Self {
        let outpost = Self::start_unready(idp, extra_routes).await;
        outpost.wait_ready().await;
        outpost
    }

    /// Starts an outpost without waiting for provider discovery.
    pub async fn start_unready(idp: &str, extra_routes: &str) -> Self {
        Self::start_trusting(idp, extra_routes, &["127.0.0.1/32"]).await
    }

    /// Starts an outpost that believes forwarded headers only from `trusted` CIDRs
    /// (none: every peer is the client), without waiting for discovery.
    pub async fn start_trusting(idp: &str, extra_routes: &str, trusted: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("outpost.yaml");
        std::fs::write(&config_path, config(idp, port, extra_routes)).unwrap();
        let source = Arc::new(FileSource {
            path: config_path.clone(),
            cookie_secret_files: vec![],
            cookie_secrets: vec![COOKIE_SECRET.into()],
            ..Default::default()
        });
        let options = Options {
            trusted_proxies: trusted.iter().map(|c| c.to_string()).collect(),
            allow_http_loopback: true,
            reload_interval: Duration::from_millis(100),
            jwks_refresh_interval: Duration::from_millis(200),
            ..Options::default()
        };
        let running = start(source, &options, listener, admin).await.unwrap();
        Self {
            base: format!("http://app.localhost:{port}"),
            admin: format!("http://{}", running.admin_addr),
            running,
            config_path,
            port,
            _dir: dir,
        }
    }

    /// `http://<host>:<port>`: the outpost as `host` (any `*.localhost` name reaches it),
    /// where a route whose external URL is on `host` serves its login endpoints.
    pub fn base_for(&self, host: &str) -> String {
        format!("http://{host}:{}", self.port)
    }

    /// The admin port's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Polls `/readyz` until the provider is discovered.
    pub async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let r = client
                .get(format!("{}/readyz", self.admin))
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("outpost never became ready");
    }
}

/// The `Location` header.
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

/// A header as text ("" when absent).
pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}
