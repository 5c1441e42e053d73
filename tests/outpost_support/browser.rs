//! A browser-like client for the in-process tests: no automatic redirects, every
//! `*.localhost` name resolved to 127.0.0.1 (as browsers do), and the RFC 6265 cookie jar
//! the end-to-end tests use (`tests/e2e/cookies.rs`, which each test binary's root
//! names `cookie_jar`). Cookies go where a browser would send them — the auth
//! subrequest carries the cookies of the app's URL, not the outpost's — so a cookie the
//! outpost scopes wrongly is lost here too, instead of being handed back by a jar that
//! ignores Domain, Path and Secure.

use super::Outpost;
use crate::cookie_jar::{CookieJar, StoredCookie};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, SET_COOKIE};
use std::net::SocketAddr;
use url::Url;

/// Resolves `localhost` and `*.localhost` to 127.0.0.1 (RFC 6761 §6.3), everything else
/// as the system does.
struct LoopbackNames;

/// An HTTP client that follows no redirects and finds `*.localhost` on loopback.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(LoopbackNames))
        .build()
        .unwrap()
}

impl Resolve for LoopbackNames {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: Addrs = Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
                return Ok(addrs);
            }
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The client and its cookies.
pub struct Browser {
    /// No redirects followed, `*.localhost` on loopback.
    pub http: reqwest::Client,
    /// Cookies by RFC 6265 rules (host-only vs Domain, Path, Secure, expiry).
    pub jar: CookieJar,
    /// `Set-Cookie` values the jar refused, with why (a browser drops them silently;
    /// tests print these when a cookie they expected is missing).
    pub refused: Vec<String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// An empty browser.
    pub fn new() -> Self {
        Self {
            http: http(),
            jar: CookieJar::new(),
            refused: Vec::new(),
        }
    }

    /// Stores the `Set-Cookie` headers of a response from `url`.
    pub fn absorb(&mut self, url: &str, headers: &HeaderMap) {
        let url = Url::parse(url).expect("an absolute URL");
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            if let Err(why) = self.jar.store(&url, v) {
                self.refused.push(format!("{v}: {why}"));
            }
        }
    }

    /// The value of the live cookie `name`, whatever its scope.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.get(name).map(|c| c.value.clone())
    }

    /// The stored cookie `name` with its attributes.
    pub fn stored(&self, name: &str) -> Option<&StoredCookie> {
        self.jar.get(name)
    }

    /// Names of the live cookies.
    pub fn cookie_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .jar
            .all()
            .iter()
            .filter(|c| self.jar.get(&c.name).is_some())
            .map(|c| c.name.clone())
            .collect();
        names.dedup();
        names
    }

    /// Replaces cookie `name` with `value` as if `url` had set it (host-only, Path=/).
    pub fn put_cookie(&mut self, url: &str, name: &str, value: &str) {
        self.jar.remove(name);
        let url = Url::parse(url).expect("an absolute URL");
        self.jar
            .store(&url, &format!("{name}={value}; Path=/"))
            .expect("a plain cookie");
    }

    /// The `Cookie` header a browser sends to `url` ("" when none).
    pub fn cookie_header(&self, url: &str) -> String {
        self.jar
            .header_for(&Url::parse(url).expect("an absolute URL"))
            .unwrap_or_default()
    }

    /// GET `url` with the cookies a browser sends there and extra headers (an explicit
    /// `cookie` header replaces the jar's); stores `Set-Cookie`.
    pub async fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        self.get_as(url, url, headers).await
    }

    /// GET `url` carrying the cookies of `cookies_of` (the page the browser is on: an
    /// ingress forwards the app's cookies to the auth subrequest); `Set-Cookie` lands on
    /// `cookies_of` too, as the ingress passes it back on the app's response.
    async fn get_as(
        &mut self,
        url: &str,
        cookies_of: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.get(url);
        let explicit = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("cookie"));
        let jar = self.cookie_header(cookies_of);
        if !explicit && !jar.is_empty() {
            req = req.header("cookie", jar);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.absorb(cookies_of, r.headers());
        r
    }

    /// The nginx auth subrequest for `original` (a full URL), as from a trusted proxy,
    /// with the cookies the browser sends to `original`.
    pub async fn nginx_auth(&mut self, outpost: &Outpost, original: &str) -> reqwest::Response {
        let url = format!("{}/oauth2/auth", outpost.base);
        self.get_as(&url, original, &[("x-original-url", original)])
            .await
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
        self.get_as(
            &url,
            original,
            &[("x-original-url", original), ("authorization", &auth)],
        )
        .await
    }

    /// A complete login for `rd` starting where the ingress sends the browser: the
    /// `/oauth2/start` of the route's external URL, `http://<rd's host>:<port>` for a
    /// `*.localhost` target (the test routes' convention), else the outpost's base.
    /// Follows the outpost's own hop to another external URL; returns the callback
    /// response.
    pub async fn login(&mut self, outpost: &Outpost, rd: &str) -> reqwest::Response {
        let base = match Url::parse(rd)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            Some(host) if host.ends_with(".localhost") => outpost.base_for(&host),
            _ => outpost.base.clone(),
        };
        let rd: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        let mut start = self.get(&format!("{base}/oauth2/start?rd={rd}"), &[]).await;
        assert_eq!(start.status(), 302, "start must redirect to the IdP");
        let mut authorize = super::location(&start);
        if Url::parse(&authorize).is_ok_and(|u| u.path() == "/oauth2/start") {
            start = self.get(&authorize, &[]).await;
            assert_eq!(start.status(), 302, "start must redirect to the IdP");
            authorize = super::location(&start);
        }
        let idp = self.get(&authorize, &[]).await;
        assert_eq!(idp.status(), 302, "the test IdP consents at once");
        let callback = super::location(&idp);
        let at = Url::parse(&callback).expect("an absolute callback URL");
        assert!(
            at.path() == "/oauth2/callback" && at.port() == Some(outpost.port),
            "the IdP returns to the outpost's callback: {callback}"
        );
        self.get(&callback, &[]).await
    }
}
