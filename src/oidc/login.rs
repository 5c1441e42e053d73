//! Login helpers: PKCE (S256), state and nonce from the system CSPRNG, the
//! authorization URL, and the RFC 9207 `iss` check of the authorization response.

use super::{OidcError, Provider};
use aws_lc_rs::{digest, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

/// What a login needs to remember until the callback (in a short-lived cookie):
/// `state`, `nonce` and `pkce_verifier`. The URL is where the browser is sent.
#[derive(Clone)]
pub struct LoginRequest {
    /// The authorization URL at the IdP.
    pub url: Url,
    /// The `state` parameter; the callback must bring it back.
    pub state: String,
    /// The `nonce`; the ID token must carry it.
    pub nonce: String,
    /// The PKCE code verifier, sent with the code exchange.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for LoginRequest {
    // The verifier, state and nonce are the login's secrets: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("authorization_endpoint", &self.url.path())
            .finish_non_exhaustive()
    }
}

/// 32 bytes from the CSPRNG, base64url without padding (43 characters).
pub fn random_token() -> Result<String, OidcError> {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes)
        .map_err(|_| OidcError::Config("the system random generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The S256 PKCE challenge of a verifier: base64url(sha256(verifier)), no padding.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

impl Provider {
    /// Starts a login: fresh state, nonce and PKCE verifier, and the authorization URL
    /// for `redirect_uri` (the exact URI registered at the IdP).
    pub(crate) fn login_request(&self, redirect_uri: &str) -> Result<LoginRequest, OidcError> {
        let state = random_token()?;
        let nonce = random_token()?;
        let pkce_verifier = random_token()?;
        let mut url = Url::parse(&self.discovery().authorization_endpoint)
            .map_err(|e| OidcError::Config(format!("authorization_endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config().client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.scope())
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&pkce_verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(LoginRequest {
            url,
            state,
            nonce,
            pkce_verifier,
        })
    }

    /// The scope parameter: the configured scopes, with `openid` first if it is missing
    /// (without it the IdP returns no ID token).
    pub fn scope(&self) -> String {
        let scopes = &self.config().scopes;
        let mut all: Vec<&str> = Vec::with_capacity(scopes.len() + 1);
        if !scopes.iter().any(|s| s == "openid") {
            all.push("openid");
        }
        all.extend(scopes.iter().map(String::as_str));
        all.join(" ")
    }

    /// RFC 9207: checks the `iss` parameter of the authorization response. Required when
    /// discovery advertises `authorization_response_iss_parameter_supported`; checked
    /// whenever present.
    pub(crate) fn check_authorization_response_iss(
        &self,
        iss: Option<&str>,
    ) -> Result<(), OidcError> {
        let expected = &self.discovery().issuer;
        let required = self
            .discovery()
            .authorization_response_iss_parameter_supported;
        match iss {
            Some(got) if got == expected => Ok(()),
            None if !required => Ok(()),
            got => Err(OidcError::CallbackIssMismatch {
                expected: expected.clone(),
                got: got.map(str::to_string),
            }),
        }
    }

    /// The RP-initiated logout URL, when the IdP offers one.
    pub(crate) fn end_session_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Option<Url> {
        let mut url = Url::parse(self.discovery().end_session_endpoint.as_deref()?).ok()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.config().client_id);
            if let Some(hint) = id_token_hint {
                q.append_pair("id_token_hint", hint);
            }
            if let Some(uri) = post_logout_redirect_uri {
                q.append_pair("post_logout_redirect_uri", uri);
            }
        }
        Some(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
