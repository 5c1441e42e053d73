//! The OpenID Connect relying party: discovery, the JWKS cache, ID token and bearer
//! token validation, login helpers (PKCE, state, nonce, RFC 9207), the token endpoint,
//! and identity extraction. The outpost's HTTP handlers call [`Provider`].
//!
//! Every failure is an [`OidcError`] with a snake_case [`OidcError::reason`].

mod discovery;
mod error;
mod http;
mod identity;
mod jwks;
pub mod jwt;
mod login;
mod logout;
mod token;

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bearer;
#[cfg(test)]
mod tests_http;
#[cfg(test)]
mod tests_logout;

pub use discovery::{Discovery, well_known_url};
pub use error::OidcError;
pub use http::{build_client, transport_error};
pub use identity::Identity;
pub use jwks::{JwksCache, JwksStats, Key, KeyKind, KeySet};
pub use jwt::{Claims, UntrustedAudiences, token_hash};
pub use login::{LoginRequest, pkce_challenge, random_token};
pub use logout::{BACKCHANNEL_LOGOUT_EVENT, LogoutToken};
pub(crate) use token::scrub;
pub use token::{ClientAuth, NO_OAUTH_ERROR, TokenResponse, choose_client_auth};

use crate::config::ProviderConfig;
use jsonwebtoken::Algorithm;
use std::time::{SystemTime, UNIX_EPOCH};

/// One upstream provider, ready to validate tokens and run logins. Share it behind an
/// `Arc`; the JWKS cache inside refreshes itself on unknown key ids.
pub struct Provider {
    config: ProviderConfig,
    client_secret: Option<String>,
    http: reqwest::Client,
    discovery: Discovery,
    jwks: JwksCache,
    allowed: Vec<Algorithm>,
}

impl std::fmt::Debug for Provider {
    // The client secret never appears in Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.config.issuer_url)
            .field("client_id", &self.config.client_id)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

/// The algorithms a provider accepts: the configured list (an unsupported or symmetric
/// name is an error), else what discovery advertises (unsupported names skipped), else
/// RS256 (the OpenID Connect default). `none` and HS* are never accepted.
pub(crate) fn allowed_algorithms(
    configured: &[String],
    discovered: &[String],
) -> Result<Vec<Algorithm>, OidcError> {
    if !configured.is_empty() {
        return configured
            .iter()
            .map(|name| {
                jwt::asymmetric_alg(name).ok_or_else(|| {
                    OidcError::Config(format!(
                        "allowedAlgorithms: {name:?} is not accepted (supported: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)"
                    ))
                })
            })
            .collect();
    }
    if discovered.is_empty() {
        return Ok(vec![Algorithm::RS256]);
    }
    let algs: Vec<_> = discovered
        .iter()
        .filter_map(|n| jwt::asymmetric_alg(n))
        .collect();
    if algs.is_empty() {
        return Err(OidcError::Config(format!(
            "the IdP advertises no supported asymmetric signing algorithm ({discovered:?}); set allowedAlgorithms"
        )));
    }
    Ok(algs)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Provider {
    /// Fetches discovery, then the JWKS. `client_secret` and `ca_bundle_pem` are the
    /// resolved values of `config.client_secret` and `config.ca_bundle`.
    pub(crate) async fn discover(
        config: ProviderConfig,
        client_secret: Option<String>,
        ca_bundle_pem: Option<&str>,
    ) -> Result<Self, OidcError> {
        let http = build_client(ca_bundle_pem)?;
        let discovery = Discovery::fetch(&http, &config.issuer_url).await?;
        let provider = Self::new(config, client_secret, http, discovery)?;
        provider.jwks.refresh().await?;
        Ok(provider)
    }

    /// A provider from an already fetched discovery document; no I/O (the JWKS is
    /// fetched on the first token or by [`JwksCache::refresh`]).
    pub fn new(
        config: ProviderConfig,
        client_secret: Option<String>,
        http: reqwest::Client,
        discovery: Discovery,
    ) -> Result<Self, OidcError> {
        let allowed = allowed_algorithms(
            &config.allowed_algorithms,
            &discovery.id_token_signing_alg_values_supported,
        )?;
        let jwks = JwksCache::new(http.clone(), discovery.jwks_uri.clone());
        Ok(Self {
            config,
            client_secret: client_secret.filter(|s| !s.is_empty()),
            http,
            discovery,
            jwks,
            allowed,
        })
    }

    /// Replaces the JWKS cache (e.g. with another refetch interval).
    #[cfg(test)] // Only tests use it; the product does not.
    pub(crate) fn with_jwks(mut self, jwks: JwksCache) -> Self {
        self.jwks = jwks;
        self
    }

    /// The provider configuration.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The discovery document.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// The key cache (for metrics, status and periodic refresh).
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// The HTTP client used for this provider.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The accepted signature algorithms.
    pub fn allowed(&self) -> &[Algorithm] {
        &self.allowed
    }

    fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref()
    }

    /// Validates an ID token from the code exchange: signature, issuer, audience, azp,
    /// times, nonce, and `at_hash` when both it and `access_token` are present.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
        access_token: Option<&str>,
    ) -> Result<Claims, OidcError> {
        self.verify_id_token_at(token, nonce, access_token, unix_now())
            .await
    }

