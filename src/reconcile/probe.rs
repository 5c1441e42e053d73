//! What a probe of an IdP found ([`Report`], filled by `operator::probe`), and the pure
//! rules for a failing IdP: when a failure is held back from status, and how an ongoing
//! failure keeps its first wording.

use crate::oidc::Discovery;
use crate::reconcile::conditions::{self, ConditionExt, ConditionStatus, ConditionType};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;

/// What one probe of an IdP found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// The discovery document, when one was fetched and parsed (issuer not yet checked).
    pub discovery: Option<Discovery>,
    /// Why there is no discovery document (URL and HTTP status or transport error).
    pub discovery_error: Option<String>,
    /// The IdP's clock per its `Date` header, and ours when the answer arrived.
    pub clock: Option<(Timestamp, Timestamp)>,
    /// Key ids of the usable signing keys.
    pub key_ids: Option<Vec<String>>,
    /// Why there are no keys.
    pub jwks_error: Option<String>,
    /// When the probe ran.
    pub at: Option<Timestamp>,
}

/// Parses an HTTP `Date` header (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
pub(crate) fn parse_http_date(value: &str) -> Option<Timestamp> {
    k8s_openapi::jiff::fmt::rfc2822::parse(value)
        .ok()
        .map(|z| z.timestamp())
}

/// Whether a failed probe should be kept from status: the IdP answered before
/// (`Discovered` and `JWKSAvailable` True) and the failures have lasted less than
/// `grace`. A provider never reached is reported at once: there is nothing to keep.
pub(crate) fn hold_last_good(
    previous: &[Condition],
    failing_since: Timestamp,
    now: Timestamp,
    grace: std::time::Duration,
) -> bool {
    let was_good = [ConditionType::Discovered, ConditionType::JwksAvailable]
        .into_iter()
        .all(|t| {
            conditions::find(previous, t).is_some_and(|c| c.has_status(ConditionStatus::True))
        });
    let lasted = now
        .as_millisecond()
        .saturating_sub(failing_since.as_millisecond());
    was_good && u128::try_from(lasted).unwrap_or(0) < grace.as_millis()
}

/// Conditions reporting the same ongoing failure (the same `failing since` note) keep
/// the wording they were first published with: the cause's text varies from attempt to
/// attempt ("connection reset" one time, "connection closed" the next), and each
/// variant would otherwise be a status write for nothing new.
pub(crate) fn keep_first_wording(previous: &[Condition], conditions: &mut [Condition], note: &str) {
    for c in conditions.iter_mut().filter(|c| c.message.contains(note)) {
        if let Some(p) = previous.iter().find(|p| p.type_ == c.type_)
            && p.status == c.status
            && p.reason == c.reason
            && p.message.contains(note)
        {
            c.message = p.message.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::conditions::{ConditionReason, condition};
    use std::time::Duration;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn a_failure_is_held_only_for_a_provider_that_answered_and_only_for_the_grace() {
        let good = [
            condition(
                ConditionType::Discovered,
                Some(true),
                ConditionReason::Ready,
                "",
            ),
            condition(
                ConditionType::JwksAvailable,
                Some(true),
                ConditionReason::Ready,
                "",
            ),
        ];
        let grace = Duration::from_secs(30);
        assert!(hold_last_good(&good, at(100), at(100), grace));
        assert!(hold_last_good(&good, at(100), at(129), grace));
        assert!(!hold_last_good(&good, at(100), at(130), grace));
        // Never reached: nothing to keep, say it at once.
        assert!(!hold_last_good(&[], at(100), at(100), grace));
        let down = [condition(
            ConditionType::Discovered,
            Some(false),
            ConditionReason::IdpUnreachable,
            "",
        )];
        assert!(!hold_last_good(&down, at(100), at(101), grace));
    }

    #[test]
    fn an_ongoing_failure_keeps_its_first_wording() {
        let note = " (failing since 1970-01-01T00:01:40Z)";
        let previous = [condition(
            ConditionType::Discovered,
            Some(false),
            ConditionReason::IdpUnreachable,
            format!("connection reset{note}"),
        )];
        let mut now = [condition(
            ConditionType::Discovered,
            Some(false),
            ConditionReason::IdpUnreachable,
            format!("connection closed{note}"),
        )];
        keep_first_wording(&previous, &mut now, note);
        assert_eq!(now[0].message, previous[0].message);
        // A new outage (another instant) is worded afresh.
        let mut later = [condition(
            ConditionType::Discovered,
            Some(false),
            ConditionReason::IdpUnreachable,
            "refused (failing since 1970-01-01T00:05:00Z)",
        )];
        keep_first_wording(
            &previous,
            &mut later,
            " (failing since 1970-01-01T00:05:00Z)",
        );
        assert!(later[0].message.starts_with("refused"));
    }
}
