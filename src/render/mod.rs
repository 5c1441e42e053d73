//! `portcullis render`: what the operator would create from manifests on disk, and the
//! status it would give each resource, without a cluster.

mod args;
pub mod load;
mod output;
pub mod schema;

pub use args::RenderArgs;
pub use load::{LoadError, Loaded, load};
pub use output::render;

use crate::reconcile::compile::{Compiled, compile};
use crate::reconcile::conditions::find;
use crate::reconcile::conditions::{ConditionExt, ConditionStatus, ConditionType};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use std::process::ExitCode;

/// Runs `portcullis render`.
pub fn run(args: &RenderArgs) -> ExitCode {
    let loaded = match load(&args.paths, &args.namespace) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let compiled = compile(
        &loaded.world,
        &args.operator_namespace,
        k8s_openapi::jiff::Timestamp::now(),
        &mut crate::reconcile::mint_secret,
    );
    print!("{}", render(&loaded, &compiled, args.show_secrets));
    let problems = not_ready(&compiled);
    if args.strict && !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        eprintln!(
            "error: --strict: {} object(s) would not become Ready",
            problems.len()
        );
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
}

/// Each object whose Ready would be False, with the reason and message it would show.
/// Unknown is not False: what only the cluster can tell (the IdP's answer to a probe)
/// does not fail a render.
pub fn not_ready(compiled: &Compiled) -> Vec<String> {
    let statuses = [
        (
            "OIDCProvider",
            status_conditions(&compiled.provider_status, |s| &s.conditions),
        ),
        (
            "OAuthClient",
            status_conditions(&compiled.client_status, |s| &s.conditions),
        ),
        (
            "ForwardAuthRoute",
            status_conditions(&compiled.route_status, |s| &s.conditions),
        ),
    ];
    let mut out = Vec::new();
    for (kind, objects) in statuses {
        for (key, conditions) in objects {
            if let Some(c) = find(conditions, ConditionType::Ready)
                && c.has_status(ConditionStatus::False)
            {
                out.push(format!(
                    "{kind} {key}: Ready=False {}: {}",
                    c.reason, c.message
                ));
            }
        }
    }
    out
}

fn status_conditions<'a, S>(
    statuses: &'a std::collections::BTreeMap<crate::reconcile::key::ObjectKey, S>,
    conditions: impl Fn(&'a S) -> &'a Vec<Condition>,
) -> Vec<(&'a crate::reconcile::key::ObjectKey, &'a [Condition])> {
    statuses
        .iter()
        .map(|(k, s)| (k, conditions(s).as_slice()))
        .collect()
}
