//! The `portcullis` binary: operator, outpost and offline tools in one.
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    portcullis::cli::Cli::parse().run()
}
