//! End-to-end test harness: a real OpenID Provider (oidc-provider on Node), nginx
//! configured like ingress-nginx, Caddy with `forward_auth`, an echoing upstream app, a
//! scripted user agent with a cookie jar, and headless Chromium.
//!
//! Use it from an integration test with `mod e2e;`. Every process runs on loopback,
//! is started with a readiness wait and a timeout, and is killed when its handle drops.
//! Install the external tools with `scripts/setup`.

// Each integration test binary compiles this module and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod agent;
pub mod browser;
pub mod caddy;
pub mod cluster;
pub mod cookies;
pub mod flaky;
pub mod form;
pub mod idp;
pub mod kubectl;
pub mod nginx;
pub mod operator;
pub mod outpost;
pub mod pod;
pub mod process;
pub mod redis;
pub mod redis_cluster;
pub mod redis_tls;
pub mod upstream;

pub use agent::{Hop, Response, UserAgent};
pub use browser::{Browser, BrowserOptions, BrowserResult};
pub use caddy::{Caddy, CaddyOptions};
pub use cluster::{ControlPlane, Process, require_control_plane};
pub use cookies::CookieJar;
pub use form::{Form, parse_forms};
pub use idp::{Idp, IdpAccount, IdpClient, IdpOptions};
pub use kubectl::{Kubectl, condition, has_condition};
pub use nginx::{Nginx, NginxOptions};
pub use outpost::{Outpost, OutpostOptions, OutpostRoute};
pub use process::{Tool, free_port, require};
pub use redis::{Redis, RedisOptions, Sentinel};
pub use redis_cluster::RedisCluster;
pub use redis_tls::TlsFiles;
pub use upstream::{RecordedRequest, UpstreamApp};

use std::path::PathBuf;

/// Everything that can go wrong while starting or driving the harness.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A process could not be spawned.
    #[error("failed to spawn {name}: {source}")]
    Spawn {
        /// Which process.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// A process did not become ready in time.
    #[error("{name} not ready after {secs}s; log:\n{log}")]
    NotReady {
        /// Which process.
        name: String,
        /// How long we waited.
        secs: u64,
        /// Its log output.
        log: String,
    },
    /// A process exited when it should be running.
    #[error("{name} exited ({status}); log:\n{log}")]
    Exited {
        /// Which process.
        name: String,
        /// Its exit status.
        status: String,
        /// Its log output.
        log: String,
    },
    /// File system trouble (temp dirs, config files).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// An HTTP request failed at the transport level.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// A redirect chain repeated a URL or grew too long.
    #[error("redirect loop: {0}")]
    RedirectLoop(String),
    /// Something answered, but not as the harness expected.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

/// Result alias for the harness.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// The repository root (where Cargo.toml is).
/// The `portcullis` binary under test (the demo example, which has no
/// `CARGO_BIN_EXE_*`, uses the debug build).
pub fn portcullis_binary() -> PathBuf {
    option_env!("CARGO_BIN_EXE_portcullis")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/portcullis"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory for one test (configs, logs, pid files), removed on drop.
pub fn scratch_dir(prefix: &str) -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("e2e-{prefix}-"))
        .tempdir()?)
}
