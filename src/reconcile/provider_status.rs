//! An OIDCProvider's desired status, pure: from its compiled config, what the probe of
//! its IdP found (`operator::probe` gathers it), the claims its routes need, and how long
//! the probes have been failing. The operator observes, calls [`desired`], publishes.

use crate::api::parse_duration;
use crate::api::{OIDCProvider, OIDCProviderStatus, ProviderEndpoints};
use crate::config::{DEFAULT_CLOCK_SKEW_SECONDS, ProviderConfig};
use crate::reconcile::conditions::{
    ConditionExt, ConditionReason, ConditionType, condition, summarise,
};
use crate::reconcile::probe::{Report, hold_last_good, keep_first_wording};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeSet;
use std::time::Duration;

/// Everything a provider's status depends on, as the operator observed it.
pub struct Observed<'a> {
    /// The provider (its published status is the previous one).
    pub provider: &'a OIDCProvider,
    /// Its compiled configuration, or the condition saying why there is none.
    pub compiled: &'a Result<ProviderConfig, Condition>,
    /// What this probe of the IdP found.
    pub report: Report,
    /// The claims the provider's routes rely on.
    pub needed_claims: &'a BTreeSet<String>,
    /// Since when the probes have been failing (`None`: this one succeeded).
    pub failing_since: Option<Timestamp>,
    /// Now.
    pub now: Timestamp,
    /// How long a provider that answered before may fail before status says so.
    pub grace: Duration,
}

/// What to do with a provider's status.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The probe failed, but not for long enough to be believed: keep the last good
    /// status and probe again sooner.
    HoldLastGood,
    /// Publish this status.
    Publish(Box<OIDCProviderStatus>),
}

/// The provider's desired status. A failure that has lasted beyond the grace is named
/// with the fixed instant it began (not an age: the message stays the same while the
/// outage lasts, so it does not rewrite status on every probe), in the wording it was
/// first published with.
pub fn desired(observed: Observed<'_>) -> Verdict {
    let Observed {
        provider,
        compiled,
        mut report,
        needed_claims,
        failing_since,
        now,
        grace,
    } = observed;
    let previous = provider
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let mut note = None;
    if let Some(since) = failing_since {
        if hold_last_good(previous, since, now, grace) {
            return Verdict::HoldLastGood;
        }
        let text = format!(
            " (failing since {})",
            since
                .round(k8s_openapi::jiff::Unit::Second)
                .unwrap_or(since)
        );
        for error in [&mut report.discovery_error, &mut report.jwks_error]
            .into_iter()
            .flatten()
        {
            error.push_str(&text);
        }
        note = Some(text);
    }
    let mut status = diagnose(provider, compiled, &report, needed_claims);
    if let Some(note) = &note {
        keep_first_wording(previous, &mut status.conditions, note);
    }
    Verdict::Publish(Box::new(status))
}

