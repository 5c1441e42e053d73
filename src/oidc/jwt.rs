//! Compact JWS parsing, signature verification against the JWKS cache, and the claim
//! checks of ID tokens and bearer access tokens.
//!
//! The header is parsed here, not by jsonwebtoken, so that only `alg`, `kid` and `crit`
//! are read: `jwk`, `jku`, `x5u` and `x5c` are ignored, keys come only from the JWKS.
//! Claims are checked type-strictly (a string `exp` is refused, not coerced).

use super::OidcError;
use super::jwks::JwksCache;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use std::str::FromStr;

/// The claims of a verified token.
pub type Claims = Map<String, Value>;

/// Longest token we parse; larger input is not a token an IdP issued.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A parsed, not yet verified, compact JWS.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The `alg` header.
    pub alg: String,
    /// The `kid` header.
    pub kid: Option<String>,
    /// The claims (untrusted until the signature is verified).
    pub claims: Claims,
    signing_input: &'a str,
    signature: &'a str,
}

fn b64_json(part: &str, what: &'static str) -> Result<Map<String, Value>, OidcError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| OidcError::MalformedToken(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(OidcError::MalformedToken(what)),
    }
}

/// Splits and decodes a compact JWS. Never looks at the signature bytes.
pub fn parse(token: &str) -> Result<Parsed<'_>, OidcError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(OidcError::MalformedToken("token too large"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::MalformedToken("not a compact JWS (three parts)"));
    };
    let header = b64_json(h, "header is not base64url JSON object")?;
    if header.contains_key("crit") {
        // RFC 7515 4.1.11: extensions we do not implement must make the token invalid.
        return Err(OidcError::MalformedToken("unsupported crit header"));
    }
    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err(OidcError::MalformedToken("header lacks a string alg")),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(OidcError::MalformedToken("kid is not a string")),
    };
    let claims = b64_json(c, "claims are not a base64url JSON object")?;
    Ok(Parsed {
        alg,
        kid,
        claims,
        signing_input: &token[..h.len() + 1 + c.len()],
        signature: s,
    })
}

/// Parses an algorithm name we support for asymmetric providers (never `none` or HS*).
pub(crate) fn asymmetric_alg(name: &str) -> Option<Algorithm> {
    let alg = Algorithm::from_str(name).ok()?;
    (!matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)).then_some(alg)
}

/// Verifies the signature with a key from `jwks` that is bound to the token's alg, and
/// returns the (still unchecked) claims. `allowed` are the provider's algorithms.
pub async fn verify_signature(
    token: &str,
    allowed: &[Algorithm],
    jwks: &JwksCache,
) -> Result<(Algorithm, Claims), OidcError> {
    let parsed = parse(token)?;
    let alg = asymmetric_alg(&parsed.alg)
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| OidcError::AlgNotAllowed {
            alg: parsed.alg.clone(),
            allowed: allowed.iter().map(|a| format!("{a:?}")).collect(),
        })?;
    let kid = parsed.kid.as_deref();
    let candidates = jwks.candidates(kid, alg, &parsed.alg).await?;
    let usable: Vec<_> = candidates
        .iter()
        .filter(|k| k.accepts(alg, &parsed.alg))
        .collect();
    if usable.is_empty() {
        return Err(OidcError::KeyAlgMismatch {
            kid: parsed.kid.clone(),
            key: candidates.first().map(|k| k.describe()).unwrap_or_default(),
            alg: parsed.alg.clone(),
        });
    }
    for key in usable {
        match jsonwebtoken::crypto::verify(
            parsed.signature,
            parsed.signing_input.as_bytes(),
            &key.decoding,
            alg,
        ) {
            Ok(true) => return Ok((alg, parsed.claims)),
            Ok(false) => {}
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::Base64(_)) => {
                return Err(OidcError::MalformedToken("signature is not base64url"));
            }
            Err(_) => {}
        }
    }
    Err(OidcError::BadSignature {
        kid: parsed.kid.clone(),
    })
}

/// What the claims of a token are checked against.
#[derive(Clone, Debug)]
pub struct Expectations<'a> {
    /// The provider's issuer (exact match).
    pub issuer: &'a str,
    /// Accepted `aud` values (any one must appear).
    pub audiences: &'a [String],
    /// Leeway for `exp`/`nbf`/`iat` in seconds.
    pub leeway: u64,
    /// The time of the check (Unix seconds).
    pub now: i64,
}

/// A NumericDate claim: absent, or a JSON number (fractions are truncated).
fn time_claim(claims: &Claims, name: &'static str) -> Result<Option<i64>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(OidcError::InvalidClaim {
                claim: name,
                expected: "a NumericDate (JSON number)",
            }),
        Some(_) => Err(OidcError::InvalidClaim {
            claim: name,
            expected: "a NumericDate (JSON number)",
        }),
    }
}

/// The `aud` claim as a list (a string or an array of strings).
pub fn audiences(claims: &Claims) -> Result<Vec<String>, OidcError> {
    let invalid = OidcError::InvalidClaim {
        claim: "aud",
        expected: "a string or an array of strings",
    };
    match claims.get("aud") {
        None => Err(OidcError::MissingClaim("aud")),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or(invalid.clone()))
            .collect(),
        Some(_) => Err(invalid),
    }
}

/// Checks `iss`, `aud`, `exp` (required), `nbf`, and `iat` (required when `require_iat`).
pub fn check_common(
    claims: &Claims,
    want: &Expectations<'_>,
    require_iat: bool,
) -> Result<Vec<String>, OidcError> {
    check_claims(
        claims,
        want,
        Required {
            exp: true,
            iat: require_iat,
        },
    )
}

