//! Prometheus metrics of the outpost, served on the admin port at `/metrics`.

use crate::reason::{Outcome, Reason};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::RwLock;

type Labels = Vec<(&'static str, String)>;

/// A decision's labels besides the route, all `Copy`.
type DecisionKey = (&'static str, Outcome, Reason);

/// The decision counters and latency histograms already created, found by borrowed
/// labels: the families' `get_or_create` takes an owned label set, which cost four
/// `String`s per request on the auth subrequest. A handle is the family's own metric
/// (a clone shares the same atomic), so the exported text is exactly the same.
#[derive(Default)]
struct HotHandles {
    decisions: RwLock<HashMap<String, HashMap<DecisionKey, Counter>>>,
    latency: RwLock<HashMap<&'static str, Histogram>>,
}

/// Every metric the outpost exports. Labels carry route ids and reason codes only.
pub struct Metrics {
    registry: Registry,
    decisions: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    jwks_refreshes: Family<Labels, Counter>,
    config_reloads: Family<Labels, Counter>,
    providers_ready: Gauge,
    token_refreshes: Family<Labels, Counter>,
    refresh_grace: Family<Labels, Counter>,
    hot: HotHandles,
}

/// A handle on the token-refresh counter, for refresh tasks that outlive a request.
#[derive(Clone, Debug)]
pub(crate) struct RefreshCounter(Family<Labels, Counter>);

impl RefreshCounter {
    /// Counts one refresh attempt (`success`, `refused`, `unreachable`, `ended`).
    pub fn count(&self, route: &str, result: &'static str) {
        self.0
            .get_or_create(&vec![
                ("route", route.to_string()),
                ("result", result.to_string()),
            ])
            .inc();
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~1.6 s: a cookie check is tens of µs, a login round trip is 100s of ms.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portcullis_outpost");
        let decisions = Family::<Labels, Counter>::default();
        registry.register(
            "decisions",
            "Auth decisions by route, endpoint, result and reason code",
            decisions.clone(),
        );
        let latency =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time to answer, by endpoint",
            latency.clone(),
        );
        let jwks_refreshes = Family::<Labels, Counter>::default();
        registry.register(
            "jwks_refreshes",
            "Periodic JWKS refreshes by provider and result",
            jwks_refreshes.clone(),
        );
        let config_reloads = Family::<Labels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration loads by result",
            config_reloads.clone(),
        );
        let providers_ready = Gauge::default();
        registry.register(
            "providers_ready",
            "Providers with discovery and JWKS loaded",
            providers_ready.clone(),
        );
        let token_refreshes = Family::<Labels, Counter>::default();
        registry.register(
            "token_refreshes",
            "Refresh-token calls to the IdP by route and result (success, refused, unreachable, ended)",
            token_refreshes.clone(),
        );
        let refresh_grace = Family::<Labels, Counter>::default();
        registry.register(
            "served_in_refresh_grace",
            "Requests served on a session's last identity because its tokens expired while the IdP was unreachable",
            refresh_grace.clone(),
        );
        Self {
            registry,
            token_refreshes,
            refresh_grace,
            decisions,
            latency,
            jwks_refreshes,
            config_reloads,
            providers_ready,
            hot: HotHandles::default(),
        }
    }

    /// Counts one decision.
    pub fn decision(&self, route: &str, endpoint: &'static str, result: Outcome, reason: Reason) {
        let key = (endpoint, result, reason);
        let cache = &self.hot.decisions;
        if let Some(counter) = read(cache).get(route).and_then(|by| by.get(&key)) {
            counter.inc();
            return;
        }
        let counter = self
            .decisions
            .get_or_create(&vec![
                ("route", route.to_string()),
                ("endpoint", endpoint.to_string()),
                ("result", result.label().to_string()),
                ("reason", reason.code().to_string()),
            ])
            .clone();
        counter.inc();
        write(cache)
            .entry(route.to_string())
            .or_default()
            .insert(key, counter);
    }

    /// Records how long an endpoint took.
    pub(crate) fn observe(&self, endpoint: &'static str, seconds: f64) {
        let cache = &self.hot.latency;
        if let Some(histogram) = read(cache).get(endpoint) {
            histogram.observe(seconds);
            return;
        }
        let histogram = self
            .latency
            .get_or_create(&vec![("endpoint", endpoint.to_string())])
            .clone();
        histogram.observe(seconds);
        write(cache).insert(endpoint, histogram);
    }

    /// Counts a periodic JWKS refresh.
    pub(crate) fn jwks_refresh(&self, provider: &str, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.jwks_refreshes
            .get_or_create(&vec![
                ("provider", provider.to_string()),
                ("result", result.to_string()),
            ])
            .inc();
    }

    /// Counts a configuration load (`success`, or the error's metric label).
    pub(crate) fn config_reload(&self, result: &str) {
        self.config_reloads
            .get_or_create(&vec![("result", result.to_string())])
            .inc();
    }

    /// Sets the number of ready providers.
    pub(crate) fn set_providers_ready(&self, n: usize) {
        self.providers_ready
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The token-refresh counter, to move into a refresh task.
    pub(crate) fn token_refreshes(&self) -> RefreshCounter {
        RefreshCounter(self.token_refreshes.clone())
    }

    /// Counts a request served within the refresh grace (IdP unreachable).
    pub(crate) fn served_in_refresh_grace(&self, route: &str) {
        self.refresh_grace
            .get_or_create(&vec![("route", route.to_string())])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// A read guard; a panic elsewhere while holding the lock leaves a usable cache (it
/// only ever holds complete entries).
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The write guard, as [`read`].
fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_decisions_with_labels() {
        let m = Metrics::new();
        m.decision("team/app", "auth", Outcome::Allow, Reason::Authenticated);
        m.decision("team/app", "auth", Outcome::Allow, Reason::Authenticated);
        m.config_reload("success");
        m.observe("auth", 0.001);
        let text = m.render();
        assert!(
            text.contains("portcullis_outpost_decisions_total{route=\"team/app\",endpoint=\"auth\",result=\"allow\",reason=\"authenticated\"} 2"),
            "{text}"
        );
        assert!(text.contains("portcullis_outpost_config_reloads_total{result=\"success\"} 1"));
        assert!(
            text.contains("portcullis_outpost_request_duration_seconds_count{endpoint=\"auth\"} 1")
        );
    }

    /// The exported lines of the decision and latency metrics, sorted (a family's
    /// series come out in hash order).
    fn hot_lines(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("_decisions") || l.contains("_request_duration_seconds"))
            .collect();
        lines.sort_unstable();
        lines
    }

    #[test]
    fn cached_handles_export_exactly_what_the_label_families_did() {
        // The oracle: the families alone, with owned labels per call, as before.
        let mut registry = Registry::with_prefix("portcullis_outpost");
        let decisions = Family::<Labels, Counter>::default();
        registry.register(
            "decisions",
            "Auth decisions by route, endpoint, result and reason code",
            decisions.clone(),
        );
        let latency =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time to answer, by endpoint",
            latency.clone(),
        );
        let m = Metrics::new();
        let odd = "team/\"odd\"\\ü\n";
        let sample = [
            (
                "team/app",
                "auth",
                Outcome::Allow,
                Reason::Authenticated,
                0.000_03,
            ),
            (
                "team/app",
                "auth",
                Outcome::Allow,
                Reason::Authenticated,
                0.2,
            ),
            (
                "team/app",
                "auth",
                Outcome::Unauthenticated,
                Reason::NoSession,
                0.01,
            ),
            (
                "-",
                "auth",
                Outcome::Unauthenticated,
                Reason::PublicPath,
                0.000_1,
            ),
            (
                "team/app",
                "callback",
                Outcome::Allow,
                Reason::Authenticated,
                0.3,
            ),
            (odd, "auth", Outcome::Denied, Reason::SessionExpired, 2.0),
            (
                "team/other",
                "auth",
                Outcome::Allow,
                Reason::Authenticated,
                0.001,
            ),
            (
                "team/app",
                "auth",
                Outcome::Allow,
                Reason::Authenticated,
                0.000_05,
            ),
            (odd, "auth", Outcome::Denied, Reason::SessionExpired, 0.5),
        ];
        for (route, endpoint, result, reason, seconds) in sample {
            m.decision(route, endpoint, result, reason);
            m.observe(endpoint, seconds);
            decisions
                .get_or_create(&vec![
                    ("route", route.to_string()),
                    ("endpoint", endpoint.to_string()),
                    ("result", result.label().to_string()),
                    ("reason", reason.code().to_string()),
                ])
                .inc();
            latency
                .get_or_create(&vec![("endpoint", endpoint.to_string())])
                .observe(seconds);
        }
        let mut expected = String::new();
        encode(&mut expected, &registry).unwrap();
        let ours = m.render();
        assert_eq!(hot_lines(&ours), hot_lines(&expected), "{ours}");
        assert!(
            ours.contains("result=\"allow\",reason=\"authenticated\"} 3"),
            "{ours}"
        );
    }
}
