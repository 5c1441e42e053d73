//! The provider's signing keys, fetched only from the discovered `jwks_uri`.
//!
//! Keys are swapped atomically; readers never wait for a fetch. An unknown `kid` causes
//! at most one refetch per minimum refetch interval (`JwksCache::with_min_refetch_interval`) (concurrent misses wait
//! for the same fetch), and a failed fetch keeps the last good keys.

use super::OidcError;
use super::http::get_json;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// The type of a verification key, which decides the algorithms it may verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// An RSA key (RS256/384/512, PS256/384/512).
    Rsa,
    /// An EC key on P-256 (ES256).
    EcP256,
    /// An EC key on P-384 (ES384).
    EcP384,
    /// An Ed25519 key (EdDSA).
    Ed25519,
}

impl KeyKind {
    /// Whether a key of this kind can verify `alg` (an RSA key never verifies ES256).
    pub fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            Self::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Self::EcP256 => alg == ES256,
            Self::EcP384 => alg == ES384,
            Self::Ed25519 => alg == EdDSA,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Rsa => "RSA",
            Self::EcP256 => "EC P-256",
            Self::EcP384 => "EC P-384",
            Self::Ed25519 => "OKP Ed25519",
        }
    }
}

/// One signature verification key from the JWKS.
#[derive(Clone, Debug)]
pub struct Key {
    /// `kid`, when the JWK has one.
    pub kid: Option<String>,
    /// The key type.
    pub kind: KeyKind,
    /// The JWK's `alg`, when present: the only algorithm the key may verify.
    pub alg: Option<String>,
    /// The key material in the form jsonwebtoken verifies with.
    pub decoding: DecodingKey,
}

impl Key {
    /// Whether this key may verify a token whose header says `alg` (`alg` name given).
    pub fn accepts(&self, alg: Algorithm, alg_name: &str) -> bool {
        self.kind.fits(alg) && self.alg.as_deref().is_none_or(|a| a == alg_name)
    }

    /// A short description for error messages (`RSA alg=RS256`).
    pub fn describe(&self) -> String {
        match &self.alg {
            Some(a) => format!("{} alg={a}", self.kind.name()),
            None => self.kind.name().to_string(),
        }
    }
}

/// One fetched key set.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    /// The usable signing keys.
    pub keys: Vec<Arc<Key>>,
    /// When the set was fetched (None: never).
    pub fetched_at: Option<SystemTime>,
    /// Incremented on every successful fetch; lets waiters see that a fetch happened.
    pub generation: u64,
}

impl KeySet {
    /// Parses a JWKS document, keeping only signature keys of supported types.
    /// `use: enc` keys, symmetric keys and keys whose `key_ops` exclude `verify` are
    /// dropped; so are malformed entries (one bad key must not hide the others).
    pub fn parse(doc: &Value) -> Result<Vec<Arc<Key>>, String> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no \"keys\" array")?;
        Ok(keys.iter().filter_map(parse_jwk).map(Arc::new).collect())
    }

    /// The key ids in the set (keys without a kid are listed as an empty string).
    pub(crate) fn key_ids(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.kid.clone().unwrap_or_default())
            .collect()
    }

    /// Keys with this `kid`; for a kid-less token, the keys that accept its algorithm.
    pub(crate) fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        alg_name: &str,
    ) -> Vec<Arc<Key>> {
        self.keys
            .iter()
            .filter(|k| match kid {
                Some(kid) => k.kid.as_deref() == Some(kid),
                None => k.accepts(alg, alg_name),
            })
            .cloned()
            .collect()
    }
}

fn parse_jwk(jwk: &Value) -> Option<Key> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str);
    if s("use").is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops").and_then(Value::as_array)
        && !ops.iter().any(|o| o.as_str() == Some("verify"))
    {
        return None;
    }
    let (kind, decoding) = match (s("kty")?, s("crv")) {
        ("RSA", _) => (
            KeyKind::Rsa,
            DecodingKey::from_rsa_components(s("n")?, s("e")?).ok()?,
        ),
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (x, y) = (s("x")?, s("y")?);
            let kind = if crv == "P-256" {
                KeyKind::EcP256
            } else {
                KeyKind::EcP384
            };
            (kind, DecodingKey::from_ec_components(x, y).ok()?)
        }
        ("OKP", Some("Ed25519")) => (
            KeyKind::Ed25519,
            DecodingKey::from_ed_components(s("x")?).ok()?,
        ),
        _ => return None,
    };
    Some(Key {
        kid: s("kid").map(str::to_string),
        kind,
        alg: s("alg").map(str::to_string),
        decoding,
    })
}

/// Counters and state for metrics and the provider's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwksStats {
    /// When the current keys were fetched.
    pub fetched_at: Option<SystemTime>,
    /// Key ids of the current keys.
    pub key_ids: Vec<String>,
    /// Successful fetches.
    pub fetches: u64,
    /// Fetches triggered by an unknown `kid` (successful or not).
    pub unknown_kid_refetches: u64,
    /// Failed fetches (the last keys were kept).
    pub failures: u64,
    /// The last fetch error, cleared by a successful fetch.
    pub last_error: Option<String>,
}

