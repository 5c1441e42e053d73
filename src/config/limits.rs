//! Abuse limits in the compiled configuration.

use serde::{Deserialize, Serialize};

/// A rate with a burst, per client address (after trusted forwarding resolution).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRateLimit {
    /// Sustained sign-in requests per minute; 0 switches the limit off.
    pub requests_per_minute: u32,
    /// Requests allowed at once before the rate applies (at least 1).
    pub burst: u32,
}

/// Default of [`LoginRateLimit::requests_per_minute`]: a sign-in is two requests
/// (start and callback), so a person never meets it, a script soon does.
pub const DEFAULT_LOGIN_RATE_PER_MINUTE: u32 = 60;
/// Default of [`LoginRateLimit::burst`].
pub const DEFAULT_LOGIN_BURST: u32 = 30;

impl Default for LoginRateLimit {
    fn default() -> Self {
        Self {
            requests_per_minute: DEFAULT_LOGIN_RATE_PER_MINUTE,
            burst: DEFAULT_LOGIN_BURST,
        }
    }
}
