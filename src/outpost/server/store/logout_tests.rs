use super::*;
use crate::oidc::Identity;

fn session(provider: &str, sub: &str, idp_session: Option<&str>) -> SessionData {
    SessionData {
        provider: provider.into(),
        identity: Identity {
            sub: sub.into(),
            username: sub.into(),
            ..Identity::default()
        },
        token_expires_at: None,
        tokens_obtained_at: None,
        refresh_token: None,
        access_token: None,
        id_token: None,
        idp_session: idp_session.map(str::to_string),
        device: None,
        client_ip: None,
    }
}

fn target<'a>(sub: Option<&'a str>, sid: Option<&'a str>) -> LogoutTarget<'a> {
    LogoutTarget {
        provider: "p",
        sub,
        sid,
    }
}

#[test]
fn sub_and_sid_end_that_idp_session_and_the_users_sessions_without_one() {
    let t = target(Some("alice"), Some("S1"));
    assert!(t.matches(&session("p", "alice", Some("S1"))));
    assert!(
        t.matches(&session("p", "alice", None)),
        "no recorded IdP session: ended rather than left alive"
    );
    assert!(
        !t.matches(&session("p", "alice", Some("S2"))),
        "another IdP session stays"
    );
    assert!(!t.matches(&session("p", "bob", Some("S1"))), "another user");
    assert!(
        !t.matches(&session("q", "alice", Some("S1"))),
        "another provider"
    );
}

#[test]
fn sid_alone_ends_only_sessions_recorded_in_it_and_sub_alone_all_of_the_user() {
    let by_sid = target(None, Some("S1"));
    assert!(by_sid.matches(&session("p", "bob", Some("S1"))));
    assert!(!by_sid.matches(&session("p", "bob", None)));
    assert!(!by_sid.matches(&session("p", "bob", Some("S2"))));
    let by_sub = target(Some("alice"), None);
    for sid in [None, Some("S1"), Some("S2")] {
        assert!(by_sub.matches(&session("p", "alice", sid)));
    }
    assert!(!by_sub.matches(&session("p", "bob", None)));
    assert!(!target(None, None).matches(&session("p", "alice", None)));
}
