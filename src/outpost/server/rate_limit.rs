//! Abuse limits on the sign-in endpoints (`/oauth2/start`, `/oauth2/callback`), per
//! client address: a generic cell rate algorithm (GCRA) with a burst, one theoretical
//! arrival time per (route, address).
//!
//! The address is the client address after trusted forwarding resolution
//! ([`super::decision::client_ip`]): an untrusted peer's `X-Forwarded-For` never chooses
//! the bucket. IPv6 addresses count per /64, the block one subscriber usually holds.
//!
//! Hand-written rather than a keyed limiter crate: the state is one `u64` per key, the
//! bound on keys is explicit ([`MAX_KEYS`]), and a key whose arrival time has passed is
//! indistinguishable from a fresh one, so forgetting it changes nothing.

use crate::config::LoginRateLimit;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Keys kept at most; past it, keys that are back to fresh are forgotten, then the
/// ones closest to fresh, so a flood of distinct addresses cannot grow memory.
pub const MAX_KEYS: usize = 100_000;

const NANOS_PER_MINUTE: u64 = 60_000_000_000;

/// Per-address limiter state for every route.
#[derive(Debug)]
pub struct LoginLimiter {
    epoch: Instant,
    /// Theoretical arrival time (nanoseconds since `epoch`) per (route hash, address).
    cells: Mutex<HashMap<(u64, IpAddr), u64>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            cells: Mutex::default(),
        }
    }
}

/// The bucket an address falls into: itself for IPv4, its /64 for IPv6 (an IPv4-mapped
/// IPv6 address is its IPv4 address).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl LoginLimiter {
    /// Counts one sign-in request from `ip` on `route`: `Ok` when allowed, else the
    /// seconds until the next one would be (for `Retry-After`).
    pub fn check(&self, route: &str, ip: IpAddr, limit: &LoginRateLimit) -> Result<(), u64> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(route, ip, limit, now)
    }

    /// [`LoginLimiter::check`] at `now` nanoseconds since the limiter's epoch.
    pub(crate) fn check_at(
        &self,
        route: &str,
        ip: IpAddr,
        limit: &LoginRateLimit,
        now: u64,
    ) -> Result<(), u64> {
        if limit.requests_per_minute == 0 {
            return Ok(());
        }
        let interval = NANOS_PER_MINUTE / u64::from(limit.requests_per_minute);
        let tolerance = interval.saturating_mul(u64::from(limit.burst.max(1)));
        let mut hasher = DefaultHasher::new();
        route.hash(&mut hasher);
        let key = (hasher.finish(), bucket(ip));
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let tat = cells.get(&key).copied().unwrap_or(now).max(now);
        let next = tat.saturating_add(interval);
        if next - now > tolerance {
            let wait = next - now - tolerance;
            return Err(wait.div_ceil(1_000_000_000).max(1));
        }
        if cells.len() >= MAX_KEYS && !cells.contains_key(&key) {
            shrink(&mut cells, now);
        }
        cells.insert(key, next);
        Ok(())
    }

    /// Keys held (for tests and the bound).
    pub fn len(&self) -> usize {
        self.cells.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Forgets keys that are back to fresh; if that is not enough, the half closest to it.
fn shrink(cells: &mut HashMap<(u64, IpAddr), u64>, now: u64) {
    cells.retain(|_, tat| *tat > now);
    if cells.len() >= MAX_KEYS {
        let mut tats: Vec<u64> = cells.values().copied().collect();
        tats.sort_unstable();
        let cut = tats[tats.len() / 2];
        cells.retain(|_, tat| *tat > cut);
    }
}

#[cfg(test)]
#[path = "rate_limit_tests.rs"]
mod tests;
