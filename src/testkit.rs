//! Test support shared by the unit tests, the integration tests, the benches and the load
//! test's stub IdP: real signing keys (aws-lc-rs) and hand-built JWS, so a token's header
//! and claims can be anything, including wrong. Compiled for `cfg(test)` and with the
//! `testkit` feature (which `[dev-dependencies]` turns on for `tests/` and `benches/`);
//! never in the product build.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Base64url without padding, as JOSE writes it.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key of one of the types the outpost verifies.
pub enum TestKey {
    /// RSA-2048 (RS256, or PS256 when the header says so).
    Rsa(RsaKeyPair),
    /// P-256 (ES256).
    Ec256(EcdsaKeyPair),
    /// Ed25519 (EdDSA).
    Ed(Ed25519KeyPair),
}

impl TestKey {
    /// A fresh RSA-2048 key (generation takes a moment: share one where you can).
    pub fn rsa() -> Self {
        Self::Rsa(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key"))
    }

    /// A fresh P-256 key.
    pub fn ec256() -> Self {
        Self::Ec256(
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("p-256 key"),
        )
    }

    /// A fresh Ed25519 key.
    pub fn ed25519() -> Self {
        Self::Ed(Ed25519KeyPair::generate().expect("ed25519 key"))
    }

    /// The public JWK (RSA with `use: sig`, the others without `use`, as IdPs differ),
    /// with `alg` when given.
    pub fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        let mut jwk = match self {
            Self::Rsa(k) => json!({
                "kty": "RSA", "use": "sig",
                "n": b64(k.public_key().modulus().big_endian_without_leading_zero()),
                "e": b64(k.public_key().exponent().big_endian_without_leading_zero()),
            }),
            Self::Ec256(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Self::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        };
        jwk["kid"] = json!(kid);
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }

    /// `header`.`claims` signed with this key's own algorithm (RSA: PS256 when the header
    /// says PS256, else RS256), whatever the header claims — so tokens that must be
    /// refused can be made as easily as good ones.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match self {
            Self::Rsa(k) => {
                let scheme: &'static dyn signature::RsaEncoding = if header["alg"] == "PS256" {
                    &signature::RSA_PSS_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(scheme, &rng, input.as_bytes(), &mut sig)
                    .expect("rsa sign");
                sig
            }
            Self::Ec256(k) => k
                .sign(&rng, input.as_bytes())
                .expect("ec sign")
                .as_ref()
                .to_vec(),
            Self::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }

    /// `claims` as a JWT with header `{"alg", "typ": "JWT", "kid"}`.
    pub fn jwt(&self, alg: &str, kid: &str, claims: &Value) -> String {
        self.sign(&json!({"alg": alg, "typ": "JWT", "kid": kid}), claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_type_makes_a_jwk_and_a_three_part_token() {
        for (key, alg, kty) in [
            (TestKey::ec256(), "ES256", "EC"),
            (TestKey::ed25519(), "EdDSA", "OKP"),
        ] {
            let jwk = key.jwk("k", Some(alg));
            assert_eq!(jwk["kty"], kty);
            let token = key.jwt(alg, "k", &json!({"sub": "x"}));
            assert_eq!(token.split('.').count(), 3);
            let header = token.split('.').next().unwrap();
            let decoded = URL_SAFE_NO_PAD.decode(header).unwrap();
            assert_eq!(
                serde_json::from_slice::<Value>(&decoded).unwrap()["alg"],
                alg
            );
        }
    }
}
