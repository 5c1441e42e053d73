//! A user's own sessions (the `/oauth2/sessions` page): listed and ended by the user's
//! index (provider + `sub`), each addressed by a handle, never by its id (the id is a
//! secret the cookie seals; the page must not print it).

use super::keys::{hashed, is_session_id};
use super::logout::open_record;
use super::redis_client::{RedisError, RedisStore};
use super::{end_ids, indexes_of};
use crate::outpost::server::request::SessionData;
use crate::outpost::session::{KeyRing, Session};

/// One of the user's sessions.
#[derive(Clone, Debug)]
pub struct Own {
    /// What the page's forms name it by.
    pub handle: String,
    /// The session id (never shown).
    pub sid: String,
    /// The session.
    pub session: Session<SessionData>,
}

/// The handle of session `sid`: a hash, so a page or a log shows nothing to steal.
pub fn handle(provider: &str, sid: &str) -> String {
    hashed("session handle", provider, sid)
}

/// The form token of the page shown to session `sid`: only whoever holds the session
/// (its id is 256 random bits, sealed in the cookie) can know it, so a cross-site form
/// cannot.
pub fn form_token(provider: &str, sid: &str) -> String {
    hashed("sessions form", provider, sid)
}

/// The live sessions of `sub` with `provider`, oldest first.
pub async fn list(
    redis: &RedisStore,
    keys: &KeyRing,
    provider: &str,
    sub: &str,
) -> Result<Vec<Own>, RedisError> {
    let mut members = redis::cmd("SMEMBERS");
    members.arg(redis.keys.user(provider, sub));
    let sids: Vec<String> = redis.query("list sessions", members).await?;
    let mut out = Vec::new();
    for sid in sids.into_iter().filter(|s| is_session_id(s)) {
        if let Some(session) = open_record(redis, keys, &sid).await?
            && session.data.provider == provider
            && session.data.identity.sub == sub
        {
            out.push(Own {
                handle: handle(provider, &sid),
                sid,
                session,
            });
        }
    }
    out.sort_by_key(|o| o.session.issued_at);
    Ok(out)
}

/// Ends `sessions` (tombstones for the rest of each one's lifetime).
pub async fn end(redis: &RedisStore, sessions: &[&Own], now: u64) -> Result<(), RedisError> {
    for own in sessions {
        let remaining = own.session.expires_at.saturating_sub(now).max(1);
        let indexes = indexes_of(redis, &own.session.data);
        end_ids(redis, &indexes, std::slice::from_ref(&own.sid), remaining).await?;
    }
    Ok(())
}
