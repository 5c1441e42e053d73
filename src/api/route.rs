//! `ForwardAuthRoute`: hosts and paths that need a login.

use super::common::{
    Conditions, DURATION_PATTERN, HOST_PATTERN, ObjectRef, conditions_list_map, list_set,
};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Hosts and paths that need a login, who may pass and what reaches the application.
// Each `printcolumn(...)` repeats `type_`; clippy reads the derive input as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "portcullis.dev",
    version = "v1alpha1",
    kind = "ForwardAuthRoute",
    doc = "Hosts and paths that need a login, who may pass and what reaches the application.",
    plural = "forwardauthroutes",
    singular = "forwardauthroute",
    shortname = "far",
    category = "portcullis",
    namespaced,
    status = "ForwardAuthRouteStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(name = "Hosts", type_ = "string", json_path = ".spec.hosts"),
    printcolumn(
        name = "Provider",
        type_ = "string",
        json_path = ".spec.providerRef.name"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ForwardAuthRouteSpec {
    /// Host names (lower-case DNS names, optional `:port`) whose requests need a login.
    #[schemars(
        length(min = 1, max = 64),
        inner(length(max = 253), pattern(HOST_PATTERN))
    )]
    #[schemars(transform = list_set)]
    pub hosts: Vec<String>,

    /// Path prefixes (segment-wise) that belong to this route. Default: `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(pattern(r"^/")))]
    pub paths: Option<Vec<String>>,

    /// The OIDCProvider users log in with.
    pub provider_ref: ObjectRef,

    /// Who may pass. Required: at least one allow rule, or `allowAnyAuthenticated: true`.
    /// A route without either is not served (`Accepted=False`), so a typo in a rule
    /// never opens the route to every user who can log in.
    // Optional in the schema so that a route without it is admitted and then explained
    // in its status, rather than refused with a message that cannot name the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySpec>,

    /// Identity headers for the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<HeadersSpec>,

    /// The session cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionSpec>,

    /// Bearer tokens for API clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<BearerSpec>,

    /// Abuse limit on `/oauth2/start` and `/oauth2/callback` per client address (the
    /// address after trusted forwarding; a /64 for IPv6): 429 with `Retry-After` and
    /// reason `rate_limited` past it. Default: 60 a minute with a burst of 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_rate_limit: Option<LoginRateLimitSpec>,

    /// The external URL (scheme, host, optional port) browsers reach the outpost's
    /// `/oauth2/` paths at; the redirect URI is this plus `/oauth2/callback`.
    /// Default: `https://<first host>`.
    #[serde(rename = "authURL", default, skip_serializing_if = "Option::is_none")]
    #[schemars(url, length(max = 2048), pattern(r"^https?://[^\s/?#]+/?$"))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "isURL(self) && (url(self).getScheme() == 'https' || url(self).getHostname() in ['127.0.0.1', 'localhost', '::1'])", "message": "must be an https URL (http only on loopback) without a path"}]))]
    pub auth_url: Option<String>,
}

/// Allow rules. Every family that is set must match; emails and email domains form one
/// family (either may match). At least one rule, or `allowAnyAuthenticated: true`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    /// Admit every user who can log in at the provider, with no further rule. The one
    /// way to say so: a policy without rules is refused. Not combined with allow rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_any_authenticated: Option<bool>,
    /// Exact email addresses (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = list_set)]
    pub emails: Option<Vec<String>>,
    /// Email domains, matched on the whole domain; prefix with `.` to include
    /// sub-domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = list_set)]
    pub email_domains: Option<Vec<String>>,
    /// Any one of these groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = list_set)]
    pub groups: Option<Vec<String>>,
    /// Claims that must hold one of the listed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<ClaimRule>>,
    /// Required `resource:action` permissions (all of them); the user's grants may use
    /// `*` wildcards, e.g. `docs:*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(pattern(r"^[^:\s*]+:[^:\s*]+$")))]
    pub permissions: Option<Vec<String>>,
    /// Requests that need no login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<PublicSpec>,
    /// Let CORS preflight requests through without a login. Default: false.
    #[serde(
        rename = "allowCORSPreflight",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_cors_preflight: Option<bool>,
}

impl PolicySpec {
    /// `allowAnyAuthenticated: true` and nothing else: every user who can log in passes.
    pub fn any_authenticated() -> Self {
        Self {
            allow_any_authenticated: Some(true),
            ..Self::default()
        }
    }
}

/// A claim and its accepted values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRule {
    /// Claim name.
    #[schemars(length(min = 1))]
    pub claim: String,
    /// Accepted values (any one; for a list claim, any element).
    #[schemars(length(min = 1))]
    pub values: Vec<String>,
}

