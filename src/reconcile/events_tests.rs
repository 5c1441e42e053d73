use super::*;
use strum::IntoEnumIterator;

#[test]
fn wire_names_are_the_ones_events_always_had() {
    assert_eq!(EventReason::Rotated.to_string(), "Rotated");
    assert_eq!(EventReason::RestartFailed.to_string(), "RestartFailed");
    assert_eq!(EventReason::DeletedAtIdp.to_string(), "DeletedAtIdP");
    // A Ready warning carries the condition's own reason, spelt as in the status.
    assert_eq!(
        EventReason::NotReady(ConditionReason::IssuerMismatch).to_string(),
        "IssuerMismatch"
    );
    assert_eq!(
        <&str>::from(EventReason::NotReady(ConditionReason::JwksUnavailable)),
        "JWKSUnavailable"
    );
}

#[test]
fn only_a_rotation_is_normal() {
    let normal: Vec<EventKind> = EventKind::iter()
        .filter(|k| k.event_type() == EventType::Normal)
        .collect();
    assert_eq!(normal, [EventKind::Rotated]);
    assert_eq!(
        EventReason::NotReady(ConditionReason::Ready).event_type(),
        EventType::Warning
    );
    assert_eq!(EventReason::DeletedAtIdp.event_type(), EventType::Warning);
}

#[test]
fn the_reference_has_a_row_per_kind_with_its_type() {
    let page = markdown();
    for kind in EventKind::iter() {
        let row = page
            .lines()
            .find(|l| l.contains(kind.explain()))
            .unwrap_or_else(|| panic!("no row for {kind:?}"));
        let type_ = if kind.event_type() == EventType::Normal {
            "| Normal |"
        } else {
            "| Warning |"
        };
        assert!(row.contains(type_), "{row}");
    }
    assert!(page.contains("| `DeletedAtIdP` | Warning |"), "{page}");
}

#[test]
fn a_ready_warning_keeps_the_conditions_reason_and_a_foreign_one_reads_as_a_dependency() {
    use crate::reconcile::conditions::{ConditionType, condition};
    let ready = condition(
        ConditionType::Ready,
        Some(false),
        ConditionReason::ClockSkew,
        "IdP clock is 90s ahead",
    );
    assert_eq!(
        EventReason::not_ready(&ready),
        EventReason::NotReady(ConditionReason::ClockSkew)
    );
    let mut foreign = ready.clone();
    foreign.reason = "SomethingElse".into();
    assert_eq!(
        EventReason::not_ready(&foreign),
        EventReason::NotReady(ConditionReason::DependencyNotReady)
    );
}
