//! The test OpenID Provider: `tests/idp/idp.mjs` (oidc-provider) as a child process.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::process::ManagedChild;
use super::{HarnessError, Result, repo_root, scratch_dir};

/// A client registered at the IdP at startup.
#[derive(Debug, Clone, Serialize)]
pub struct IdpClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` (`None` for public clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to.
    pub post_logout_redirect_uris: Vec<String>,
    /// `client_secret_basic` (default), `client_secret_post`, `none`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// ID token signing algorithm (default: the IdP's first algorithm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// Grant types (default authorization_code + refresh_token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// Where the IdP posts back-channel logout tokens (enables it for the client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
}

impl IdpClient {
    /// A confidential client with one redirect URI.
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
            post_logout_redirect_uris: Vec::new(),
            token_endpoint_auth_method: None,
            id_token_signed_response_alg: None,
            grant_types: None,
            backchannel_logout_uri: None,
        }
    }
}

/// A user who can log in through the IdP's form.
#[derive(Debug, Clone, Serialize)]
pub struct IdpAccount {
    /// What goes in the form's username field.
    pub username: String,
    /// What goes in the password field.
    pub password: String,
    /// Claims released about the user (`sub` defaults to the username).
    pub claims: Value,
}

impl IdpAccount {
    /// An account with `sub`, `preferred_username`, `email` (verified), `name` and `groups`.
    pub fn new(username: &str, password: &str, email: &str, groups: &[&str]) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
            claims: json!({
                "sub": format!("sub-{username}"),
                "preferred_username": username,
                "email": email,
                "email_verified": true,
                "name": username,
                "groups": groups,
            }),
        }
    }
}

/// How to start the IdP.
#[derive(Debug, Clone)]
pub struct IdpOptions {
    /// Signing algorithms, one fresh key each: RS256, PS256, ES256, EdDSA. Default RS256.
    pub algorithms: Vec<String>,
    /// Issuer template; `{port}` becomes the bound port. Default `http://127.0.0.1:{port}`.
    pub issuer: Option<String>,
    /// With the default issuer, advertise it with a trailing slash.
    pub trailing_slash: bool,
    /// Clients registered at startup.
    pub clients: Vec<IdpClient>,
    /// Accounts that can log in.
    pub accounts: Vec<IdpAccount>,
    /// Token lifetimes in seconds by oidc-provider model name (AccessToken, IdToken,
    /// RefreshToken, AuthorizationCode, Session, Grant, Interaction).
    pub ttl: BTreeMap<String, u64>,
    /// Show a consent page with an "Allow" button instead of granting silently.
    pub consent_form: bool,
    /// Keep scope claims out of the ID token (userinfo only), as strict IdPs do.
    pub minimal_id_token: bool,
    /// Enable dynamic client registration guarded by this initial access token.
    pub registration_initial_access_token: Option<String>,
    /// Shift the IdP's clock by this many seconds.
    pub clock_offset_seconds: i64,
    /// Rotate refresh tokens on every use; a reused one revokes the grant.
    pub rotate_refresh_tokens: bool,
    /// How long to wait for the ready line.
    pub startup_timeout: Duration,
}

impl Default for IdpOptions {
    fn default() -> Self {
        Self {
            algorithms: vec!["RS256".to_owned()],
            issuer: None,
            trailing_slash: false,
            clients: Vec::new(),
            accounts: Vec::new(),
            ttl: BTreeMap::new(),
            consent_form: false,
            minimal_id_token: false,
            registration_initial_access_token: None,
            clock_offset_seconds: 0,
            rotate_refresh_tokens: false,
            startup_timeout: Duration::from_secs(30),
        }
    }
}

/// A running IdP; killed on drop.
#[derive(Debug)]
pub struct Idp {
    issuer: String,
    base_url: String,
    port: u16,
    http: reqwest::Client,
    child: ManagedChild,
    _dir: tempfile::TempDir,
}