/// Requests served without a login.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicSpec {
    /// Path prefixes, matched on the normalised path (no query, `..` resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(pattern(r"^/")))]
    pub paths: Option<Vec<String>>,
    /// HTTP methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(pattern(r"^[A-Z]+$")))]
    pub methods: Option<Vec<String>>,
    /// Methods on path prefixes: `{methods: [GET, HEAD], paths: [/public]}` lets reads
    /// through while a `POST` there still needs a login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Vec<crate::config::PublicRequest>>,
}

/// Identity headers sent to the application.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeadersSpec {
    /// A named header set. Default: `oauth2-proxy` unless `map` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<HeaderPresetName>,
    /// Header name → `user`, `email`, `groups`, `preferred_username`, `name`, `sub` or
    /// `claim:<name>`; added to the preset's headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "maxProperties" = 64,
        "additionalProperties" = {"type": "string", "pattern": crate::config::IDENTITY_FIELD_PATTERN}
    ))]
    pub map: Option<BTreeMap<String, String>>,
    /// Header that carries the access token. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_header: Option<String>,
    /// A JWT signed by the outpost (keys at `/.well-known/jwks.json`).
    #[serde(
        rename = "identityJWT",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub identity_jwt: Option<IdentityJwtSpec>,
}

/// Header sets of other forward-auth products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderPresetName {
    /// `X-Auth-Request-User`, `-Email`, `-Groups`, `-Preferred-Username`.
    #[default]
    #[serde(rename = "oauth2-proxy")]
    OAuth2Proxy,
    /// `X-authentik-username`, `-email`, `-groups`, `-name`, `-uid`.
    Authentik,
    /// `Remote-User`, `Remote-Email`, `Remote-Groups`, `Remote-Name`.
    RemoteUser,
    /// No preset headers; only `map`.
    None,
}

/// The signed identity JWT.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityJwtSpec {
    /// Header name. Default: `X-Portcullis-Identity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The token's `aud`.
    #[schemars(length(min = 1))]
    pub audience: String,
    /// Lifetime. Default: `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub lifetime: Option<String>,
}

/// Session cookie settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSpec {
    /// Cookie name. Default: `portcullis`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9_-]+$"))]
    pub cookie_name: Option<String>,
    /// Cookie domain, to share one session across sub-domains (must contain every host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_domain: Option<String>,
    /// Absolute lifetime. Default: `12h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub lifetime: Option<String>,
    /// Log out after this long without a request. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub idle_timeout: Option<String>,
    /// Largest sign-in response head the proxy in front buffers, in bytes. Default
    /// 4096 (ingress-nginx's `proxy-buffer-size`); raise both together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024, max = 1048576))]
    pub max_header_bytes: Option<u32>,
    /// Where sessions live. Default: in the encrypted cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<super::SessionStoreSpec>,
    /// With a refresh token from the IdP, renew the session this long before its tokens
    /// expire (at most half their lifetime), so a disabled account loses access at the
    /// next renewal and no request waits on an expired token. Default: `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub refresh_lead: Option<String>,
    /// How long past its tokens' expiry a session is still served on its last identity
    /// while the IdP cannot be reached (connection errors, timeouts, 5xx); a refusal by
    /// the IdP ends the session at once regardless. `0s` ends it at expiry. Default: `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub refresh_grace: Option<String>,
}

/// A sign-in rate per client address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRateLimitSpec {
    /// Sustained sign-in requests a minute from one address (a sign-in is two: start
    /// and callback); `0` switches the limit off. Default: 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100000))]
    pub requests_per_minute: Option<u32>,
    /// Requests allowed at once before the rate applies. Default: 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub burst: Option<u32>,
}

/// Bearer token settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BearerSpec {
    /// Accept `Authorization: Bearer <JWT>` from the provider.
    pub enabled: bool,
    /// Accepted `aud` values besides the provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    /// Accept tokens whose `aud` also names other services when they carry no `azp`.
    /// Default false: such a token may have been issued to another service and replayed
    /// here (refused with reason `multiple_audiences_without_azp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_multiple_audiences: Option<bool>,
}

/// What the operator derived for this route.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardAuthRouteStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`, `ProviderReady`, `ClientReady`, `Programmed`, `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = conditions_list_map)]
    pub conditions: Conditions,
    /// The resolved external URL.
    #[serde(rename = "authURL", default, skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    /// Redirect URIs this route needs registered at the IdP.
    #[serde(
        rename = "redirectURIs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub redirect_uris: Vec<String>,
}
