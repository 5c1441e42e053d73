//! Tests of [`super`]: sealing, key rotation, lifetimes and login state.

use super::*;
use crate::reason::Reason;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Data {
    user: String,
    groups: Vec<String>,
}

fn data() -> Data {
    Data {
        user: "ada".into(),
        groups: vec!["dev".into()],
    }
}

const SECRET_A: &str = "first-secret-of-some-length";
const SECRET_B: &str = "second-secret-0123456789";

fn ring(secrets: &[&str]) -> Arc<KeyRing> {
    Arc::new(KeyRing::from_secrets(secrets).unwrap())
}

fn config(idle: u64) -> SessionConfig {
    SessionConfig {
        cookie_name: "pc".into(),
        cookie_domain: None,
        lifetime_seconds: 3600,
        idle_timeout_seconds: idle,
        ..SessionConfig::default()
    }
}

fn manager(secrets: &[&str], idle: u64) -> SessionManager {
    SessionManager::new(ring(secrets), &config(idle), true).unwrap()
}

/// The `Cookie` header a browser would send back for these `Set-Cookie` values.
fn cookie_header(set: &[String]) -> String {
    set.iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn seal_open_round_trip_and_fresh_nonces() {
    let keys = ring(&[SECRET_A]);
    let a = keys.seal("ctx", b"hello").unwrap();
    let b = keys.seal("ctx", b"hello").unwrap();
    assert_ne!(a, b, "a random nonce per seal");
    assert_eq!(keys.open("ctx", &a).unwrap(), b"hello");
    assert!(!a.contains("hello"));
}

#[test]
fn context_binds_the_cookie_name() {
    let keys = ring(&[SECRET_A]);
    let sealed = keys.seal("__Host-route-a", b"x").unwrap();
    assert_eq!(
        keys.open("__Host-route-b", &sealed),
        Err(SessionError::Invalid)
    );
}

#[test]
fn tampering_fails_closed() {
    let keys = ring(&[SECRET_A]);
    let sealed = keys.seal("ctx", b"payload").unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
    for i in 0..raw.len() {
        let mut bad = raw.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            keys.open("ctx", &URL_SAFE_NO_PAD.encode(&bad)),
            Err(SessionError::Invalid),
            "byte {i}"
        );
    }
    for cut in [0, 1, 2, HEADER_LEN, HEADER_LEN + TAG_LEN - 1, raw.len() - 1] {
        assert_eq!(
            keys.open("ctx", &URL_SAFE_NO_PAD.encode(&raw[..cut])),
            Err(SessionError::Invalid),
            "cut {cut}"
        );
    }
    for junk in [
        "",
        "!!!",
        "a",
        "====",
        &"A".repeat(MAX_SEALED_LEN + 1),
        &format!("{sealed}="),
    ] {
        assert_eq!(keys.open("ctx", junk), Err(SessionError::Invalid));
    }
}

#[test]
fn rotation_first_key_seals_all_keys_open() {
    let old = ring(&[SECRET_A]);
    let sealed_old = old.seal("ctx", b"old").unwrap();
    let rotated = ring(&[SECRET_B, SECRET_A]);
    assert_eq!(rotated.open("ctx", &sealed_old).unwrap(), b"old");
    let sealed_new = rotated.seal("ctx", b"new").unwrap();
    assert_eq!(ring(&[SECRET_B]).open("ctx", &sealed_new).unwrap(), b"new");
    assert_eq!(
        old.open("ctx", &sealed_new),
        Err(SessionError::Invalid),
        "the old ring lacks the new key"
    );
    assert_eq!(
        ring(&[SECRET_B]).open("ctx", &sealed_old),
        Err(SessionError::Invalid)
    );
}

#[test]
fn key_configuration_is_checked() {
    assert_eq!(KeyRing::new(vec![]).unwrap_err(), SessionError::KeyConfig);
    assert_eq!(
        KeyRing::from_secrets(&["short"]).unwrap_err(),
        SessionError::KeyConfig
    );
    let long = "x".repeat(500);
    assert!(KeyRing::from_secrets(&[long.as_str()]).is_ok());
    assert_eq!(
        derive_key(SECRET_A.as_bytes()).unwrap(),
        derive_key(SECRET_A.as_bytes()).unwrap()
    );
    assert_ne!(
        derive_key(SECRET_A.as_bytes()).unwrap(),
        derive_key(SECRET_B.as_bytes()).unwrap()
    );
    let debug = format!("{:?}", ring(&[SECRET_A]));
    assert!(debug.starts_with("KeyRing") && !debug.contains(SECRET_A));
}

