//! The compiled outpost configuration: what the operator derives from the three CRDs and
//! what `portcullis outpost` serves. One type, whether it is read from a file
//! (`--config`) or from label-selected objects in the cluster.
//!
//! Everything here is already resolved: defaults applied, hosts lower-cased, durations in
//! seconds. The outpost validates it once more on load ([`OutpostConfig::validate`]) so a
//! hand-written file gets the same clear errors as an operator-written one.

mod example;
#[cfg(test)]
pub(crate) mod fixture;
mod identity_field;
mod limits;
mod provider;
mod public;
mod route_index;
mod store;
mod validate;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use example::MINIMAL_EXAMPLE;
pub use identity_field::{
    IDENTITY_FIELD_PATTERN, IdentityField, UnknownIdentityField, check_header_name,
};
pub use limits::{DEFAULT_LOGIN_BURST, DEFAULT_LOGIN_RATE_PER_MINUTE, LoginRateLimit};
pub use provider::{
    ClaimNames, DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_SCOPES, ProviderConfig, default_scopes,
};
pub use public::{HttpMethod, PublicRequest};
pub use route_index::RouteIndex;
pub use store::{RedisConfig, RedisMode, StoreConfig};
pub use validate::{ConfigError, external_url};

/// Key of the cookie secret in the outposts' keys Secret (the chart's
/// `outpost.keys.cookieSecretKey` default; the operator's `--outpost-keys-secret` writes
/// it, a sidecar's `--keys-secret` reads it).
pub const COOKIE_SECRET_KEY: &str = "cookie-secret";
/// Key of the PKCS#8 P-256 signing key in the outposts' keys Secret (the chart's
/// `outpost.keys.signingKeyKey`).
pub const SIGNING_KEY_KEY: &str = "signing-key.pem";

/// The compiled configuration of every provider and route an outpost serves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutpostConfig {
    /// Upstream OpenID providers, keyed by `namespace/name`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Protected routes; a request goes to the route with the longest matching path
    /// prefix for its host (on a tie, the later route).
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// Where a secret (or other referenced) value comes from. Exactly one field is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSource {
    /// The value inline (only sensible in files that are themselves secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A file whose content (trailing newline trimmed) is the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// An environment variable holding the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// A key of a Kubernetes Secret (cluster mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
    /// A key of a Kubernetes ConfigMap (cluster mode; for public data such as CA bundles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<SecretKeyRef>,
}

/// A key of a Secret in a namespace.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub name: String,
    /// Key within the Secret's data.
    pub key: String,
}

/// One protected route: hosts and path prefixes that need a login.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteConfig {
    /// `namespace/name` of the ForwardAuthRoute; appears in logs and metrics.
    pub id: String,
    /// Lower-case host names (an optional `:port` is part of the name).
    pub hosts: Vec<String>,
    /// Path prefixes that belong to the route (`/` for all).
    #[serde(default = "default_paths")]
    pub paths: Vec<String>,
    /// Key of the provider in [`OutpostConfig::providers`].
    pub provider: String,
    /// External base URL of the outpost for this route (scheme, host, optional port).
    #[serde(rename = "authURL")]
    pub auth_url: String,
    /// The exact redirect URI registered at the IdP: `authURL` + `/oauth2/callback`,
    /// which is also its default (a file may leave it out; a different value is refused).
    #[serde(rename = "redirectURI", default)]
    #[schemars(transform = derived_default)]
    pub redirect_uri: String,
    /// Who may pass: at least one allow rule, or `allowAnyAuthenticated: true`.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// What is passed upstream.
    #[serde(default)]
    pub headers: HeaderConfig,
    /// The session cookie.
    #[serde(default)]
    pub session: SessionConfig,
    /// Bearer (API) tokens.
    #[serde(default)]
    pub bearer: BearerConfig,
    /// Abuse limit on `/oauth2/start` and `/oauth2/callback` per client address.
    #[serde(default)]
    pub login_rate_limit: LoginRateLimit,
}

/// The redirect URI of a route whose outpost answers at `auth_url`: `/oauth2/callback`
/// under it. One definition for the file's default and check and for the compiler.
pub(crate) fn callback_uri(auth_url: &str) -> String {
    format!("{}/oauth2/callback", auth_url.trim_end_matches('/'))
}

/// For a field whose default is computed from another field at load: the schema shows no
/// literal default (an empty string would read as "none"); its description says which.
fn derived_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

/// Default of [`RouteConfig::paths`] and of `ForwardAuthRoute` `spec.paths`: every path.
pub(crate) fn default_paths() -> Vec<String> {
    vec!["/".into()]
}

