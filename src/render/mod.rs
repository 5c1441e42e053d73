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
use crate::reconcile::conditions::{ConditionExt, ConditionStatus, ConditionType, find};
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
    let mut loaded = loaded;
    if args.probe {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(probe_providers(
                &mut loaded.world,
                k8s_openapi::jiff::Timestamp::now,
            )),
            Err(e) => {
                eprintln!("error: --probe: cannot start the async runtime: {e}");
                return ExitCode::from(2);
            }
        }
    }
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

/// Probes every provider's IdP with the operator's probe ([`crate::operator::probe`]),
/// recording each report in the world for [`compile`] to turn into the status the
/// operator would publish. A CA bundle comes from a Secret among the manifests; one that
/// is not there is reported as the operator reports it.
pub async fn probe_providers(
    world: &mut crate::reconcile::World,
    now: fn() -> k8s_openapi::jiff::Timestamp,
) {
    use crate::operator::idp_error::IdpError;
    use crate::reconcile::key::ObjectKey;
    let mut probes = std::collections::BTreeMap::new();
    // The client for IdPs without a bundle, built once (as the operator's context has
    // one); when even that fails, no IdP can be asked and each report says why.
    let shared = crate::oidc::build_client(None);
    for p in &world.providers {
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let http: Result<reqwest::Client, IdpError> = match (&p.spec.ca_bundle_ref, &shared) {
            (None, Ok(client)) => Ok(client.clone()),
            (None, Err(e)) => {
                let report = crate::reconcile::probe::Report {
                    discovery_error: Some(e.to_string()),
                    at: Some(now()),
                    ..Default::default()
                };
                probes.insert(ObjectKey::of(p), report);
                continue;
            }
            (Some(r), _) => {
                let bundle = ObjectKey::new(&ns, &r.name);
                let pem = match r.kind {
                    crate::api::CABundleKind::Secret => world.secret_value(&ns, &r.name, &r.key),
                    crate::api::CABundleKind::ConfigMap => None,
                };
                match pem {
                    // The operator's error, so render says what the operator would.
                    Some(pem) => crate::oidc::build_client(Some(&pem)).map_err(|e| {
                        IdpError::CaBundleUnusable {
                            bundle,
                            source: Box::new(e),
                        }
                    }),
                    None => Err(IdpError::CaBundleMissing {
                        bundle,
                        key: r.key.clone(),
                    }),
                }
            }
        };
        let report = match http {
            Ok(http) => crate::operator::probe::probe(&http, &p.spec.issuer_url, now).await,
            // As the operator says it: the bundle is the user's to fix.
            Err(e) => crate::reconcile::probe::Report {
                discovery_error: Some(format!("spec.caBundleRef: {e}")),
                at: Some(now()),
                ..Default::default()
            },
        };
        probes.insert(ObjectKey::of(p), report);
    }
    world.probes = probes;
}

/// Each object whose Ready would be False, with the reason and message it would show.
/// Unknown is not False: what only the cluster can tell (the IdP's answer to a probe)
/// does not fail a render.
pub(crate) fn not_ready(compiled: &Compiled) -> Vec<String> {
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

#[cfg(test)]
#[path = "probe_tests.rs"]
mod probe_tests;
