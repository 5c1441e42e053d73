//! The one way a handler reads and saves the request's session, whichever the route's
//! store (cookie or Redis): [`load_session`] and [`save_session`]. Every endpoint that
//! reads a session (the auth subrequest, `/oauth2/start`, `/oauth2/userinfo`,
//! `/oauth2/sessions`) goes through here, so they all see the same checks (provider,
//! lifetimes, revocation) and the same reason codes.

use super::state::RouteRuntime;
use super::store::StoredSession;
use crate::reason::Reason;
use axum::http::HeaderMap;

/// The route's session from the request's cookies (and the session store); the error
/// is a reason code (`no_session`, `session_expired`, `session_store_unavailable`, ...).
pub async fn load_session(
    route: &RouteRuntime,
    headers: &HeaderMap,
    now: u64,
) -> Result<StoredSession, Reason> {
    route.store.load(route.scope(), headers, now).await
}

/// Saves a session in the route's store: the `Set-Cookie` values to send (cookie mode:
/// none, and a warning, when it does not fit); the error is a reason code.
pub async fn save_session(
    route: &RouteRuntime,
    stored: &mut StoredSession,
    headers: &HeaderMap,
    now: u64,
) -> Result<Vec<String>, Reason> {
    route.store.save(route.scope(), stored, headers, now).await
}
