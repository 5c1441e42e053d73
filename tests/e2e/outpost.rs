//! The real `portcullis outpost` binary, started from a compiled configuration file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::process::{ManagedChild, free_port};
use super::{Result, scratch_dir};

/// The cookie secret every test outpost uses (tests check it never reaches a log).
pub const COOKIE_SECRET: &str = "an-e2e-cookie-secret-of-enough-length";

/// A route the outpost serves: the front proxy's URL and who may pass.
#[derive(Debug, Clone)]
pub struct OutpostRoute {
    /// Route id (`namespace/name`).
    pub id: String,
    /// The external URL browsers use (the front proxy), e.g. `http://127.0.0.1:8080`.
    pub auth_url: String,
    /// Groups allowed (empty: everyone who logs in).
    pub groups: Vec<String>,
    /// Public path prefixes.
    pub public_paths: Vec<String>,
    /// Accept bearer tokens.
    pub bearer: bool,
    /// Further `host:port` names the route serves besides the auth URL's (an app the
    /// browser reaches under another name, where a host-only session cookie is not sent).
    pub also_hosts: Vec<String>,
}

/// How to start the outpost.
#[derive(Debug, Clone)]
pub struct OutpostOptions {
    /// The IdP's issuer, exactly as advertised.
    pub issuer: String,
    /// Client id and secret at the IdP.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Routes.
    pub routes: Vec<OutpostRoute>,
}

impl OutpostOptions {
    /// The one route most end-to-end stacks serve: `apps/dashboard` at `front` (the
    /// nginx in front of the app) for the `admins` group, no public paths, no bearer
    /// tokens.
    pub fn dashboard(issuer: &str, client_id: &str, client_secret: &str, front: &str) -> Self {
        Self {
            issuer: issuer.to_string(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            routes: vec![OutpostRoute {
                id: "apps/dashboard".into(),
                auth_url: front.to_string(),
                groups: vec!["admins".into()],
                public_paths: vec![],
                bearer: false,
                also_hosts: vec![],
            }],
        }
    }
}

/// A running outpost; killed on drop.
#[derive(Debug)]
pub struct Outpost {
    addr: SocketAddr,
    admin: SocketAddr,
    config_path: PathBuf,
    child: ManagedChild,
    _dir: tempfile::TempDir,
}

/// The compiled configuration YAML for the options.
pub fn config_yaml(opts: &OutpostOptions) -> String {
    let mut routes = String::new();
    for r in &opts.routes {
        let host = url::Url::parse(&r.auth_url).expect("auth url");
        let hostport = format!(
            "{}:{}",
            host.host_str().unwrap_or_default(),
            host.port_or_known_default().unwrap_or(80)
        );
        routes.push_str(&format!(
            "  - id: {id}\n    hosts: [\"{hostport}\"{also}]\n    paths: [/]\n    provider: test/idp\n    authURL: {auth}\n    redirectURI: {auth}/oauth2/callback\n    policy:\n      groups: {groups:?}\n      publicPaths: {public:?}\n      allowAnyAuthenticated: {any}\n    bearer:\n      enabled: {bearer}\n",
            id = r.id,
            also = r
                .also_hosts
                .iter()
                .map(|h| format!(", \"{h}\""))
                .collect::<String>(),
            auth = r.auth_url.trim_end_matches('/'),
            groups = r.groups,
            public = r.public_paths,
            // No group listed: the test means "anyone who signs in", said explicitly.
            any = r.groups.is_empty(),
            bearer = r.bearer,
        ));
    }
    format!(
        "providers:\n  test/idp:\n    issuerURL: \"{issuer}\"\n    clientID: {id}\n    clientSecret: {{ value: {secret} }}\n    scopes: [openid, profile, email, groups]\n    claims: {{ username: [preferred_username, email], email: email, groups: groups, permissions: permissions }}\n    clockSkewSeconds: 30\nroutes:\n{routes}",
        issuer = opts.issuer,
        id = opts.client_id,
        secret = opts.client_secret,
    )
}

/// [`config_yaml`] with every route's sessions in `store` (flow YAML, e.g.
/// `{redis: {urls: ["redis://127.0.0.1:6379"]}}`).
pub fn config_yaml_with_store(opts: &OutpostOptions, store: &str) -> String {
    config_yaml_with_session(
        opts,
        &format!(
            "{{ cookieName: portcullis, lifetimeSeconds: 43200, idleTimeoutSeconds: 0, store: {store} }}"
        ),
    )
}

/// [`config_yaml`] with every route's `session:` set to `session` (flow YAML).
pub fn config_yaml_with_session(opts: &OutpostOptions, session: &str) -> String {
    config_yaml(opts).replace(
        "    bearer:\n",
        &format!("    session: {session}\n    bearer:\n"),
    )
}

/// The `portcullis` binary: Cargo's for integration tests, else the debug build (demo).
impl Outpost {
    /// Starts the binary on a configuration file and waits until `/readyz` says ready
    /// (discovery and keys loaded).
    pub async fn start(opts: &OutpostOptions) -> Result<Outpost> {
        let dir = scratch_dir("outpost")?;
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config_yaml(opts))?;
        let source = ["--config".into(), config_path.display().to_string()];
        Self::spawn(dir, config_path, &source, None).await
    }

