//! `OIDCProvider`: an upstream OpenID Connect issuer.

use super::common::{
    Conditions, DURATION_PATTERN, ObjectRef, SecretKeySelector, conditions_list_map, list_set,
};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An upstream OpenID Connect issuer and the client Portcullis uses at it.
// Each `printcolumn(...)` repeats `type_`; clippy reads the derive input as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "portcullis.dev",
    version = "v1alpha1",
    kind = "OIDCProvider",
    doc = "An upstream OpenID Connect issuer and the client Portcullis uses at it.",
    plural = "oidcproviders",
    singular = "oidcprovider",
    shortname = "oidcp",
    category = "portcullis",
    namespaced,
    status = "OIDCProviderStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(name = "Issuer", type_ = "string", json_path = ".spec.issuerURL"),
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
// The rules sit on `spec` (not on the object root, where `self.mode` is undefined and
// the API server refuses the CRD), so the server names `spec` in its refusal.
#[schemars(extend("x-kubernetes-validations" = [{"rule": "has(self.clientRef) != has(self.clientID)", "message": "set exactly one of clientRef or clientID"}, {"rule": "!has(self.clientSecretRef) || has(self.clientID)", "message": "clientSecretRef goes with clientID; an OAuthClient in clientRef brings its own secret"}]))]
#[serde(rename_all = "camelCase")]
pub struct OIDCProviderSpec {
    /// The issuer exactly as the IdP advertises it in its discovery document, including
    /// or omitting the trailing slash the same way (it is compared byte for byte with the
    /// `iss` claim).
    #[serde(rename = "issuerURL")]
    #[schemars(url, length(max = 2048), pattern(r"^https?://[^\s/?#]+([/?#].*)?$"))]
    // No CEL rule here: `format: uri` and the pattern already refuse everything a rule
    // `isURL(self) && scheme in [https, http]` would (the real API server showed no input
    // that passes both and fails the rule).
    pub issuer_url: String,

    /// The OAuthClient (same namespace) whose credentials the outposts use at this
    /// issuer. Its redirect URIs grow with the ForwardAuthRoutes that use this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ref: Option<ObjectRef>,

    /// A client id registered at the IdP by hand (instead of `clientRef`).
    #[serde(rename = "clientID", default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub client_id: Option<String>,

    /// The Secret key holding the secret of `clientID` (omit for a public client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeySelector>,

    /// Scopes requested at login. Default: `openid`, `profile`, `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = list_set)]
    pub scopes: Option<Vec<String>>,

    /// Which claims carry the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ClaimsSpec>,

    /// Accepted token signing algorithms. Default: those the discovery document
    /// advertises. Symmetric algorithms and `none` are never accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = list_set)]
    pub allowed_algorithms: Option<Vec<SigningAlgorithm>>,

    /// Tolerated clock difference with the IdP for `exp`, `iat` and `nbf`, e.g. `30s`.
    /// Default: `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub clock_skew: Option<String>,

    /// Additional `aud` values accepted on bearer tokens (the client id always is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = list_set)]
    pub audiences: Option<Vec<String>>,

    /// PEM CA bundle trusted for the IdP's TLS certificate, in addition to system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_ref: Option<CABundleRef>,

    /// Namespaces whose OAuthClients and ForwardAuthRoutes may reference this provider;
    /// `*` allows all. Default: only this provider's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = list_set)]
    pub allowed_namespaces: Option<Vec<String>>,
}

impl OIDCProviderSpec {
    /// The scopes requested at login (spec, or `openid profile email`); `openid` is always
    /// first because without it there is no ID token.
    pub(crate) fn requested_scopes(&self) -> Vec<String> {
        let mut scopes = self
            .scopes
            .clone()
            .unwrap_or_else(crate::config::default_scopes);
        scopes.retain(|s| s != "openid");
        scopes.insert(0, "openid".into());
        scopes
    }
}

/// Claim names that make up an identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimsSpec {
    /// Claims tried in order for the username; `email` yields its local part.
    /// Default: `preferred_username`, then `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Vec<String>>,
    /// The email claim. Default: `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The groups claim. Default: `groups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<String>,
    /// The claim listing `resource:action` permissions. Default: `permissions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
}

/// An asymmetric JWS algorithm.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl SigningAlgorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }
}

/// Where a CA bundle is read from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CABundleRef {
    /// Kind of the object holding the bundle.
    pub kind: CABundleKind,
    /// Name of the ConfigMap or Secret (same namespace).
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key holding the PEM bundle.
    #[schemars(length(min = 1))]
    pub key: String,
}

/// The kinds a CA bundle may live in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CABundleKind {
    /// A ConfigMap (CA bundles are public).
    #[default]
    ConfigMap,
    /// A Secret.
    Secret,
}

/// What the operator observed of the issuer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OIDCProviderStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Discovered`, `JWKSAvailable`, `IssuerMatches`, `ClockInSync`, `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = conditions_list_map)]
    pub conditions: Conditions,
    /// The issuer the discovery document advertises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertised_issuer: Option<String>,
    /// Endpoints from the discovery document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<ProviderEndpoints>,
    /// Signing algorithms the IdP advertises for ID tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_algorithms: Vec<String>,
    /// Algorithms the outposts accept (the resolved `allowedAlgorithms`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_algorithms: Vec<String>,
    /// Scopes the IdP advertises.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// Claims the IdP advertises.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims_supported: Vec<String>,
    /// Key ids in the JWKS at the last fetch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_ids: Vec<String>,
    /// When the JWKS was last fetched successfully (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_fetched_at: Option<String>,
    /// The client id the outposts use (resolved from `clientRef` or `clientID`).
    #[serde(rename = "clientID", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes requested at login (resolved default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// Endpoints from a discovery document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderEndpoints {
    /// `authorization_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// `token_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `userinfo_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<String>,
    /// `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// `end_session_endpoint` (RP-initiated logout), when offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session: Option<String>,
    /// `registration_endpoint` (RFC 7591), when offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<String>,
}
