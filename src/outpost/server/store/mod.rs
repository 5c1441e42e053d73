//! The session store seam: where a route's sessions live.
//!
//! [`SessionStore::Cookie`] keeps today's behaviour exactly: the whole session in the
//! encrypted cookie, nothing on the server (so nothing to end: a copied cookie stays
//! valid until it expires). [`SessionStore::Redis`] keeps the session in Redis, sealed
//! with the cookie key ring and bound to its id, with a TTL of the session's remaining
//! lifetime; the cookie holds only the id, sealed like any session cookie. Every
//! replica pointing at the same Redis shares the sessions, and ending one (sign-out,
//! revocation) refuses every copy of its cookie afterwards.
//!
//! Reading never falls back: a Redis that does not answer is
//! [`Reason::SessionStoreUnavailable`] (a 503 page), never "no session" (a login loop)
//! and never "allowed".

pub mod admin;
pub mod keys;
mod limit;
pub mod logout;
pub mod own;
pub mod redis_client;
pub mod writes;

use super::request::{SessionData, cookie_headers};
use crate::outpost::session::{Session, SessionManager};
use crate::reason::Reason;
pub use admin::{SessionSummary, end_user, list_user};
use axum::http::HeaderMap;
use keys::{Pointer, is_session_id, new_session_id, record_context};
use redis_client::{RedisError, RedisStore, StoreSecrets};
use std::sync::Arc;
use writes::Writes;

/// Where one route's sessions live.
#[derive(Clone, Debug, Default)]
pub enum SessionStore {
    /// In the encrypted cookie (the default).
    #[default]
    Cookie,
    /// In Redis; the cookie holds a sealed session id.
    Redis(Arc<RedisStore>),
}

/// A loaded session and, in Redis mode, its id.
#[derive(Clone, Debug)]
pub struct StoredSession {
    /// The session.
    pub session: Session<SessionData>,
    /// The Redis session id (`None` in cookie mode, or before the first save).
    pub id: Option<String>,
}

impl StoredSession {
    /// A session not saved yet.
    pub fn new(session: Session<SessionData>) -> Self {
        Self { session, id: None }
    }
}

/// What a route's store needs from the route: its cookie code and its provider key.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// The route's session cookie (and key ring).
    pub sessions: &'a SessionManager,
    /// The provider key sessions must come from.
    pub provider: &'a str,
}

fn unavailable(scope: &Scope<'_>, e: &RedisError) -> Reason {
    tracing::warn!(provider = %scope.provider, reason = %Reason::SessionStoreUnavailable, error = %e, "session store did not answer");
    Reason::SessionStoreUnavailable
}

/// The distinct Redis stores among `stores`.
pub(crate) fn distinct_redis<'a>(
    stores: impl Iterator<Item = &'a SessionStore>,
) -> Vec<Arc<RedisStore>> {
    let mut out: Vec<Arc<RedisStore>> = Vec::new();
    for store in stores {
        if let SessionStore::Redis(s) = store
            && !out.iter().any(|o| Arc::ptr_eq(o, s))
        {
            out.push(s.clone());
        }
    }
    out
}

