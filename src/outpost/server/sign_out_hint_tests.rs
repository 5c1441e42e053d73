//! Tests of [`super`]: the hint cookie's scope, sealing and the checks on reading it.

use super::*;
use crate::config::SessionConfig;
use crate::outpost::session::KeyRing;
use std::sync::Arc;

const NOW: u64 = 1_000_000;

fn manager(secret: &str, domain: Option<&str>) -> SessionManager {
    let config = SessionConfig {
        cookie_name: "pc".into(),
        cookie_domain: domain.map(str::to_string),
        lifetime_seconds: 3600,
        ..SessionConfig::default()
    };
    let keys = Arc::new(KeyRing::from_secrets(&[secret]).unwrap());
    SessionManager::new(keys, &config, true).unwrap()
}

const SECRET: &str = "a-cookie-secret-of-some-length";

/// The `Cookie` header a browser sends back for these `Set-Cookie` values.
fn sent(set: &[String]) -> String {
    set.iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn the_hint_is_scoped_to_sign_out_and_lives_as_long_as_the_session() {
    let m = manager(SECRET, Some("example.com"));
    let session = m.start((), NOW);
    let set = store(&m, &session, "idp", "user-1", "eyJ.id.token", NOW + 600).unwrap();
    assert_eq!(set.len(), 1);
    let c = &set[0];
    assert!(c.starts_with("__Secure-pc_idt="), "{c}");
    for attr in [
        "; Path=/oauth2/sign_out;",
        "; Domain=example.com;",
        "; Max-Age=3000;",
        "; Secure;",
        "; HttpOnly;",
        "; SameSite=Lax",
    ] {
        assert!(c.contains(attr), "{attr} in {c}");
    }
    assert!(!c.contains("eyJ"), "the token is sealed: {c}");
    let header = sent(&set);
    assert_eq!(
        load(&m, &[&header], "idp", Some("user-1"), NOW + 601).as_deref(),
        Some("eyJ.id.token")
    );
    // No session to compare with: still the hint (the IdP can end its own session).
    assert_eq!(
        load(&m, &[&header], "idp", None, NOW + 601).as_deref(),
        Some("eyJ.id.token")
    );
    // Expired with the session.
    assert_eq!(load(&m, &[&header], "idp", None, NOW + 3600), None);
    // Clearing names the same path (or the browser keeps it).
    let cleared = clear(&m, &[&header]);
    assert_eq!(cleared.len(), 1);
    assert!(
        cleared[0]
            .starts_with("__Secure-pc_idt=; Path=/oauth2/sign_out; Domain=example.com; Max-Age=0"),
        "{cleared:?}"
    );
}

#[test]
fn a_hint_of_another_user_provider_key_or_cookie_is_not_used() {
    let m = manager(SECRET, None);
    let session = m.start((), NOW);
    let set = store(&m, &session, "idp", "user-1", "tok", NOW).unwrap();
    let header = sent(&set);
    // Another subject's session (a later login that wrote no hint) or provider.
    assert_eq!(load(&m, &[&header], "idp", Some("user-2"), NOW), None);
    assert_eq!(load(&m, &[&header], "other", Some("user-1"), NOW), None);
    // Another key ring cannot open it.
    let stranger = manager("another-secret-of-some-length", None);
    assert_eq!(load(&stranger, &[&header], "idp", None, NOW), None);
    // The session cookie's value under the hint's name does not open: the AEAD
    // context is the cookie name.
    let value = header.split_once('=').unwrap().1;
    let sealed_session = m
        .store(&m.start("x".to_string(), NOW), &[], NOW)
        .unwrap()
        .remove(0);
    let session_value = sealed_session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    let swapped = format!("__Secure-pc_idt={session_value}");
    assert_eq!(load(&m, &[&swapped], "idp", None, NOW), None);
    // Two different hints: ambiguous, none is used.
    let other = sent(&store(&m, &session, "idp", "user-1", "tok2", NOW).unwrap());
    assert_ne!(other, header);
    assert_eq!(load(&m, &[&header, &other], "idp", None, NOW), None);
    // Tampered.
    let mut bad = header.clone();
    bad.pop();
    bad.push(if value.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(load(&m, &[&bad], "idp", None, NOW), None);
}

#[test]
fn no_hint_without_time_left_in_the_session() {
    let m = manager(SECRET, None);
    let session = m.start((), NOW);
    assert_eq!(
        store(&m, &session, "idp", "u", "t", NOW + 3600),
        Err(SessionError::Expired)
    );
}
