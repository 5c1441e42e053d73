//! Shared pieces of the outpost integration tests: the scripted IdP, an outpost started
//! in-process on 127.0.0.1, and a browser-like client with a cookie jar.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod idp;

use portcullis::outpost::server::source::FileSource;
use portcullis::outpost::server::{Options, Running, start};
use reqwest::header::{HeaderMap, SET_COOKIE};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const COOKIE_SECRET: &str = "test-cookie-secret-0123456789abcdef";

/// The test configuration: one route `test/app` for `app.test`, external URL on the
/// outpost's own loopback address; `PORT` in `extra_routes` is that address's port.
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
    hosts: [app.test, "127.0.0.1:{port}"]
    paths: [/]
    provider: test/idp
    authURL: http://127.0.0.1:{port}
    redirectURI: http://127.0.0.1:{port}/oauth2/callback
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
            base: format!("http://{}", running.addr),
            admin: format!("http://{}", running.admin_addr),
            running,
            config_path,
            port,
            _dir: dir,
        }
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

/// A browser-ish client: no automatic redirects, a cookie jar by name.
pub struct Browser {
    pub http: reqwest::Client,
    pub jar: BTreeMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
        }
    }

    /// Applies `Set-Cookie` headers (Max-Age=0 deletes).
    pub fn absorb(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    /// The `Cookie` header value.
    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// GET with the jar's cookies and extra headers; absorbs `Set-Cookie`.
    pub async fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.get(url);
        if !self.jar.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.absorb(r.headers());
        r
    }

    /// The nginx auth subrequest for `original` (a full URL), as from a trusted proxy.
    pub async fn nginx_auth(&mut self, outpost: &Outpost, original: &str) -> reqwest::Response {
        let url = format!("{}/oauth2/auth", outpost.base);
        self.get(&url, &[("x-original-url", original)]).await
    }

    /// The nginx auth subrequest for `original` carrying `Authorization: Bearer <token>`.
    pub async fn bearer_auth(
        &mut self,
        outpost: &Outpost,
        original: &str,
        token: &str,
    ) -> reqwest::Response {
        let url = format!("{}/oauth2/auth", outpost.base);
        let auth = format!("Bearer {token}");
        self.get(
            &url,
            &[("x-original-url", original), ("authorization", &auth)],
        )
        .await
    }

    /// A complete login starting at `/oauth2/start?rd=`; returns the callback response.
    pub async fn login(&mut self, outpost: &Outpost, rd: &str) -> reqwest::Response {
        let rd: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        let start = self
            .get(&format!("{}/oauth2/start?rd={rd}", outpost.base), &[])
            .await;
        assert_eq!(start.status(), 302, "start must redirect to the IdP");
        let authorize = location(&start);
        let idp = self.get(&authorize, &[]).await;
        assert_eq!(idp.status(), 302, "the test IdP consents at once");
        let callback = location(&idp);
        assert!(callback.starts_with(&format!("{}/oauth2/callback?", outpost.base)));
        self.get(&callback, &[]).await
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
