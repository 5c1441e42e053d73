//! Refresh single-flight across replicas that share a Redis session store.
//!
//! Within one replica [`super::refresh::Refreshes`] already shares one refresh among
//! concurrent requests. Replicas behind one Service see the same session at the same
//! moment too (a page load spread by the load balancer), and with refresh token rotation
//! a second use of the same refresh token is refused, and many IdPs (oidc-provider
//! among them) then revoke the whole grant: the user is signed out by their own page
//! load. So with Redis, the refresh of one refresh token is claimed with
//! `SET NX` ([`RedisStore::once`]): the replica that wins asks the IdP and publishes the
//! outcome (sealed with the route's key ring, since it holds tokens) beside the claim;
//! the others wait for that outcome instead of asking the IdP themselves.
//!
//! An unreachable IdP is not published: the winner drops its claim, so whoever comes
//! next (after its own backoff) tries again. A store that does not answer means no
//! refresh at all (never one without the claim): the outage grace applies.

use super::refresh_policy::RefreshFailure;
use super::request::SessionData;
use super::store::redis_client::RedisStore;
use crate::outpost::session::KeyRing;
use crate::reason::Reason;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How long a claim holds: past it, a replica that died while refreshing no longer
/// blocks the others.
pub(crate) const CLAIM_TTL: Duration = Duration::from_secs(60);
/// How long a published outcome stays (longer than the claim, so nobody who saw the
/// claim misses the outcome).
pub(crate) const RESULT_TTL: Duration = Duration::from_secs(120);
/// Longest a replica waits for another one's refresh (the IdP client's own timeout is
/// 15 s; past this the request is handled as "IdP unreachable": the grace applies).
pub(crate) const WAIT_FOR_OTHER: Duration = Duration::from_secs(20);
/// How often a waiting replica looks for the outcome.
const POLL: Duration = Duration::from_millis(50);

/// What a refresh came to.
pub(crate) type Outcome = Result<SessionData, RefreshFailure>;

/// An outcome as other replicas read it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Published {
    Refreshed {
        data: Box<SessionData>,
    },
    Refused {
        error: String,
        description: Option<String>,
    },
    Ended {
        reason: String,
    },
}

impl Published {
    fn of(outcome: &Outcome) -> Option<Self> {
        Some(match outcome {
            Ok(data) => Self::Refreshed {
                data: Box::new(data.clone()),
            },
            Err(RefreshFailure::Refused { error, description }) => Self::Refused {
                error: error.clone(),
                description: description.clone(),
            },
            Err(RefreshFailure::Ended(reason)) => Self::Ended {
                reason: reason.code().to_string(),
            },
            Err(RefreshFailure::Unreachable { .. }) => return None,
        })
    }

    fn outcome(self) -> Outcome {
        match self {
            Self::Refreshed { data } => Ok(*data),
            Self::Refused { error, description } => {
                Err(RefreshFailure::Refused { error, description })
            }
            Self::Ended { reason } => Err(RefreshFailure::Ended(
                Reason::from_code(&reason).unwrap_or(Reason::SessionInvalid),
            )),
        }
    }
}

/// Who does the refresh of one refresh token among the replicas.
#[derive(Clone)]
pub(crate) struct SharedFlight {
    redis: Arc<RedisStore>,
    keys: Arc<KeyRing>,
    /// The claim's name: a hash of route and refresh token (never the token).
    name: String,
}

impl std::fmt::Debug for SharedFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedFlight")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What the caller of [`SharedFlight::claim`] is to do.
#[derive(Debug)]
pub(crate) enum Turn {
    /// Refresh at the IdP, then [`SharedFlight::publish`] the outcome.
    Mine,
    /// Another replica refreshed: its outcome (boxed: session data is large).
    Theirs(Box<Outcome>),
}

impl SharedFlight {
    /// The flight of the refresh whose single-flight key (route and refresh token,
    /// hashed) is `key`, in `redis`, outcomes sealed with `keys`.
    pub fn new(redis: Arc<RedisStore>, keys: Arc<KeyRing>, key: &[u8; 32]) -> Self {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            redis,
            keys,
            // The hash tag keeps claim and outcome in one cluster slot (read together).
            name: format!("refresh:{{{hex}}}"),
        }
    }

    fn result_key(&self) -> String {
        self.redis.keys.once(&format!("{}:result", self.name))
    }

    fn context(&self) -> String {
        format!("portcullis refresh outcome\0{}", self.name)
    }

    fn store_down(e: impl std::fmt::Display) -> RefreshFailure {
        RefreshFailure::Unreachable {
            detail: format!("no refresh without the session store's claim ({e})"),
        }
    }

    /// Claims the refresh, or waits (at most `wait`) for the replica that holds the
    /// claim to publish its outcome.
    pub async fn claim(&self, wait: Duration) -> Turn {
        match self.redis.once(&self.name, CLAIM_TTL).await {
            Ok(true) => Turn::Mine,
            Ok(false) => Turn::Theirs(Box::new(self.wait_for_other(wait).await)),
            Err(e) => Turn::Theirs(Box::new(Err(Self::store_down(e)))),
        }
    }

    /// Publishes the outcome of the refresh this replica claimed. An unreachable IdP is
    /// not published: the claim is dropped so the next attempt may be anyone's.
    pub(crate) async fn publish(&self, outcome: &Outcome) {
        let result = match Published::of(outcome) {
            Some(p) => self.seal(&p).map(|sealed| {
                let mut set = redis::cmd("SET");
                set.arg(self.result_key())
                    .arg(sealed)
                    .arg("PX")
                    .arg(RESULT_TTL.as_millis() as u64);
                set
            }),
            None => {
                let mut del = redis::cmd("DEL");
                del.arg(self.redis.keys.once(&self.name));
                Some(del)
            }
        };
        let Some(cmd) = result else {
            tracing::warn!(flight = %self.name, "could not seal a refresh outcome for the other replicas; they will wait and then use the outage grace");
            return;
        };
        if let Err(e) = self.redis.query::<()>("publish refresh outcome", cmd).await {
            tracing::warn!(flight = %self.name, error = %e, "could not publish a refresh outcome for the other replicas; they will wait and then use the outage grace");
        }
    }

    fn seal(&self, published: &Published) -> Option<String> {
        let json = serde_json::to_vec(published).ok()?;
        self.keys.seal(&self.context(), &json).ok()
    }

    async fn wait_for_other(&self, wait: Duration) -> Outcome {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut pipe = redis::pipe();
            pipe.cmd("GET").arg(self.result_key());
            pipe.cmd("EXISTS").arg(self.redis.keys.once(&self.name));
            let (sealed, claimed): (Option<String>, bool) = self
                .redis
                .pipe("read refresh outcome", pipe)
                .await
                .map_err(Self::store_down)?;
            if let Some(sealed) = sealed {
                let published = self
                    .keys
                    .open(&self.context(), &sealed)
                    .ok()
                    .and_then(|plain| serde_json::from_slice::<Published>(&plain).ok());
                return match published {
                    Some(p) => p.outcome(),
                    None => Err(RefreshFailure::Unreachable {
                        detail: "another replica's refresh outcome could not be opened (a different cookie key?)".into(),
                    }),
                };
            }
            if !claimed {
                return Err(RefreshFailure::Unreachable {
                    detail: "another replica's refresh did not reach the identity provider".into(),
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RefreshFailure::Unreachable {
                    detail: format!(
                        "another replica is still refreshing after {}s",
                        wait.as_secs()
                    ),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
#[path = "refresh_shared_tests.rs"]
mod tests;
