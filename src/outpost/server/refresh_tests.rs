use super::*;

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

fn outage() -> Outcome {
    Err(RefreshFailure::Unreachable {
        detail: "connection refused".into(),
    })
}

fn refused() -> Outcome {
    Err(RefreshFailure::Refused {
        error: "invalid_grant".into(),
        description: None,
    })
}

/// A flight that has already finished with `outcome`.
fn finished(outcome: Outcome) -> watch::Receiver<Option<Outcome>> {
    let (tx, rx) = watch::channel(Some(outcome));
    drop(tx);
    rx
}

#[test]
fn an_unreachable_idp_backs_off_and_an_answer_clears_the_record() {
    let outages: Mutex<HashMap<[u8; 32], Outage>> = Mutex::default();
    record_attempt(&outages, key(1), &outage(), 1_000);
    record_attempt(&outages, key(1), &outage(), 1_001);
    record_attempt(&outages, key(1), &outage(), 1_003);
    let o = lock(&outages)[&key(1)];
    assert_eq!((o.since, o.failures, o.next_attempt), (1_000, 3, 1_007));
    record_attempt(&outages, key(1), &refused(), 1_010);
    assert!(
        lock(&outages).is_empty(),
        "a refusal is an answer: no outage"
    );
}

#[test]
fn joining_shares_answers_but_not_outages_and_respects_the_backoff() {
    let refreshes = Refreshes::default();
    let mut started = 0;
    let first = refreshes.join(key(1), 1_000, never_stale, || {
        started += 1;
        finished(refused())
    });
    assert!(first.is_some());
    // A refusal is shared for the flight's lifetime: nobody asks the IdP again.
    let again = refreshes.join(key(1), 1_010, never_stale, || {
        started += 1;
        finished(refused())
    });
    assert!(again.is_some());
    assert_eq!(started, 1);
    // ...and forgotten after it.
    refreshes.join(key(1), 1_000 + FLIGHT_TTL, never_stale, || {
        started += 1;
        finished(refused())
    });
    assert_eq!(started, 2);

    // An outage is not shared; the backoff decides when the next attempt happens.
    refreshes.join(key(2), 2_000, never_stale, || finished(outage()));
    record_attempt(&refreshes.outages, key(2), &outage(), 2_000);
    record_attempt(&refreshes.outages, key(2), &outage(), 2_001);
    assert!(
        refreshes
            .join(key(2), 2_002, never_stale, || panic!(
                "must not start during the backoff"
            ))
            .is_none()
    );
    let mut retried = false;
    refreshes.join(key(2), 2_003, never_stale, || {
        retried = true;
        finished(outage())
    });
    assert!(retried, "tried again once the backoff is over");
}

fn never_stale(_: &SessionData) -> bool {
    false
}

fn session() -> SessionData {
    SessionData {
        provider: "p".into(),
        identity: crate::oidc::Identity::default(),
        token_expires_at: Some(2_000),
        tokens_obtained_at: Some(1_000),
        refresh_token: Some("rt".into()),
        access_token: None,
        id_token: None,
        idp_session: None,
        device: None,
        client_ip: None,
    }
}

#[test]
fn a_shared_success_whose_tokens_are_due_again_is_not_reused() {
    // IdPs that do not rotate refresh tokens give the next refresh the same key.
    let refreshes = Refreshes::default();
    refreshes.join(key(3), 1_000, never_stale, || finished(Ok(session())));
    let mut started = false;
    refreshes.join(
        key(3),
        1_010,
        |d| d.token_expires_at.is_some_and(|e| e <= 2_000),
        || {
            started = true;
            finished(Ok(session()))
        },
    );
    assert!(started, "stale tokens were handed out again");
}

#[test]
fn outage_records_stay_bounded_under_a_flood_of_sessions() {
    let outages: Mutex<HashMap<[u8; 32], Outage>> = Mutex::default();
    for n in 0..(MAX_OUTAGES as u64 + 10_000) {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&n.to_be_bytes());
        record_attempt(&outages, k, &outage(), 1_000 + n / 1_000);
    }
    let len = lock(&outages).len();
    assert!(len <= MAX_OUTAGES, "{len} records kept");
    assert!(len > MAX_OUTAGES / 4, "recent records survive ({len})");
}
