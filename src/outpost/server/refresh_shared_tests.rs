use super::*;

#[test]
fn claim_and_outcome_share_a_cluster_slot_and_name_no_token() {
    use crate::config::RedisConfig;
    use crate::outpost::server::store::keys::slot_group;
    let redis = Arc::new(RedisStore::new(
        RedisConfig::standalone("redis://127.0.0.1:1"),
        Default::default(),
    ));
    let keys = Arc::new(KeyRing::from_secrets(&["0123456789abcdef0123"]).unwrap());
    let key = [0xabu8; 32];
    let flight = SharedFlight::new(redis.clone(), keys, &key);
    let claim = redis.keys.once(&flight.name);
    let result = flight.result_key();
    assert_eq!(slot_group(&claim), slot_group(&result));
    assert_eq!(slot_group(&claim), "ab".repeat(32));
    assert!(claim.starts_with("portcullis:once:refresh:{"), "{claim}");
    assert_ne!(claim, result);
}

#[test]
fn outcomes_other_replicas_can_use_survive_publishing_and_outages_are_not_published() {
    let refused = Err(RefreshFailure::Refused {
        error: "invalid_grant".into(),
        description: Some("grant revoked".into()),
    });
    let back = Published::of(&refused).unwrap().outcome();
    assert_eq!(back, refused);
    let ended = Err(RefreshFailure::Ended(Reason::SubjectChanged));
    assert_eq!(Published::of(&ended).unwrap().outcome(), ended);
    let outage = Err(RefreshFailure::Unreachable {
        detail: "timeout".into(),
    });
    assert!(Published::of(&outage).is_none());
    // An unknown reason code (another version wrote it) still ends the session.
    let odd = Published::Ended {
        reason: "from_the_future".into(),
    };
    assert_eq!(
        odd.outcome(),
        Err(RefreshFailure::Ended(Reason::SessionInvalid))
    );
}
