//! Token refresh, once per refresh token, and the memory of an unreachable IdP.
//!
//! A page load sends many requests at once with the same session; with refresh token
//! rotation only the first refresh would succeed and the rest would bounce the user to
//! the login. So concurrent and shortly-following refreshes of the same token share one
//! call and its result ([`FLIGHT_TTL`] seconds, keyed by a hash of route and refresh
//! token). The call runs in its own task: a request waits for it at most
//! [`REFRESH_WAIT`] when the session can be served without it, so an IdP that hangs
//! does not hang the site, and the result still reaches the next request.
//!
//! [`Refreshes::join`] is "give me the refresh of this session key, starting it unless
//! someone already has" within this replica. With a Redis session store the refresh
//! task also claims the refresh among the replicas ([`super::refresh_shared`]): one
//! replica asks the IdP, the others take its outcome.
//!
//! Refusals are remembered for [`FLIGHT_TTL`] like successes (a second request with the
//! refused cookie, or the sign-in page, gets the same answer without asking the IdP
//! again); an unreachable IdP is not: the session's outage record decides when the next
//! attempt is made (backoff), and when the last warning was logged.

use super::bearer::cache_key;
use super::metrics::{Metrics, RefreshCounter};
use super::refresh_policy::{Due, RefreshFailure, backoff, due};
use super::refresh_shared::{SharedFlight, Turn, WAIT_FOR_OTHER};
use super::request::SessionData;
use super::state::{ProviderSlot, RouteRuntime};
use super::store::SessionStore;
use crate::oidc::UntrustedAudiences;
use crate::reason::Reason;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a refresh result is shared with requests that still carry the old cookie.
pub const FLIGHT_TTL: u64 = 60;
/// Longest a request waits for a refresh it can do without (tokens still valid, or the
/// outage grace still running).
pub const REFRESH_WAIT: Duration = Duration::from_secs(3);
/// At most one "IdP unreachable" warning per session in this many seconds.
pub(crate) const WARN_INTERVAL: u64 = 60;
/// Outage records kept at most (one per session whose refresh failed); past it the
/// oldest are dropped, so a flood of sessions cannot grow memory without bound.
const MAX_OUTAGES: usize = 65_536;
/// An outage record untouched for this long is forgotten.
const OUTAGE_MEMORY: u64 = 3600;

/// What a refresh came to.
pub(crate) type Outcome = Result<SessionData, RefreshFailure>;

struct Flight {
    started: u64,
    result: watch::Receiver<Option<Outcome>>,
}

/// One session's run of unreachable refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    /// When the first failed attempt ended.
    pub since: u64,
    /// Failed attempts in a row.
    pub failures: u32,
    /// No attempt before this time (unix seconds).
    pub next_attempt: u64,
    /// When the last warning for this session was logged (0: never).
    pub warned_at: u64,
}

type Outages = Arc<Mutex<HashMap<[u8; 32], Outage>>>;

/// Refreshes in progress or just done, and sessions whose IdP was unreachable.
#[derive(Default)]
pub struct Refreshes {
    flights: Mutex<HashMap<[u8; 32], Flight>>,
    outages: Outages,
}

impl std::fmt::Debug for Refreshes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshes").finish_non_exhaustive()
    }
}