/// Allow rules. A user passes when every non-empty rule family matches
/// (emails/domains together form one family: either may match).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyConfig {
    /// Exact email addresses (case-insensitive).
    #[serde(default)]
    pub emails: Vec<String>,
    /// Email domains; `example.com` matches `a@example.com`, not `a@evil-example.com`.
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Any one of these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Claim name → accepted values (any one).
    #[serde(default)]
    pub claims: BTreeMap<String, Vec<String>>,
    /// Required `resource:action` permissions (all), `*` wildcards allowed in the grant.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Path prefixes served without a login (matched on the normalised path).
    #[serde(default)]
    pub public_paths: Vec<String>,
    /// Methods served without a login (e.g. `OPTIONS`).
    #[serde(default)]
    pub public_methods: Vec<String>,
    /// Methods on path prefixes served without a login (`GET /public`, not `POST`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_requests: Vec<PublicRequest>,
    /// Let CORS preflight requests (OPTIONS with `Origin` and
    /// `Access-Control-Request-Method`) through without a login.
    #[serde(default)]
    pub allow_cors_preflight: bool,
    /// Admit every user who can log in. Required when no allow rule is listed: a
    /// policy without rules is refused rather than read as "anyone", so a misspelt
    /// rule never opens a route.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_any_authenticated: bool,
}

impl PolicyConfig {
    /// The allow rules that are set, by their file names.
    pub fn allow_rules(&self) -> Vec<&'static str> {
        [
            ("emails", !self.emails.is_empty()),
            ("emailDomains", !self.email_domains.is_empty()),
            ("groups", !self.groups.is_empty()),
            ("claims", !self.claims.is_empty()),
            ("permissions", !self.permissions.is_empty()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// Identity headers for the upstream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Container default: a `headers:` block that sets only `accessToken` keeps the default
// map, as a ForwardAuthRoute without `spec.headers.map` does.
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HeaderConfig {
    /// Header name → identity field (`user`, `email`, `groups`, `preferred_username`,
    /// `name`, `sub`) or `claim:<name>` for any claim. Default: the `X-Auth-Request-*`
    /// set (user, email, groups, preferred username).
    pub map: BTreeMap<String, IdentityField>,
    /// Header carrying the access token, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// A signed identity JWT for the upstream, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_jwt: Option<IdentityJwtConfig>,
}

impl Default for HeaderConfig {
    fn default() -> Self {
        Self {
            map: HeaderPreset::OAuth2Proxy.headers(),
            access_token: None,
            identity_jwt: None,
        }
    }
}

/// The named header sets other forward-auth products use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderPreset {
    /// `X-Auth-Request-*` (oauth2-proxy, ingress-nginx docs).
    OAuth2Proxy,
    /// `X-authentik-*` (Authentik's outpost).
    Authentik,
    /// `Remote-*` (Authelia and most apps with "remote user" support).
    RemoteUser,
}

impl HeaderPreset {
    /// The header → identity field map of the preset.
    pub fn headers(self) -> BTreeMap<String, IdentityField> {
        use IdentityField::*;
        let pairs = match self {
            Self::OAuth2Proxy => vec![
                ("X-Auth-Request-User", User),
                ("X-Auth-Request-Email", Email),
                ("X-Auth-Request-Groups", Groups),
                ("X-Auth-Request-Preferred-Username", PreferredUsername),
            ],
            Self::Authentik => vec![
                ("X-authentik-username", User),
                ("X-authentik-email", Email),
                ("X-authentik-groups", Groups),
                ("X-authentik-name", Name),
                ("X-authentik-uid", Sub),
            ],
            Self::RemoteUser => vec![
                ("Remote-User", User),
                ("Remote-Email", Email),
                ("Remote-Groups", Groups),
                ("Remote-Name", Name),
            ],
        };
        pairs.into_iter().map(|(h, f)| (h.to_string(), f)).collect()
    }
}

/// A JWT the outpost signs for the upstream (verifiable at `/.well-known/jwks.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityJwtConfig {
    /// Header that carries it. Default: `X-Portcullis-Identity`.
    #[serde(default = "default_identity_jwt_header")]
    pub header: String,
    /// `aud` of the token.
    pub audience: String,
    /// Lifetime in seconds. Default: 300.
    #[serde(default = "default_identity_jwt_lifetime")]
    pub lifetime_seconds: u64,
}

/// Default of [`IdentityJwtConfig::header`] and of `spec.headers.identityJWT.header`.
pub(crate) fn default_identity_jwt_header() -> String {
    "X-Portcullis-Identity".into()
}

/// Default of [`IdentityJwtConfig::lifetime_seconds`] and of
/// `spec.headers.identityJWT.lifetime` (5m).
pub(crate) fn default_identity_jwt_lifetime() -> u64 {
    300
}

/// The session cookie of a route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Container default: a field left out takes `SessionConfig::default()`'s value, the
// same default a ForwardAuthRoute's `spec.session` gets.
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Cookie name (default `portcullis`); `__Host-` is added when there is no domain and
    /// the URL is https, `__Secure-` when there is a domain.
    pub cookie_name: String,
    /// Cookie `Domain` (for a session shared by sub-domains), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_domain: Option<String>,
    /// Absolute lifetime in seconds. Default: 43200 (12 h).
    pub lifetime_seconds: u64,
    /// Idle timeout in seconds (0, the default: none).
    pub idle_timeout_seconds: u64,
    /// Largest callback response head (status, `Location`, `Set-Cookie`s) the proxy in
    /// front buffers: ingress-nginx's default `proxy-buffer-size` is 4k.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Where sessions live: the cookie (default) or Redis.
    #[serde(default, skip_serializing_if = "StoreConfig::is_cookie")]
    pub store: StoreConfig,
    /// With a refresh token, refresh this many seconds before the tokens expire (at most
    /// half their lifetime), so requests never wait on an expired session.
    #[serde(default = "default_refresh_lead")]
    pub refresh_lead_seconds: u64,
    /// How long past its tokens' expiry a session is served on its last identity while
    /// the IdP cannot be reached (connection errors, timeouts, 5xx); 0: not at all.
    #[serde(default = "default_refresh_grace")]
    pub refresh_grace_seconds: u64,
}