impl SessionStore {
    /// The store for a route's configuration: a Redis client among `known` (the other
    /// routes', the previous configuration's) built for the same configuration and
    /// secrets, or a new one.
    pub fn build<'a>(
        config: &crate::config::StoreConfig,
        secrets: &StoreSecrets,
        known: impl Iterator<Item = &'a SessionStore>,
    ) -> Self {
        let Some(redis) = &config.redis else {
            return Self::Cookie;
        };
        let reused = distinct_redis(known)
            .into_iter()
            .find(|s| s.is_for(redis, secrets));
        Self::Redis(
            reused.unwrap_or_else(|| Arc::new(RedisStore::new(redis.clone(), secrets.clone()))),
        )
    }

    /// Whether sessions live in the cookie.
    pub(crate) fn is_cookie(&self) -> bool {
        matches!(self, Self::Cookie)
    }

    /// The request's session, checked for provider, lifetime and idle timeout; the
    /// error is a reason code.
    pub async fn load(
        &self,
        scope: Scope<'_>,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<StoredSession, Reason> {
        let cookies = cookie_headers(headers);
        let session = match self {
            Self::Cookie => StoredSession::new(
                scope
                    .sessions
                    .load::<SessionData>(&cookies, now)
                    .map_err(|e| e.reason())?,
            ),
            Self::Redis(redis) => {
                let pointer = scope
                    .sessions
                    .load_within_lifetime::<Pointer>(&cookies, now)
                    .map_err(|e| e.reason())?;
                let sid = pointer.data.sid;
                if !is_session_id(&sid) {
                    return Err(Reason::SessionInvalid);
                }
                let session = read(redis, &scope, &sid).await?;
                scope
                    .sessions
                    .check_times(&session, now)
                    .map_err(|e| e.reason())?;
                StoredSession {
                    session,
                    id: Some(sid),
                }
            }
        };
        if session.session.data.provider != scope.provider {
            return Err(Reason::SessionInvalid);
        }
        Ok(session)
    }

    /// Whether the request carries a readable session cookie of this route (no store
    /// lookup: the login-loop check only asks whether the browser kept the cookie).
    pub(crate) fn cookie_came_back(&self, scope: Scope<'_>, headers: &HeaderMap, now: u64) -> bool {
        let cookies = cookie_headers(headers);
        match self {
            Self::Cookie => scope.sessions.load::<SessionData>(&cookies, now).is_ok(),
            Self::Redis(_) => scope
                .sessions
                .load_within_lifetime::<Pointer>(&cookies, now)
                .is_ok(),
        }
    }

    /// Saves `stored` and returns the `Set-Cookie` values to send. Cookie mode: the
    /// session cookie (none, with a warning, when it cannot be written). Redis mode: the
    /// record; a session without an id gets a fresh one, its user index entry and the
    /// cookie holding the id; an existing one sends no cookie.
    pub async fn save(
        &self,
        scope: Scope<'_>,
        stored: &mut StoredSession,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Vec<String>, Reason> {
        let cookies = cookie_headers(headers);
        let Self::Redis(redis) = self else {
            return Ok(scope
                .sessions
                .store(&stored.session, &cookies, now)
                .unwrap_or_else(|e| {
                    tracing::warn!(provider = %scope.provider, reason = %e.reason(), "cannot write the session cookie");
                    Vec::new()
                }));
        };
        let ttl_ms = stored
            .session
            .expires_at
            .checked_sub(now)
            .filter(|s| *s > 0)
            .ok_or(Reason::SessionExpired)?
            .saturating_mul(1000);
        let fresh = stored.id.is_none();
        let sid = match &stored.id {
            Some(sid) => sid.clone(),
            None => new_session_id().ok_or(Reason::SessionSealFailed)?,
        };
        let json = serde_json::to_vec(&stored.session).map_err(|_| Reason::SessionSealFailed)?;
        let sealed = scope
            .sessions
            .keys()
            .seal(&record_context(&sid), &json)
            .map_err(|e| e.reason())?;
        // Indexes before the record: in a cluster (one transaction per slot) a failure
        // part way leaves at worst an index entry without a record, which nothing
        // trusts (the record decides), never a session that no index can find.
        let mut writes = Writes::new();
        if fresh {
            let user = redis
                .keys
                .user(scope.provider, &stored.session.data.identity.sub);
            let lifetime_ms = scope.sessions.lifetime().saturating_mul(1000);
            let name = redis.keys.user_name(&stored.session.data.identity.username);
            let mut indexes = vec![user, name];
            if let Some(idp_session) = &stored.session.data.idp_session {
                indexes.push(redis.keys.idp_session(scope.provider, idp_session));
            }
            for index in &indexes {
                let mut add = redis::cmd("SADD");
                add.arg(index).arg(&sid);
                // An index lives as long as the newest session could.
                let mut expire = redis::cmd("PEXPIRE");
                expire.arg(index).arg(lifetime_ms);
                writes.add(index, add).add(index, expire);
            }
        }
        let record = redis.keys.session(&sid);
        let mut set = redis::cmd("SET");
        set.arg(&record).arg(sealed).arg("PX").arg(ttl_ms);
        writes.add(&record, set);
        redis
            .write("save session", &writes)
            .await
            .map_err(|e| unavailable(&scope, &e))?;
        if !fresh {
            return Ok(Vec::new());
        }
        let limit = redis.config().max_sessions_per_user;
        if limit > 0 {
            let user = &stored.session.data.identity;
            let index = redis.keys.user(scope.provider, &user.sub);
            let keys = scope.sessions.keys();
            limit::end_oldest_beyond(redis, keys, &index, &sid, &user.username, limit)
                .await
                .map_err(|e| unavailable(&scope, &e))?;
        }
        stored.id = Some(sid.clone());
        let pointer = scope.sessions.start(Pointer { sid }, now);
        let pointer = Session {
            expires_at: stored.session.expires_at,
            ..pointer
        };
        scope
            .sessions
            .store(&pointer, &cookies, now)
            .map_err(|e| e.reason())
    }

    /// Ends the request's session on the server (Redis mode: record deleted, tombstone
    /// kept for the rest of its lifetime, so a copy of the cookie is told
    /// `session_revoked`). Returns the ended session, when there was one. Cookie mode
    /// has nothing to end on the server.
    pub async fn end(
        &self,
        scope: Scope<'_>,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Option<StoredSession>, Reason> {
        let Self::Redis(redis) = self else {
            return Ok(None);
        };
        let stored = match self.load(scope, headers, now).await {
            Ok(s) => s,
            Err(Reason::SessionStoreUnavailable) => {
                return Err(Reason::SessionStoreUnavailable);
            }
            Err(_) => return Ok(None),
        };
        let sid = stored.id.clone().unwrap_or_default();
        let remaining = stored.session.expires_at.saturating_sub(now).max(1);
        let indexes = indexes_of(redis, &stored.session.data);
        end_ids(redis, &indexes, &[sid], remaining)
            .await
            .map_err(|e| unavailable(&scope, &e))?;
        Ok(Some(stored))
    }
}

