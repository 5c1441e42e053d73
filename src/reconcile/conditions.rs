//! Status conditions: the vocabularies (type, status, reason) as enums whose strum names
//! are the wire strings, and the one way to set a condition (`lastTransitionTime` moves
//! only when the status flips). The wire type stays `k8s_openapi`'s [`Condition`], so
//! status JSON, `kubectl` columns and events read exactly as before; a misspelt type or
//! reason no longer compiles.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// The condition types the operator sets, each with its wire name.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
pub enum ConditionType {
    /// Summary: the object works end to end.
    Ready,
    /// OIDCProvider: the discovery document was fetched.
    Discovered,
    /// OIDCProvider: the JWKS was fetched and holds usable keys.
    #[strum(serialize = "JWKSAvailable")]
    JwksAvailable,
    /// OIDCProvider: the advertised issuer equals `spec.issuerURL` byte for byte.
    IssuerMatches,
    /// OIDCProvider: the IdP's clock is within the allowed skew.
    ClockInSync,
    /// OIDCProvider: the IdP advertises the scopes requested and the claims routes rely
    /// on. Informational (IdPs may omit `claims_supported`), so it does not gate `Ready`.
    ScopesAndClaimsSupported,
    /// OAuthClient: the client exists at the IdP (or is expected to, for Generated).
    Registered,
    /// OAuthClient: the target Secret holds the current credentials.
    SecretSynced,
    /// OAuthClient: the IdP knows every redirect URI the routes need.
    #[strum(serialize = "RedirectURIsInSync")]
    RedirectUrisInSync,
    /// OAuthClient: a rotation's grace period is running.
    Rotating,
    /// ForwardAuthRoute (and OAuthClient's spec check): the spec is valid and its
    /// references are allowed.
    Accepted,
    /// ForwardAuthRoute: its provider is Ready.
    ProviderReady,
    /// ForwardAuthRoute: the provider's client is Ready.
    ClientReady,
    /// ForwardAuthRoute: the compiled configuration holds the route.
    Programmed,
}

/// A condition's status, as Kubernetes spells it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold; the reason and message say why and what to do.
    False,
    /// Not known yet (not observed, or the observation could not be made).
    Unknown,
}

impl From<Option<bool>> for ConditionStatus {
    fn from(known: Option<bool>) -> Self {
        match known {
            Some(true) => Self::True,
            Some(false) => Self::False,
            None => Self::Unknown,
        }
    }
}

impl ConditionStatus {
    /// The status of a wire condition; a status this operator never writes reads as
    /// `Unknown` (the conservative answer for every caller).
    pub(crate) fn of(condition: &Condition) -> Self {
        condition.status.parse().unwrap_or(Self::Unknown)
    }
}

/// The CamelCase reasons the operator writes, each with its wire name. (A condition
/// that relays another object's `Ready`, a route's `ProviderReady`, copies that
/// object's reason as it is: see [`relay`].)
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
pub enum ConditionReason {
    /// All is well.
    Ready,
    /// Not yet observed (offline render, first reconcile).
    Pending,
    /// The referenced OIDCProvider does not exist.
    ProviderNotFound,
    /// The referenced OAuthClient does not exist.
    ClientNotFound,
    /// A referenced Secret or key does not exist.
    SecretNotFound,
    /// A cross-namespace reference the target does not allow.
    #[strum(serialize = "RefNotPermitted")]
    ReferenceNotPermitted,
    /// The spec has a value that cannot be served.
    InvalidSpec,
    /// A dependency is not Ready.
    DependencyNotReady,
    /// Two routes claim the same host and path.
    Conflict,
    /// The secret was minted by the operator.
    Generated,
    /// The secret was projected from a user-owned Secret.
    Projected,
    /// The secret comes from a registration the operator has yet to perform.
    AwaitingRegistration,
    /// The operator cannot check the IdP's registration for this mode.
    #[strum(serialize = "ManualRegistration")]
    Manual,
    /// Nothing to report.
    NotRotating,
    /// The object is being deleted, and the finalizer's work (removing the client at
    /// the IdP) keeps failing.
    DeletionBlocked,
    /// The IdP authenticated the client's credentials.
    #[strum(serialize = "VerifiedAtIdP")]
    VerifiedAtIdp,
    /// The IdP refused the client's credentials (`invalid_client`).
    InvalidClient,
    /// The secret was rotated; the previous one is still published.
    GracePeriod,
    /// The IdP lacks redirect URIs we need.
    #[strum(serialize = "MissingAtIdP")]
    MissingAtIdp,
    /// The IdP holds every redirect URI.
    InSync,
    /// Dynamic mode, but the provider's discovery document has no
    /// `registration_endpoint` (or was not fetched yet).
    NoRegistrationEndpoint,
    /// Discovery could not be fetched.
    #[strum(serialize = "IdPUnreachable")]
    IdpUnreachable,
    /// The advertised issuer differs from `spec.issuerURL`.
    IssuerMismatch,
    /// The JWKS could not be fetched or held no usable key.
    #[strum(serialize = "JWKSUnavailable")]
    JwksUnavailable,
    /// The IdP's clock differs from ours by more than the allowed skew.
    ClockSkew,
    /// The IdP sent no usable `Date` header.
    #[strum(serialize = "NoDateHeader")]
    NoDate,
    /// Scopes or claims are not advertised.
    NotAdvertised,
    /// No accepted signing algorithm.
    NoAcceptedAlgorithm,
}

