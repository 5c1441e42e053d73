use super::*;
use crate::reconcile::conditions::{ConditionReason, ConditionType, condition};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn status(ready: Option<bool>, reason: ConditionReason, message: &str) -> ForwardAuthRouteStatus {
    ForwardAuthRouteStatus {
        conditions: vec![
            condition(
                ConditionType::Accepted,
                Some(true),
                ConditionReason::Ready,
                "ok",
            ),
            condition(ConditionType::Ready, ready, reason, message),
        ],
        ..Default::default()
    }
}

#[test]
fn first_status_is_written_and_its_failure_warned_once() {
    let first = publication(
        None,
        status(Some(false), ConditionReason::ProviderNotFound, "no idp"),
        Some(1),
        at(10),
    );
    assert!(first.write);
    assert_eq!(
        first.warn.as_ref().map(|c| c.reason.as_str()),
        Some("ProviderNotFound")
    );
    // Sorted by type, stamped with the generation and the time of the flip.
    let types: Vec<&str> = first
        .status
        .conditions
        .iter()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, ["Accepted", "Ready"]);
    assert!(
        first
            .status
            .conditions
            .iter()
            .all(|c| c.observed_generation == Some(1))
    );

    // The same verdict later: no write, no second event, the transition time stays.
    let again = publication(
        Some(&first.status),
        status(Some(false), ConditionReason::ProviderNotFound, "no idp"),
        Some(1),
        at(99),
    );
    assert!(
        !again.write,
        "an unchanged status must not be written again"
    );
    assert_eq!(again.warn, None);
    assert_eq!(again.status, first.status);
}

#[test]
fn a_new_failure_reason_warns_and_recovery_writes_without_warning() {
    let failing = publication(
        None,
        status(Some(false), ConditionReason::ProviderNotFound, "no idp"),
        Some(1),
        at(10),
    )
    .status;
    let other = publication(
        Some(&failing),
        status(
            Some(false),
            ConditionReason::DependencyNotReady,
            "idp not ready",
        ),
        Some(1),
        at(20),
    );
    assert!(other.write);
    assert_eq!(
        other.warn.map(|c| c.reason),
        Some("DependencyNotReady".to_string())
    );
    // Same status (False), so the transition time stays that of the first failure.
    let ready = |s: &ForwardAuthRouteStatus| {
        conditions::find(&s.conditions, ConditionType::Ready)
            .unwrap()
            .clone()
    };
    assert_eq!(ready(&other.status).last_transition_time.0, at(10));

    let healed = publication(
        Some(&other.status),
        status(Some(true), ConditionReason::Ready, "ok"),
        Some(2),
        at(30),
    );
    assert!(healed.write);
    assert_eq!(healed.warn, None);
    assert_eq!(ready(&healed.status).last_transition_time.0, at(30));
}

#[test]
fn a_changed_message_alone_is_written_but_not_warned_again() {
    let failing = publication(
        None,
        status(Some(false), ConditionReason::InvalidSpec, "spec.a is bad"),
        Some(1),
        at(10),
    )
    .status;
    let reworded = publication(
        Some(&failing),
        status(Some(false), ConditionReason::InvalidSpec, "spec.b is bad"),
        Some(1),
        at(20),
    );
    assert!(reworded.write);
    assert_eq!(reworded.warn, None);
}
