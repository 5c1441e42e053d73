//! The pure half of publishing a status, shared by every kind: merge the fresh
//! conditions into the previous ones, decide whether anything changed (no write when
//! nothing did), and whether `Ready` newly turned False (one Warning event, not one per
//! reconcile).

use crate::api::{ForwardAuthRouteStatus, OAuthClientStatus, OIDCProviderStatus};
use crate::reconcile::conditions::{self, ConditionExt, ConditionStatus, ConditionType};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;

/// A status with conditions (every kind's).
pub trait WithConditions {
    /// The conditions.
    fn conditions(&self) -> &[Condition];
    /// The conditions, to replace them with merged ones.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
}

macro_rules! with_conditions {
    ($($status:ty),*) => {$(
        impl WithConditions for $status {
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.conditions
            }
        }
    )*};
}
with_conditions!(
    OIDCProviderStatus,
    OAuthClientStatus,
    ForwardAuthRouteStatus
);

/// What publishing a freshly computed status amounts to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Publication<S> {
    /// The status with merged conditions (what the object holds afterwards).
    pub status: S,
    /// Whether it differs from the published one, so must be written.
    pub write: bool,
    /// `Ready` when it newly turned False or changed its reason while False: the
    /// Warning event to publish.
    pub warn: Option<Condition>,
}

/// Merges `fresh` into `previous` (see [`conditions::merge`]) and decides the write and
/// the event. A status equal to the published one is never written again.
pub(crate) fn publication<S>(
    previous: Option<&S>,
    mut fresh: S,
    generation: Option<i64>,
    now: Timestamp,
) -> Publication<S>
where
    S: WithConditions + PartialEq,
{
    let before: &[Condition] = previous.map(|p| p.conditions()).unwrap_or_default();
    let merged = conditions::merge(
        before,
        std::mem::take(fresh.conditions_mut()),
        generation,
        now,
    );
    *fresh.conditions_mut() = merged;
    let write = previous != Some(&fresh);
    let warn = conditions::find(fresh.conditions(), ConditionType::Ready)
        .filter(|ready| ready.has_status(ConditionStatus::False))
        .filter(|ready| {
            !conditions::find(before, ConditionType::Ready)
                .is_some_and(|p| p.has_status(ConditionStatus::False) && p.reason == ready.reason)
        })
        .filter(|_| write)
        .cloned();
    Publication {
        status: fresh,
        write,
        warn,
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