/// The indexes a session's id is in.
pub(super) fn indexes_of(redis: &RedisStore, data: &SessionData) -> Vec<String> {
    let mut indexes = vec![
        redis.keys.user(&data.provider, &data.identity.sub),
        redis.keys.user_name(&data.identity.username),
    ];
    if let Some(idp_session) = &data.idp_session {
        indexes.push(redis.keys.idp_session(&data.provider, idp_session));
    }
    indexes
}

/// Deletes sessions `sids`, leaving tombstones for `remaining` seconds, and takes them
/// out of `indexes`.
pub(super) async fn end_ids(
    redis: &RedisStore,
    indexes: &[String],
    sids: &[String],
    remaining: u64,
) -> Result<(), RedisError> {
    // Record and tombstone first (one slot: the id's hash tag), then the indexes.
    let mut writes = Writes::new();
    for sid in sids {
        let record = redis.keys.session(sid);
        let mut del = redis::cmd("DEL");
        del.arg(&record);
        let tombstone = redis.keys.ended(sid);
        let mut set = redis::cmd("SET");
        set.arg(&tombstone)
            .arg(1)
            .arg("PX")
            .arg(remaining.saturating_mul(1000));
        writes.add(&record, del).add(&tombstone, set);
    }
    for index in indexes {
        let mut rem = redis::cmd("SREM");
        rem.arg(index).arg(sids);
        if !sids.is_empty() {
            writes.add(index, rem);
        }
    }
    redis.write("end sessions", &writes).await
}

/// Reads and opens a session record; an absent one is `session_revoked` when its
/// tombstone is there, else `session_unknown`.
async fn read(
    redis: &RedisStore,
    scope: &Scope<'_>,
    sid: &str,
) -> Result<Session<SessionData>, Reason> {
    let mut pipe = redis::pipe();
    pipe.cmd("GET").arg(redis.keys.session(sid));
    pipe.cmd("EXISTS").arg(redis.keys.ended(sid));
    let (record, ended): (Option<String>, bool) = redis
        .pipe("read session", pipe)
        .await
        .map_err(|e| unavailable(scope, &e))?;
    let Some(record) = record else {
        return Err(if ended {
            Reason::SessionRevoked
        } else {
            Reason::SessionUnknown
        });
    };
    let plain = scope
        .sessions
        .keys()
        .open(&record_context(sid), &record)
        .map_err(|e| e.reason())?;
    serde_json::from_slice(&plain).map_err(|_| Reason::SessionInvalid)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
