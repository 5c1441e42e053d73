//! Status conditions: constant types and reasons, and the one way to set them
//! (`lastTransitionTime` moves only when the status flips).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition types.
pub mod types {
    /// Summary: the object works end to end.
    pub const READY: &str = "Ready";
    /// OIDCProvider: the discovery document was fetched.
    pub const DISCOVERED: &str = "Discovered";
    /// OIDCProvider: the JWKS was fetched and holds usable keys.
    pub const JWKS_AVAILABLE: &str = "JWKSAvailable";
    /// OIDCProvider: the advertised issuer equals `spec.issuerURL` byte for byte.
    pub const ISSUER_MATCHES: &str = "IssuerMatches";
    /// OIDCProvider: the IdP's clock is within the allowed skew.
    pub const CLOCK_IN_SYNC: &str = "ClockInSync";
    /// OAuthClient: the client exists at the IdP (or is expected to, for Generated).
    pub const REGISTERED: &str = "Registered";
    /// OAuthClient: the target Secret holds the current credentials.
    pub const SECRET_SYNCED: &str = "SecretSynced";
    /// OAuthClient: the IdP knows every redirect URI the routes need.
    pub const REDIRECT_URIS_IN_SYNC: &str = "RedirectURIsInSync";
    /// OAuthClient: a rotation's grace period is running.
    pub const ROTATING: &str = "Rotating";
    /// ForwardAuthRoute: the spec is valid and its references are allowed.
    pub const ACCEPTED: &str = "Accepted";
    /// ForwardAuthRoute: its provider is Ready.
    pub const PROVIDER_READY: &str = "ProviderReady";
    /// ForwardAuthRoute: the provider's client is Ready.
    pub const CLIENT_READY: &str = "ClientReady";
    /// ForwardAuthRoute: the compiled configuration holds the route.
    pub const PROGRAMMED: &str = "Programmed";
}

/// CamelCase condition reasons.
pub mod reasons {
    /// All is well.
    pub const READY: &str = "Ready";
    /// Not yet observed (offline render, first reconcile).
    pub const PENDING: &str = "Pending";
    /// A referenced object does not exist.
    pub const PROVIDER_NOT_FOUND: &str = "ProviderNotFound";
    /// The referenced OAuthClient does not exist.
    pub const CLIENT_NOT_FOUND: &str = "ClientNotFound";
    /// A referenced Secret or key does not exist.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// A cross-namespace reference the target does not allow.
    pub const REFERENCE_NOT_PERMITTED: &str = "RefNotPermitted";
    /// The spec has a value that cannot be served.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A dependency is not Ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// Two routes claim the same host and path.
    pub const CONFLICT: &str = "Conflict";
    /// The secret was minted by the operator.
    pub const GENERATED: &str = "Generated";
    /// The secret was projected from a user-owned Secret.
    pub const PROJECTED: &str = "Projected";
    /// The secret comes from a registration the operator has yet to perform.
    pub const AWAITING_REGISTRATION: &str = "AwaitingRegistration";
    /// The operator cannot check the IdP's registration for this mode.
    pub const MANUAL: &str = "ManualRegistration";
    /// Nothing to report.
    pub const NOT_ROTATING: &str = "NotRotating";
    /// The object is being deleted, and the finalizer's work (removing the client at
    /// the IdP) keeps failing.
    pub const DELETION_BLOCKED: &str = "DeletionBlocked";
    /// The IdP authenticated the client's credentials.
    pub const VERIFIED_AT_IDP: &str = "VerifiedAtIdP";
    /// The IdP refused the client's credentials (`invalid_client`).
    pub const INVALID_CLIENT: &str = "InvalidClient";

    /// The secret was rotated; the previous one is still published.
    pub const GRACE_PERIOD: &str = "GracePeriod";
    /// The IdP lacks redirect URIs we need.
    pub const MISSING_AT_IDP: &str = "MissingAtIdP";
    /// The IdP holds every redirect URI.
    pub const IN_SYNC: &str = "InSync";
    /// A workload named in restartOnRotation could not be restarted.
    pub const RESTART_FAILED: &str = "RestartFailed";
    /// The secret was rotated.
    pub const ROTATED: &str = "Rotated";
}

/// A condition with `status` True/False/Unknown.
pub fn condition(
    type_: &str,
    status: Option<bool>,
    reason: &str,
    message: impl Into<String>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: match status {
            Some(true) => "True",
            Some(false) => "False",
            None => "Unknown",
        }
        .to_string(),
        reason: reason.to_string(),
        message: message.into(),
        observed_generation: None,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// Merges freshly computed conditions into the previous ones: each keeps its previous
/// `lastTransitionTime` unless its status flipped (then `now`), and carries `generation`.
/// The result is sorted by type, so an unchanged status serialises identically.
pub fn merge(
    previous: &[Condition],
    fresh: Vec<Condition>,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut merged: Vec<Condition> = fresh
        .into_iter()
        .map(|mut c| {
            c.observed_generation = generation;
            c.last_transition_time = match previous.iter().find(|p| p.type_ == c.type_) {
                Some(p) if p.status == c.status => p.last_transition_time.clone(),
                _ => Time(now),
            };
            c
        })
        .collect();
    merged.sort_by(|a, b| a.type_.cmp(&b.type_));
    merged
}

/// `Ready` summarising the others: False with the first failing condition's reason and
/// message, Unknown if any is Unknown, True otherwise.
pub fn summarise(conditions: &[Condition], ready_message: &str) -> Condition {
    if let Some(bad) = conditions.iter().find(|c| c.status == "False") {
        return condition(
            types::READY,
            Some(false),
            &bad.reason,
            format!("{}: {}", bad.type_, bad.message),
        );
    }
    if let Some(unknown) = conditions.iter().find(|c| c.status == "Unknown") {
        return condition(
            types::READY,
            None,
            &unknown.reason,
            format!("{}: {}", unknown.type_, unknown.message),
        );
    }
    condition(types::READY, Some(true), reasons::READY, ready_message)
}

/// The condition of a type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of a type is True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn transition_time_moves_only_on_a_flip() {
        let first = merge(
            &[],
            vec![condition(types::READY, Some(false), "X", "m")],
            Some(1),
            at(100),
        );
        assert_eq!(first[0].last_transition_time.0, at(100));
        assert_eq!(first[0].observed_generation, Some(1));
        let same = merge(
            &first,
            vec![condition(types::READY, Some(false), "Y", "other")],
            Some(2),
            at(200),
        );
        assert_eq!(same[0].last_transition_time.0, at(100));
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = merge(
            &same,
            vec![condition(types::READY, Some(true), "Ready", "")],
            Some(2),
            at(300),
        );
        assert_eq!(flipped[0].last_transition_time.0, at(300));
    }

    #[test]
    fn ready_names_the_first_failing_condition() {
        let ready = summarise(
            &[
                condition(types::ACCEPTED, Some(true), reasons::READY, ""),
                condition(
                    types::PROVIDER_READY,
                    Some(false),
                    reasons::PROVIDER_NOT_FOUND,
                    "OIDCProvider team/idp not found",
                ),
            ],
            "ok",
        );
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason, "ProviderNotFound");
        assert!(ready.message.contains("team/idp"));
    }
}