    /// [`Self::verify_id_token`] at a given time (Unix seconds).
    pub async fn verify_id_token_at(
        &self,
        token: &str,
        nonce: &str,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<Claims, OidcError> {
        let (alg, claims) = jwt::verify_signature(token, &self.allowed, &self.jwks).await?;
        let audiences = [self.config.client_id.clone()];
        let want = self.expectations(&audiences, now);
        let aud = jwt::check_common(&claims, &want, true)?;
        jwt::check_id_token(
            &claims,
            &aud,
            &self.config.client_id,
            alg,
            nonce,
            access_token,
        )?;
        Ok(claims)
    }

    /// Validates a bearer (JWT access) token: signature, issuer, times, and `aud` in the
    /// client id, the provider's audiences or `extra_audiences` (the route's).
    pub async fn verify_access_token(
        &self,
        token: &str,
        extra_audiences: &[String],
        untrusted: UntrustedAudiences,
    ) -> Result<Claims, OidcError> {
        self.verify_access_token_at(token, extra_audiences, untrusted, unix_now())
            .await
    }

    /// [`Self::verify_access_token`] at a given time (Unix seconds).
    pub async fn verify_access_token_at(
        &self,
        token: &str,
        extra_audiences: &[String],
        untrusted: UntrustedAudiences,
        now: i64,
    ) -> Result<Claims, OidcError> {
        let (_, claims) = jwt::verify_signature(token, &self.allowed, &self.jwks).await?;
        let mut audiences = vec![self.config.client_id.clone()];
        audiences.extend(self.config.audiences.iter().cloned());
        audiences.extend(extra_audiences.iter().cloned());
        let want = self.expectations(&audiences, now);
        let aud = jwt::check_common(&claims, &want, false)?;
        jwt::check_bearer_audiences(&claims, aud, &audiences, untrusted)?;
        Ok(claims)
    }

    /// Validates a back-channel logout token: signature (the provider's keys and
    /// algorithms), `iss` exactly, `aud` containing the client id, `iat` present and not
    /// in the future beyond the clock skew, `exp` when present, then the logout rules
    /// (the `events` member, no `nonce`, `sub` or `sid`).
    pub(crate) async fn verify_logout_token(&self, token: &str) -> Result<LogoutToken, OidcError> {
        self.verify_logout_token_at(token, unix_now()).await
    }

    /// [`Self::verify_logout_token`] at a given time (Unix seconds).
    pub(crate) async fn verify_logout_token_at(
        &self,
        token: &str,
        now: i64,
    ) -> Result<LogoutToken, OidcError> {
        let (_, claims) = jwt::verify_signature(token, &self.allowed, &self.jwks).await?;
        let audiences = [self.config.client_id.clone()];
        let want = self.expectations(&audiences, now);
        let required = jwt::Required {
            exp: false,
            iat: true,
        };
        jwt::check_claims(&claims, &want, required)?;
        logout::check_logout_token(&claims)
    }

    fn expectations<'a>(&'a self, audiences: &'a [String], now: i64) -> jwt::Expectations<'a> {
        jwt::Expectations {
            issuer: &self.discovery.issuer,
            audiences,
            leeway: self.config.clock_skew_seconds,
            now,
        }
    }

    /// The identity in verified claims; `keep` names extra claims to store.
    pub fn identity(&self, claims: &Claims, keep: &[String]) -> Identity {
        Identity::from_claims(claims, &self.config.claims, keep)
    }
}