/// The provider's status from its compiled config and a probe. Fields the probe could
/// not refresh keep their previous values (the last good data survives an outage).
pub(crate) fn diagnose(
    provider: &OIDCProvider,
    compiled: &std::result::Result<ProviderConfig, Condition>,
    report: &Report,
    needed_claims: &BTreeSet<String>,
) -> OIDCProviderStatus {
    let mut status = provider.status.clone().unwrap_or_default();
    let spec = &provider.spec;
    let mut conds: Vec<Condition> = Vec::new();
    let scopes = provider.spec.requested_scopes();
    status.observed_generation = provider.metadata.generation;
    status.scopes = scopes.clone();
    status.client_id = compiled.as_ref().ok().map(|c| c.client_id.clone());

    match (&report.discovery, &report.discovery_error) {
        (Some(d), _) => {
            conds.push(condition(
                ConditionType::Discovered,
                Some(true),
                ConditionReason::Ready,
                "discovery document fetched",
            ));
            status.advertised_issuer = Some(d.issuer.clone());
            status.endpoints = Some(ProviderEndpoints {
                authorization: Some(d.authorization_endpoint.clone()),
                token: d.token_endpoint.clone(),
                userinfo: d.userinfo_endpoint.clone(),
                jwks: Some(d.jwks_uri.clone()),
                end_session: d.end_session_endpoint.clone(),
                registration: d.registration_endpoint.clone(),
            });
            status.signing_algorithms = d.id_token_signing_alg_values_supported.clone();
            status.scopes_supported = d.scopes_supported.clone();
            status.claims_supported = d.claims_supported.clone();
            conds.push(issuer_condition(&spec.issuer_url, &d.issuer));
            let configured: Vec<String> = spec
                .allowed_algorithms
                .iter()
                .flatten()
                .map(|a| a.as_str().to_string())
                .collect();
            match crate::oidc::allowed_algorithms(
                &configured,
                &d.id_token_signing_alg_values_supported,
            ) {
                Ok(algs) => {
                    status.accepted_algorithms = algs.iter().map(|a| format!("{a:?}")).collect()
                }
                Err(e) => conds.push(condition(
                    ConditionType::JwksAvailable,
                    Some(false),
                    ConditionReason::NoAcceptedAlgorithm,
                    e.to_string(),
                )),
            }
            conds.push(support_condition(
                &scopes,
                needed_claims,
                &d.scopes_supported,
                &d.claims_supported,
            ));
        }
        (None, error) => {
            let kept = if status.endpoints.is_some() {
                "; status keeps the data of the last successful fetch"
            } else {
                ""
            };
            let msg = format!("{}{kept}", error.as_deref().unwrap_or("not fetched"));
            conds.push(condition(
                ConditionType::Discovered,
                Some(false),
                ConditionReason::IdpUnreachable,
                msg,
            ));
            conds.push(condition(
                ConditionType::IssuerMatches,
                None,
                ConditionReason::IdpUnreachable,
                "no discovery document to compare",
            ));
        }
    }
    if !conds.iter().any(|c| c.is(ConditionType::JwksAvailable)) {
        conds.push(match (&report.key_ids, &report.jwks_error) {
            (Some(ids), _) if !ids.is_empty() => {
                let previous: Option<&Vec<String>> =
                    (!status.key_ids.is_empty()).then_some(&status.key_ids);
                if previous != Some(ids) || status.jwks_fetched_at.is_none() {
                    // Stamped when the key set changes, not on every probe: a periodic
                    // re-check of an unchanged IdP must not write.
                    status.jwks_fetched_at = report.at.map(|t| t.to_string());
                    status.key_ids = ids.clone();
                }
                condition(
                    ConditionType::JwksAvailable,
                    Some(true),
                    ConditionReason::Ready,
                    format!("{} signing key(s)", ids.len()),
                )
            }
            (Some(_), _) => condition(
                ConditionType::JwksAvailable,
                Some(false),
                ConditionReason::JwksUnavailable,
                "the JWKS holds no usable signing key (RSA, EC P-256/P-384, Ed25519)",
            ),
            (None, Some(e)) => condition(
                ConditionType::JwksAvailable,
                Some(false),
                ConditionReason::JwksUnavailable,
                e.clone(),
            ),
            (None, None) => condition(
                ConditionType::JwksAvailable,
                None,
                ConditionReason::IdpUnreachable,
                "no discovery document, so no jwks_uri",
            ),
        });
    }
    let skew = spec
        .clock_skew
        .as_deref()
        .map(parse_duration)
        .transpose()
        .ok()
        .flatten()
        .unwrap_or(DEFAULT_CLOCK_SKEW_SECONDS);
    conds.push(match (&report.clock, &report.discovery_error) {
        // No answer is not "no Date header": say the clocks went uncompared because
        // the IdP did not answer (the Discovered condition says why).
        (None, Some(_)) => condition(
            ConditionType::ClockInSync,
            None,
            ConditionReason::IdpUnreachable,
            "the IdP did not answer, so clocks were not compared",
        ),
        _ => clock_condition(report.clock, skew),
    });
    let gating: Vec<Condition> = conds
        .iter()
        .filter(|c| !c.is(ConditionType::ScopesAndClaimsSupported))
        .cloned()
        .collect();
    conds.push(match compiled {
        Ok(_) => summarise(&gating, "discovery and keys loaded"),
        Err(c) => c.clone(),
    });
    status.conditions = conds;
    status
}

