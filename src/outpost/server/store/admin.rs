//! A user's sessions as an administrator sees them (admin port `/sessions`): listed and
//! ended by user name, across providers.

use super::end_ids;
use super::keys::is_session_id;
use super::logout;
use super::redis_client::{RedisError, RedisStore};

/// One of a user's sessions, as an administrator sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SessionSummary {
    /// The provider key it came from.
    pub provider: String,
    /// When it started (unix seconds).
    pub started: u64,
    /// Last request that moved `last_seen` (unix seconds; coarse with an idle timeout).
    pub last_seen: u64,
    /// Absolute expiry (unix seconds).
    pub expires: u64,
}

/// The ids in the user-name index of `username` (well-formed ones only).
async fn ids_of(redis: &RedisStore, username: &str) -> Result<Vec<String>, RedisError> {
    let mut members = redis::cmd("SMEMBERS");
    members.arg(redis.keys.user_name(username));
    let sids: Vec<String> = redis.query("list sessions", members).await?;
    Ok(sids.into_iter().filter(|s| is_session_id(s)).collect())
}

/// The live sessions of user name `username` in `redis`, opened with `keys`.
pub async fn list_user(
    redis: &RedisStore,
    keys: &crate::outpost::session::KeyRing,
    username: &str,
) -> Result<Vec<SessionSummary>, RedisError> {
    let mut out = Vec::new();
    for sid in ids_of(redis, username).await? {
        if let Some(s) = logout::open_record(redis, keys, &sid).await? {
            out.push(SessionSummary {
                provider: s.data.provider,
                started: s.issued_at,
                last_seen: s.last_seen,
                expires: s.expires_at,
            });
        }
    }
    out.sort_by_key(|s| s.started);
    Ok(out)
}

/// Ends every session of user name `username` in `redis` (every route and replica
/// using it); returns how many were live. Tombstones last `max_lifetime` seconds, the
/// longest any of them could have lived.
pub async fn end_user(
    redis: &RedisStore,
    username: &str,
    max_lifetime: u64,
) -> Result<usize, RedisError> {
    let sids = ids_of(redis, username).await?;
    if sids.is_empty() {
        return Ok(0);
    }
    // One key per EXISTS: the records live in different slots of a cluster.
    let mut live = 0;
    for sid in &sids {
        let mut exists = redis::cmd("EXISTS");
        exists.arg(redis.keys.session(sid));
        live += redis.query::<usize>("count sessions", exists).await?;
    }
    let index = [redis.keys.user_name(username)];
    end_ids(redis, &index, &sids, max_lifetime.max(1)).await?;
    Ok(live)
}
