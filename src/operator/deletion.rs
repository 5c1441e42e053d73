//! A deletion held by the finalizer, made visible: while removing a client at the IdP
//! fails, `Ready` says so (a stuck object must not read `Ready=True "credentials
//! published"`), and one Warning event marks the start of the wait.

use super::Error;
use super::context::Context;
use super::status::publish_status;
use crate::api::OAuthClient;
use crate::reconcile::conditions::{ConditionExt, ConditionReason, ConditionType, condition};
use kube::ResourceExt;

/// Publishes `Ready=False DeletionBlocked` with the cause. Status is written only when it
/// changes, and the event only when the wait begins: the finalizer's retries back off,
/// and each one would otherwise add an event.
pub(crate) async fn report_blocked(client: &OAuthClient, ctx: &Context, error: &Error) {
    let message = format!(
        "being deleted, but removing the client at the IdP failed: {error}; retried with backoff until it succeeds (or set spec.deletionPolicy: Orphan to leave the client at the IdP)"
    );
    let mut status = client.status.clone().unwrap_or_default();
    // Marking the object for deletion bumped its generation; this is the status of it.
    status.observed_generation = client.metadata.generation;
    let mut fresh: Vec<_> = status
        .conditions
        .iter()
        .filter(|c| !c.is(ConditionType::Ready))
        .cloned()
        .collect();
    fresh.push(condition(
        ConditionType::Ready,
        Some(false),
        ConditionReason::DeletionBlocked,
        message,
    ));
    status.conditions = fresh;
    // The event marks the start of the wait only (`Ready` turning False with this
    // reason), as for every other status.
    if let Err(e) = publish_status(ctx, client, status).await {
        // The finalizer's own error is what the controller retries on; this is the
        // courtesy that explains it.
        tracing::warn!(error = %e, client = %client.name_any(), "could not publish the blocked deletion");
    }
}
