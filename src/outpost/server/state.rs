//! The loaded configuration the handlers serve: routes with their session managers and
//! external URLs, provider slots filled by background discovery, the bearer cache.
//!
//! A [`Loaded`] is immutable once built and shared behind an `Arc`; a reload builds a new
//! one and swaps the pointer, so a request in flight finishes on the config it started
//! with.

use super::bearer::BearerCache;
use super::shared_route::SharedRoute;
use super::source::{ProviderSecrets, Snapshot};
use super::store::redis_client::RedisStore;
use super::store::{Scope, SessionStore};
use crate::config::{
    IdentityField, OutpostConfig, ProviderConfig, RouteConfig, RouteIndex, external_url,
};
use crate::oidc::Provider;
use crate::outpost::identity_headers::UpstreamHeaderNames;
use crate::outpost::session::{KeyRing, SessionManager};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use thiserror::Error;
use url::Url;

/// Why a snapshot cannot be served.
#[derive(Debug, Error)]
pub enum BuildError {
    /// A route's external URL is unusable.
    #[error("routes[{index}] ({id}): authURL {message}")]
    AuthUrl {
        /// Index of the route.
        index: usize,
        /// Route id.
        id: String,
        /// What is wrong and what to set.
        message: String,
    },
    /// The cookie keys, a cookie setting or the provider reference are unusable.
    #[error("routes[{index}] ({id}): {message}")]
    Session {
        /// Index of the route.
        index: usize,
        /// Route id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// One provider, discovered in the background. Reused across reloads while its
/// configuration and secrets are unchanged, so a reload does not re-run discovery.
pub struct ProviderSlot {
    /// Key in [`OutpostConfig::providers`].
    pub key: String,
    /// Its configuration.
    pub config: ProviderConfig,
    /// Its resolved secrets.
    pub secrets: ProviderSecrets,
    ready: OnceLock<Arc<Provider>>,
    last_error: Mutex<Option<String>>,
    started: AtomicBool,
}

impl std::fmt::Debug for ProviderSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSlot")
            .field("key", &self.key)
            .field("ready", &self.ready.get().is_some())
            .finish_non_exhaustive()
    }
}

impl ProviderSlot {
    /// An empty slot.
    pub fn new(key: String, config: ProviderConfig, secrets: ProviderSecrets) -> Self {
        Self {
            key,
            config,
            secrets,
            ready: OnceLock::new(),
            last_error: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }

    /// The provider, once discovery and the first JWKS fetch succeeded.
    pub fn get(&self) -> Option<&Arc<Provider>> {
        self.ready.get()
    }

    /// Fills the slot (first success wins).
    pub fn set(&self, provider: Provider) {
        let _ = self.ready.set(Arc::new(provider));
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Marks discovery as started; true only for the first caller.
    pub(crate) fn claim_start(&self) -> bool {
        !self.started.swap(true, Ordering::SeqCst)
    }

    /// Records why discovery failed (shown by `/readyz`).
    pub(crate) fn set_error(&self, message: String) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
    }

    /// The last discovery error.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A route ready to serve.
#[derive(Debug)]
pub struct RouteRuntime {
    /// The compiled route (its place in [`Loaded::config`], not a copy).
    pub config: SharedRoute,
    /// The external URL (`authURL`), parsed.
    pub base: Url,
    /// `host[:port]` of the external URL, as [`crate::outpost::forwarded`] normalises hosts.
    pub authority: String,
    /// Sessions and login-state cookies of the route.
    pub sessions: SessionManager,
    /// Where the route's sessions live.
    pub store: SessionStore,
    /// Claims the identity keeps for policies and headers.
    pub keep_claims: Vec<String>,
    /// The upstream header names of `config.headers`, parsed at load.
    pub header_names: UpstreamHeaderNames,
    /// The route's provider.
    pub provider: Arc<ProviderSlot>,
}

impl RouteRuntime {
    /// What the session store needs of this route.
    pub fn scope(&self) -> Scope<'_> {
        Scope {
            sessions: &self.sessions,
            provider: &self.config.provider,
        }
    }

    /// `authURL` + `path` (path starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// `/oauth2/start?rd=` on the route's external URL.
    pub(crate) fn start_url(&self, rd: &str) -> String {
        let rd: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        self.url(&format!("/oauth2/start?rd={rd}"))
    }

    /// Whether this route answers on `host` (a route host or its external URL's host).
    pub(crate) fn serves_host(&self, host: &str) -> bool {
        self.authority == host || self.config.hosts.iter().any(|h| h == host)
    }

    /// The redirect allow-list: the route's hosts.
    pub(crate) fn allowed_hosts(&self) -> &[String] {
        &self.config.hosts
    }
}

/// The configuration being served.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration as loaded.
    pub config: Arc<OutpostConfig>,
    /// Routes in configuration order.
    pub routes: Vec<RouteRuntime>,
    /// Host and path → position in `routes`, built once per load.
    pub index: RouteIndex,
    /// Provider slots by key.
    pub providers: BTreeMap<String, Arc<ProviderSlot>>,
    /// Verified bearer tokens.
    pub bearer_cache: BearerCache,
    /// The snapshot's fingerprint.
    pub fingerprint: [u8; 32],
}