/// `IssuerMatches`, quoting both values and naming a trailing-slash-only difference.
pub(crate) fn issuer_condition(configured: &str, advertised: &str) -> Condition {
    if configured == advertised {
        return condition(
            ConditionType::IssuerMatches,
            Some(true),
            ConditionReason::Ready,
            format!("the IdP advertises {advertised:?}"),
        );
    }
    let hint = if configured.trim_end_matches('/') == advertised.trim_end_matches('/') {
        " (they differ only by a trailing slash; tokens carry the advertised value, so set spec.issuerURL to it exactly)"
    } else {
        " (tokens carry the advertised value; set spec.issuerURL to it exactly)"
    };
    condition(
        ConditionType::IssuerMatches,
        Some(false),
        ConditionReason::IssuerMismatch,
        format!(
            "spec.issuerURL is {configured:?} but the IdP advertises issuer {advertised:?}{hint}"
        ),
    )
}

/// `ClockInSync` from the IdP's `Date` and our clock.
pub(crate) fn clock_condition(
    clock: Option<(Timestamp, Timestamp)>,
    allowed_seconds: u64,
) -> Condition {
    let Some((idp, ours)) = clock else {
        return condition(
            ConditionType::ClockInSync,
            None,
            ConditionReason::NoDate,
            "the IdP sent no Date header to compare clocks with",
        );
    };
    let diff = idp.as_second() - ours.as_second();
    // The Date header has one-second resolution; a difference of one second is noise.
    if diff.unsigned_abs() <= allowed_seconds.max(1) {
        condition(
            ConditionType::ClockInSync,
            Some(true),
            ConditionReason::Ready,
            // No exact difference here: it jitters by a second between probes, and a
            // changing message would rewrite an otherwise unchanged status.
            format!("the IdP's clock is within the allowed {allowed_seconds}s"),
        )
    } else {
        let dir = if diff > 0 { "ahead of" } else { "behind" };
        condition(
            ConditionType::ClockInSync,
            Some(false),
            ConditionReason::ClockSkew,
            format!(
                "the IdP's clock is {}s {dir} the operator's (allowed spec.clockSkew {allowed_seconds}s); tokens will look expired or not yet valid — fix NTP on one side",
                diff.abs()
            ),
        )
    }
}

/// Which requested scopes and needed claims the IdP does not advertise (an IdP that
/// advertises no list at all is given the benefit of the doubt).
pub(crate) fn support_condition(
    scopes: &[String],
    claims: &BTreeSet<String>,
    scopes_supported: &[String],
    claims_supported: &[String],
) -> Condition {
    let missing_scopes: Vec<&String> = if scopes_supported.is_empty() {
        vec![]
    } else {
        scopes
            .iter()
            .filter(|s| !scopes_supported.contains(s))
            .collect()
    };
    let missing_claims: Vec<&String> = if claims_supported.is_empty() {
        vec![]
    } else {
        claims
            .iter()
            .filter(|c| !claims_supported.contains(c))
            .collect()
    };
    if missing_scopes.is_empty() && missing_claims.is_empty() {
        return condition(
            ConditionType::ScopesAndClaimsSupported,
            Some(true),
            ConditionReason::Ready,
            "requested scopes and needed claims are advertised",
        );
    }
    let mut parts = Vec::new();
    if !missing_scopes.is_empty() {
        parts.push(format!(
            "scopes not in scopes_supported: {missing_scopes:?} (spec.scopes)"
        ));
    }
    if !missing_claims.is_empty() {
        parts.push(format!("claims routes rely on but not in claims_supported: {missing_claims:?} (spec.claims or the routes' policies)"));
    }
    condition(
        ConditionType::ScopesAndClaimsSupported,
        Some(false),
        ConditionReason::NotAdvertised,
        parts.join("; "),
    )
}

#[cfg(test)]
#[path = "provider_status_tests.rs"]
mod tests;
