//! The bound on sessions per user (`maxSessionsPerUser`): a sign-in beyond it ends the
//! user's oldest sessions rather than failing, so the person signing in is never
//! locked out by sessions on a lost or forgotten device; each ending is an audit line.

use super::keys::is_session_id;
use super::redis_client::{RedisError, RedisStore};
use super::{end_ids, indexes_of, logout};
use crate::outpost::session::KeyRing;

/// Ends the oldest of the sessions in `index` (one user at one provider) other than
/// `new_sid` (the one just created, already indexed) so that at most `limit - 1` remain
/// beside it. Returns how many were ended.
pub(super) async fn end_oldest_beyond(
    redis: &RedisStore,
    keys: &KeyRing,
    index: &str,
    new_sid: &str,
    username: &str,
    limit: u32,
) -> Result<usize, RedisError> {
    let mut members = redis::cmd("SMEMBERS");
    members.arg(index);
    let sids: Vec<String> = redis.query("list a user's sessions", members).await?;
    let mut live = Vec::new();
    for sid in sids
        .into_iter()
        .filter(|s| is_session_id(s) && s != new_sid)
    {
        if let Some(session) = logout::open_record(redis, keys, &sid).await? {
            live.push((session.issued_at, sid, session));
        }
    }
    let keep = (limit as usize).saturating_sub(1);
    if live.len() <= keep {
        return Ok(0);
    }
    live.sort_by_key(|(started, _, _)| *started);
    let excess = live.len() - keep;
    for (_, sid, session) in live.into_iter().take(excess) {
        let remaining = session.expires_at.saturating_sub(session.last_seen).max(1);
        end_ids(redis, &indexes_of(redis, &session.data), &[sid], remaining).await?;
        tracing::info!(
            audit = "session_ended",
            by = "session_limit",
            user = %username,
            limit,
            started = session.issued_at,
            "a new sign-in went past the user's session limit; the oldest session was ended"
        );
    }
    Ok(excess)
}
