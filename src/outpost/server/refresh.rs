//! Token refresh for sessions whose tokens expired, once per refresh token.
//!
//! A page load sends many requests at once with the same expired session; with refresh
//! token rotation only the first refresh would succeed and the rest would bounce the
//! user to the login. So concurrent and shortly-following refreshes of the same token
//! share one call and its result ([`FLIGHT_TTL`] seconds, keyed by a hash of route and
//! refresh token; a failure is not remembered, so the next request tries again).

use super::bearer::cache_key;
use super::request::SessionData;
use super::state::RouteRuntime;
use crate::reason::Reason;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// How long a refresh result is shared with requests that still carry the old cookie.
pub const FLIGHT_TTL: u64 = 60;

type Outcome = Result<SessionData, Reason>;

struct Flight {
    started: u64,
    result: OnceCell<Outcome>,
}

/// Refreshes in progress or just done.
#[derive(Default)]
pub struct Refreshes {
    flights: Mutex<HashMap<[u8; 32], Arc<Flight>>>,
}

impl std::fmt::Debug for Refreshes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshes").finish_non_exhaustive()
    }
}

impl Refreshes {
    /// The session data after a refresh of `data`'s refresh token (shared with every
    /// concurrent caller); `session_expired` when there is no refresh token.
    pub async fn refresh(&self, route: &RouteRuntime, data: &SessionData, now: u64) -> Outcome {
        let Some(token) = data.refresh_token.as_deref() else {
            return Err(Reason::SessionExpired);
        };
        let key = cache_key(&route.config.id, token);
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights.retain(|_, f| now.saturating_sub(f.started) < FLIGHT_TTL);
            flights
                .entry(key)
                .or_insert_with(|| {
                    Arc::new(Flight {
                        started: now,
                        result: OnceCell::new(),
                    })
                })
                .clone()
        };
        let result = flight
            .result
            .get_or_init(|| run_refresh(route, data.clone(), now))
            .await
            .clone();
        if result.is_err() {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                flights.remove(&key);
            }
        }
        result
    }

    /// Number of remembered refreshes (for tests).
    pub fn len(&self) -> usize {
        self.flights.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Uses the refresh token when the session's tokens expired; re-verifies a new ID token
/// (signature, issuer, audience, times; no nonce on refresh) and requires the same `sub`.
async fn run_refresh(
    route: &RouteRuntime,
    mut data: SessionData,
    now: u64,
) -> Result<SessionData, Reason> {
    let Some(refresh_token) = data.refresh_token.clone() else {
        return Err(Reason::SessionExpired);
    };
    let provider = route.provider.get().ok_or(Reason::ProviderNotReady)?;
    let tokens = provider
        .refresh_tokens(&refresh_token)
        .await
        .map_err(|e| e.reason())?;
    let mut id_exp = None;
    if let Some(id_token) = &tokens.id_token {
        let claims = provider
            .verify_access_token(id_token, &[], crate::oidc::UntrustedAudiences::Refuse)
            .await
            .map_err(|e| e.reason())?;
        let identity = provider.identity(&claims, &route.keep_claims);
        if identity.sub != data.identity.sub {
            return Err(Reason::SubjectChanged);
        }
        data.identity = identity;
        id_exp = claims.get("exp").and_then(serde_json::Value::as_u64);
        if data.id_token.is_some() {
            data.id_token = Some(id_token.clone());
        }
    }
    data.token_expires_at = tokens.expires_in.map(|s| now.saturating_add(s)).or(id_exp);
    if data.token_expires_at.is_none_or(|exp| exp <= now) {
        // Tokens without a usable lifetime: trust the refresh for one minute only.
        data.token_expires_at = Some(now.saturating_add(60));
    }
    data.refresh_token = tokens.refresh_token.or(Some(refresh_token));
    if route.config.headers.access_token.is_some() {
        data.access_token = Some(tokens.access_token);
    }
    Ok(data)
}
