//! The outpost's HTTP layer: `portcullis outpost`.
//!
//! [`App`] holds what every request needs (the served configuration behind a swappable
//! `Arc`, trusted proxies, the identity-JWT key, metrics); [`App::router`] is the public
//! port (the outpost contract in DESIGN.md), [`App::admin_router`] the admin port.
//! [`start`] loads the configuration, starts background discovery, JWKS refresh and
//! reloads, and serves on given listeners (the CLI and the integration tests share it).

pub mod account;
pub mod admin;
pub mod admin_sessions;
pub mod auth;
pub mod auth_endpoint;
pub mod backchannel;
pub mod bearer;
pub mod callback;
pub mod cluster_config;
pub mod cluster_source;
pub mod cookie_trouble;
pub mod decision;
pub mod decision_layer;
pub mod decision_line;
pub mod ended;
pub mod extract;
pub mod handlers;
pub mod loader;
pub mod login;
pub mod login_error;
pub mod login_loop;
pub mod metrics;
pub mod own_sessions;
pub mod process;
pub mod rate_limit;
pub mod refresh;
pub mod refresh_policy;
pub mod refresh_shared;
pub mod renewal;
pub mod request;
pub mod runtime;
pub mod session_budget;
pub mod shared_route;
pub mod sign_out_hint;
pub mod signer;
pub mod source;
pub mod state;
pub mod store;

use crate::outpost::forwarded::TrustedProxies;
use auth::Flavor;
use axum::Router;
use axum::extract::{Request, State};
use axum::routing::{any, get};
use decision_layer::DecisionLayer;
use metrics::Metrics;
use request::RequestId;
use signer::Signer;
use source::ConfigSource;
use state::Loaded;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;

pub use process::run;

/// Why the outpost cannot start. Each message says what to set.
#[derive(Debug, Error)]
pub enum StartError {
    /// The configuration cannot be loaded.
    #[error("configuration ({source_name}): {message}")]
    Config {
        /// The source description.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// A `--trusted-proxy` value is not a CIDR.
    #[error("--trusted-proxy: {0}")]
    TrustedProxy(String),
    /// The signing key is unusable.
    #[error(transparent)]
    Signer(#[from] signer::SignerError),
    /// A listener cannot be bound or served.
    #[error("{what} {addr}: {message}")]
    Listen {
        /// `--listen` or `--admin-listen`.
        what: &'static str,
        /// The address.
        addr: String,
        /// The OS error.
        message: String,
    },
}

/// Where the outpost's signing key comes from.
#[derive(Clone)]
pub enum SigningKey {
    /// A fresh key at start: fine for one replica, not for several.
    Generate,
    /// A PKCS#8 file (`--signing-key-file`).
    File(PathBuf),
    /// PKCS#8 bytes read at start (`--keys-secret`); `origin` names them in errors.
    Pkcs8 {
        /// `Secret ns/name key signing-key.pem`.
        origin: String,
        /// The key, PEM or DER.
        bytes: Vec<u8>,
    },
}

impl std::fmt::Debug for SigningKey {
    // Never the key bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Generate => f.write_str("Generate"),
            Self::File(path) => write!(f, "File({})", path.display()),
            Self::Pkcs8 { origin, .. } => write!(f, "Pkcs8({origin})"),
        }
    }
}

/// Settings that are not part of the served configuration.
#[derive(Clone, Debug)]
pub struct Options {
    /// Believe forwarded headers from these CIDRs.
    pub trusted_proxies: Vec<String>,
    /// Accept `http://` external URLs on loopback hosts (development only).
    pub allow_http_loopback: bool,
    /// The P-256 key for identity JWTs.
    pub signing_key: SigningKey,
    /// How often the configuration source is polled.
    pub reload_interval: Duration,
    /// How often every provider's JWKS is refetched.
    pub jwks_refresh_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            allow_http_loopback: false,
            signing_key: SigningKey::Generate,
            reload_interval: Duration::from_millis(1500),
            jwks_refresh_interval: Duration::from_secs(600),
        }
    }
}

