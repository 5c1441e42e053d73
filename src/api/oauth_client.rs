//! `OAuthClient`: a client at an IdP and the Secret an application reads it from.

use super::common::{
    Conditions, DURATION_PATTERN, ObjectRef, SecretKeySelector, conditions_list_map, list_set,
};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// CEL for one redirect URI (a list item, so the API server names the element at fault):
/// an absolute https URL, or http on loopback only, with a host, no wildcard and no
/// fragment. The one definition: the API server and `render` evaluate this text.
const REDIRECT_URI_RULE: &str = "isURL(self) && !self.contains('*') && !self.contains('#') && url(self).getHostname() != '' && (url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && url(self).getHostname() in ['127.0.0.1', 'localhost', '::1']))";

/// Schema transform: every item of a redirect URI list is checked by [`REDIRECT_URI_RULE`].
fn redirect_uri_items(schema: &mut schemars::Schema) {
    uri_items(
        schema,
        "must be an absolute https URL (http only on loopback) with a host, no wildcard and no fragment; redirect URIs are matched exactly",
    );
}

/// Schema transform: as [`redirect_uri_items`], for post-logout redirect URIs.
fn post_logout_uri_items(schema: &mut schemars::Schema) {
    uri_items(
        schema,
        "must be an absolute https URL (http only on loopback) with a host, no wildcard and no fragment; post-logout redirect URIs are matched exactly",
    );
}

fn uri_items(schema: &mut schemars::Schema, message: &str) {
    list_set(schema);
    if let Some(items) = schema.get_mut("items").and_then(|i| i.as_object_mut()) {
        items.insert(
            "x-kubernetes-validations".into(),
            serde_json::json!([{"rule": REDIRECT_URI_RULE, "message": message}]),
        );
    }
}

/// An OAuth client at an IdP, and the Secret applications read its credentials from.
// Each `printcolumn(...)` repeats `type_`; clippy reads the derive input as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "portcullis.dev",
    version = "v1alpha1",
    kind = "OAuthClient",
    doc = "An OAuth client at an IdP, and the Secret applications read its credentials from.",
    plural = "oauthclients",
    singular = "oauthclient",
    shortname = "oac",
    category = "portcullis",
    namespaced,
    status = "OAuthClientStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(name = "ClientID", type_ = "string", json_path = ".status.clientID"),
    printcolumn(name = "Secret", type_ = "string", json_path = ".status.secretName"),
    printcolumn(
        name = "Mode",
        type_ = "string",
        priority = 1,
        json_path = ".spec.mode"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    // Beside Ready in the default columns: a Ready that is not True says why at a glance.
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
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.mode != 'Static' || has(self.credentialsSecretRef)", "message": "mode Static needs credentialsSecretRef"}, {"rule": "self.mode != 'Dynamic' || has(self.registration)", "message": "mode Dynamic needs registration"}]))]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientSpec {
    /// The OIDCProvider this client belongs to (its issuer goes into the Secret, and
    /// `Dynamic` registers at its registration endpoint).
    pub provider_ref: ObjectRef,

    /// How the credentials come to be: `Static` (from a Secret you own), `Generated`
    /// (minted once by the operator; register it at the IdP yourself) or `Dynamic`
    /// (registered at the IdP with RFC 7591).
    pub mode: ClientMode,

    /// The client id at the IdP. `Generated` defaults to `<namespace>-<name>`; `Static`
    /// reads it from `credentialsSecretRef` when unset; `Dynamic` gets it from the IdP.
    #[serde(rename = "clientID", default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub client_id: Option<String>,

    /// `Static`: the Secret you own that holds the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<CredentialsSecretRef>,

    /// Redirect URIs, exact (https, or http on loopback). The operator adds those the
    /// ForwardAuthRoutes using this client need.
    #[serde(
        rename = "redirectURIs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(transform = redirect_uri_items, length(max = 64), inner(length(max = 2048)))]
    pub redirect_uris: Option<Vec<String>>,

    /// Where the browser may be sent after logout at the IdP (same rules as redirect URIs).
    #[serde(
        rename = "postLogoutRedirectURIs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(transform = post_logout_uri_items, length(max = 64), inner(length(max = 2048)))]
    pub post_logout_redirect_uris: Option<Vec<String>>,

    /// The Secret the application reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ClientSecretSpec>,

    /// `Dynamic`: how to register at the IdP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<RegistrationSpec>,

    /// Rotation of a `Generated` or `Dynamic` secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationSpec>,

    /// Workloads (same namespace) to restart when the secret changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_on_rotation: Option<Vec<WorkloadRef>>,

    /// What happens to the client at the IdP and to the Secret when this object is
    /// deleted. Default: `Delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// How credentials are obtained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ClientMode {
    /// Credentials come from a Secret the user owns.
    Static,
    /// The operator mints the secret once; the admin registers it at the IdP.
    #[default]
    Generated,
    /// RFC 7591 dynamic registration at the provider's `registration_endpoint`.
    Dynamic,
}

