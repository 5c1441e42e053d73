//! A bounded cache of verified bearer tokens, keyed by SHA-256 of route id and token, so
//! a repeated API token costs a hash and a map lookup instead of a signature check.
//! Entries live until the token's `exp`, at most [`MAX_TTL`] seconds (so a rotated-out
//! signing key stops being honoured soon after the IdP drops it).

use crate::oidc::Identity;
use aws_lc_rs::digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most entries kept; when full, expired ones are dropped, then everything. At about
/// 1.25 kB an entry (docs/benchmarks.md) a full cache costs ~5 MB, which keeps the
/// outpost under its 25 MB RSS budget.
pub(crate) const MAX_ENTRIES: usize = 4_096;
/// Longest time a verified token is trusted without re-verification.
pub const MAX_TTL: u64 = 300;

/// A cached verification: valid until (unix seconds), and the identity.
type Entry = (u64, Arc<Identity>);

/// Verified tokens and the identity they carry.
#[derive(Debug, Default)]
pub struct BearerCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

/// The cache key: SHA-256(route id, NUL, token). The token itself is never stored.
pub fn cache_key(route: &str, token: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(route.as_bytes());
    ctx.update(&[0]);
    ctx.update(token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl BearerCache {
    /// The cached identity, when the entry has not expired at `now`.
    pub fn get(&self, key: &[u8; 32], now: u64) -> Option<Arc<Identity>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(until, _)| now < *until)
            .map(|(_, id)| id.clone())
    }

    /// Caches an identity until `exp` (capped at `now + MAX_TTL`).
    pub fn insert(&self, key: [u8; 32], exp: Option<u64>, identity: Arc<Identity>, now: u64) {
        let until = exp.unwrap_or(now).min(now.saturating_add(MAX_TTL));
        if until <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (u, _)| now < *u);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (until, identity));
    }

    /// Number of entries (for tests and debugging).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(sub: &str) -> Arc<Identity> {
        Arc::new(Identity {
            sub: sub.into(),
            ..Identity::default()
        })
    }

    #[test]
    fn entries_expire_at_exp_or_max_ttl() {
        let cache = BearerCache::default();
        let k = cache_key("r", "t1");
        cache.insert(k, Some(1_000 + 60), id("a"), 1_000);
        assert_eq!(cache.get(&k, 1_059).unwrap().sub, "a");
        assert!(cache.get(&k, 1_060).is_none());
        let k2 = cache_key("r", "t2");
        cache.insert(k2, Some(1_000_000), id("b"), 1_000);
        assert!(cache.get(&k2, 1_000 + MAX_TTL - 1).is_some());
        assert!(cache.get(&k2, 1_000 + MAX_TTL).is_none());
        // Expired or exp-less tokens are not cached at all.
        cache.insert(cache_key("r", "old"), Some(999), id("c"), 1_000);
        cache.insert(cache_key("r", "noexp"), None, id("d"), 1_000);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn keys_bind_the_route_and_the_cache_stays_bounded() {
        assert_ne!(cache_key("a", "t"), cache_key("b", "t"));
        let cache = BearerCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            cache.insert(cache_key("r", &i.to_string()), Some(2_000), id("x"), 1_000);
        }
        assert!(cache.len() <= MAX_ENTRIES);
        assert!(
            cache
                .get(&cache_key("r", &(MAX_ENTRIES + 9).to_string()), 1_001)
                .is_some()
        );
    }
}
