use super::*;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

#[test]
fn transition_time_moves_only_on_a_flip() {
    let first = merge(
        &[],
        vec![condition(
            ConditionType::Ready,
            Some(false),
            ConditionReason::Pending,
            "m",
        )],
        Some(1),
        at(100),
    );
    assert_eq!(first[0].last_transition_time.0, at(100));
    assert_eq!(first[0].observed_generation, Some(1));
    let same = merge(
        &first,
        vec![condition(
            ConditionType::Ready,
            Some(false),
            ConditionReason::InvalidSpec,
            "other",
        )],
        Some(2),
        at(200),
    );
    assert_eq!(same[0].last_transition_time.0, at(100));
    assert_eq!(same[0].observed_generation, Some(2));
    let flipped = merge(
        &same,
        vec![condition(
            ConditionType::Ready,
            Some(true),
            ConditionReason::Ready,
            "",
        )],
        Some(2),
        at(300),
    );
    assert_eq!(flipped[0].last_transition_time.0, at(300));
}

#[test]
fn ready_names_the_first_failing_condition() {
    let ready = summarise(
        &[
            condition(
                ConditionType::Accepted,
                Some(true),
                ConditionReason::Ready,
                "",
            ),
            condition(
                ConditionType::ProviderReady,
                Some(false),
                ConditionReason::ProviderNotFound,
                "OIDCProvider team/idp not found",
            ),
        ],
        "ok",
    );
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "ProviderNotFound");
    assert!(ready.message.contains("team/idp"));
}

/// The wire names, written out: status JSON, `kubectl` columns, events and users'
/// alerts match on them, so a renamed variant must not rename the wire string.
#[test]
fn wire_names_are_the_published_ones() {
    use strum::IntoEnumIterator;
    let types: Vec<String> = ConditionType::iter().map(|t| t.to_string()).collect();
    assert_eq!(
        types,
        [
            "Ready",
            "Discovered",
            "JWKSAvailable",
            "IssuerMatches",
            "ClockInSync",
            "ScopesAndClaimsSupported",
            "Registered",
            "SecretSynced",
            "RedirectURIsInSync",
            "Rotating",
            "Accepted",
            "ProviderReady",
            "ClientReady",
            "Programmed",
        ]
    );
    let reasons: Vec<String> = ConditionReason::iter().map(|r| r.to_string()).collect();
    assert_eq!(
        reasons,
        [
            "Ready",
            "Pending",
            "ProviderNotFound",
            "ClientNotFound",
            "SecretNotFound",
            "RefNotPermitted",
            "InvalidSpec",
            "DependencyNotReady",
            "Conflict",
            "Generated",
            "Projected",
            "AwaitingRegistration",
            "ManualRegistration",
            "NotRotating",
            "DeletionBlocked",
            "VerifiedAtIdP",
            "InvalidClient",
            "GracePeriod",
            "MissingAtIdP",
            "InSync",
            "NoRegistrationEndpoint",
            "IdPUnreachable",
            "IssuerMismatch",
            "JWKSUnavailable",
            "ClockSkew",
            "NoDateHeader",
            "NotAdvertised",
            "NoAcceptedAlgorithm",
        ]
    );
    let statuses: Vec<String> = ConditionStatus::iter().map(|s| s.to_string()).collect();
    assert_eq!(statuses, ["True", "False", "Unknown"]);
    // Each name parses back to its variant (the typed questions rely on it).
    for t in ConditionType::iter() {
        assert_eq!(t.to_string().parse::<ConditionType>().unwrap(), t);
    }
}

#[test]
fn typed_questions_read_the_wire_strings() {
    let c = condition(
        ConditionType::JwksAvailable,
        Some(false),
        ConditionReason::JwksUnavailable,
        "no keys",
    );
    assert_eq!(
        (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
        ("JWKSAvailable", "False", "JWKSUnavailable")
    );
    assert!(c.is(ConditionType::JwksAvailable) && !c.is(ConditionType::Ready));
    assert!(c.has_status(ConditionStatus::False) && !c.has_status(ConditionStatus::True));
    assert!(c.has_reason(ConditionReason::JwksUnavailable));
    // A status no operator writes ("true", lower case) is not True.
    let odd = Condition {
        status: "true".into(),
        ..c.clone()
    };
    assert_eq!(ConditionStatus::of(&odd), ConditionStatus::Unknown);
    assert!(!is_true(&[odd], ConditionType::JwksAvailable));
}

#[test]
fn ready_relays_an_unknown_condition_and_keeps_its_reason() {
    let ready = summarise(
        &[
            condition(
                ConditionType::Accepted,
                Some(true),
                ConditionReason::Ready,
                "",
            ),
            condition(
                ConditionType::Discovered,
                None,
                ConditionReason::Pending,
                "not yet",
            ),
        ],
        "ok",
    );
    assert_eq!(
        (
            ready.status.as_str(),
            ready.reason.as_str(),
            ready.message.as_str()
        ),
        ("Unknown", "Pending", "Discovered: not yet")
    );
    let ok = summarise(
        &[condition(
            ConditionType::Accepted,
            Some(true),
            ConditionReason::Ready,
            "",
        )],
        "all good",
    );
    assert_eq!(
        (ok.status.as_str(), ok.message.as_str()),
        ("True", "all good")
    );
}
