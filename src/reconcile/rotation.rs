//! Secret rotation with an overlap, as a pure plan: when to rotate, what the state
//! Secret holds afterwards, whether the previous secret is still published.

use crate::api::parse_duration;
use crate::api::{OAuthClient, RotationSpec};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::time::Duration;

/// Annotation that triggers a rotation when its value changes.
pub const ROTATE_ANNOTATION: &str = "portcullis.dev/rotate";
/// State key: the secret that was current before the last rotation.
pub(crate) const PREVIOUS_KEY: &str = "client-secret-previous";
/// State key: when the previous secret stops being published (RFC 3339).
pub(crate) const PREVIOUS_UNTIL_KEY: &str = "previous-valid-until";
/// State key: when the secret last changed (RFC 3339).
pub(crate) const ROTATED_AT_KEY: &str = "rotated-at";
/// State key: the value of the rotate annotation that was last acted upon.
pub(crate) const TRIGGER_KEY: &str = "rotate-trigger";
/// Key added to the application's Secret during the grace period.
pub(crate) const TARGET_PREVIOUS_KEY: &str = "client-secret-previous";
/// Default grace period.
pub(crate) const DEFAULT_GRACE_SECONDS: u64 = 3600;

/// What the reconcile does about rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Mint a new current secret now.
    pub rotate: bool,
    /// Extra keys of the state Secret after this reconcile (besides the current secret).
    pub state: BTreeMap<String, String>,
    /// The previous secret to publish next to the current one (grace period running).
    pub previous: Option<String>,
    /// When to look again (next rotation or end of grace), if ever.
    pub requeue_after: Option<Duration>,
    /// Why a rotation happens (for the event), when it does.
    pub why: Option<&'static str>,
}

fn ts(s: Option<&String>) -> Option<Timestamp> {
    s.and_then(|v| v.parse().ok())
}

/// The rotation period of `spec.rotation` in seconds, when one is set (and positive).
fn period_of(client: &OAuthClient) -> Option<u64> {
    client
        .spec
        .rotation
        .as_ref()
        .and_then(|s| parse_duration(&s.period).ok())
        .filter(|p| *p > 0)
}

/// When the period next calls for a rotation: the last rotation the state Secret
/// records (`state`, all keys) plus `spec.rotation.period`. `None`: no period, or no
/// rotation recorded yet.
pub(crate) fn next_due(
    client: &OAuthClient,
    state: &BTreeMap<String, String>,
) -> Option<Timestamp> {
    let (period, at) = (period_of(client)?, ts(state.get(ROTATED_AT_KEY))?);
    Timestamp::from_second(at.as_second().saturating_add(period as i64)).ok()
}

/// What a plan means for people, without the secret values: what `render` shows of the
/// rotation the operator would carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outlook {
    /// Why a new secret is minted now (`None`: it is not).
    pub rotating_because: Option<&'static str>,
    /// When the period calls for the next rotation, after this reconcile.
    pub next_due: Option<Timestamp>,
    /// Until when the previous secret stays published, while it does.
    pub previous_until: Option<Timestamp>,
}

impl Plan {
    /// The plan as people read it. `rotated`: whether the reconcile carries the rotation
    /// out (see `client_plan::ClientPlan::rotated`).
    pub(crate) fn outlook(&self, client: &OAuthClient, rotated: bool) -> Outlook {
        Outlook {
            rotating_because: self.why.filter(|_| rotated),
            next_due: next_due(client, &self.state),
            previous_until: ts(self.state.get(PREVIOUS_UNTIL_KEY)),
        }
    }
}

