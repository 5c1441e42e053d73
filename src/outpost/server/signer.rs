//! The outpost's own signing key: identity JWTs for upstreams
//! ([`crate::config::IdentityJwtConfig`]) and the public key at `/.well-known/jwks.json`.
//!
//! ES256 (P-256) with aws-lc-rs. The key is generated at start unless a PKCS#8 key file
//! is given; several replicas need the same file, or upstreams would see unknown kids.

use super::super::Subject;
use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::path::Path;
use thiserror::Error;

/// Why the signing key could not be loaded or used.
#[derive(Debug, Error)]
pub enum SignerError {
    /// The key file cannot be read.
    #[error("cannot read signing key {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The OS error kind.
        message: String,
    },
    /// The key is not a P-256 PKCS#8 key.
    #[error("signing key {0}: not a PKCS#8 P-256 (ES256) private key")]
    Format(String),
    /// Key generation or signing failed.
    #[error("signing failed")]
    Crypto,
}

/// The ES256 key pair and its key id.
pub struct Signer {
    key: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Signer {
    /// A fresh key.
    pub fn generate() -> Result<Self, SignerError> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| SignerError::Crypto)?;
        Ok(Self::from_key(key))
    }

    /// A key from a PKCS#8 file, PEM (`BEGIN PRIVATE KEY`) or DER.
    pub fn from_file(path: &Path) -> Result<Self, SignerError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| SignerError::Read {
            path: name.clone(),
            message: e.kind().to_string(),
        })?;
        Self::from_pkcs8(bytes, name)
    }

    /// A key from PKCS#8 bytes, PEM or DER; `name` says where they came from in errors.
    pub(crate) fn from_pkcs8(bytes: Vec<u8>, name: String) -> Result<Self, SignerError> {
        let der = match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN") => {
                let body: String = text
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .map(str::trim)
                    .collect();
                STANDARD
                    .decode(body)
                    .map_err(|_| SignerError::Format(name.clone()))?
            }
            _ => bytes,
        };
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|_| SignerError::Format(name))?;
        Ok(Self::from_key(key))
    }

    fn from_key(key: EcdsaKeyPair) -> Self {
        let (x, y) = coordinates(&key);
        // RFC 7638 thumbprint: members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = b64(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref());
        Self {
            key,
            kid,
            rng: SystemRandom::new(),
        }
    }

    /// The key id (the JWK thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK set served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        let (x, y) = coordinates(&self.key);
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": self.kid, "alg": "ES256", "use": "sig",
        }]})
    }

    /// Signs `claims` as a compact JWS.
    pub fn sign(&self, claims: &Value) -> Result<String, SignerError> {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| SignerError::Crypto)?;
        Ok(format!("{input}.{}", b64(sig.as_ref())))
    }

    /// The identity JWT for an upstream: `iss` is the route's external URL.
    pub fn identity_jwt(
        &self,
        issuer: &str,
        audience: &str,
        lifetime: u64,
        subject: &Subject,
        now: u64,
    ) -> Result<String, SignerError> {
        let mut claims = json!({
            "iss": issuer, "aud": audience, "sub": subject.sub,
            "iat": now, "nbf": now, "exp": now.saturating_add(lifetime),
            "preferred_username": subject.user,
        });
        if let Some(email) = &subject.email {
            claims["email"] = json!(email);
        }
        if let Some(name) = &subject.name {
            claims["name"] = json!(name);
        }
        if !subject.groups.is_empty() {
            claims["groups"] = json!(subject.groups);
        }
        self.sign(&claims)
    }
}

fn coordinates(key: &EcdsaKeyPair) -> (String, String) {
    // Uncompressed point: 0x04 | x (32) | y (32).
    let point = key.public_key().as_ref();
    (b64(&point[1..33]), b64(&point[33..65]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

    #[test]
    fn identity_jwt_verifies_with_the_published_key() {
        let signer = Signer::generate().unwrap();
        let subject = Subject {
            user: "jane".into(),
            email: Some("jane@example.com".into()),
            groups: vec!["admins".into()],
            sub: "u1".into(),
            ..Subject::default()
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let token = signer
            .identity_jwt("https://app.example.com", "app", 60, &subject, now)
            .unwrap();
        let jwk = &signer.jwks()["keys"][0];
        assert_eq!(jwk["kid"], signer.kid());
        let key =
            DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
                .unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["app"]);
        v.set_issuer(&["https://app.example.com"]);
        let data = decode::<Value>(&token, &key, &v).unwrap();
        assert_eq!(data.claims["sub"], "u1");
        assert_eq!(data.claims["groups"][0], "admins");
        assert_eq!(data.header.kid.as_deref(), Some(signer.kid()));
        // A different key does not verify it.
        let other = Signer::generate().unwrap();
        let jwk = &other.jwks()["keys"][0];
        let key =
            DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
                .unwrap();
        assert!(decode::<Value>(&token, &key, &v).is_err());
    }

    #[test]
    fn loads_a_pkcs8_pem_file_and_refuses_garbage() {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(doc.as_ref())
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, pem).unwrap();
        let a = Signer::from_file(&path).unwrap();
        let b = Signer::from_file(&path).unwrap();
        assert_eq!(a.kid(), b.kid(), "same file, same kid on every replica");
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            Signer::from_file(&path),
            Err(SignerError::Format(_))
        ));
    }
}