/// Which time claims a kind of token must carry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Required {
    /// `exp` (ID and access tokens); a logout token may omit it.
    pub exp: bool,
    /// `iat` (ID and logout tokens).
    pub iat: bool,
}

/// Checks `iss`, `aud`, `exp`, `nbf` and `iat`; `required` says which times must be there.
pub(crate) fn check_claims(
    claims: &Claims,
    want: &Expectations<'_>,
    required: Required,
) -> Result<Vec<String>, OidcError> {
    match claims.get("iss") {
        None => return Err(OidcError::MissingClaim("iss")),
        Some(Value::String(iss)) if iss == want.issuer => {}
        Some(Value::String(iss)) => {
            return Err(OidcError::IssuerMismatch {
                expected: want.issuer.to_string(),
                got: iss.clone(),
            });
        }
        Some(_) => {
            return Err(OidcError::InvalidClaim {
                claim: "iss",
                expected: "a string",
            });
        }
    }
    let aud = audiences(claims)?;
    if !aud.iter().any(|a| want.audiences.contains(a)) {
        return Err(OidcError::AudienceMismatch {
            expected: want.audiences.to_vec(),
            got: aud,
        });
    }
    let leeway = i64::try_from(want.leeway).unwrap_or(i64::MAX);
    let now = want.now;
    let exp = time_claim(claims, "exp")?;
    if exp.is_none() && required.exp {
        return Err(OidcError::MissingClaim("exp"));
    }
    if let Some(exp) = exp
        && now >= exp.saturating_add(leeway)
    {
        return Err(OidcError::TokenExpired {
            exp,
            now,
            leeway: want.leeway,
        });
    }
    if let Some(nbf) = time_claim(claims, "nbf")?
        && now.saturating_add(leeway) < nbf
    {
        return Err(OidcError::TokenNotYetValid {
            nbf,
            now,
            leeway: want.leeway,
        });
    }
    match time_claim(claims, "iat")? {
        None if required.iat => return Err(OidcError::MissingClaim("iat")),
        Some(iat) if iat > now.saturating_add(leeway) => {
            return Err(OidcError::IatInFuture {
                iat,
                now,
                leeway: want.leeway,
            });
        }
        _ => {}
    }
    Ok(aud)
}

/// Whether a bearer token may name audiences we do not accept besides one we do when it
/// carries no `azp` (OIDC Core 3.1.3.7 refuses such ID tokens; we refuse such bearer
/// tokens too unless a route says otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UntrustedAudiences {
    /// Refuse (`multiple_audiences_without_azp`).
    #[default]
    Refuse,
    /// Accept: the IdP issues multi-audience tokens without `azp` and the route opted in.
    Allow,
}

impl UntrustedAudiences {
    /// The rule for a route whose `bearer.allowMultipleAudiences` is `allowed`.
    pub(crate) fn from_allowed(allowed: bool) -> Self {
        if allowed { Self::Allow } else { Self::Refuse }
    }
}

/// The bearer-only audience check, after [`check_common`] found an accepted audience.
pub fn check_bearer_audiences(
    claims: &Claims,
    aud: Vec<String>,
    accepted: &[String],
    rule: UntrustedAudiences,
) -> Result<(), OidcError> {
    let has_azp = claims.get("azp").is_some_and(Value::is_string);
    let untrusted: Vec<String> = aud
        .iter()
        .filter(|a| !accepted.contains(a))
        .cloned()
        .collect();
    if untrusted.is_empty() || has_azp || rule == UntrustedAudiences::Allow {
        return Ok(());
    }
    Err(OidcError::MultipleAudiencesWithoutAzp {
        expected: accepted.to_vec(),
        got: aud,
        untrusted,
    })
}

/// The ID-token-only checks: `sub`, `azp`, `nonce` and `at_hash`.
pub fn check_id_token(
    claims: &Claims,
    aud: &[String],
    client_id: &str,
    alg: Algorithm,
    nonce: &str,
    access_token: Option<&str>,
) -> Result<(), OidcError> {
    match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => {}
        None => return Err(OidcError::MissingClaim("sub")),
        Some(_) => {
            return Err(OidcError::InvalidClaim {
                claim: "sub",
                expected: "a non-empty string",
            });
        }
    }
    let azp = claims.get("azp");
    let azp_str = azp.and_then(Value::as_str);
    if (aud.len() > 1 || azp.is_some()) && azp_str != Some(client_id) {
        return Err(OidcError::AzpMismatch {
            expected: client_id.to_string(),
            got: azp.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
        });
    }
    match claims.get("nonce").and_then(Value::as_str) {
        None => return Err(OidcError::NonceMismatch { missing: true }),
        Some(n) if n != nonce || nonce.is_empty() => {
            return Err(OidcError::NonceMismatch { missing: false });
        }
        Some(_) => {}
    }
    if let (Some(at_hash), Some(access_token)) = (claims.get("at_hash"), access_token) {
        let Some(at_hash) = at_hash.as_str() else {
            return Err(OidcError::InvalidClaim {
                claim: "at_hash",
                expected: "a string",
            });
        };
        if at_hash != token_hash(alg, access_token) {
            return Err(OidcError::AtHashMismatch);
        }
    }
    Ok(())
}

/// `at_hash`/`c_hash`: base64url of the left half of the alg's hash of the token
/// (SHA-512 for EdDSA with Ed25519, the only curve we accept).
pub fn token_hash(alg: Algorithm, token: &str) -> String {
    use Algorithm::*;
    use aws_lc_rs::digest;
    let hash = match alg {
        RS384 | PS384 | ES384 | HS384 => &digest::SHA384,
        RS512 | PS512 | HS512 | EdDSA => &digest::SHA512,
        _ => &digest::SHA256,
    };
    let d = digest::digest(hash, token.as_bytes());
    let bytes = d.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}
