//! The token endpoint: authorization code exchange and refresh, with client
//! authentication as the provider supports it.

use super::http::read_limited;
use super::{OidcError, Provider};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer};
use url::form_urlencoded::byte_serialize;

/// A successful token endpoint response.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`, usually.
    #[serde(default)]
    pub token_type: Option<String>,
    /// The ID token (code exchange; some IdPs also on refresh).
    #[serde(default)]
    pub id_token: Option<String>,
    /// The refresh token, when issued.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Access token lifetime in seconds.
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub expires_in: Option<u64>,
    /// Granted scopes, when they differ from the request.
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    // Tokens never reach a log line, not even through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Some IdPs send `expires_in` as a string; accept a number or a numeric string.
fn lenient_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// The `error` of a [`OidcError::TokenExchangeFailed`] whose body held no OAuth error
/// (an HTML page from a proxy, an empty body): the IdP itself decided nothing.
pub const NO_OAUTH_ERROR: &str = "no OAuth error in the response";

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded id and secret (the OAuth default).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
    /// No secret: a public client sends only `client_id` (PKCE protects the code).
    Public,
}

/// Basic unless the provider advertises only `client_secret_post`.
pub fn choose_client_auth(has_secret: bool, supported: &[String]) -> ClientAuth {
    if !has_secret {
        return ClientAuth::Public;
    }
    let has = |m: &str| supported.iter().any(|s| s == m);
    if !has("client_secret_basic") && has("client_secret_post") {
        ClientAuth::Post
    } else {
        ClientAuth::Basic
    }
}

/// An IdP error text, truncated and with any of `secrets` (code, refresh token, client
/// secret) removed, since some IdPs echo the rejected value back.
pub(crate) fn scrub(text: Option<String>, secrets: &[&str]) -> Option<String> {
    let mut text: String = text?.chars().take(200).collect();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(s, "[redacted]");
    }
    Some(text)
}

impl Provider {
    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: &str,
    ) -> Result<TokenResponse, OidcError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pkce_verifier),
        ];
        self.token_request(&form, &[code, pkce_verifier]).await
    }

    /// Uses a refresh token for new tokens.
    pub(crate) async fn refresh_tokens(
        &self,
        refresh_token: &str,
    ) -> Result<TokenResponse, OidcError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token_request(&form, &[refresh_token]).await
    }

    async fn token_request(
        &self,
        form: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<TokenResponse, OidcError> {
        let url = self.discovery().token_endpoint.as_deref().ok_or_else(|| {
            OidcError::Config("the provider's discovery document has no token_endpoint".into())
        })?;
        let client_id = self.config().client_id.as_str();
        let secret = self.client_secret();
        let mut body: Vec<(&str, &str)> = form.to_vec();
        let mut request = self.http().post(url);
        match (self.client_auth(), secret) {
            (ClientAuth::Basic, Some(secret)) => {
                // RFC 6749 2.3.1: id and secret are form-urlencoded before base64.
                let id: String = byte_serialize(client_id.as_bytes()).collect();
                let pw: String = byte_serialize(secret.as_bytes()).collect();
                let basic = STANDARD.encode(format!("{id}:{pw}"));
                request = request.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
            }
            (ClientAuth::Post, Some(secret)) => {
                body.push(("client_id", client_id));
                body.push(("client_secret", secret));
            }
            _ => body.push(("client_id", client_id)),
        }
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&body)
            .send()
            .await
            .map_err(|e| OidcError::IdpUnreachable {
                what: "token endpoint",
                url: url.to_string(),
                detail: super::http::transport_error(e),
            })?;
        let status = response.status();
        let bytes = read_limited(response, "token endpoint", url).await?;
        let mut all_secrets = secrets.to_vec();
        all_secrets.extend(secret);
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| OidcError::IdpInvalidResponse {
                what: "token endpoint",
                url: url.to_string(),
                detail: "not a token response (no access_token)".into(),
            });
        }
        let Ok(err) = serde_json::from_slice::<ErrorBody>(&bytes) else {
            return Err(OidcError::TokenExchangeFailed {
                status: status.as_u16(),
                error: NO_OAUTH_ERROR.into(),
                description: None,
            });
        };
        let description = scrub(err.error_description, &all_secrets);
        Err(match err.error.as_str() {
            "invalid_client" | "unauthorized_client" => OidcError::InvalidClient { description },
            "invalid_grant" => OidcError::InvalidGrant { description },
            _ => OidcError::TokenExchangeFailed {
                status: status.as_u16(),
                error: scrub(Some(err.error), &all_secrets).unwrap_or_default(),
                description,
            },
        })
    }

    /// The client authentication this provider uses at the token endpoint.
    pub(crate) fn client_auth(&self) -> ClientAuth {
        choose_client_auth(
            self.client_secret().is_some(),
            &self.discovery().token_endpoint_auth_methods_supported,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_is_the_default_and_post_only_when_basic_is_missing() {
        let s = |v: &[&str]| v.iter().map(|m| m.to_string()).collect::<Vec<_>>();
        assert_eq!(choose_client_auth(true, &[]), ClientAuth::Basic);
        assert_eq!(
            choose_client_auth(true, &s(&["client_secret_post", "client_secret_basic"])),
            ClientAuth::Basic
        );
        assert_eq!(
            choose_client_auth(true, &s(&["client_secret_post"])),
            ClientAuth::Post
        );
        assert_eq!(
            choose_client_auth(false, &s(&["client_secret_post"])),
            ClientAuth::Public
        );
    }

    #[test]
    fn scrub_removes_echoed_secrets() {
        let out = scrub(Some("code abcd1234 is expired".into()), &["abcd1234"]).unwrap();
        assert_eq!(out, "code [redacted] is expired");
    }

    #[test]
    fn expires_in_may_be_a_string() {
        let t: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":"300"}"#).unwrap();
        assert_eq!(t.expires_in, Some(300));
    }
}