/// A condition of a type, with a status and one of the operator's reasons.
pub(crate) fn condition(
    type_: ConditionType,
    status: impl Into<ConditionStatus>,
    reason: ConditionReason,
    message: impl Into<String>,
) -> Condition {
    wire(type_, status.into(), reason.into(), message.into())
}

/// A condition that relays another condition's verdict (a route's `ProviderReady`
/// from its provider's `Ready`, an object's `Ready` from its first failing condition):
/// the reason is copied as written there, the status is the one given.
pub fn relay(
    type_: ConditionType,
    status: ConditionStatus,
    from: &Condition,
    message: impl Into<String>,
) -> Condition {
    wire(type_, status, &from.reason, message.into())
}

fn wire(type_: ConditionType, status: ConditionStatus, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: None,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// Typed questions about a wire condition.
pub(crate) trait ConditionExt {
    /// Whether it is the condition of this type.
    fn is(&self, type_: ConditionType) -> bool;
    /// Whether its status is this one.
    fn has_status(&self, status: ConditionStatus) -> bool;
    /// Whether its reason is this one.
    fn has_reason(&self, reason: ConditionReason) -> bool;
}

impl ConditionExt for Condition {
    fn is(&self, type_: ConditionType) -> bool {
        self.type_ == <&str>::from(type_)
    }
    fn has_status(&self, status: ConditionStatus) -> bool {
        ConditionStatus::of(self) == status
    }
    fn has_reason(&self, reason: ConditionReason) -> bool {
        self.reason == <&str>::from(reason)
    }
}

/// Merges freshly computed conditions into the previous ones: each keeps its previous
/// `lastTransitionTime` unless its status flipped (then `now`), and carries `generation`.
/// The result is sorted by type, so an unchanged status serialises identically.
pub(crate) fn merge(
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
pub(crate) fn summarise(conditions: &[Condition], ready_message: &str) -> Condition {
    for status in [ConditionStatus::False, ConditionStatus::Unknown] {
        if let Some(first) = conditions.iter().find(|c| c.has_status(status)) {
            return relay(
                ConditionType::Ready,
                status,
                first,
                format!("{}: {}", first.type_, first.message),
            );
        }
    }
    condition(
        ConditionType::Ready,
        ConditionStatus::True,
        ConditionReason::Ready,
        ready_message,
    )
}

/// The condition of a type, if present.
pub(crate) fn find(conditions: &[Condition], type_: ConditionType) -> Option<&Condition> {
    conditions.iter().find(|c| c.is(type_))
}

/// Whether the condition of a type is True (the tests' shorthand).
#[cfg(test)]
pub(crate) fn is_true(conditions: &[Condition], type_: ConditionType) -> bool {
    find(conditions, type_).is_some_and(|c| c.has_status(ConditionStatus::True))
}

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