/// Checks a route's external URL: absolute, a real host, https unless loopback and
/// `allow_http_loopback`. Every message says what to set.
pub(crate) fn check_auth_url(value: &str, allow_http_loopback: bool) -> Result<Url, String> {
    if value.trim().is_empty() {
        return Err("is not set; set authURL to the external https URL browsers use for this route (e.g. https://app.example.com)".into());
    }
    let url = external_url(value).map_err(|m| format!("{m}; set authURL"))?;
    if url.scheme() == "https" {
        return Ok(url);
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match (loopback, allow_http_loopback) {
        (true, true) => Ok(url),
        (true, false) => Err(format!(
            "{value:?} is plain http; pass --allow-http-loopback for local development, or use https"
        )),
        (false, _) => Err(format!(
            "{value:?} is plain http on a non-loopback host: session cookies would travel in clear; set authURL to the https URL browsers use"
        )),
    }
}

/// `host[:port]` of a URL, the port only when it is not the scheme's default.
pub fn authority(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(h) => h.to_string().to_ascii_lowercase(),
        None => String::new(),
    };
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// The route hosts a session cookie set at the external URL never reaches: the cookie
/// is host-only unless `cookieDomain` is set, and then it reaches that domain and its
/// sub-domains. Such hosts loop through the login forever, so the loader warns.
pub(crate) fn hosts_without_cookie(route: &RouteConfig, base: &Url) -> Vec<String> {
    let auth_host = base.host_str().unwrap_or_default().to_ascii_lowercase();
    let within = |host: &str, domain: &str| {
        let domain = domain.trim_start_matches('.').to_ascii_lowercase();
        host == domain || host.ends_with(&format!(".{domain}"))
    };
    route
        .hosts
        .iter()
        .filter(|h| {
            let name = strip_port(h);
            match &route.session.cookie_domain {
                None => name != auth_host,
                Some(d) => !(within(name, d) && within(&auth_host, d)),
            }
        })
        .cloned()
        .collect()
}

/// `host[:port]` without the port; `[v6]` keeps its brackets (as `Url::host_str`).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.split(':').next().unwrap_or(host)
}

/// The claims an identity must keep for `route`: those its policy and headers read.
pub(crate) fn keep_claims(route: &RouteConfig) -> Vec<String> {
    let mut keep = vec!["preferred_username".to_string()];
    keep.extend(route.policy.claims.keys().cloned());
    keep.extend(route.headers.map.values().filter_map(|f| match f {
        IdentityField::Claim(name) => Some(name.clone()),
        _ => None,
    }));
    keep.sort();
    keep.dedup();
    keep
}

