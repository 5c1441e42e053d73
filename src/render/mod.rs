//! `portcullis render`: what the operator would create from manifests on disk, and the
//! status it would give each resource, without a cluster.

mod args;
pub mod load;
mod output;

pub use args::RenderArgs;
pub use load::{LoadError, Loaded, load};
pub use output::render;

use std::process::ExitCode;

/// Runs `portcullis render`.
pub fn run(args: &RenderArgs) -> ExitCode {
    match load(&args.paths, &args.namespace) {
        Ok(loaded) => {
            let mut mint = crate::reconcile::mint_secret;
            print!(
                "{}",
                render(
                    &loaded,
                    &args.operator_namespace,
                    args.show_secrets,
                    k8s_openapi::jiff::Timestamp::now(),
                    &mut mint
                )
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
