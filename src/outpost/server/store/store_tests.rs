//! The store seam without a Redis server: cookie mode as before, and a Redis that
//! refuses connections or never answers is `session_store_unavailable` within the
//! configured bound, never "no session" and never "allowed". The tests against a real
//! `redis-server` are in `tests/processes/session_store.rs`.

use super::*;
use crate::config::{RedisConfig, SessionConfig};
use crate::oidc::Identity;
use crate::outpost::session::KeyRing;
use crate::reason::Reason;
use axum::http::{HeaderMap, HeaderValue, header};
use std::time::{Duration, Instant};

const NOW: u64 = 1_700_000_000;

fn manager() -> SessionManager {
    let keys = Arc::new(KeyRing::from_secrets(&["0123456789abcdef0123"]).unwrap());
    SessionManager::new(keys, &SessionConfig::default(), true).unwrap()
}

fn data(provider: &str) -> SessionData {
    SessionData {
        provider: provider.into(),
        identity: Identity {
            sub: "alice-sub".into(),
            username: "alice".into(),
            ..Identity::default()
        },
        token_expires_at: None,
        tokens_obtained_at: None,
        refresh_token: None,
        access_token: None,
        id_token: None,
        idp_session: None,
        device: None,
        client_ip: None,
    }
}

/// The request headers a browser sends back after `set_cookies`.
fn sent(set_cookies: &[String]) -> HeaderMap {
    let pairs: Vec<&str> = set_cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    let mut h = HeaderMap::new();
    h.insert(
        header::COOKIE,
        HeaderValue::from_str(&pairs.join("; ")).unwrap(),
    );
    h
}

/// A Redis store at `addr` answering within 150 ms.
fn redis_at(addr: std::net::SocketAddr) -> SessionStore {
    let mut config = RedisConfig::standalone(&format!("redis://{addr}"));
    config.timeout_millis = 150;
    SessionStore::Redis(Arc::new(RedisStore::new(config, Default::default())))
}

/// A port nothing listens on.
fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A pointer cookie as a Redis-mode login would have set it.
fn pointer_cookie(m: &SessionManager) -> HeaderMap {
    let sid = new_session_id().unwrap();
    let pointer = m.start(Pointer { sid }, NOW);
    sent(&m.store(&pointer, &[], NOW).unwrap())
}

#[tokio::test]
async fn cookie_mode_round_trips_and_has_nothing_to_end_on_the_server() {
    let m = manager();
    let scope = Scope {
        sessions: &m,
        provider: "team/idp",
    };
    let store = SessionStore::Cookie;
    let mut stored = StoredSession::new(m.start(data("team/idp"), NOW));
    let cookies = store
        .save(scope, &mut stored, &HeaderMap::new(), NOW)
        .await
        .unwrap();
    assert_eq!(stored.id, None);
    let headers = sent(&cookies);
    let loaded = store.load(scope, &headers, NOW + 1).await.unwrap();
    assert_eq!(loaded.session.data.identity.username, "alice");
    assert!(store.cookie_came_back(scope, &headers, NOW + 1));
    assert!(store.end(scope, &headers, NOW + 1).await.unwrap().is_none());
    // Another provider's route does not honour it.
    let other = Scope {
        sessions: &m,
        provider: "team/other",
    };
    assert_eq!(
        store.load(other, &headers, NOW + 1).await.unwrap_err(),
        Reason::SessionInvalid
    );
}

#[tokio::test]
async fn a_cookie_of_one_mode_is_invalid_in_the_other() {
    let m = manager();
    let scope = Scope {
        sessions: &m,
        provider: "team/idp",
    };
    // A Redis pointer presented to a cookie-mode route: not a session.
    let pointer = pointer_cookie(&m);
    assert_eq!(
        SessionStore::Cookie
            .load(scope, &pointer, NOW)
            .await
            .unwrap_err(),
        Reason::SessionInvalid
    );
    // A full cookie session presented to a Redis-mode route: refused before any I/O
    // (the store below is unreachable, yet the answer is not "unavailable").
    let full = sent(&m.store(&m.start(data("team/idp"), NOW), &[], NOW).unwrap());
    let redis = redis_at(closed_port());
    assert_eq!(
        redis.load(scope, &full, NOW).await.unwrap_err(),
        Reason::SessionInvalid
    );
    // No cookie at all is no_session, also without asking Redis.
    assert_eq!(
        redis.load(scope, &HeaderMap::new(), NOW).await.unwrap_err(),
        Reason::NoSession
    );
}

#[tokio::test]
async fn redis_refusing_connections_is_unavailable_never_no_session() {
    let m = manager();
    let scope = Scope {
        sessions: &m,
        provider: "team/idp",
    };
    let redis = redis_at(closed_port());
    let headers = pointer_cookie(&m);
    assert_eq!(
        redis.load(scope, &headers, NOW).await.unwrap_err(),
        Reason::SessionStoreUnavailable
    );
    let mut stored = StoredSession::new(m.start(data("team/idp"), NOW));
    assert_eq!(
        redis
            .save(scope, &mut stored, &HeaderMap::new(), NOW)
            .await
            .unwrap_err(),
        Reason::SessionStoreUnavailable
    );
    assert_eq!(stored.id, None, "no id handed out for an unsaved session");
    assert_eq!(
        redis.end(scope, &headers, NOW).await.unwrap_err(),
        Reason::SessionStoreUnavailable,
        "a sign-out that could not end the session says so"
    );
}

#[tokio::test]
async fn a_redis_that_never_answers_is_cut_off_at_the_timeout() {
    // Accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    let m = manager();
    let scope = Scope {
        sessions: &m,
        provider: "team/idp",
    };
    let redis = redis_at(addr);
    let headers = pointer_cookie(&m);
    for _ in 0..2 {
        let started = Instant::now();
        assert_eq!(
            redis.load(scope, &headers, NOW).await.unwrap_err(),
            Reason::SessionStoreUnavailable
        );
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "bounded by the 150 ms timeout: {:?}",
            started.elapsed()
        );
    }
    let SessionStore::Redis(r) = &redis else {
        unreachable!()
    };
    assert!(r.ping().await.is_err());
    assert!(r.once("x", Duration::from_secs(1)).await.is_err());
    held.abort();
}
