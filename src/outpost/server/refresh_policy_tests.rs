use super::*;
use crate::reason::Reason;

#[test]
fn nothing_is_due_without_an_expiry_or_far_from_it() {
    assert_eq!(due(None, None, true, 60, 1_000), Due::No);
    assert_eq!(due(Some(2_000), Some(1_000), true, 60, 1_000), Due::No);
    assert_eq!(due(Some(2_000), Some(1_000), true, 60, 1_939), Due::No);
}

#[test]
fn the_lead_starts_the_refresh_before_expiry_and_expiry_is_exact() {
    assert_eq!(due(Some(2_000), Some(1_000), true, 60, 1_940), Due::Early);
    assert_eq!(due(Some(2_000), Some(1_000), true, 60, 1_999), Due::Early);
    assert_eq!(due(Some(2_000), Some(1_000), true, 60, 2_000), Due::Expired);
    assert_eq!(
        due(Some(2_000), Some(1_000), true, 60, u64::MAX),
        Due::Expired
    );
}

#[test]
fn without_a_refresh_token_nothing_is_early_but_expiry_still_ends_it() {
    assert_eq!(due(Some(2_000), Some(1_000), false, 60, 1_990), Due::No);
    assert_eq!(
        due(Some(2_000), Some(1_000), false, 60, 2_000),
        Due::Expired
    );
}

#[test]
fn short_lived_tokens_get_at_most_half_their_lifetime_as_lead() {
    // 20 s tokens with a 60 s lead would otherwise refresh on every request.
    assert_eq!(effective_lead(60, Some(1_000), 1_020), 10);
    assert_eq!(due(Some(1_020), Some(1_000), true, 60, 1_005), Due::No);
    assert_eq!(due(Some(1_020), Some(1_000), true, 60, 1_010), Due::Early);
    // Unknown issue time (an older cookie): the configured lead.
    assert_eq!(effective_lead(60, None, 1_020), 60);
    // A nonsensical issue time after expiry is ignored rather than underflowing.
    assert_eq!(effective_lead(60, Some(5_000), 1_020), 60);
    assert_eq!(effective_lead(0, Some(1_000), 1_020), 0);
}

#[test]
fn outage_grace_is_bounded_and_exact() {
    assert_eq!(outage_verdict(2_000, 300, 1_999), OutageVerdict::StillValid);
    assert_eq!(outage_verdict(2_000, 300, 2_000), OutageVerdict::InGrace);
    assert_eq!(outage_verdict(2_000, 300, 2_299), OutageVerdict::InGrace);
    assert_eq!(outage_verdict(2_000, 300, 2_300), OutageVerdict::GraceOver);
    assert_eq!(outage_verdict(2_000, 0, 2_000), OutageVerdict::GraceOver);
    // Saturates rather than wrapping into the past.
    assert_eq!(
        outage_verdict(u64::MAX - 10, u64::MAX, u64::MAX - 5),
        OutageVerdict::InGrace
    );
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let waits: Vec<u64> = (0..8).map(backoff).collect();
    assert_eq!(waits, vec![1, 1, 2, 4, 8, 16, 30, 30]);
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF_SECONDS);
}

fn exchange_failed(status: u16, error: &str) -> OidcError {
    OidcError::TokenExchangeFailed {
        status,
        error: error.into(),
        description: Some("why".into()),
    }
}

#[test]
fn an_answer_is_a_refusal_and_silence_is_an_outage() {
    let refused = RefreshFailure::from_token_error(&OidcError::InvalidGrant {
        description: Some("grant request is invalid".into()),
    });
    assert_eq!(
        refused,
        RefreshFailure::Refused {
            error: "invalid_grant".into(),
            description: Some("grant request is invalid".into())
        }
    );
    assert!(!refused.is_outage());
    let other_answer = RefreshFailure::from_token_error(&exchange_failed(400, "invalid_scope"));
    assert!(
        matches!(other_answer, RefreshFailure::Refused { ref error, .. } if error == "invalid_scope")
    );
    assert!(matches!(
        RefreshFailure::from_token_error(&OidcError::InvalidClient { description: None }),
        RefreshFailure::Refused { ref error, .. } if error == "invalid_client"
    ));

    for status in [500, 502, 503, 504, 429, 408] {
        let f = RefreshFailure::from_token_error(&exchange_failed(status, "server_error"));
        assert!(f.is_outage(), "HTTP {status} is not a decision");
    }
    // A 4xx page with no OAuth error in it (a proxy's error page) decided nothing.
    assert!(RefreshFailure::from_token_error(&exchange_failed(404, NO_OAUTH_ERROR)).is_outage());
    let unreachable = OidcError::IdpUnreachable {
        what: "token endpoint",
        url: "http://idp/token".into(),
        detail: "connection refused".into(),
    };
    assert_eq!(
        RefreshFailure::from_token_error(&unreachable),
        RefreshFailure::Unreachable {
            detail: "connection refused".into()
        }
    );
    let garbage = OidcError::IdpInvalidResponse {
        what: "token endpoint",
        url: "http://idp/token".into(),
        detail: "not a token response".into(),
    };
    assert!(RefreshFailure::from_token_error(&garbage).is_outage());
}

#[test]
fn a_bad_new_id_token_ends_the_session_with_its_own_code() {
    let f = RefreshFailure::from_token_error(&OidcError::BadSignature { kid: None });
    assert_eq!(f, RefreshFailure::Ended(Reason::BadSignature));
    assert!(!f.is_outage());
}
