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
use kube::ResourceExt;
use kube::runtime::controller::Action;
use std::sync::Arc;
use std::time::Duration;

/// The world a route's status reads: its provider and the provider's client.
pub fn world_for(ctx: &Context, route: &ForwardAuthRoute) -> World {
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

/// Reconciles one ForwardAuthRoute.
pub async fn reconcile(route: Arc<ForwardAuthRoute>, ctx: Arc<Context>) -> Result<Action> {
    let id = ObjectKey::of(route.as_ref());
    let programmed = {
        let guard = ctx.programmed.read().expect("not poisoned");
        // Before the writer has judged this route (first pass, or a route newer than
        // the last pass) the verdict is unknown: wait for the writer, which triggers
        // this route when its verdict appears, rather than write a False that flips
        // to True a moment later.
        match guard.as_ref().and_then(|m| m.get(&id)) {
            None => return Ok(Action::requeue(Duration::from_secs(5))),
            Some(verdict) => verdict.clone(),
        }
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
    ctx.reset_backoff(&super::context::backoff_key(route.as_ref()));
    Ok(Action::await_change())
}
