//! Command-line interface: one binary, one subcommand per role.

use clap::{Parser, Subcommand};
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

impl Cli {
    /// Runs the chosen subcommand and returns the process exit code.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Crd(args) => crate::crdgen::run(&args),
            Command::Render(args) => crate::render::run(&args),
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