#[test]
fn session_round_trip_through_cookies() {
    let m = manager(&[SECRET_A], 0);
    let session = m.start(data(), 1_000);
    assert_eq!(session.expires_at, 4_600);
    let set = m.store(&session, &[], 1_000).unwrap();
    assert_eq!(set.len(), 1);
    assert!(set[0].starts_with("__Host-pc=") && set[0].contains("Max-Age=3600"));
    let header = cookie_header(&set);
    let loaded: Session<Data> = m.load(&["a=b", &header], 2_000).unwrap();
    assert_eq!(loaded, session);
}

#[test]
fn large_sessions_chunk_and_load() {
    let m = manager(&[SECRET_A], 0);
    let big = Data {
        user: "ada".into(),
        groups: (0..600).map(|i| format!("group-number-{i}")).collect(),
    };
    let set = m.store(&m.start(big.clone(), 10), &[], 10).unwrap();
    assert!(set.len() > 1, "expected chunks");
    let loaded: Session<Data> = m.load(&[&cookie_header(&set)], 11).unwrap();
    assert_eq!(loaded.data, big);
    // Dropping one chunk makes the session invalid, not partially read.
    let pairs: Vec<&str> = set.iter().map(|c| c.split(';').next().unwrap()).collect();
    let missing_last = pairs[..pairs.len() - 1].join("; ");
    assert_eq!(
        m.load::<Data>(&[&missing_last], 11).unwrap_err(),
        SessionError::Invalid
    );
    // Shrinking the session expires the chunks.
    let small = m
        .store(&m.start(data(), 12), &[&cookie_header(&set)], 12)
        .unwrap();
    assert_eq!(small.len(), 1 + set.len());
    let cleared = m.clear(&[&cookie_header(&set)]);
    assert_eq!(cleared.len(), 1 + set.len());
}

#[test]
fn lifetime_and_idle_reasons() {
    let m = manager(&[SECRET_A], 600);
    let header = cookie_header(&m.store(&m.start(data(), 0), &[], 0).unwrap());
    assert!(m.load::<Data>(&[&header], 600).is_ok());
    assert_eq!(
        m.load::<Data>(&[&header], 601).unwrap_err(),
        SessionError::Idle
    );
    let mut s = m.start(data(), 0);
    s.last_seen = 3_500;
    let header = cookie_header(&m.store(&s, &[], 3_500).unwrap());
    assert!(m.load::<Data>(&[&header], 3_599).is_ok());
    assert_eq!(
        m.load::<Data>(&[&header], 3_600).unwrap_err(),
        SessionError::Expired
    );
    assert_eq!(m.store(&s, &[], 3_600).unwrap_err(), SessionError::Expired);
    assert_eq!(SessionError::Idle.reason(), Reason::SessionIdle);
}

#[test]
fn touch_is_rate_limited() {
    let m = manager(&[SECRET_A], 400);
    let s = m.start(data(), 0);
    assert!(!m.needs_touch(&s, 99));
    assert!(m.needs_touch(&s, 100));
    assert!(
        !manager(&[SECRET_A], 0).needs_touch(&s, 10_000),
        "no idle timeout, no touch"
    );
}

#[test]
fn read_failures_have_reason_codes() {
    let m = manager(&[SECRET_A], 0);
    let err = |h: &[&str]| m.load::<Data>(h, 1).unwrap_err().reason();
    assert_eq!(err(&[]), Reason::NoSession);
    assert_eq!(err(&["other=1"]), Reason::NoSession);
    assert_eq!(err(&["__Host-pc=not-base64!"]), Reason::SessionInvalid);
    assert_eq!(err(&["__Host-pc="]), Reason::SessionInvalid);
    // A value sealed by another key or for another cookie name.
    let other = manager(&[SECRET_B], 0);
    let foreign = cookie_header(&other.store(&other.start(data(), 0), &[], 0).unwrap());
    assert_eq!(err(&[&foreign]), Reason::SessionInvalid);
    let other_name = SessionManager::new(
        ring(&[SECRET_A]),
        &SessionConfig {
            cookie_name: "qq".into(),
            ..config(0)
        },
        true,
    )
    .unwrap();
    let moved = cookie_header(
        &other_name
            .store(&other_name.start(data(), 0), &[], 0)
            .unwrap(),
    )
    .replacen("__Host-qq", "__Host-pc", 1);
    assert_eq!(err(&[&moved]), Reason::SessionInvalid);
    // A valid envelope whose payload has the wrong shape.
    let wrong: Vec<String> = m.store(&m.start(42u32, 0), &[], 0).unwrap();
    assert_eq!(err(&[&cookie_header(&wrong)]), Reason::SessionInvalid);
}