/// Plans rotation for a client whose state Secret currently holds `state` (all keys) and
/// whose current secret is `current` (None: nothing minted yet, so nothing to rotate).
pub(crate) fn plan(
    client: &OAuthClient,
    state: &BTreeMap<String, String>,
    current: Option<&str>,
    now: Timestamp,
) -> Plan {
    let spec: Option<&RotationSpec> = client.spec.rotation.as_ref();
    let trigger = client
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ROTATE_ANNOTATION))
        .cloned();
    let mut out = Plan {
        rotate: false,
        state: BTreeMap::new(),
        previous: None,
        requeue_after: None,
        why: None,
    };
    let rotated_at = ts(state.get(ROTATED_AT_KEY));
    let seen_trigger = state.get(TRIGGER_KEY).cloned();
    let grace = spec
        .and_then(|s| s.grace.as_deref())
        .and_then(|g| parse_duration(g).ok())
        .unwrap_or(DEFAULT_GRACE_SECONDS);

    if current.is_some() {
        let manual = trigger.is_some() && trigger != seen_trigger;
        let due = next_due(client, state).is_some_and(|due| now >= due);
        if manual || due {
            out.rotate = true;
            out.why = Some(if manual {
                "the portcullis.dev/rotate annotation changed"
            } else {
                "spec.rotation.period elapsed"
            });
        }
    }

    let (rotated_at, previous, until) = if out.rotate {
        let until =
            Timestamp::from_second(now.as_second().saturating_add(grace as i64)).unwrap_or(now);
        (Some(now), current.map(str::to_string), Some(until))
    } else {
        (
            rotated_at.or(current.map(|_| now)),
            state.get(PREVIOUS_KEY).cloned(),
            ts(state.get(PREVIOUS_UNTIL_KEY)),
        )
    };
    if let Some(at) = rotated_at {
        out.state.insert(ROTATED_AT_KEY.into(), at.to_string());
    }
    if let Some(t) = trigger.or(seen_trigger) {
        out.state.insert(TRIGGER_KEY.into(), t);
    }
    if let (Some(prev), Some(until)) = (previous, until)
        && now < until
    {
        out.state.insert(PREVIOUS_KEY.into(), prev.clone());
        out.state
            .insert(PREVIOUS_UNTIL_KEY.into(), until.to_string());
        out.previous = Some(prev);
        out.requeue_after = Some(Duration::from_secs(
            (until.as_second() - now.as_second()).max(1) as u64,
        ));
    }
    if let Some(due) = next_due(client, &out.state) {
        let next = (due.as_second() - now.as_second()).max(1) as u64;
        out.requeue_after = Some(out.requeue_after.map_or(Duration::from_secs(next), |d| {
            d.min(Duration::from_secs(next))
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{OAuthClientSpec, RotationSpec};

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn client(period: Option<&str>, trigger: Option<&str>) -> OAuthClient {
        let mut c = OAuthClient::new(
            "c",
            OAuthClientSpec {
                rotation: period.map(|p| RotationSpec {
                    period: p.into(),
                    grace: Some("1h".into()),
                }),
                ..Default::default()
            },
        );
        if let Some(t) = trigger {
            c.metadata.annotations = Some([(ROTATE_ANNOTATION.to_string(), t.to_string())].into());
        }
        c
    }

    #[test]
    fn first_mint_stamps_without_rotating_and_nothing_without_a_secret() {
        let p = plan(
            &client(Some("24h"), None),
            &BTreeMap::new(),
            Some("s1"),
            at(1000),
        );
        assert!(!p.rotate);
        assert_eq!(p.state.get(ROTATED_AT_KEY), Some(&at(1000).to_string()));
        assert_eq!(p.requeue_after, Some(Duration::from_secs(86400)));
        let none = plan(
            &client(Some("24h"), Some("x")),
            &BTreeMap::new(),
            None,
            at(1000),
        );
        assert!(!none.rotate);
    }

    #[test]
    fn period_rotates_and_keeps_previous_during_grace_only() {
        let c = client(Some("24h"), None);
        let state = BTreeMap::from([(ROTATED_AT_KEY.to_string(), at(0).to_string())]);
        assert!(!plan(&c, &state, Some("old"), at(86399)).rotate);
        let p = plan(&c, &state, Some("old"), at(86400));
        assert!(p.rotate);
        assert_eq!(p.previous.as_deref(), Some("old"));
        assert_eq!(p.requeue_after, Some(Duration::from_secs(3600)));
        // Half an hour later: still published; after grace: gone.
        let mut later = p.state.clone();
        later.insert("client-secret".into(), "new".into());
        let mid = plan(&c, &later, Some("new"), at(86400 + 1800));
        assert!(!mid.rotate);
        assert_eq!(mid.previous.as_deref(), Some("old"));
        let after = plan(&c, &later, Some("new"), at(86400 + 3600));
        assert_eq!(after.previous, None);
        assert!(!after.state.contains_key(PREVIOUS_KEY));
    }

    #[test]
    fn outlook_says_when_the_next_rotation_is_due_and_how_long_the_previous_is_kept() {
        let c = client(Some("24h"), None);
        let state = BTreeMap::from([(ROTATED_AT_KEY.to_string(), at(0).to_string())]);
        let waiting = plan(&c, &state, Some("old"), at(100));
        assert_eq!(
            waiting.outlook(&c, false),
            Outlook {
                rotating_because: None,
                next_due: Some(at(86400)),
                previous_until: None,
            }
        );
        let due = plan(&c, &state, Some("old"), at(90000));
        assert_eq!(
            due.outlook(&c, true),
            Outlook {
                rotating_because: Some("spec.rotation.period elapsed"),
                next_due: Some(at(90000 + 86400)),
                previous_until: Some(at(90000 + 3600)),
            }
        );
        // A rotation the reconcile does not carry out (nothing written) is not announced.
        assert_eq!(due.outlook(&c, false).rotating_because, None);
        // Without a period nothing is ever due.
        let manual = client(None, None);
        assert_eq!(
            plan(&manual, &state, Some("old"), at(90000)).outlook(&manual, false),
            Outlook {
                rotating_because: None,
                next_due: None,
                previous_until: None,
            }
        );
    }

    #[test]
    fn annotation_rotates_once_per_new_value() {
        let c = client(None, Some("2026-01-01"));
        let p = plan(&c, &BTreeMap::new(), Some("s"), at(10));
        assert!(p.rotate);
        assert_eq!(
            p.state.get(TRIGGER_KEY).map(String::as_str),
            Some("2026-01-01")
        );
        assert!(!plan(&c, &p.state, Some("s2"), at(20)).rotate);
    }
}
