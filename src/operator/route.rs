//! ForwardAuthRoute: status only. Its compiled form goes into the configuration through
//! the writer; this reconciler reads the writer's verdict (`Programmed`) and the
//! provider's status, and writes status only when it changed.

use super::Result;
use super::context::Context;
use super::status::publish_status;
use crate::api::ForwardAuthRoute;
use crate::reconcile::key::ObjectKey;
use crate::reconcile::provider::world_with_client;
use crate::reconcile::route::{config, status};
use crate::reconcile::world::World;
use crate::reconcile::writer_plan::{Programmed, changed_routes};
use futures::{Stream, StreamExt};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The world a route's status reads: its provider and the provider's client.
pub(crate) fn world_for(ctx: &Context, route: &ForwardAuthRoute) -> World {
    let pref = crate::reconcile::index::provider_of_route(route);
    let Some(provider) = ctx.stores.providers.get(&pref) else {
        return World::default();
    };
    let client = provider.spec.client_ref.as_ref().and_then(|r| {
        let ns = provider.namespace().unwrap_or_default();
        ctx.stores.client(r.namespace_or(&ns), &r.name)
    });
    world_with_client(&provider, client.as_deref())
}

/// The routes to reconcile as the writer publishes verdicts: those whose verdict
/// differs from the last verdicts this stream saw. Values published in between are
/// skipped, never their changes: a verdict that flipped and flipped back needs nothing.
pub(crate) fn verdict_changes(
    verdicts: watch::Receiver<Option<Arc<Programmed>>>,
) -> impl Stream<Item = ObjectRef<ForwardAuthRoute>> + Send {
    let seen: Option<Arc<Programmed>> = None;
    futures::stream::unfold((verdicts, seen), |(mut verdicts, seen)| async move {
        verdicts.changed().await.ok()?;
        let now = verdicts.borrow_and_update().clone();
        let changed = match &now {
            Some(after) => changed_routes(seen.as_deref(), after),
            None => Vec::new(),
        };
        let refs: Vec<ObjectRef<ForwardAuthRoute>> =
            changed.iter().map(ObjectKey::object_ref).collect();
        Some((futures::stream::iter(refs), (verdicts, now.or(seen))))
    })
    .flatten()
}

/// Reconciles one ForwardAuthRoute.
pub async fn reconcile(route: Arc<ForwardAuthRoute>, ctx: Arc<Context>) -> Result<Action> {
    let id = ObjectKey::of(route.as_ref());
    // Before the writer has judged this route (first pass, or a route newer than the
    // last pass) the verdict is unknown: wait for the writer, whose verdict triggers
    // this route when it appears, rather than write a False that flips to True a
    // moment later.
    let Some(programmed) = ctx.verdict(&id) else {
        return Ok(Action::requeue(Duration::from_secs(5)));
    };
    let world = world_for(&ctx, &route);
    let provider_conditions = world
        .providers
        .first()
        .and_then(|p| p.status.as_ref())
        .map(|s| s.conditions.clone());
    let compiled = config(&route);
    let st = status(
        &world,
        &route,
        &compiled,
        provider_conditions.as_deref(),
        programmed,
    );
    publish_status(&ctx, route.as_ref(), st).await?;
    ctx.reset_backoff(&super::backoff::BackoffKey::of(route.as_ref()));
    Ok(Action::await_change())
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