#[test]
fn two_different_session_cookies_of_one_name_are_refused() {
    let m = manager(&[SECRET_A], 0);
    let ours = cookie_header(&m.store(&m.start(data(), 0), &[], 0).unwrap());
    let mut other_data = data();
    other_data.user = "mallory".into();
    let theirs = cookie_header(&m.store(&m.start(other_data, 0), &[], 0).unwrap());
    // Both valid (a cookie tossed from a sibling domain, or one set for two paths): which
    // identity wins must not depend on the order of the Cookie header.
    for header in [
        format!("{ours}; {theirs}"),
        format!("{theirs}; {ours}"),
        format!("__Host-pc=stale-garbage; {ours}"),
        format!("{ours}; __Host-pc=stale-garbage"),
    ] {
        let got = m.load::<Data>(&[&header], 1).map(|s| s.data);
        assert_eq!(got, Err(SessionError::Duplicate), "{header}");
        assert_eq!(
            SessionError::Duplicate.reason(),
            Reason::SessionCookieDuplicated
        );
    }
    // Across two Cookie header lines too.
    assert_eq!(
        m.load::<Data>(&[&ours, &theirs], 1).map(|s| s.data),
        Err(SessionError::Duplicate)
    );
    // The same value twice names one identity: not ambiguous.
    let twice = format!("{ours}; {ours}");
    assert_eq!(m.load::<Data>(&[&twice], 1).unwrap().data, data());
}

fn login(state: &str) -> LoginState {
    LoginState {
        state: state.into(),
        pkce_verifier: "verifier".into(),
        nonce: "n0nce".into(),
        rd: "/dash".into(),
        route: "ns/route".into(),
    }
}

#[test]
fn state_cookies_are_per_login() {
    let m = manager(&[SECRET_A], 0);
    let s1 = "AAAAAAAA-first-login-state";
    let s2 = "BBBBBBBB-second-login-state";
    let c1 = m.store_state(&login(s1), 100).unwrap();
    let c2 = m.store_state(&login(s2), 100).unwrap();
    assert!(c1.starts_with("__Host-pc_csrf_AAAAAAAA="), "{c1}");
    assert!(c1.contains("Max-Age=600") && c1.contains("HttpOnly") && c1.contains("SameSite=Lax"));
    let header = cookie_header(&[c1, c2]);
    assert_eq!(m.load_state(&[&header], s1, 200).unwrap(), login(s1));
    assert_eq!(m.load_state(&[&header], s2, 200).unwrap(), login(s2));
    assert_eq!(
        m.load_state(&[&header], s1, 700).unwrap_err(),
        SessionError::Expired
    );
    assert!(
        m.clear_state(s1)
            .unwrap()
            .starts_with("__Host-pc_csrf_AAAAAAAA=; Path=/; Max-Age=0")
    );
}

#[test]
fn state_must_match_exactly() {
    let m = manager(&[SECRET_A], 0);
    let header = cookie_header(&[m.store_state(&login("AAAAAAAA-one"), 0).unwrap()]);
    assert_eq!(
        m.load_state(&[&header], "AAAAAAAA-two", 1).unwrap_err(),
        SessionError::Invalid
    );
    assert_eq!(
        m.load_state(&[&header], "CCCCCCCC-one", 1).unwrap_err(),
        SessionError::NoSession
    );
    for bad in ["short", "", "AAAA;AAA-x", "AAAAAAA\u{e9}"] {
        assert_eq!(
            m.load_state(&[&header], bad, 1).unwrap_err(),
            SessionError::Invalid,
            "{bad:?}"
        );
    }
    // A session cookie value can't be replayed as a state cookie.
    let session = m.store(&m.start(login("AAAAAAAA-one"), 0), &[], 0).unwrap();
    let moved = cookie_header(&session).replacen("__Host-pc", "__Host-pc_csrf_AAAAAAAA", 1);
    assert_eq!(
        m.load_state(&[&moved], "AAAAAAAA-one", 1).unwrap_err(),
        SessionError::Invalid
    );
}

#[test]
fn dev_http_cookies_are_plain() {
    let m = SessionManager::new(ring(&[SECRET_A]), &config(0), false).unwrap();
    let set = m.store(&m.start(data(), 0), &[], 0).unwrap();
    assert!(set[0].starts_with("pc=") && !set[0].contains("Secure"));
    assert_eq!(
        m.load::<Data>(&[&cookie_header(&set)], 1).unwrap().data,
        data()
    );
}
