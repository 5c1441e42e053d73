//! Background work: provider discovery with backoff, periodic JWKS refresh, and the
//! configuration reload loop.

use super::App;
use super::source::ConfigSource;
use super::state::{Loaded, ProviderSlot};
use crate::oidc::Provider;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Longest wait between discovery attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Starts discovery for every slot of `loaded` that has none running yet.
pub(crate) fn spawn_discovery(app: &Arc<App>, loaded: &Loaded) {
    for slot in loaded.providers.values() {
        if slot.get().is_none() && slot.claim_start() {
            tokio::spawn(discover(Arc::downgrade(slot), Arc::downgrade(app)));
        }
    }
}

/// Retries discovery (and the first JWKS fetch) until it succeeds or the slot is no
/// longer part of the served configuration.
async fn discover(slot: Weak<ProviderSlot>, app: Weak<App>) {
    let mut delay = Duration::from_millis(500);
    loop {
        let Some(s) = slot.upgrade() else { return };
        let result = Provider::discover(
            s.config.clone(),
            s.secrets.client_secret.clone(),
            s.secrets.ca_bundle.as_deref(),
        )
        .await;
        match result {
            Ok(provider) => {
                tracing::info!(provider = %s.key, issuer = %s.config.issuer_url, "provider ready (discovery and JWKS loaded)");
                s.set(provider);
                if let Some(app) = app.upgrade() {
                    app.update_ready_gauge();
                }
                return;
            }
            Err(e) => {
                tracing::warn!(provider = %s.key, reason = %e.reason(), error = %e, retry_in_ms = delay.as_millis() as u64, "provider discovery failed; retrying");
                s.set_error(e.to_string());
            }
        }
        drop(s);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_BACKOFF);
    }
}

/// Refreshes every ready provider's JWKS every `interval`.
pub(crate) async fn jwks_loop(app: Weak<App>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(app) = app.upgrade() else { return };
        let loaded = app.loaded();
        for slot in loaded.providers.values() {
            if let Some(provider) = slot.get() {
                let ok = provider.jwks().refresh().await.is_ok();
                app.metrics.jwks_refresh(&slot.key, ok);
            }
        }
    }
}

/// Polls `source` every `interval`; a changed, valid configuration is swapped in, an
/// invalid one is logged (once per distinct error) and the served one kept.
pub(crate) async fn reload_loop(app: Weak<App>, source: Arc<dyn ConfigSource>, interval: Duration) {
    let mut last_error: Option<String> = None;
    loop {
        tokio::time::sleep(interval).await;
        let Some(app) = app.upgrade() else { return };
        let current = app.loaded();
        let outcome = match source.load().await {
            Ok(snapshot) if snapshot.fingerprint == current.fingerprint => {
                last_error = None;
                continue;
            }
            Ok(snapshot) => Loaded::build(snapshot, Some(&current), app.allow_http_loopback)
                .map_err(|e| ("invalid", e.to_string())),
            Err(e) => Err((e.metric_label(), e.to_string())),
        };
        match outcome {
            Ok(loaded) => {
                let loaded = Arc::new(loaded);
                spawn_discovery(&app, &loaded);
                tracing::info!(source = %source.describe(), routes = loaded.routes.len(), providers = loaded.providers.len(), "configuration reloaded");
                app.swap(loaded);
                app.metrics.config_reload("success");
                last_error = None;
            }
            Err((label, message)) => {
                if last_error.as_deref() != Some(message.as_str()) {
                    tracing::error!(source = %source.describe(), error = %message, "new configuration refused; still serving the previous one");
                    app.metrics.config_reload(label);
                    last_error = Some(message);
                }
            }
        }
    }
}
