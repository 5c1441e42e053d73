//! Leader election on a `coordination.k8s.io/v1` Lease, so two replicas never both
//! write. Acquire and renew are compare-and-swap updates (the Lease's resourceVersion):
//! of two replicas racing, one gets 409 Conflict and stays standby.

use super::{Error, Result};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use std::time::Duration;

/// How long a lease is valid without renewal.
pub(crate) const LEASE_DURATION: Duration = Duration::from_secs(15);
pub use super::gate::RENEW_DEADLINE;
/// How often the leader renews / a standby retries.
pub(crate) const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// What to do with the lease as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nobody (valid) holds it: take it.
    Acquire,
    /// We hold it: renew.
    Renew,
    /// Someone else holds a valid lease.
    Standby {
        /// The holder's identity.
        holder: String,
    },
}

/// Decides from the current lease (pure).
pub(crate) fn decide(lease: Option<&Lease>, me: &str, now: Timestamp) -> Decision {
    let Some(spec) = lease.and_then(|l| l.spec.as_ref()) else {
        return Decision::Acquire;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder == me {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::Acquire;
    }
    let duration = i64::from(
        spec.lease_duration_seconds
            .unwrap_or(LEASE_DURATION.as_secs() as i32),
    );
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0.as_second())
        .unwrap_or(i64::MIN / 2);
    if now.as_second() > renewed.saturating_add(duration) {
        Decision::Acquire
    } else {
        Decision::Standby { holder }
    }
}

/// The lease to write for a decision (None for Standby). Keeps the resourceVersion so
/// the write fails with a conflict if the lease changed since it was read.
pub(crate) fn next_lease(
    current: Option<&Lease>,
    name: &str,
    namespace: &str,
    me: &str,
    now: Timestamp,
) -> Option<Lease> {
    let decision = decide(current, me, now);
    let mut spec = current.and_then(|l| l.spec.clone()).unwrap_or_default();
    match decision {
        Decision::Standby { .. } => return None,
        Decision::Acquire => {
            let transitions = spec.lease_transitions.unwrap_or(0);
            spec = LeaseSpec {
                holder_identity: Some(me.to_string()),
                acquire_time: Some(MicroTime(now)),
                lease_transitions: Some(if current.is_some() {
                    transitions + 1
                } else {
                    0
                }),
                ..Default::default()
            };
        }
        Decision::Renew => {}
    }
    spec.lease_duration_seconds = Some(LEASE_DURATION.as_secs() as i32);
    spec.renew_time = Some(MicroTime(now));
    Some(Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            resource_version: current.and_then(|l| l.metadata.resource_version.clone()),
            ..Default::default()
        },
        spec: Some(spec),
    })
}

/// The lease after a graceful step-down: no holder, so a standby takes over at once
/// instead of waiting out the duration. `None` when we do not hold it.
pub(crate) fn released(current: &Lease, me: &str) -> Option<Lease> {
    let spec = current.spec.as_ref()?;
    if spec.holder_identity.as_deref() != Some(me) {
        return None;
    }
    let mut lease = current.clone();
    lease.metadata.managed_fields = None;
    lease.spec = Some(LeaseSpec {
        holder_identity: None,
        ..spec.clone()
    });
    Some(lease)
}

/// One replica's view of the lease.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    namespace: String,
    identity: String,
}

