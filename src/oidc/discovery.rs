//! OpenID Connect Discovery: fetch `<issuer>/.well-known/openid-configuration` and check
//! that the advertised issuer is, byte for byte, the configured one.

use super::OidcError;
use super::http::get_json;
use serde::{Deserialize, Deserializer, Serialize};

/// The parts of a discovery document the relying party and the operator use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// The issuer identifier (equal to the configured issuer once fetched).
    pub issuer: String,
    /// Where the browser is sent to log in.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are exchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// The UserInfo endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// The provider's signing keys (the only place keys are taken from).
    pub jwks_uri: String,
    /// RP-initiated logout endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// RFC 7591 dynamic client registration endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// Algorithms the provider signs ID tokens with.
    #[serde(default, deserialize_with = "null_default")]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Scopes the provider knows.
    #[serde(default, deserialize_with = "null_default")]
    pub scopes_supported: Vec<String>,
    /// Claims the provider can return.
    #[serde(default, deserialize_with = "null_default")]
    pub claims_supported: Vec<String>,
    /// RFC 9207: the provider adds `iss` to authorization responses.
    #[serde(default, deserialize_with = "null_default")]
    pub authorization_response_iss_parameter_supported: bool,
    /// PKCE methods the provider supports.
    #[serde(default, deserialize_with = "null_default")]
    pub code_challenge_methods_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    #[serde(default, deserialize_with = "null_default")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// Some IdPs send `null` for absent lists; treat it as the default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `<issuer>/.well-known/openid-configuration`, with one trailing `/` of the issuer
/// trimmed so that `https://idp/` and `https://idp` both give `https://idp/.well-known/...`.
pub fn well_known_url(issuer: &str) -> String {
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    format!("{base}/.well-known/openid-configuration")
}

impl Discovery {
    /// Fetches and checks the discovery document of `issuer`.
    pub async fn fetch(client: &reqwest::Client, issuer: &str) -> Result<Self, OidcError> {
        let url = well_known_url(issuer);
        let doc: Self = get_json(client, &url, "discovery").await?;
        doc.check(issuer, &url)?;
        Ok(doc)
    }

    /// Checks the issuer (byte for byte) and that the endpoints are absolute http(s) URLs.
    pub fn check(&self, configured_issuer: &str, url: &str) -> Result<(), OidcError> {
        if self.issuer != configured_issuer {
            let trailing_slash_only =
                self.issuer.trim_end_matches('/') == configured_issuer.trim_end_matches('/');
            return Err(OidcError::DiscoveryIssuerMismatch {
                configured: configured_issuer.to_string(),
                advertised: self.issuer.clone(),
                trailing_slash_only,
            });
        }
        let endpoints = [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("token_endpoint", self.token_endpoint.as_ref()),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
            ("registration_endpoint", self.registration_endpoint.as_ref()),
        ];
        for (name, value) in endpoints {
            let Some(value) = value else { continue };
            let ok = url::Url::parse(value)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(OidcError::IdpInvalidResponse {
                    what: "discovery",
                    url: url.to_string(),
                    detail: format!("{name} {value:?} is not an absolute http(s) URL"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str) -> Discovery {
        Discovery {
            issuer: issuer.into(),
            authorization_endpoint: "https://idp.example/authorize".into(),
            jwks_uri: "https://idp.example/jwks".into(),
            ..Default::default()
        }
    }

    #[test]
    fn well_known_trims_one_trailing_slash() {
        assert_eq!(
            well_known_url("https://idp.example/realms/a/"),
            "https://idp.example/realms/a/.well-known/openid-configuration"
        );
        assert_eq!(
            well_known_url("https://idp.example/realms/a"),
            "https://idp.example/realms/a/.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuer_must_match_byte_for_byte() {
        assert!(
            doc("https://idp.example")
                .check("https://idp.example", "u")
                .is_ok()
        );
        let err = doc("https://idp.example/")
            .check("https://idp.example", "u")
            .unwrap_err();
        assert!(matches!(
            err,
            OidcError::DiscoveryIssuerMismatch {
                trailing_slash_only: true,
                ..
            }
        ));
        let err = doc("https://other.example")
            .check("https://idp.example", "u")
            .unwrap_err();
        assert!(matches!(
            err,
            OidcError::DiscoveryIssuerMismatch {
                trailing_slash_only: false,
                ..
            }
        ));
        assert!(!err.to_string().contains("trailing slash"));
    }

    #[test]
    fn relative_endpoint_is_refused() {
        let mut d = doc("https://idp.example");
        d.token_endpoint = Some("/token".into());
        assert_eq!(
            d.check("https://idp.example", "u")
                .unwrap_err()
                .reason()
                .code(),
            "idp_invalid_response"
        );
    }

    #[test]
    fn null_lists_parse_as_empty() {
        let d: Discovery = serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/a",
            "jwks_uri": "https://idp.example/k",
            "scopes_supported": null,
            "authorization_response_iss_parameter_supported": true
        }))
        .unwrap();
        assert!(d.scopes_supported.is_empty());
        assert!(d.authorization_response_iss_parameter_supported);
    }
}
