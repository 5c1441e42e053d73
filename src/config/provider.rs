//! A provider in the compiled configuration, and the defaults it shares with the
//! `OIDCProvider` kind: one definition, read by the file format (serde and schema
//! defaults, so `docs/reference/outpost-config.md` shows them) and by the compiler that
//! resolves an `OIDCProvider` whose spec leaves the same fields out.

use super::SecretSource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Default of [`ProviderConfig::clock_skew_seconds`] and of `OIDCProvider`
/// `spec.clockSkew` (`30s`).
pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 30;

/// Default of [`ProviderConfig::scopes`] and of `OIDCProvider` `spec.scopes`.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// [`DEFAULT_SCOPES`] as the list a provider holds.
pub fn default_scopes() -> Vec<String> {
    DEFAULT_SCOPES.iter().map(|s| (*s).to_string()).collect()
}

fn default_clock_skew_seconds() -> u64 {
    DEFAULT_CLOCK_SKEW_SECONDS
}

/// One upstream OpenID provider and the client the outpost uses at it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderConfig {
    /// The issuer exactly as the IdP advertises it (compared byte for byte with `iss`).
    #[serde(rename = "issuerURL")]
    pub issuer_url: String,
    /// OAuth client id at the IdP.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// OAuth client secret (absent for public clients using PKCE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretSource>,
    /// Scopes requested at login; keep `openid` in the list (without it there is no ID
    /// token).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Which claims carry identity; a claim left out keeps its default.
    #[serde(default)]
    pub claims: ClaimNames,
    /// Accepted JWS algorithms; empty means "what discovery advertises".
    #[serde(default)]
    pub allowed_algorithms: Vec<String>,
    /// Leeway for `exp`/`iat`/`nbf`, in seconds.
    #[serde(default = "default_clock_skew_seconds")]
    pub clock_skew_seconds: u64,
    /// Extra accepted `aud` values for bearer tokens (the client id is always accepted).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// PEM bundle of CAs trusted for the IdP's TLS, in addition to the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<SecretSource>,
}

/// The defaults a file gets for what it leaves out (scopes, claims, clock skew), so code
/// that builds a provider with `..Default::default()` means what a file would; the
/// issuer and client id, which have none, are empty.
impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            issuer_url: String::new(),
            client_id: String::new(),
            client_secret: None,
            scopes: default_scopes(),
            claims: ClaimNames::default(),
            allowed_algorithms: Vec::new(),
            clock_skew_seconds: DEFAULT_CLOCK_SKEW_SECONDS,
            audiences: Vec::new(),
            ca_bundle: None,
        }
    }
}

/// The claim names that make up an identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// `default` on the struct: each claim left out of a file takes its value from
// `ClaimNames::default()`, so `claims: { groups: roles }` keeps the other three.
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClaimNames {
    /// Claims tried in order for the username; `email` falls back to its local part.
    pub username: Vec<String>,
    /// The email claim.
    pub email: String,
    /// The groups claim (a list of strings, or one string).
    pub groups: String,
    /// The claim that lists `resource:action` permissions.
    pub permissions: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            username: vec!["preferred_username".into(), "email".into()],
            email: "email".into(),
            groups: "groups".into(),
            permissions: "permissions".into(),
        }
    }
}

#[cfg(test)]
#[path = "provider_tests.rs"]
mod tests;