/// The single-flight key of a session: route and refresh token, hashed.
pub(crate) fn flight_key(route: &RouteRuntime, refresh_token: &str) -> [u8; 32] {
    cache_key(&route.config.id, refresh_token)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Refreshes {
    /// The session data after a refresh of `data`'s refresh token (shared with every
    /// concurrent caller). `wait` bounds how long this request waits: `None` when the
    /// session cannot be served without the result. A refresh still running when the
    /// wait ends, or not attempted because of the outage backoff, is
    /// [`RefreshFailure::Unreachable`].
    pub async fn refresh(
        &self,
        route: &RouteRuntime,
        data: &SessionData,
        now: u64,
        wait: Option<Duration>,
        metrics: &Metrics,
    ) -> Outcome {
        let Some(token) = data.refresh_token.as_deref() else {
            return Err(RefreshFailure::Ended(Reason::SessionExpired));
        };
        let key = flight_key(route, token);
        let start = || {
            RefreshJob::new(route, data, now, metrics.token_refreshes())
                .spawn(key, self.outages.clone())
        };
        let lead = route.config.session.refresh_lead_seconds;
        let stale = |d: &SessionData| {
            due(d.token_expires_at, d.tokens_obtained_at, true, lead, now) != Due::No
        };
        let Some(mut result) = self.join(key, now, stale, start) else {
            return Err(RefreshFailure::Unreachable {
                detail: "waiting before the next attempt (the identity provider was unreachable)"
                    .into(),
            });
        };
        let done = result.wait_for(Option::is_some);
        let outcome = match wait {
            Some(wait) => tokio::time::timeout(wait, done).await.ok(),
            None => Some(done.await),
        };
        match outcome {
            Some(Ok(value)) => value.clone().unwrap_or_else(unreachable_task),
            Some(Err(_)) => unreachable_task(),
            None => Err(RefreshFailure::Unreachable {
                detail: format!(
                    "no answer from the identity provider within {}s (still waiting in the background)",
                    wait.unwrap_or_default().as_secs()
                ),
            }),
        }
    }

    /// The seam: the refresh of session `key`, joined if one is in flight or just done
    /// (and its tokens not `stale`), else started with `start` (which must publish its
    /// outcome on the channel it returns). `None` while the session's outage backoff
    /// says not to try yet.
    pub fn join(
        &self,
        key: [u8; 32],
        now: u64,
        stale: impl Fn(&SessionData) -> bool,
        start: impl FnOnce() -> watch::Receiver<Option<Outcome>>,
    ) -> Option<watch::Receiver<Option<Outcome>>> {
        let mut flights = lock(&self.flights);
        flights.retain(|_, f| now.saturating_sub(f.started) < FLIGHT_TTL);
        if let Some(f) = flights.get(&key) {
            // An unreachable outcome is not shared: the backoff decides the next try. Nor
            // are tokens that are themselves due again (an IdP that does not rotate
            // refresh tokens gives the same key to the next refresh).
            let shared = match f.result.borrow().as_ref() {
                None => true,
                Some(Ok(data)) => !stale(data),
                Some(Err(e)) => !e.is_outage(),
            };
            if shared {
                return Some(f.result.clone());
            }
        }
        if lock(&self.outages)
            .get(&key)
            .is_some_and(|o| now < o.next_attempt)
        {
            return None;
        }
        let result = start();
        flights.insert(
            key,
            Flight {
                started: now,
                result: result.clone(),
            },
        );
        Some(result)
    }

    /// The outage record of the session with this refresh token, if its IdP was
    /// unreachable.
    pub fn outage(&self, route: &RouteRuntime, refresh_token: &str) -> Option<Outage> {
        lock(&self.outages)
            .get(&flight_key(route, refresh_token))
            .copied()
    }

    /// Whether to log the "IdP unreachable" warning for this session now (at most once
    /// per [`WARN_INTERVAL`]); marks it logged.
    pub(crate) fn should_warn(&self, route: &RouteRuntime, refresh_token: &str, now: u64) -> bool {
        let key = flight_key(route, refresh_token);
        let mut outages = lock(&self.outages);
        if outages.len() >= MAX_OUTAGES && !outages.contains_key(&key) {
            // Full of sessions in trouble already: skip the warning rather than grow.
            return false;
        }
        let outage = outages.entry(key).or_insert(Outage {
            since: now,
            failures: 0,
            next_attempt: now,
            warned_at: 0,
        });
        if outage.warned_at != 0 && now.saturating_sub(outage.warned_at) < WARN_INTERVAL {
            return false;
        }
        outage.warned_at = now;
        true
    }

    /// Number of remembered refreshes (for tests).
    pub fn len(&self) -> usize {
        lock(&self.flights).len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The metric label of an attempt's outcome.
fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Ok(_) => "success",
        Err(RefreshFailure::Refused { .. }) => "refused",
        Err(RefreshFailure::Unreachable { .. }) => "unreachable",
        Err(RefreshFailure::Ended(_)) => "ended",
    }
}

fn unreachable_task() -> Outcome {
    Err(RefreshFailure::Unreachable {
        detail: "the refresh task ended without an answer".into(),
    })
}

/// Records the end of one attempt in the session's outage record: cleared when the IdP
/// answered (either way), extended with the next backoff when it did not.
pub(crate) fn record_attempt(
    outages: &Mutex<HashMap<[u8; 32], Outage>>,
    key: [u8; 32],
    outcome: &Outcome,
    now: u64,
) {
    let mut outages = lock(outages);
    if !outcome
        .as_ref()
        .err()
        .is_some_and(RefreshFailure::is_outage)
    {
        outages.remove(&key);
        return;
    }
    if outages.len() >= MAX_OUTAGES && !outages.contains_key(&key) {
        outages.retain(|_, o| now.saturating_sub(o.next_attempt) < OUTAGE_MEMORY);
        if outages.len() >= MAX_OUTAGES {
            // Still full of live outages: forget the oldest half rather than grow.
            let mut since: Vec<u64> = outages.values().map(|o| o.since).collect();
            since.sort_unstable();
            let cut = since[since.len() / 2];
            outages.retain(|_, o| o.since > cut);
        }
    }
    let outage = outages.entry(key).or_insert(Outage {
        since: now,
        failures: 0,
        next_attempt: now,
        warned_at: 0,
    });
    outage.failures = outage.failures.saturating_add(1);
    outage.next_attempt = now.saturating_add(backoff(outage.failures));
}

/// What a refresh task needs, owned (it outlives the request that started it).
struct RefreshJob {
    route_id: String,
    counter: RefreshCounter,
    provider: Arc<ProviderSlot>,
    keep_claims: Vec<String>,
    keep_access_token: bool,
    data: SessionData,
    now: u64,
    /// The claim among replicas, with a Redis session store.
    shared: Option<SharedFlight>,
}

impl RefreshJob {
    fn new(route: &RouteRuntime, data: &SessionData, now: u64, counter: RefreshCounter) -> Self {
        let shared = match (&route.store, data.refresh_token.as_deref()) {
            (SessionStore::Redis(redis), Some(token)) => Some(SharedFlight::new(
                redis.clone(),
                route.sessions.key_ring(),
                &flight_key(route, token),
            )),
            _ => None,
        };
        Self {
            shared,
            route_id: route.config.id.clone(),
            counter,
            provider: route.provider.clone(),
            keep_claims: route.keep_claims.clone(),
            keep_access_token: route.config.headers.access_token.is_some(),
            data: data.clone(),
            now,
        }
    }

    /// Runs the refresh in its own task; its outcome is published on the returned
    /// channel and recorded in `outages`.
    fn spawn(mut self, key: [u8; 32], outages: Outages) -> watch::Receiver<Option<Outcome>> {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let (route_id, counter) = (self.route_id.clone(), self.counter.clone());
            let user = self.data.identity.username.clone();
            // Whether this replica asked the IdP (the metric counts IdP refreshes).
            let (outcome, asked) = match self.shared.take() {
                None => (self.run().await, true),
                Some(flight) => match flight.claim(WAIT_FOR_OTHER).await {
                    Turn::Mine => {
                        let outcome = self.run().await;
                        flight.publish(&outcome).await;
                        (outcome, true)
                    }
                    Turn::Theirs(outcome) => {
                        tracing::debug!(route = %route_id, result = outcome_label(&outcome), "another replica refreshed this session");
                        (*outcome, false)
                    }
                },
            };
            if asked {
                counter.count(&route_id, outcome_label(&outcome));
            }
            // A refusal is logged by every replica it reaches: each ends the session for
            // the requests it serves.
            if let Err(RefreshFailure::Refused { error, description }) = &outcome {
                // Once per refused token (the refusal is shared with every waiter).
                tracing::warn!(
                    route = %route_id,
                    user = %user,
                    reason = %Reason::RefreshRefused,
                    idp_error = %error,
                    idp_error_description = description.as_deref().unwrap_or_default(),
                    "the identity provider refused to renew the session (account disabled, consent or session revoked, or refresh token expired); the session ends now"
                );
            }
            record_attempt(&outages, key, &outcome, super::request::now());
            let _ = tx.send(Some(outcome));
        });
        rx
    }

    /// Uses the refresh token; re-verifies a new ID token (signature, issuer, audience,
    /// times; no nonce on refresh) and requires the same `sub`.
    async fn run(self) -> Outcome {
        let Self {
            provider,
            keep_claims,
            keep_access_token,
            mut data,
            now,
            ..
        } = self;
        let Some(refresh_token) = data.refresh_token.clone() else {
            return Err(RefreshFailure::Ended(Reason::SessionExpired));
        };
        let provider = provider.get().ok_or_else(|| RefreshFailure::Unreachable {
            detail: "the provider's discovery and keys are not loaded".into(),
        })?;
        let tokens = provider
            .refresh_tokens(&refresh_token)
            .await
            .map_err(|e| RefreshFailure::from_token_error(&e))?;
        let mut id_exp = None;
        if let Some(id_token) = &tokens.id_token {
            let claims = provider
                .verify_access_token(id_token, &[], UntrustedAudiences::Refuse)
                .await
                .map_err(|e| RefreshFailure::Ended(e.reason()))?;
            let identity = provider.identity(&claims, &keep_claims);
            if identity.sub != data.identity.sub {
                return Err(RefreshFailure::Ended(Reason::SubjectChanged));
            }
            data.identity = identity;
            id_exp = claims.get("exp").and_then(serde_json::Value::as_u64);
            // A session that keeps its ID token (Redis, or a cookie from before the
            // sign-out hint cookie) keeps the newest; the hint cookie stays as it was,
            // since an expired ID token is still a valid `id_token_hint`.
            if data.id_token.is_some() {
                data.id_token = Some(id_token.clone());
            }
        }
        data.token_expires_at = tokens.expires_in.map(|s| now.saturating_add(s)).or(id_exp);
        if data.token_expires_at.is_none_or(|exp| exp <= now) {
            // Tokens without a usable lifetime: trust the refresh for one minute only.
            data.token_expires_at = Some(now.saturating_add(60));
        }
        data.tokens_obtained_at = Some(now);
        data.refresh_token = tokens.refresh_token.or(Some(refresh_token));
        if keep_access_token {
            data.access_token = Some(tokens.access_token);
        }
        Ok(data)
    }
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;
