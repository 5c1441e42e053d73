//! Per-object error backoff: what a failure is counted against ([`BackoffKey`]) and how
//! long the next retry waits (`backoff_delay`).

use crate::reconcile::key::ObjectKey;
use kube::Resource;
use std::fmt;
use std::time::Duration;

/// What the operator counts failures against: a reconciled object (kinds share names,
/// so the kind is part of it), or the writer of the compiled configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BackoffKey {
    /// One object of one kind.
    Object {
        /// The kind, e.g. `OIDCProvider`.
        kind: String,
        /// Its namespace and name.
        key: ObjectKey,
    },
    /// The writer of the outposts' configuration (one per operator).
    Writer,
}

impl BackoffKey {
    /// The key of an object (so the error policy and a successful reconcile name the
    /// same entry).
    pub(crate) fn of<K: Resource<DynamicType = ()>>(object: &K) -> Self {
        Self::Object {
            kind: K::kind(&()).into_owned(),
            key: ObjectKey::of(object),
        }
    }
}

/// `Kind/namespace/name`, or `writer`: how logs name it.
impl fmt::Display for BackoffKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Object { kind, key } => write!(f, "{kind}/{key}"),
            Self::Writer => f.write_str("writer"),
        }
    }
}

/// 5 s · 2^(n-1), at most 5 min.
pub(crate) fn backoff_delay(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_secs((5u64 << exp).min(300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{OAuthClient, OIDCProvider};

    #[test]
    fn kinds_sharing_a_name_are_apart_and_logs_read_as_before() {
        let mut p = OIDCProvider::new("idp", Default::default());
        p.metadata.namespace = Some("ns".into());
        let mut c = OAuthClient::new("idp", Default::default());
        c.metadata.namespace = Some("ns".into());
        let (p, c) = (BackoffKey::of(&p), BackoffKey::of(&c));
        assert_ne!(p, c);
        assert_eq!(p.to_string(), "OIDCProvider/ns/idp");
        assert_eq!(c.to_string(), "OAuthClient/ns/idp");
        assert_eq!(
            p,
            BackoffKey::Object {
                kind: "OIDCProvider".into(),
                key: ObjectKey::new("ns", "idp")
            }
        );
        assert_eq!(BackoffKey::Writer.to_string(), "writer");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_delay(1), Duration::from_secs(5));
        assert_eq!(backoff_delay(2), Duration::from_secs(10));
        assert_eq!(backoff_delay(6), Duration::from_secs(160));
        assert_eq!(backoff_delay(7), Duration::from_secs(300));
        assert_eq!(backoff_delay(100), Duration::from_secs(300));
    }
}
