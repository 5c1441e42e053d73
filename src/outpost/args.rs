//! The arguments of `portcullis outpost`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `portcullis outpost`.
#[derive(Debug, clap::Args)]
pub struct OutpostArgs {
    /// The compiled outpost configuration (YAML); reloaded when it changes.
    #[arg(
        long,
        env = "PORTCULLIS_CONFIG",
        required_unless_present_any = ["cluster_namespace", "config_reference"],
        conflicts_with = "cluster_namespace"
    )]
    pub config: Option<PathBuf>,
    /// Print the reference of the `--config` file format (Markdown) and exit.
    #[arg(long, exclusive = true)]
    pub config_reference: bool,
    /// Read the configuration the operator compiles into ConfigMaps in this namespace
    /// (cluster mode; the Kubernetes client uses the in-cluster config or KUBECONFIG).
    #[arg(long, env = "PORTCULLIS_CLUSTER_NAMESPACE")]
    pub cluster_namespace: Option<String>,
    /// Address of the public port (auth endpoints and login flow).
    #[arg(long, env = "PORTCULLIS_LISTEN", default_value = "0.0.0.0:4180")]
    pub listen: SocketAddr,
    /// `--log-format` and `--admin-listen`, shared with the operator.
    #[command(flatten)]
    pub process: crate::process::ProcessArgs,
    /// File holding a cookie secret (at least 16 bytes); repeat for a key ring, newest
    /// first (the first encrypts, all decrypt). Secrets in `PORTCULLIS_COOKIE_SECRETS`
    /// (comma-separated) come after these.
    #[arg(
        long = "cookie-secret-file",
        env = "PORTCULLIS_COOKIE_SECRET_FILES",
        value_delimiter = ','
    )]
    pub cookie_secret_file: Vec<PathBuf>,
    /// Read the cookie secret (key `cookie-secret`, before any `--cookie-secret-file`) and,
    /// unless `--signing-key-file` is given, the signing key (`signing-key.pem`) from this
    /// Secret in `--cluster-namespace` through the API, at every reload: for a sidecar in
    /// another namespace (the ingress controller's pod, an app's pod), which cannot mount
    /// a Secret of the outposts' namespace.
    #[arg(long, env = "PORTCULLIS_KEYS_SECRET", requires = "cluster_namespace")]
    pub keys_secret: Option<String>,
    /// A proxy CIDR whose forwarded headers (`X-Forwarded-*`, `X-Original-URL`) are
    /// believed; repeatable. Nobody is trusted by default.
    #[arg(
        long = "trusted-proxy",
        env = "PORTCULLIS_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<String>,
    /// Development only: accept `http://` external URLs (authURL) on loopback hosts.
    #[arg(long, env = "PORTCULLIS_ALLOW_HTTP_LOOPBACK")]
    pub allow_http_loopback: bool,
    /// PKCS#8 P-256 private key (PEM or DER) signing identity JWTs; generated at start
    /// when absent (give every replica the same file).
    #[arg(long, env = "PORTCULLIS_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// How often the configuration and secret files are checked for changes.
    #[arg(long, env = "PORTCULLIS_RELOAD_INTERVAL", default_value = "2s")]
    pub reload_interval: humantime::Duration,
    /// How often every provider's JWKS is refetched.
    #[arg(long, env = "PORTCULLIS_JWKS_REFRESH_INTERVAL", default_value = "10m")]
    pub jwks_refresh_interval: humantime::Duration,
}

/// The outpost's admin port unless `--admin-listen` says otherwise.
pub const DEFAULT_ADMIN_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 9090);
