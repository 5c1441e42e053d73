//! Ending sessions on an IdP's word: a verified back-channel logout token names a user
//! (`sub`), an IdP session (`sid`), or both, and every matching session in a Redis store
//! ends (record deleted, tombstone kept, so the cookie is told `session_revoked`).

use super::keys::{is_session_id, record_context};
use super::redis_client::{RedisError, RedisStore};
use super::{end_ids, indexes_of};
use crate::outpost::server::request::SessionData;
use crate::outpost::session::{KeyRing, Session};
use std::time::Duration;

/// Whom a logout ends, among the sessions of one provider.
#[derive(Clone, Copy, Debug)]
pub struct LogoutTarget<'a> {
    /// The provider key the sessions came from.
    pub provider: &'a str,
    /// The user: alone, every session of theirs ends.
    pub sub: Option<&'a str>,
    /// The IdP session: only sessions started in it end (of `sub` too, when both).
    pub sid: Option<&'a str>,
}

impl LogoutTarget<'_> {
    /// Whether a session is one this logout ends. The indexes only narrow the search;
    /// the record itself decides, so a stale index entry ends nothing else. With both
    /// `sub` and `sid`, a session of the user with no recorded IdP session (started
    /// before sessions recorded it, or from an ID token without `sid`) ends too: nothing
    /// says it belongs to another IdP session, and leaving it would keep alive what the
    /// IdP meant to end. One recorded in another IdP session stays.
    fn matches(&self, data: &SessionData) -> bool {
        let idp_session = data.idp_session.as_deref();
        data.provider == self.provider
            && self.sub.is_none_or(|sub| data.identity.sub == sub)
            && match (self.sid, self.sub) {
                (Some(sid), Some(_)) => idp_session.is_none_or(|s| s == sid),
                (Some(sid), None) => idp_session == Some(sid),
                (None, Some(_)) => true,
                (None, None) => false,
            }
    }
}

/// One session a logout ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The user name (for the audit line).
    pub user: String,
}

/// Reads and opens session `sid` (`None` when gone or unreadable with `keys`).
pub(super) async fn open_record(
    redis: &RedisStore,
    keys: &KeyRing,
    sid: &str,
) -> Result<Option<Session<SessionData>>, RedisError> {
    let mut get = redis::cmd("GET");
    get.arg(redis.keys.session(sid));
    let Some(record) = redis.query::<Option<String>>("read session", get).await? else {
        return Ok(None);
    };
    let Ok(plain) = keys.open(&record_context(sid), &record) else {
        return Ok(None);
    };
    Ok(serde_json::from_slice(&plain).ok())
}

/// Ends every session in `redis` that `target` names; returns them.
pub async fn end_matching(
    redis: &RedisStore,
    keys: &KeyRing,
    target: LogoutTarget<'_>,
    now: u64,
) -> Result<Vec<Ended>, RedisError> {
    // The IdP session's index, and the user's when the token names one: a session the
    // IdP-session index lacks (it predates the index, or its entry was lost) is still
    // found by `sub`.
    let mut indexes = Vec::new();
    if let Some(sid) = target.sid {
        indexes.push(redis.keys.idp_session(target.provider, sid));
    }
    if let Some(sub) = target.sub {
        indexes.push(redis.keys.user(target.provider, sub));
    }
    let mut sids: Vec<String> = Vec::new();
    for index in &indexes {
        let mut members = redis::cmd("SMEMBERS");
        members.arg(index);
        let found: Vec<String> = redis.query("list sessions", members).await?;
        for sid in found {
            if !sids.contains(&sid) {
                sids.push(sid);
            }
        }
    }
    let mut ended = Vec::new();
    for sid in sids.into_iter().filter(|s| is_session_id(s)) {
        let Some(session) = open_record(redis, keys, &sid).await? else {
            continue;
        };
        if !target.matches(&session.data) {
            continue;
        }
        let remaining = session.expires_at.saturating_sub(now).max(1);
        end_ids(redis, &indexes_of(redis, &session.data), &[sid], remaining).await?;
        ended.push(Ended {
            user: session.data.identity.username,
        });
    }
    Ok(ended)
}

/// Records logout token `jti` of `provider` as used until `ttl` passes; false when it
/// was already used (a replay).
pub async fn first_use(
    redis: &RedisStore,
    provider: &str,
    jti: &str,
    ttl: Duration,
) -> Result<bool, RedisError> {
    let name = format!(
        "logout:{}",
        super::keys::hashed("logout jti", provider, jti)
    );
    redis.once(&name, ttl).await
}

#[cfg(test)]
#[path = "logout_tests.rs"]
mod tests;