/// Shared state of the running outpost.
pub struct App {
    current: RwLock<Arc<Loaded>>,
    /// Peers whose forwarded headers are believed.
    pub trusted: TrustedProxies,
    /// The identity-JWT key.
    pub signer: Signer,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Whether `http://` loopback external URLs are accepted.
    pub allow_http_loopback: bool,
    /// Token refreshes, one per refresh token; the memory of an unreachable IdP.
    pub refreshes: refresh::Refreshes,
    /// Peers already warned about for sending forwarded headers untrusted.
    pub untrusted_peers: handlers::UntrustedPeers,
    /// Sign-in requests per client address.
    pub login_limiter: rate_limit::LoginLimiter,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    /// The configuration being served (cheap: one `Arc` clone under a read lock).
    pub fn loaded(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Swaps in a new configuration; requests holding the old `Arc` finish on it.
    pub(crate) fn swap(&self, loaded: Arc<Loaded>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        self.update_ready_gauge();
    }

    /// Updates the ready-providers gauge.
    pub(crate) fn update_ready_gauge(&self) {
        let loaded = self.loaded();
        let ready = loaded
            .providers
            .values()
            .filter(|p| p.get().is_some())
            .count();
        self.metrics.set_providers_ready(ready);
    }

    /// The public port's routes. Every deciding endpoint sits behind a
    /// [`DecisionLayer`] with its label: the one place a request is logged.
    pub fn router(self: &Arc<Self>) -> Router {
        let logged = |endpoint: &'static str| DecisionLayer::new(self, endpoint);
        let auth = |f: Flavor| {
            any(move |s: State<Arc<App>>, id: RequestId, r: Request| {
                auth_endpoint::auth(f, s, id, r)
            })
            .layer(logged(f.endpoint()))
        };
        Router::new()
            .route("/oauth2/auth", auth(Flavor::Nginx))
            .route("/oauth2/auth/traefik", auth(Flavor::Traefik))
            .route("/oauth2/auth/caddy", auth(Flavor::Caddy))
            .route("/oauth2/auth/envoy", auth(Flavor::Envoy))
            .route("/oauth2/auth/envoy/{*rest}", auth(Flavor::Envoy))
            .route("/oauth2/start", get(login::start).layer(logged("start")))
            .route(
                "/oauth2/callback",
                get(callback::callback).layer(logged("callback")),
            )
            .route(
                "/oauth2/sign_out",
                get(account::sign_out)
                    .post(account::sign_out)
                    .layer(logged("sign_out")),
            )
            .route(
                "/oauth2/userinfo",
                get(account::userinfo).layer(logged("userinfo")),
            )
            .route(
                "/oauth2/sessions",
                get(own_sessions::list)
                    .post(own_sessions::end)
                    .layer(logged("sessions")),
            )
            .route(
                "/oauth2/backchannel-logout",
                axum::routing::post(backchannel::backchannel_logout)
                    .layer(logged("backchannel_logout")),
            )
            .route("/.well-known/jwks.json", get(account::jwks))
            .with_state(self.clone())
    }

    /// The admin port's routes.
    pub fn admin_router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(admin::readyz))
            .route("/metrics", get(admin::metrics_text))
            .route("/sessions", get(admin_sessions::list))
            .route(
                "/sessions/revoke",
                axum::routing::post(admin_sessions::revoke),
            )
            .with_state(self.clone())
    }
}

/// A running outpost.
#[derive(Debug)]
pub struct Running {
    /// Its shared state.
    pub app: Arc<App>,
    /// The public address.
    pub addr: SocketAddr,
    /// The admin address.
    pub admin_addr: SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting connections and the background loops; requests in flight
    /// finish (see [`Self::drain`]).
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
        for t in &self.loops {
            t.abort();
        }
    }

    /// Stops, then waits up to `grace` for requests in flight; aborts what is left.
    pub async fn drain(mut self, grace: Duration) {
        self.stop();
        let servers: Vec<_> = self.servers.drain(..).collect();
        let aborts: Vec<_> = servers.iter().map(|t| t.abort_handle()).collect();
        let all = async {
            for t in servers {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(grace, all).await.is_err() {
            for a in aborts {
                a.abort();
            }
        }
    }

    /// Whether a server ended (they only end on a listener error or after a stop).
    pub(crate) fn server_ended(&self) -> bool {
        self.servers.iter().any(|t| t.is_finished())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
        for t in &self.servers {
            t.abort();
        }
    }
}

/// Loads the configuration (refusing to start when it is unusable), then serves on the
/// given listeners and runs discovery, JWKS refresh and reloads in the background.
pub async fn start(
    source: Arc<dyn ConfigSource>,
    options: &Options,
    listener: TcpListener,
    admin: TcpListener,
) -> Result<Running, StartError> {
    let config_error = |message: String| StartError::Config {
        source_name: source.describe(),
        message,
    };
    let snapshot = source
        .load()
        .await
        .map_err(|e| config_error(e.to_string()))?;
    let loaded = Loaded::build(snapshot, None, options.allow_http_loopback)
        .map_err(|e| config_error(e.to_string()))?;
    let trusted = TrustedProxies::parse(&options.trusted_proxies)
        .map_err(|e| StartError::TrustedProxy(e.to_string()))?;
    let signer = match &options.signing_key {
        SigningKey::File(path) => Signer::from_file(path)?,
        SigningKey::Pkcs8 { origin, bytes } => Signer::from_pkcs8(bytes.clone(), origin.clone())?,
        SigningKey::Generate => Signer::generate()?,
    };
    let app = Arc::new(App {
        current: RwLock::new(Arc::new(loaded)),
        trusted,
        signer,
        metrics: Metrics::new(),
        allow_http_loopback: options.allow_http_loopback,
        refreshes: refresh::Refreshes::default(),
        untrusted_peers: Default::default(),
        login_limiter: Default::default(),
    });
    app.metrics.config_reload("success");
    runtime::spawn_discovery(&app, &app.loaded());
    let addr = local_addr(&listener, "--listen")?;
    let admin_addr = local_addr(&admin, "--admin-listen")?;
    let public = app
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let admin_app = app.admin_router();
    let (shutdown, signal) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut signal = signal.clone();
        async move {
            let _ = signal.wait_for(|stop| *stop).await;
        }
    };
    let (public_stop, admin_stop) = (stopped(), stopped());
    let servers = vec![
        tokio::spawn(async move {
            let serve = axum::serve(listener, public).with_graceful_shutdown(public_stop);
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "public listener failed");
            }
        }),
        tokio::spawn(async move {
            let serve = axum::serve(admin, admin_app).with_graceful_shutdown(admin_stop);
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "admin listener failed");
            }
        }),
    ];
    let loops = vec![
        tokio::spawn(runtime::reload_loop(
            Arc::downgrade(&app),
            source,
            options.reload_interval,
        )),
        tokio::spawn(runtime::jwks_loop(
            Arc::downgrade(&app),
            options.jwks_refresh_interval,
        )),
    ];
    Ok(Running {
        app,
        addr,
        admin_addr,
        shutdown,
        servers,
        loops,
    })
}

fn local_addr(l: &TcpListener, what: &'static str) -> Result<SocketAddr, StartError> {
    l.local_addr().map_err(|e| StartError::Listen {
        what,
        addr: "?".into(),
        message: e.to_string(),
    })
}