/// The key cache of one provider.
#[derive(Debug)]
pub struct JwksCache {
    client: reqwest::Client,
    uri: String,
    min_refetch_interval: Duration,
    current: RwLock<Arc<KeySet>>,
    /// Serialises fetches; holds the time of the last unknown-kid refetch.
    fetch: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
    unknown_kid_refetches: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl JwksCache {
    /// A cache for `jwks_uri` with no keys yet and a 10 s refetch rate limit.
    pub fn new(client: reqwest::Client, jwks_uri: String) -> Self {
        Self {
            client,
            uri: jwks_uri,
            min_refetch_interval: Duration::from_secs(10),
            current: RwLock::default(),
            fetch: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
            unknown_kid_refetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// Starts with these keys, as if fetched (fuzzing and benchmarks: no IdP needed).
    pub fn with_keys(self, keys: Vec<Arc<Key>>) -> Self {
        let set = KeySet {
            keys,
            fetched_at: Some(SystemTime::now()),
            generation: 1,
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        self
    }

    /// Sets the least time between two refetches caused by unknown key ids.
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// The current key set (cheap: an `Arc` clone).
    pub(crate) fn snapshot(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Counters and state for metrics.
    #[cfg(test)] // Only tests use it; the product does not.
    pub(crate) fn stats(&self) -> JwksStats {
        let set = self.snapshot();
        JwksStats {
            fetched_at: set.fetched_at,
            key_ids: set.key_ids(),
            fetches: self.fetches.load(Ordering::Relaxed),
            unknown_kid_refetches: self.unknown_kid_refetches.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            last_error: self.lock_error().clone(),
        }
    }

    fn lock_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fetches the keys now (startup, periodic refresh). On failure the last keys stay.
    pub async fn refresh(&self) -> Result<(), OidcError> {
        let _guard = self.fetch.lock().await;
        self.fetch_now().await
    }

    async fn fetch_now(&self) -> Result<(), OidcError> {
        let result = async {
            let doc: Value = get_json(&self.client, &self.uri, "jwks").await?;
            let keys = KeySet::parse(&doc).map_err(|d| self.invalid(d))?;
            if keys.is_empty() {
                return Err(self.invalid("no usable signature key".into()));
            }
            Ok(keys)
        }
        .await;
        match result {
            Ok(keys) => {
                let generation = self.snapshot().generation + 1;
                let set = Arc::new(KeySet {
                    keys,
                    fetched_at: Some(SystemTime::now()),
                    generation,
                });
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = set;
                self.fetches.fetch_add(1, Ordering::Relaxed);
                *self.lock_error() = None;
                Ok(())
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                *self.lock_error() = Some(e.to_string());
                tracing::warn!(reason = %e.reason(), error = %e, "JWKS fetch failed; keeping the last keys");
                Err(e)
            }
        }
    }

    fn invalid(&self, detail: String) -> OidcError {
        OidcError::IdpInvalidResponse {
            what: "jwks",
            url: self.uri.clone(),
            detail,
        }
    }

    /// The keys that may verify a token with this `kid` and `alg`. When none is known,
    /// refetches once (rate-limited, shared by concurrent callers) and looks again.
    pub(crate) async fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        alg_name: &str,
    ) -> Result<Vec<Arc<Key>>, OidcError> {
        let seen = self.snapshot();
        let found = seen.candidates(kid, alg, alg_name);
        if !found.is_empty() {
            return Ok(found);
        }
        let refreshed = self.refetch_for_miss(seen.generation).await;
        let found = self.snapshot().candidates(kid, alg, alg_name);
        if found.is_empty() {
            return Err(OidcError::UnknownKid {
                kid: kid.map(str::to_string),
                known: self.snapshot().key_ids(),
                refreshed,
            });
        }
        Ok(found)
    }

    /// Returns whether a fetch happened since `seen_generation` (by us or a concurrent
    /// caller we waited for).
    async fn refetch_for_miss(&self, seen_generation: u64) -> bool {
        let mut last = self.fetch.lock().await;
        if self.snapshot().generation != seen_generation {
            return true;
        }
        if last.is_some_and(|t| t.elapsed() < self.min_refetch_interval) {
            return false;
        }
        *last = Some(Instant::now());
        self.unknown_kid_refetches.fetch_add(1, Ordering::Relaxed);
        self.fetch_now().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_keeps_only_supported_signature_keys() {
        let xy = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let doc = json!({"keys": [
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": xy, "y": xy},
            {"kty": "EC", "crv": "P-521", "kid": "p521", "x": xy, "y": xy},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ops", "x": xy, "key_ops": ["encrypt"]},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": xy, "key_ops": ["verify"]},
            {"kty": "RSA", "kid": "broken"},
            "not an object",
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": xy, "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa", "alg": "RS256", "n": xy, "e": "AQAB"},
        ]});
        let set = KeySet {
            keys: KeySet::parse(&doc).unwrap(),
            ..KeySet::default()
        };
        assert_eq!(set.key_ids(), vec!["p384", "ed", "rsa"]);
        assert_eq!(set.keys[0].kind, KeyKind::EcP384);
        assert!(set.keys[0].accepts(Algorithm::ES384, "ES384"));
        assert!(!set.keys[0].accepts(Algorithm::ES256, "ES256"));
        assert!(!set.keys[2].accepts(Algorithm::PS256, "PS256"));
        assert!(set.keys[2].accepts(Algorithm::RS256, "RS256"));
        assert!(KeySet::parse(&json!({"nokeys": []})).is_err());
    }

    #[test]
    fn key_kinds_fit_only_their_algorithms() {
        assert!(KeyKind::Rsa.fits(Algorithm::PS512));
        assert!(!KeyKind::Rsa.fits(Algorithm::ES256));
        assert!(!KeyKind::EcP256.fits(Algorithm::RS256));
        assert!(!KeyKind::Ed25519.fits(Algorithm::ES256));
        assert!(!KeyKind::Rsa.fits(Algorithm::HS256));
    }
}