impl Elector {
    /// An elector for the Lease `namespace/name` as `identity` (the pod name).
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
        }
    }

    /// Tries once to acquire or renew; `Ok(true)` while we are the leader.
    pub async fn try_lead(&self) -> Result<bool> {
        let current = self.api.get_opt(&self.name).await?;
        let Some(next) = next_lease(
            current.as_ref(),
            &self.name,
            &self.namespace,
            &self.identity,
            Timestamp::now(),
        ) else {
            return Ok(false);
        };
        let result = match current {
            None => self.api.create(&PostParams::default(), &next).await,
            Some(_) => {
                self.api
                    .replace(&self.name, &PostParams::default(), &next)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            // Someone else won the race (409) or created it first (409 on create too).
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(Error::Kube(e)),
        }
    }

    /// Steps down if we hold the lease (on shutdown); errors are only logged.
    pub(crate) async fn release(&self) {
        let result = async {
            let Some(current) = self.api.get_opt(&self.name).await? else {
                return Ok(());
            };
            if let Some(lease) = released(&current, &self.identity) {
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await?;
            }
            Ok::<(), kube::Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "leader election: could not release the lease");
        }
    }

    /// Waits until this replica leads.
    pub(crate) async fn acquire(&self) {
        loop {
            match self.try_lead().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "leader election: acquire failed"),
            }
            tokio::time::sleep(RETRY_PERIOD).await;
        }
    }

    /// Renews the Lease until another replica holds it, then returns. Each successful
    /// renewal opens `gate` for [`RENEW_DEADLINE`]; while renewals fail (the API server
    /// is unreachable) the gate closes by itself, the caches stay, and `metrics` tells
    /// `/readyz` why. Whether this replica still leads is settled by the first renewal
    /// that reaches the server again.
    pub(crate) async fn hold(
        &self,
        metrics: &super::metrics::Metrics,
        gate: &super::gate::WriteGate,
    ) -> Error {
        gate.confirm();
        let mut paused = false;
        loop {
            tokio::time::sleep(RETRY_PERIOD).await;
            let attempt = self.try_lead().await;
            metrics.api_reached(match &attempt {
                Err(e) => Err(e.to_string()),
                Ok(_) => Ok(()),
            });
            match attempt {
                Ok(true) => {
                    gate.confirm();
                    if std::mem::take(&mut paused) {
                        tracing::info!("leader election: Lease renewed; writing again");
                    }
                }
                Ok(false) => {
                    return Error::LeaseLost {
                        lease: crate::reconcile::key::ObjectKey::new(&self.namespace, &self.name),
                    };
                }
                Err(e) => {
                    tracing::warn!(error = %e, "leader election: renew failed");
                    if !gate.open() && !paused {
                        paused = true;
                        tracing::warn!(
                            "leader election: Lease not confirmed for {}s; writes paused, caches kept",
                            RENEW_DEADLINE.as_secs()
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn lease(holder: &str, renewed: i64) -> Lease {
        next_lease(None, "l", "ns", holder, at(renewed))
            .map(|mut l| {
                l.metadata.resource_version = Some("7".into());
                l
            })
            .unwrap()
    }

    #[test]
    fn a_valid_lease_of_another_keeps_us_standby_until_it_expires() {
        let l = lease("a", 100);
        assert_eq!(
            decide(Some(&l), "b", at(110)),
            Decision::Standby { holder: "a".into() }
        );
        assert!(next_lease(Some(&l), "l", "ns", "b", at(110)).is_none());
        assert_eq!(decide(Some(&l), "b", at(116)), Decision::Acquire);
        let taken = next_lease(Some(&l), "l", "ns", "b", at(116)).unwrap();
        let spec = taken.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(spec.lease_transitions, Some(1));
        // The write is conditional on the version read.
        assert_eq!(taken.metadata.resource_version.as_deref(), Some("7"));
    }

    #[test]
    fn the_holder_renews_and_nobody_holds_a_missing_lease() {
        let l = lease("a", 100);
        assert_eq!(decide(Some(&l), "a", at(105)), Decision::Renew);
        let renewed = next_lease(Some(&l), "l", "ns", "a", at(105))
            .unwrap()
            .spec
            .unwrap();
        assert_eq!(renewed.renew_time.unwrap().0, at(105));
        assert_eq!(renewed.acquire_time.unwrap().0, at(100));
        assert_eq!(decide(None, "a", at(0)), Decision::Acquire);
    }

    #[test]
    fn only_the_holder_releases_and_then_anyone_acquires() {
        let l = lease("a", 100);
        assert!(released(&l, "b").is_none());
        let free = released(&l, "a").unwrap();
        assert_eq!(free.spec.as_ref().unwrap().holder_identity, None);
        assert_eq!(free.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(decide(Some(&free), "b", at(101)), Decision::Acquire);
    }
}