impl Loaded {
    /// Builds the served state from a snapshot, reusing `previous`'s provider slots whose
    /// configuration and secrets are unchanged.
    pub fn build(
        snapshot: Snapshot,
        previous: Option<&Loaded>,
        allow_http_loopback: bool,
    ) -> Result<Self, BuildError> {
        let keys = Arc::new(
            KeyRing::from_secrets(&snapshot.cookie_secrets).map_err(|e| BuildError::Session {
                index: 0,
                id: "*".into(),
                message: format!("session: cookie key ring: {e}"),
            })?,
        );
        let mut providers = BTreeMap::new();
        for (key, config) in &snapshot.config.providers {
            let secrets = snapshot.secrets.get(key).cloned().unwrap_or_default();
            let reused = previous
                .and_then(|p| p.providers.get(key))
                .filter(|slot| slot.config == *config && slot.secrets == secrets)
                .cloned();
            let slot = reused.unwrap_or_else(|| {
                Arc::new(ProviderSlot::new(key.clone(), config.clone(), secrets))
            });
            providers.insert(key.clone(), slot);
        }
        // Sized once: 10,000 routes in a doubling `Vec` left 40% of it unused.
        let mut routes = Vec::with_capacity(snapshot.config.routes.len());
        for (index, shared) in SharedRoute::each(&snapshot.config).enumerate() {
            let route: &RouteConfig = &shared;
            let base = check_auth_url(&route.auth_url, allow_http_loopback).map_err(|message| {
                BuildError::AuthUrl {
                    index,
                    id: route.id.clone(),
                    message,
                }
            })?;
            let sessions =
                SessionManager::new(keys.clone(), &route.session, base.scheme() == "https")
                    .map_err(|e| BuildError::Session {
                        index,
                        id: route.id.clone(),
                        message: format!("session: {e}"),
                    })?;
            let unreached = hosts_without_cookie(route, &base);
            if !unreached.is_empty() {
                tracing::warn!(
                    route = %route.id,
                    hosts = ?unreached,
                    auth_url = %base,
                    "the session cookie set at authURL will not reach these hosts (login loop); set session.cookieDomain to a parent domain of both, or serve authURL on the app's host"
                );
            }
            // Validation guarantees the provider exists; refusing keeps `routes` aligned
            // with `config.routes`, whose positions `index` holds.
            let provider =
                providers
                    .get(&route.provider)
                    .cloned()
                    .ok_or_else(|| BuildError::Session {
                        index,
                        id: route.id.clone(),
                        message: format!("provider {:?} is not configured", route.provider),
                    })?;
            // One client per distinct store, kept across reloads: its connection and
            // the sessions it serves do not notice a reload.
            let known = routes
                .iter()
                .chain(previous.into_iter().flat_map(|p| p.routes.iter()))
                .map(|r: &RouteRuntime| &r.store);
            let secrets = snapshot
                .store_secrets
                .get(&route.id)
                .cloned()
                .unwrap_or_default();
            let store = SessionStore::build(&route.session.store, &secrets, known);
            routes.push(RouteRuntime {
                authority: authority(&base),
                base,
                sessions,
                store,
                keep_claims: keep_claims(route),
                header_names: UpstreamHeaderNames::new(&route.headers),
                provider,
                config: shared.clone(),
            });
        }
        Ok(Self {
            index: RouteIndex::new(&snapshot.config.routes),
            config: snapshot.config,
            routes,
            providers,
            bearer_cache: BearerCache::default(),
            fingerprint: snapshot.fingerprint,
        })
    }

    /// The route for an original request's host (any case) and path: the longest
    /// matching path prefix among the routes listing the host.
    pub(crate) fn route_for(&self, host: &str, path: &str) -> Option<&RouteRuntime> {
        self.routes.get(self.index.find(host, path)?)
    }

    /// A route by id.
    pub fn route_by_id(&self, id: &str) -> Option<&RouteRuntime> {
        self.routes.iter().find(|r| r.config.id == id)
    }

    /// The route for a login-flow endpoint (`/oauth2/start`, `sign_out`, `userinfo`) on
    /// `host`: a lookup among configured hosts and external URLs, never a URL built from
    /// `Host`. `rd` (when it parses) refines the choice among the routes on this host;
    /// when no route serves the host, a route matching `rd`'s host is used.
    pub(crate) fn route_for_login(&self, host: &str, rd: Option<&str>) -> Option<&RouteRuntime> {
        let target = rd.and_then(|rd| {
            let base = Url::parse(&format!("http://{host}/")).ok()?;
            let url = base.join(rd).ok()?;
            Some((authority(&url), url.path().to_string()))
        });
        let by_target = target.as_ref().and_then(|(h, p)| self.route_for(h, p));
        let on_host: Vec<&RouteRuntime> =
            self.routes.iter().filter(|r| r.serves_host(host)).collect();
        if on_host.is_empty() {
            return by_target;
        }
        if let Some(r) = by_target.filter(|r| on_host.iter().any(|o| std::ptr::eq(*o, *r))) {
            return Some(r);
        }
        let path = target.as_ref().map_or("/", |(_, p)| p.as_str());
        self.route_for(host, path)
            .filter(|r| r.serves_host(host))
            .or_else(|| on_host.first().copied())
    }

    /// Whether the outpost can take traffic: every provider has been tried once and at
    /// least one has discovery and keys (or there is none). One team's unreachable IdP
    /// must not take every other route out of the Service with it: its routes answer
    /// `idp_unreachable` while the rest are served, and `/readyz` lists it.
    pub fn ready(&self) -> bool {
        let tried = self
            .providers
            .values()
            .all(|p| p.get().is_some() || p.last_error().is_some());
        let any = self.providers.is_empty() || self.providers.values().any(|p| p.get().is_some());
        tried && any
    }

    /// The distinct Redis session stores the routes use.
    pub(crate) fn redis_stores(&self) -> Vec<Arc<RedisStore>> {
        super::store::distinct_redis(self.routes.iter().map(|r| &r.store))
    }

    /// Providers without discovery and keys yet, with the last error.
    pub(crate) fn unready_providers(&self) -> Vec<(String, String)> {
        self.providers
            .values()
            .filter(|p| p.get().is_none())
            .map(|p| {
                let error = p.last_error().unwrap_or_else(|| "pending".into());
                (p.key.clone(), error)
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