/// A user-owned Secret with client credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Name of the Secret (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key of the client id. Default: `client-id` (ignored when `spec.clientID` is set).
    #[serde(
        rename = "clientIDKey",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_id_key: Option<String>,
    /// Key of the client secret. Default: `client-secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_key: Option<String>,
}

/// The Secret written for the application.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretSpec {
    /// Name of the Secret. Default: `<name>-oauth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
    /// Key names an application expects: `grafana`, `argocd`, `oauth2-proxy` or
    /// `generic` (`client-id`, `client-secret`, `issuer-url`). Default: `generic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<SecretPreset>,
    /// Extra keys rendered from templates with `{{ clientID }}`, `{{ clientSecret }}`,
    /// `{{ issuerURL }}`, `{{ authorizationURL }}`, `{{ tokenURL }}`, `{{ userinfoURL }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<BTreeMap<String, String>>,
    /// Labels to put on the Secret. GitOps tracking labels (Argo CD, Flux, Helm) are
    /// never copied, so the tool does not adopt or prune the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations to put on the Secret (tracking annotations are never copied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Named key layouts for common applications.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretPreset {
    /// `client-id`, `client-secret`, `issuer-url`.
    #[default]
    Generic,
    /// Grafana's `GF_AUTH_GENERIC_OAUTH_*` environment variables (use with `envFrom`).
    Grafana,
    /// Argo CD's `clientID`/`clientSecret`/`issuer`, labelled for `$secret:key` refs.
    Argocd,
    /// oauth2-proxy's `OAUTH2_PROXY_*` variables, with a minted cookie secret.
    #[serde(rename = "oauth2-proxy")]
    OAuth2Proxy,
}

/// RFC 7591 registration settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationSpec {
    /// Secret key holding the initial access token, if the IdP requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_access_token_ref: Option<SecretKeySelector>,
    /// `client_name` to register. Default: `<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// `token_endpoint_auth_method`. Default: `client_secret_basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
}

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with id and secret.
    #[default]
    ClientSecretBasic,
    /// Id and secret in the form body.
    ClientSecretPost,
}

/// Secret rotation with an overlap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotationSpec {
    /// Rotate this long after the last rotation, e.g. `720h`.
    #[schemars(pattern(DURATION_PATTERN))]
    pub period: String,
    /// Keep the previous secret valid (and published) this long, e.g. `24h`. Default: `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub grace: Option<String>,
}

/// A workload to restart after a rotation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRef {
    /// Kind of workload.
    pub kind: WorkloadKind,
    /// Name (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Workload kinds that can be rolled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    #[default]
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
}

/// What deletion of the OAuthClient does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Remove the client at the IdP (Dynamic) and the Secret.
    #[default]
    Delete,
    /// Leave both in place.
    Orphan,
}

/// What the operator did for this client.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Registered`, `SecretSynced`, `RedirectURIsInSync`, `Rotating`, `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = conditions_list_map)]
    pub conditions: Conditions,
    /// The client id in use.
    #[serde(rename = "clientID", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The Secret applications read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// `sha256:` and the first 16 hex digits of the secret's hash — never the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_fingerprint: Option<String>,
    /// The effective redirect URIs (spec plus what routes need).
    #[serde(
        rename = "redirectURIs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub redirect_uris: Vec<String>,
    /// RFC 7592 client configuration URI (`Dynamic`).
    #[serde(
        rename = "registrationClientURI",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub registration_client_uri: Option<String>,
    /// When the secret last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotation_time: Option<String>,
    /// The OpenID Connect back-channel logout URI of the outposts
    /// (`https://<external host>/oauth2/backchannel-logout`), set while a route signing in
    /// with this client keeps its sessions in Redis (cookie sessions cannot be ended by the
    /// server). `Dynamic` clients register it at the IdP themselves; for `Static` and
    /// `Generated` clients paste it into the IdP's client settings (with "session
    /// required") so a logout at the IdP ends the sessions here.
    #[serde(
        rename = "backchannelLogoutURI",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backchannel_logout_uri: Option<String>,
}
