//! The identity an authorization decision and the identity headers are computed from.
//!
//! Deliberately a plain struct rather than the OIDC module's identity type, so the policy
//! code depends on nothing that does I/O; the handler converts one into the other.

use serde_json::{Map, Value};

/// Who is asking: the fields policy and headers need, plus every raw claim.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subject {
    /// The resolved username (already chosen from the configured username claims).
    pub user: String,
    /// The email address, when the token carried one.
    pub email: Option<String>,
    /// Group memberships.
    pub groups: Vec<String>,
    /// Granted `resource:action` permissions (grants may contain `*` segments).
    pub permissions: Vec<String>,
    /// Display name, when known.
    pub name: Option<String>,
    /// The `sub` claim.
    pub sub: String,
    /// Every claim of the token, for `claim:<name>` headers and claim rules.
    pub claims: Map<String, Value>,
}

impl Subject {
    /// Looks a claim up by name. An exact top-level key wins; otherwise a dotted name
    /// walks nested objects (`realm_access.roles` for Keycloak), because IdPs nest role
    /// lists and a flat key containing dots is rare.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        if let Some(v) = self.claims.get(name) {
            return Some(v);
        }
        let mut parts = name.split('.');
        let mut current = self.claims.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        Some(current)
    }
}

/// The scalar values of a claim as strings: a string as is, bools and numbers in their
/// JSON spelling, each scalar element of an array. Objects and nulls yield nothing,
/// because there is no unambiguous string form to compare or emit.
pub(crate) fn claim_strings(value: &Value) -> Vec<String> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject(claims: Value) -> Subject {
        Subject {
            claims: claims.as_object().cloned().unwrap_or_default(),
            ..Subject::default()
        }
    }

    #[test]
    fn claim_lookup_prefers_exact_key_then_walks_dots() {
        let s = subject(json!({
            "a.b": "flat",
            "realm_access": {"roles": ["admin", "dev"]},
            "a": {"b": "nested"}
        }));
        assert_eq!(s.claim("a.b"), Some(&json!("flat")));
        assert_eq!(
            s.claim("realm_access.roles"),
            Some(&json!(["admin", "dev"]))
        );
        assert_eq!(s.claim("realm_access.missing"), None);
        assert_eq!(s.claim("nothing"), None);
    }

    #[test]
    fn claim_strings_flattens_scalars_only() {
        assert_eq!(claim_strings(&json!("x")), vec!["x"]);
        assert_eq!(claim_strings(&json!(true)), vec!["true"]);
        assert_eq!(claim_strings(&json!(42)), vec!["42"]);
        assert_eq!(
            claim_strings(&json!(["a", 1, false, {"o": 1}, null])),
            vec!["a", "1", "false"]
        );
        assert!(claim_strings(&json!({"o": 1})).is_empty());
        assert!(claim_strings(&Value::Null).is_empty());
    }
}
