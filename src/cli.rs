//! Command-line interface: one binary, one subcommand per role.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Forward-auth for Kubernetes: OpenID Connect login in front of any app, from Git.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CustomResourceDefinitions as YAML (or write one file each).
    Crd(CrdArgs),
    /// Show, without a cluster, what the operator would create from manifests on disk.
    Render(RenderArgs),
    /// Run the forward-auth outpost (nginx/Traefik/Caddy/Envoy auth endpoint and login).
    Outpost(OutpostArgs),
    /// Run the operator: reconcile the three kinds and write the outpost configuration.
    Operator(crate::operator::OperatorArgs),
}

/// Arguments of `portcullis crd`.
#[derive(Debug, clap::Args)]
pub struct CrdArgs {
    /// Write `<name>.yaml` per CRD into this directory instead of printing.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
}

/// Arguments of `portcullis render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Manifest files or directories (multi-document YAML; `.yaml`/`.yml`/`.json`).
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Print generated secret values instead of `<redacted>`.
    #[arg(long)]
    pub show_secrets: bool,
    /// Also fail (exit 3) when an object would not become Ready: a missing Secret,
    /// provider or client, a refused reference. For CI pipelines.
    #[arg(long)]
    pub strict: bool,
    /// Namespace of objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Namespace the operator writes the compiled outpost configuration to.
    #[arg(
        long,
        default_value = "portcullis-system",
        env = "PORTCULLIS_OPERATOR_NAMESPACE"
    )]
    pub operator_namespace: String,
}

/// Arguments of `portcullis outpost`.
#[derive(Debug, clap::Args)]
pub struct OutpostArgs {
    /// The compiled outpost configuration (YAML); reloaded when it changes.
    #[arg(
        long,
        env = "PORTCULLIS_CONFIG",
        required_unless_present = "cluster_namespace",
        conflicts_with = "cluster_namespace"
    )]
    pub config: Option<PathBuf>,
    /// Read the configuration the operator compiles into ConfigMaps in this namespace
    /// (cluster mode; the Kubernetes client uses the in-cluster config or KUBECONFIG).
    #[arg(long, env = "PORTCULLIS_CLUSTER_NAMESPACE")]
    pub cluster_namespace: Option<String>,
    /// Address of the public port (auth endpoints and login flow).
    #[arg(long, env = "PORTCULLIS_LISTEN", default_value = "0.0.0.0:4180")]
    pub listen: SocketAddr,
    /// Address of the admin port (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "PORTCULLIS_ADMIN_LISTEN", default_value = "0.0.0.0:9090")]
    pub admin_listen: SocketAddr,
    /// File holding a cookie secret (at least 16 bytes); repeat for a key ring, newest
    /// first (the first encrypts, all decrypt). Secrets in `PORTCULLIS_COOKIE_SECRETS`
    /// (comma-separated) come after these.
    #[arg(
        long = "cookie-secret-file",
        env = "PORTCULLIS_COOKIE_SECRET_FILES",
        value_delimiter = ','
    )]
    pub cookie_secret_file: Vec<PathBuf>,
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
    /// Log format: `json` (one object per line) or `text`.
    #[arg(long, env = "PORTCULLIS_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
}

impl Cli {
    /// Runs the chosen subcommand and returns the process exit code.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Crd(args) => crate::crdgen::run(&args),
            Command::Render(args) => crate::render::run(&args),
            Command::Outpost(args) => crate::outpost::server::run(&args),
            Command::Operator(args) => run_operator(args),
        }
    }
}

/// Runs the operator on a multi-threaded runtime with JSON logs (`RUST_LOG` filters).
fn run_operator(args: crate::operator::OperatorArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::operator::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, reason = e.metric_label(), "operator stopped");
            ExitCode::FAILURE
        }
    }
}
