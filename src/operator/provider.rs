//! OIDCProvider: observe (the caches, the CA bundle, a probe of the IdP), compute the
//! desired status ([`crate::reconcile::provider_status`], pure), publish it.

use super::backoff::BackoffKey;
use super::context::{Context, Stores};
use super::idp_error::IdpError;
use super::probe::{self, Report};
use super::status::publish_status;
use super::{ApiContext, Error, Result, Verb};
use crate::api::{CABundleKind, OIDCProvider};
use crate::reconcile::index;
use crate::reconcile::key::ObjectKey;
use crate::reconcile::provider::world_with_client;
use crate::reconcile::provider_status::{Observed, Verdict, desired};
use crate::reconcile::world::{World, secret_value};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use std::sync::Arc;

/// The inputs of `provider::config` from the caches.
pub(crate) fn world_for(stores: &Stores, provider: &OIDCProvider) -> World {
    let client = provider.spec.client_ref.as_ref().and_then(|r| {
        let ns = provider.namespace().unwrap_or_default();
        stores.client(r.namespace_or(&ns), &r.name)
    });
    world_with_client(provider, client.as_deref())
}

/// The HTTP client for a provider's IdP: the shared one, or one trusting its CA bundle.
pub(crate) async fn http_for(ctx: &Context, provider: &OIDCProvider) -> Result<reqwest::Client> {
    let Some(r) = &provider.spec.ca_bundle_ref else {
        return Ok(ctx.http.clone());
    };
    let ns = provider
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let pem = match r.kind {
        CABundleKind::ConfigMap => Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .during(Verb::Get, || format!("ConfigMap {ns}/{}", r.name))?
            .and_then(|c| c.data.and_then(|mut d| d.remove(&r.key))),
        CABundleKind::Secret => Api::<Secret>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .during(Verb::Get, || format!("Secret {ns}/{}", r.name))?
            .and_then(|s| secret_value(&s, &r.key)),
    };
    let bundle = ObjectKey::new(&ns, &r.name);
    let pem = pem.ok_or_else(|| IdpError::CaBundleMissing {
        bundle: bundle.clone(),
        key: r.key.clone(),
    })?;
    crate::oidc::build_client(Some(&pem)).map_err(|e| {
        IdpError::CaBundleUnusable {
            bundle,
            source: Box::new(e),
        }
        .into()
    })
}

/// Reconciles one OIDCProvider: observe (caches, CA bundle, a probe of the IdP), the
/// pure [`desired`], publish.
pub async fn reconcile(provider: Arc<OIDCProvider>, ctx: Arc<Context>) -> Result<Action> {
    let key = ObjectKey::of(provider.as_ref());
    let world = world_for(&ctx.stores, &provider);
    let compiled = crate::reconcile::provider::config(&world, &provider);
    let report = match http_for(&ctx, &provider).await {
        Ok(http) => probe::probe(&http, &provider.spec.issuer_url, ctx.now).await,
        // A missing or broken CA bundle is the user's to fix: say so in status rather
        // than retrying silently.
        Err(Error::Idp(e)) => Report {
            discovery_error: Some(format!("spec.caBundleRef: {e}")),
            at: Some((ctx.now)()),
            ..Default::default()
        },
        Err(e) => return Err(e),
    };
    let now = (ctx.now)();
    let failed = report.discovery_error.is_some() || report.jwks_error.is_some();
    let error = report.discovery_error.clone().or(report.jwks_error.clone());
    let needed_claims = index::needed_claims(&provider, &ctx.stores.routes.state());
    let verdict = desired(Observed {
        provider: &provider,
        compiled: &compiled,
        report,
        needed_claims: &needed_claims,
        failing_since: ctx.probe_failing_since(&key, failed, now),
        now,
        grace: ctx.idp_failure_grace,
    });
    match verdict {
        Verdict::HoldLastGood => {
            // Not believed yet: the last good status stays, and the IdP is asked again
            // sooner than the usual re-check to learn whether the failure persists.
            tracing::info!(provider = %key, error = ?error, "IdP probe failed; keeping the last good status until it persists");
            Ok(Action::requeue(
                (ctx.idp_failure_grace / 3)
                    .min(ctx.idp_recheck)
                    .max(std::time::Duration::from_secs(1)),
            ))
        }
        Verdict::Publish(status) => {
            publish_status(&ctx, provider.as_ref(), *status).await?;
            ctx.reset_backoff(&BackoffKey::of(provider.as_ref()));
            Ok(Action::requeue(ctx.idp_recheck))
        }
    }
}
