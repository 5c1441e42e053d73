//! Caddy in front of the app with `forward_auth` to the outpost's `/oauth2/auth/caddy`,
//! the outpost's `/oauth2/*` paths on the same host, plain http, admin API off.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::nginx::IDENTITY_HEADERS;
use super::process::{ManagedChild, free_port};
use super::{Result, scratch_dir};

/// How to configure Caddy.
#[derive(Debug, Clone)]
pub struct CaddyOptions {
    /// The outpost, `host:port`.
    pub outpost: String,
    /// The app, `host:port`.
    pub upstream: String,
    /// The forward_auth `uri`.
    pub auth_uri: String,
    /// Headers copied from a 2xx auth response to the app.
    pub copy_headers: Vec<String>,
    /// Raw Caddyfile directives added inside the site block.
    pub extra_site: String,
    /// Listening port on 127.0.0.1; `None` picks a free one. Set it when the URL must be
    /// known before start (e.g. for the IdP's redirect URIs).
    pub port: Option<u16>,
    /// How long to wait for the port.
    pub startup_timeout: Duration,
}

impl CaddyOptions {
    /// Defaults for an outpost and an app, both `host:port`.
    pub fn new(outpost: &str, upstream: &str) -> Self {
        Self {
            outpost: outpost.to_owned(),
            upstream: upstream.to_owned(),
            auth_uri: "/oauth2/auth/caddy".to_owned(),
            copy_headers: IDENTITY_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
            extra_site: String::new(),
            port: None,
            startup_timeout: Duration::from_secs(15),
        }
    }
}

/// A running Caddy; killed on drop.
#[derive(Debug)]
pub struct Caddy {
    port: u16,
    config: String,
    child: ManagedChild,
    _dir: tempfile::TempDir,
}

impl Caddy {
    /// Write the Caddyfile into a temp dir, run `caddy run`, wait for the port.
    pub fn start(opts: CaddyOptions) -> Result<Caddy> {
        let dir = scratch_dir("caddy")?;
        let port = opts.port.unwrap_or_else(free_port);
        let config = render(&opts, port);
        let path = dir.path().join("Caddyfile");
        std::fs::write(&path, &config)?;
        let mut cmd = Command::new("caddy");
        cmd.arg("run")
            .arg("--config")
            .arg(&path)
            .arg("--adapter")
            .arg("caddyfile")
            // Caddy keeps state under $HOME / XDG dirs; keep it in the temp dir.
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"));
        let mut child = ManagedChild::spawn("caddy", cmd, dir.path().join("caddy.log"))?;
        child.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], port)),
            opts.startup_timeout,
        )?;
        Ok(Caddy {
            port,
            config,
            child,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The rendered Caddyfile.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// Caddy's log so far.
    pub fn log(&self) -> String {
        self.child.log()
    }
}

/// Render the Caddyfile. Public for tests that want to read it.
pub fn render(opts: &CaddyOptions, port: u16) -> String {
    format!(
        r#"{{
	admin off
	auto_https off
}}

http://:{port} {{
	bind 127.0.0.1
	log {{
		output stderr
	}}
{extra}
	handle /oauth2/* {{
		reverse_proxy {outpost}
	}}

	handle {{
		forward_auth {outpost} {{
			uri {auth_uri}
			copy_headers {copy}
		}}
		reverse_proxy {upstream}
	}}
}}
"#,
        outpost = opts.outpost,
        upstream = opts.upstream,
        auth_uri = opts.auth_uri,
        copy = opts.copy_headers.join(" "),
        extra = opts.extra_site,
    )
}