    /// Starts the binary on a configuration file with every route's sessions in `store`
    /// (see [`config_yaml_with_store`]).
    pub async fn start_with_store(opts: &OutpostOptions, store: &str) -> Result<Outpost> {
        Self::start_with_yaml(&config_yaml_with_store(opts, store)).await
    }

    /// Starts the binary on this configuration YAML (for settings the options lack).
    pub async fn start_with_yaml(yaml: &str) -> Result<Outpost> {
        let dir = scratch_dir("outpost")?;
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, yaml)?;
        let source = ["--config".into(), config_path.display().to_string()];
        Self::spawn(dir, config_path, &source, None).await
    }

    /// Starts the binary in cluster mode: configuration from the operator's ConfigMaps
    /// in `namespace`, through the API server the kubeconfig names.
    pub async fn start_cluster(kubeconfig: &std::path::Path, namespace: &str) -> Result<Outpost> {
        let dir = scratch_dir("outpost")?;
        let source = ["--cluster-namespace".into(), namespace.to_string()];
        Self::spawn(dir, PathBuf::new(), &source, Some(kubeconfig)).await
    }

    async fn spawn(
        dir: tempfile::TempDir,
        config_path: PathBuf,
        source: &[String],
        kubeconfig: Option<&std::path::Path>,
    ) -> Result<Outpost> {
        let key_path = dir.path().join("cookie-secret");
        std::fs::write(&key_path, format!("{COOKIE_SECRET}\n"))?;
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut cmd = Command::new(super::portcullis_binary());
        cmd.arg("outpost")
            .args(source)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--admin-listen")
            .arg(admin.to_string())
            .arg("--cookie-secret-file")
            .arg(&key_path)
            .arg("--trusted-proxy")
            .arg("127.0.0.1/32")
            .arg("--allow-http-loopback")
            .arg("--reload-interval")
            .arg("500ms")
            .env("RUST_LOG", "info");
        if let Some(k) = kubeconfig {
            cmd.env("KUBECONFIG", k);
        }
        let mut child = ManagedChild::spawn("outpost", cmd, dir.path().join("outpost.log"))?;
        child.wait_for_port(admin, Duration::from_secs(20))?;
        let ready_url = format!("http://{admin}/readyz");
        // Up to 30 s: discovery on a busy 2-core CI machine can take a while.
        for _ in 0..300 {
            child.check_running()?;
            if reqwest::get(&ready_url)
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
            {
                return Ok(Outpost {
                    addr,
                    admin,
                    config_path,
                    child,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(super::HarnessError::Unexpected(format!(
            "outpost never became ready:\n{}",
            child.log()
        )))
    }

    /// `host:port` of the auth listener.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Base URL of the admin listener.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// The admin listener's `/metrics` text.
    pub async fn metrics(&self) -> Result<String> {
        Ok(reqwest::get(format!("{}/metrics", self.admin_url()))
            .await?
            .text()
            .await?)
    }

    /// Replaces the configuration file (the outpost reloads it).
    pub fn write_config(&self, yaml: &str) -> Result<()> {
        Ok(std::fs::write(&self.config_path, yaml)?)
    }

    /// Everything the outpost logged.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// Whether the log shows `needle` within five seconds ([`ManagedChild::logged`]).
    pub async fn logged(&self, needle: &str) -> bool {
        self.child.logged(needle).await
    }
}