impl Idp {
    /// Spawn `node tests/idp/idp.mjs` and wait for its `READY` line.
    pub fn start(opts: IdpOptions) -> Result<Idp> {
        let dir = scratch_dir("idp")?;
        let issuer = opts.issuer.clone().unwrap_or_else(|| {
            let slash = if opts.trailing_slash { "/" } else { "" };
            format!("http://127.0.0.1:{{port}}{slash}")
        });
        let config = json!({
            "host": "127.0.0.1",
            "port": 0,
            "issuer": issuer,
            "algorithms": opts.algorithms,
            "clients": opts.clients,
            "accounts": opts.accounts,
            "ttl": opts.ttl,
            "consent": if opts.consent_form { "form" } else { "auto" },
            "id_token_claims": if opts.minimal_id_token { "minimal" } else { "all" },
            "registration_initial_access_token": opts.registration_initial_access_token,
            "clock_offset_seconds": opts.clock_offset_seconds,
            "rotate_refresh_tokens": opts.rotate_refresh_tokens,
        });
        let mut cmd = Command::new("node");
        cmd.arg(repo_root().join("tests/idp/idp.mjs"))
            .env("IDP_CONFIG", config.to_string())
            .env("DEBUG", "");
        let mut child = ManagedChild::spawn("idp", cmd, dir.path().join("idp.log"))?;
        let ready = wait_for_ready(&mut child, opts.startup_timeout)?;
        let field = |k: &str| ready.get(k).cloned().unwrap_or(Value::Null);
        let (Some(issuer), Some(base_url), Some(port)) = (
            field("issuer").as_str().map(str::to_owned),
            field("base_url").as_str().map(str::to_owned),
            field("port").as_u64(),
        ) else {
            return Err(HarnessError::Unexpected(format!("bad READY line: {ready}")));
        };
        Ok(Idp {
            issuer,
            base_url,
            port: u16::try_from(port).map_err(|e| HarnessError::Unexpected(e.to_string()))?,
            http: reqwest::Client::new(),
            child,
            _dir: dir,
        })
    }

    /// The issuer exactly as configured and advertised.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The discovery URL derived from the issuer (trailing slash removed, then appended).
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// Fetch the discovery document.
    pub async fn discovery(&self) -> Result<Value> {
        self.get_json(&self.discovery_url()).await
    }

    /// Fetch the JWKS from the `jwks_uri` the discovery document advertises.
    pub async fn jwks(&self) -> Result<Value> {
        let disco = self.discovery().await?;
        let uri = disco["jwks_uri"]
            .as_str()
            .ok_or_else(|| HarnessError::Unexpected("no jwks_uri".into()))?
            .to_owned();
        self.get_json(&uri).await
    }

    /// The `kid`s currently published in the JWKS, in order (current keys first).
    pub async fn kids(&self) -> Result<Vec<String>> {
        let jwks = self.jwks().await?;
        Ok(jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect())
    }

    /// Add a fresh key per algorithm and sign with it from now on. With `keep_old` the
    /// previous keys stay published (a graceful rotation); without, they vanish at once.
    /// Returns the new current kids.
    pub async fn rotate_keys(&self, keep_old: bool) -> Result<Vec<String>> {
        let out = self
            .admin("/__test/rotate", json!({ "keep_old": keep_old }))
            .await?;
        Ok(out["current"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect())
    }

    /// Shift the IdP's clock (iat/exp of new tokens) by `seconds`.
    pub async fn set_clock_offset(&self, seconds: i64) -> Result<()> {
        self.admin("/__test/clock", json!({ "offset_seconds": seconds }))
            .await
            .map(drop)
    }

    /// Make an account unable to log in or refresh (`enabled = false`) or able again.
    pub async fn set_account_enabled(&self, username: &str, enabled: bool) -> Result<()> {
        let path = if enabled {
            "/__test/accounts/enable"
        } else {
            "/__test/accounts/disable"
        };
        self.admin(path, json!({ "username": username }))
            .await
            .map(drop)
    }

    /// Simulates an outage: every non-admin request answers `status` (e.g. 503), or
    /// has its connection reset (`status` 0); `None` ends the outage.
    pub async fn set_outage(&self, status: Option<u16>) -> Result<()> {
        let body = match status {
            None => json!({}),
            Some(0) => json!({ "drop": true }),
            Some(s) => json!({ "status": s }),
        };
        self.admin("/__test/outage", body).await.map(drop)
    }

    /// Everything the IdP has logged.
    pub fn log(&self) -> String {
        self.child.log()
    }

    async fn admin(&self, path: &str, body: Value) -> Result<Value> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base_url))
            .json(&body)
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(HarnessError::Unexpected(format!(
                "{path}: {}",
                resp.status()
            )));
        }
        Ok(resp.json().await?)
    }

    async fn get_json(&self, url: &str) -> Result<Value> {
        let resp = self.http.get(url).send().await?.error_for_status()?;
        Ok(resp.json().await?)
    }
}

fn wait_for_ready(child: &mut ManagedChild, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        // Only complete lines: the READY line may be caught half written.
        let log = child.log();
        let ready = log
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .find_map(|l| l.strip_prefix("READY "));
        if let Some(line) = ready {
            return serde_json::from_str(line)
                .map_err(|e| HarnessError::Unexpected(format!("bad READY line: {e}")));
        }
        child.check_running()?;
        if Instant::now() >= deadline {
            return Err(HarnessError::NotReady {
                name: "idp".into(),
                secs: timeout.as_secs(),
                log: child.log(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
