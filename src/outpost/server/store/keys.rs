//! The pure parts of the Redis session store: session ids, key names and the sealing
//! context. No I/O, so each rule is unit-tested with plain values.
//!
//! - `<prefix>:s:{<id>}`: the session, sealed with the cookie key ring bound to the id
//!   (a Redis dump alone gives neither identities nor cookies);
//! - `<prefix>:x:{<id>}`: a tombstone of an ended session, kept for the rest of its
//!   lifetime, so a copied cookie is told `session_revoked`, not `session_unknown`;
//! - `<prefix>:u:<user>`: the ids of one user's sessions (for "end all"), the user being
//!   a hash of provider and `sub`;
//! - `<prefix>:n:<name>`: the ids of one user name's sessions (for an administrator);
//! - `<prefix>:o:<idp session>`: the ids of the sessions started in one IdP session (the
//!   ID token's `sid`, hashed with the provider), for back-channel logout by `sid`;
//! - `<prefix>:once:<name>`: [`super::redis_client::RedisStore::once`] markers.
//!
//! In a Redis Cluster a command or transaction may only touch keys of one hash slot.
//! The `{<id>}` hash tag puts a session's record and tombstone in the same slot (read
//! and ended together) while sessions still spread over every slot; index keys are
//! written in their own transactions ([`slot_group`] says which keys go together).

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Bytes of randomness in a session id (256 bits; at least 128 are required).
pub(crate) const SESSION_ID_BYTES: usize = 32;

/// What the session cookie holds in Redis mode: only the id (sealed by the cookie code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pointer {
    /// The session id.
    pub sid: String,
}

/// A fresh, unguessable session id: [`SESSION_ID_BYTES`] random bytes, base64url.
/// `None` when the system's random source fails (no session is started then).
pub(crate) fn new_session_id() -> Option<String> {
    let mut bytes = [0u8; SESSION_ID_BYTES];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `sid` has the shape of an id we issue (it comes out of a sealed cookie, so
/// this only guards key names against anything odd).
pub(crate) fn is_session_id(sid: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(sid)
        .is_ok_and(|b| b.len() == SESSION_ID_BYTES)
}

/// The `KeyRing` context a session record is sealed under: the id is bound, so a record
/// moved to another key does not open.
pub(crate) fn record_context(sid: &str) -> String {
    format!("portcullis redis session\0{sid}")
}

/// The user index's name for a provider's `sub`: a hash, so index keys name nobody.
pub(crate) fn user_key_part(provider: &str, sub: &str) -> String {
    hashed("user", provider, sub)
}

/// A key part for `value` of `provider`, hashed under `kind` (index keys name nobody,
/// and two kinds never share a key).
pub(crate) fn hashed(kind: &str, provider: &str, value: &str) -> String {
    let d = digest::digest(
        &digest::SHA256,
        format!("portcullis {kind}\0{provider}\0{value}").as_bytes(),
    );
    d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Key names under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    /// The session record.
    pub fn session(&self, sid: &str) -> String {
        format!("{}:s:{{{sid}}}", self.prefix)
    }

    /// The tombstone of an ended session.
    pub fn ended(&self, sid: &str) -> String {
        format!("{}:x:{{{sid}}}", self.prefix)
    }

    /// The set of a user's session ids.
    pub fn user(&self, provider: &str, sub: &str) -> String {
        format!("{}:u:{}", self.prefix, user_key_part(provider, sub))
    }

    /// The set of session ids of a user name, across providers (what an administrator
    /// names when ending someone's sessions).
    pub(crate) fn user_name(&self, username: &str) -> String {
        let d = digest::digest(
            &digest::SHA256,
            format!("portcullis user name\0{username}").as_bytes(),
        );
        let hex: String = d.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}:n:{hex}", self.prefix)
    }

    /// The set of session ids started in IdP session `sid` of `provider`.
    pub fn idp_session(&self, provider: &str, sid: &str) -> String {
        format!("{}:o:{}", self.prefix, hashed("idp session", provider, sid))
    }

    /// A [`super::redis_client::RedisStore::once`] marker.
    pub fn once(&self, name: &str) -> String {
        format!("{}:once:{name}", self.prefix)
    }
}

/// The part of `key` Redis Cluster hashes to pick its slot: the first non-empty `{...}`
/// hash tag, else the whole key. Keys with the same group share a slot (keys of
/// different groups may too, by chance; nothing relies on it).
pub fn slot_group(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_long_random_and_recognised() {
        let a = new_session_id().unwrap();
        let b = new_session_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert!(is_session_id(&a));
        for odd in ["", "abc", "a:b", &a[..a.len() - 1], &format!("{a}AA")] {
            assert!(!is_session_id(odd), "{odd:?}");
        }
    }

    #[test]
    fn keys_are_prefixed_and_users_hashed_per_provider() {
        let k = Keys::new("pc");
        assert_eq!(k.session("ID"), "pc:s:{ID}");
        assert_eq!(k.ended("ID"), "pc:x:{ID}");
        assert_eq!(k.once("refresh:1"), "pc:once:refresh:1");
        let alice = k.user("team/idp", "alice");
        assert!(
            alice.starts_with("pc:u:") && !alice.contains("alice"),
            "{alice}"
        );
        assert_eq!(alice, k.user("team/idp", "alice"));
        assert_ne!(alice, k.user("team/other", "alice"));
        // Provider and sub are separated, so ("a", "b\0c") cannot collide with ("a\0b", "c").
        assert_ne!(k.user("a", "bc"), k.user("ab", "c"));
        let name = k.user_name("alice");
        assert!(
            name.starts_with("pc:n:") && !name.contains("alice"),
            "{name}"
        );
        assert_ne!(name, k.user_name("alicf"));
        let idp = k.idp_session("team/idp", "sid-1");
        assert!(idp.starts_with("pc:o:") && !idp.contains("sid-1"), "{idp}");
        assert_ne!(idp, k.idp_session("team/other", "sid-1"));
        // An IdP session id equal to a sub does not land in the user's index.
        assert_ne!(&idp["pc:o:".len()..], &alice["pc:u:".len()..]);
        assert_ne!(k.idp_session("team/idp", "alice")[5..], alice[5..]);
    }

    #[test]
    fn a_sessions_record_and_tombstone_share_a_slot_and_sessions_do_not() {
        let k = Keys::new("pc");
        let (a, b) = (new_session_id().unwrap(), new_session_id().unwrap());
        assert_eq!(slot_group(&k.session(&a)), a);
        assert_eq!(slot_group(&k.ended(&a)), a);
        assert_ne!(slot_group(&k.session(&a)), slot_group(&k.session(&b)));
        // Index keys carry no tag: each is its own group.
        let user = k.user("p", "alice");
        assert_eq!(slot_group(&user), user);
        // Redis's rules: the first `{`, the next `}`, an empty tag hashes the whole key.
        assert_eq!(slot_group("a{b}c{d}"), "b");
        assert_eq!(slot_group("a{}b{c}"), "a{}b{c}");
        assert_eq!(slot_group("a{b"), "a{b");
        assert_eq!(slot_group("a}b{c}"), "c");
        assert_eq!(slot_group("{{x}}"), "{x");
    }

    #[test]
    fn the_record_context_binds_the_id() {
        assert_ne!(record_context("a"), record_context("b"));
    }
}
