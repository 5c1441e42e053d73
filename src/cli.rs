//! Command-line interface: one binary, one subcommand per role. Each subcommand's
//! arguments live beside the code that runs it, so nothing imports this module back.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Forward-auth for Kubernetes: OpenID Connect login in front of any app, from Git.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version = crate::process::VERSION, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CustomResourceDefinitions as YAML (or write one file each).
    Crd(crate::crdgen::CrdArgs),
    /// Show, without a cluster, what the operator would create from manifests on disk.
    Render(crate::render::RenderArgs),
    /// Run the forward-auth outpost (nginx/Traefik/Caddy/Envoy auth endpoint and login).
    Outpost(crate::outpost::OutpostArgs),
    /// Run the operator: reconcile the three kinds and write the outpost configuration.
    Operator(crate::operator::OperatorArgs),
    /// Explain reason codes (from decision logs, metrics and pages) and what to do.
    Reasons(crate::reasons_cmd::ReasonsArgs),
    /// List or end a user's sessions through an outpost's admin port (Redis sessions).
    Sessions(crate::sessions_cli::SessionsArgs),
}

impl Cli {
    /// Runs the chosen subcommand and returns the process exit code.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Crd(args) => crate::crdgen::run(&args),
            Command::Render(args) => crate::render::run(&args),
            Command::Outpost(args) if args.config_reference => {
                print!("{}", crate::crd_reference::outpost_config_markdown());
                ExitCode::SUCCESS
            }
            Command::Outpost(args) => crate::outpost::server::run(&args),
            Command::Operator(args) => crate::operator::run::main(args),
            Command::Reasons(args) => crate::reasons_cmd::run(&args),
            Command::Sessions(args) => crate::sessions_cli::run(&args),
        }
    }
}