fn default_max_header_bytes() -> usize {
    4096
}

/// Default of [`SessionConfig::refresh_lead_seconds`].
pub(crate) const DEFAULT_REFRESH_LEAD_SECONDS: u64 = 60;
/// Default of [`SessionConfig::refresh_grace_seconds`].
pub(crate) const DEFAULT_REFRESH_GRACE_SECONDS: u64 = 300;

fn default_refresh_lead() -> u64 {
    DEFAULT_REFRESH_LEAD_SECONDS
}

fn default_refresh_grace() -> u64 {
    DEFAULT_REFRESH_GRACE_SECONDS
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie_name: "portcullis".into(),
            cookie_domain: None,
            lifetime_seconds: 12 * 3600,
            idle_timeout_seconds: 0,
            max_header_bytes: default_max_header_bytes(),
            store: StoreConfig::default(),
            refresh_lead_seconds: DEFAULT_REFRESH_LEAD_SECONDS,
            refresh_grace_seconds: DEFAULT_REFRESH_GRACE_SECONDS,
        }
    }
}

/// Bearer tokens in `Authorization` instead of a cookie (for APIs and CLIs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BearerConfig {
    /// Accept `Authorization: Bearer` JWTs from the provider.
    #[serde(default)]
    pub enabled: bool,
    /// Accepted `aud` values in addition to the provider's.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Accept tokens whose `aud` names other parties besides an accepted audience when
    /// they carry no `azp` (refused by default: such a token may be meant for another
    /// service and replayed here).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_multiple_audiences: bool,
}

impl OutpostConfig {
    /// Parses YAML (or JSON) and validates it. `origin` names the source in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut config: Self = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        for route in &mut config.routes {
            if route.redirect_uri.is_empty() {
                route.redirect_uri = callback_uri(&route.auth_url);
            }
        }
        config.validate(origin)?;
        // The parser grows the list by doubling: with 10,000 routes (900 bytes each) the
        // spare capacity was 5.8 MB, kept for as long as this configuration is served.
        config.routes.shrink_to_fit();
        Ok(config)
    }
}

/// Prefix match on path segments: `/api` matches `/api` and `/api/x`, not `/apix`.
pub(crate) fn path_has_prefix(path: &str, prefix: &str) -> bool {
    if prefix == "/" || prefix.is_empty() {
        return true;
    }
    let prefix = prefix.trim_end_matches('/');
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_on_segment_boundary() {
        assert!(path_has_prefix("/api", "/api"));
        assert!(path_has_prefix("/api/x", "/api/"));
        assert!(!path_has_prefix("/apix", "/api"));
        assert!(path_has_prefix("/anything", "/"));
    }

    #[test]
    fn presets_name_the_oauth2_proxy_headers() {
        let map = HeaderPreset::OAuth2Proxy.headers();
        assert_eq!(map["X-Auth-Request-User"], IdentityField::User);
        assert_eq!(map["X-Auth-Request-Groups"], IdentityField::Groups);
    }
}
