//! `--outpost-keys-secret NAME`: the keys every outpost replica must share — the cookie
//! secret and the ES256 key that signs identity JWTs — minted by the operator into the
//! Secret NAME in its namespace, for installs rendered without a cluster (`kubectl apply`
//! of `manifests/install.yaml`, Argo CD), where nothing else can make a random key.
//!
//! A key is added only when missing and never replaced: replacing the cookie secret
//! would log everybody out. The write is a merge patch that names only the missing keys,
//! so it can never drop a key someone else (or an earlier run) wrote.

use super::{ApiContext, Error, KeyMaterial, Result, Verb};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use std::collections::BTreeMap;

pub use crate::config::{COOKIE_SECRET_KEY, SIGNING_KEY_KEY};

/// The keys `existing` lacks, freshly minted; empty when it has them all.
pub(crate) fn missing_keys(existing: Option<&Secret>) -> Result<BTreeMap<String, String>> {
    let has = |key: &str| {
        existing
            .and_then(|s| s.data.as_ref())
            .and_then(|d| d.get(key))
            .is_some_and(|v| !v.0.is_empty())
    };
    let mut out = BTreeMap::new();
    if !has(COOKIE_SECRET_KEY) {
        out.insert(COOKIE_SECRET_KEY.to_string(), cookie_secret()?);
    }
    if !has(SIGNING_KEY_KEY) {
        out.insert(SIGNING_KEY_KEY.to_string(), signing_key_pem()?);
    }
    Ok(out)
}

/// 32 random bytes, base64 (44 characters), as `openssl rand -base64 32` makes.
fn cookie_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|source| Error::Keys {
            what: KeyMaterial::CookieSecret,
            source,
        })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A new P-256 key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), what `--signing-key-file` reads.
fn signing_key_pem() -> Result<String> {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|source| Error::Keys {
            what: KeyMaterial::SigningKey,
            source,
        })?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

/// Adds the missing keys to Secret `name` in `namespace` (creating it if absent).
/// Returns the keys it added (names only).
pub(crate) async fn ensure(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Vec<String>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let object = || format!("Secret {namespace}/{name}");
    let existing = api.get_opt(name).await.during(Verb::Get, object)?;
    let missing = missing_keys(existing.as_ref())?;
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let added: Vec<String> = missing.keys().cloned().collect();
    let data: BTreeMap<String, ByteString> = missing
        .into_iter()
        .map(|(k, v)| (k, ByteString(v.into_bytes())))
        .collect();
    match existing {
        None => {
            let secret = crate::reconcile::managed_secret(namespace, name, data);
            match api.create(&PostParams::default(), &secret).await {
                Ok(_) => {}
                // Created meanwhile (another replica, Helm): the next pass fills it.
                Err(kube::Error::Api(s)) if s.code == 409 => return Ok(Vec::new()),
                Err(source) => {
                    return Err(Error::Api {
                        verb: Verb::Create,
                        object: object(),
                        source,
                    });
                }
            }
        }
        Some(_) => {
            let patch = serde_json::json!({ "data": data });
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .during(Verb::Patch, object)?;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_keys_are_minted_and_they_are_usable() {
        let minted = missing_keys(None).unwrap();
        assert_eq!(minted.len(), 2);
        let cookie = base64::engine::general_purpose::STANDARD
            .decode(&minted[COOKIE_SECRET_KEY])
            .unwrap();
        assert_eq!(cookie.len(), 32);
        let pem = &minted[SIGNING_KEY_KEY];
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).expect("a P-256 key");

        // A Secret that has the cookie secret keeps it: only the signing key is minted.
        let secret = Secret {
            data: Some(BTreeMap::from([(
                COOKIE_SECRET_KEY.to_string(),
                ByteString(b"keep-me".to_vec()),
            )])),
            ..Default::default()
        };
        let minted = missing_keys(Some(&secret)).unwrap();
        assert_eq!(minted.keys().collect::<Vec<_>>(), vec![SIGNING_KEY_KEY]);
        // An empty value counts as missing (Helm created the Secret without data).
        let mut empty = secret.clone();
        empty
            .data
            .as_mut()
            .unwrap()
            .insert(SIGNING_KEY_KEY.into(), ByteString(Vec::new()));
        assert_eq!(missing_keys(Some(&empty)).unwrap().len(), 1);
    }
}
