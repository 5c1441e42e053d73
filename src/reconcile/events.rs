//! The events the operator publishes: their reasons as an enum whose strum names are
//! the wire strings, each with its fixed event type and a sentence for the reference
//! (`docs/reference/crds.md`, section Events). An event that repeats a condition's
//! verdict carries that condition's [`ConditionReason`] rather than a second list.

use super::conditions::ConditionReason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::events::EventType;

/// Why the operator published an event; the strum name is the event's `reason`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumDiscriminants,
)]
#[strum_discriminants(name(EventKind), derive(strum::EnumIter, strum::IntoStaticStr))]
pub(crate) enum EventReason {
    /// An object's `Ready` turned False, or changed its reason while False: the event
    /// repeats the failing condition's reason and message.
    #[strum(transparent)]
    NotReady(ConditionReason),
    /// An OAuthClient's secret was rotated.
    Rotated,
    /// A workload named in an OAuthClient's `spec.restartOnRotation` could not be
    /// restarted after a rotation.
    RestartFailed,
    /// The IdP no longer knows a Dynamic OAuthClient (its RFC 7592 configuration
    /// endpoint answered 401 or 404); the operator registers it again.
    #[strum(serialize = "DeletedAtIdP")]
    DeletedAtIdp,
}

impl EventReason {
    /// The Warning for a `Ready` condition that turned False. Its reason is one the
    /// operator wrote, possibly relayed from another object's status (a route's
    /// `ProviderReady`); a reason this operator does not write (an older version's, or
    /// a hand-edited status) reads as `DependencyNotReady`, which is what a relayed
    /// verdict is.
    pub(crate) fn not_ready(ready: &Condition) -> Self {
        Self::NotReady(
            ready
                .reason
                .parse()
                .unwrap_or(ConditionReason::DependencyNotReady),
        )
    }

    /// The event type, fixed by the reason.
    pub(crate) fn event_type(self) -> EventType {
        EventKind::from(self).event_type()
    }
}

impl EventKind {
    /// The event type every event of this kind has.
    pub(crate) fn event_type(self) -> EventType {
        match self {
            Self::Rotated => EventType::Normal,
            Self::NotReady | Self::RestartFailed | Self::DeletedAtIdp => EventType::Warning,
        }
    }

    /// The `reason` as `kubectl get events` shows it.
    pub(crate) fn wire(self) -> &'static str {
        match self {
            Self::NotReady => "the failing condition's reason",
            Self::Rotated => EventReason::Rotated.into(),
            Self::RestartFailed => EventReason::RestartFailed.into(),
            Self::DeletedAtIdp => EventReason::DeletedAtIdp.into(),
        }
    }

    /// When the operator publishes it, and what its note says (the reference's text).
    pub(crate) fn explain(self) -> &'static str {
        match self {
            Self::NotReady => {
                "An object's `Ready` condition turned False, or changed its reason while \
                 False (once per change, not once per reconcile). The reason and the note \
                 are those of the failing condition, e.g. `IssuerMismatch`."
            }
            Self::Rotated => {
                "An OAuthClient's secret was rotated; the note says why and gives the new \
                 secret's fingerprint. The workloads in `spec.restartOnRotation` are \
                 restarted next."
            }
            Self::RestartFailed => {
                "A workload in an OAuthClient's `spec.restartOnRotation` could not be \
                 restarted after a rotation; the note names it and the API error. Restart \
                 it by hand (`kubectl rollout restart`) and check the operator's RBAC."
            }
            Self::DeletedAtIdp => {
                "The IdP no longer knows a Dynamic OAuthClient (its RFC 7592 \
                 configuration endpoint answered 401 or 404); the operator registers the \
                 client again, so its client id and secret change."
            }
        }
    }
}

/// The Events section of the resource reference.
pub(crate) fn markdown() -> String {
    use strum::IntoEnumIterator;
    let mut out = String::from(
        "## Events\n\nThe events the operator publishes about the objects above (`kubectl \
         describe` shows them, and `kubectl get events`). The status conditions are the \
         record; an event marks a change.\n\n| reason | type | when |\n|---|---|---|\n",
    );
    for kind in EventKind::iter() {
        let type_ = match kind.event_type() {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        };
        out.push_str(&format!(
            "| {} | {type_} | {} |\n",
            match kind {
                EventKind::NotReady => kind.wire().to_string(),
                _ => format!("`{}`", kind.wire()),
            },
            kind.explain()
        ));
    }
    out
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
