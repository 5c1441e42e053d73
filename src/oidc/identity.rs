//! The identity of a logged-in user, extracted from verified claims. It is stored in
//! the encrypted session cookie, so field names are short and empty fields are skipped.

use super::jwt::Claims;
use crate::config::ClaimNames;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Who the user is, as the policy and the identity headers see it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The subject (`sub`), stable per user at the IdP.
    #[serde(rename = "s")]
    pub sub: String,
    /// The username, chosen by [`ClaimNames::username`] order; `sub` when none is set.
    #[serde(rename = "u")]
    pub username: String,
    /// The email address.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The display name (`name`).
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Groups.
    #[serde(rename = "g", default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// `resource:action` permissions.
    #[serde(rename = "p", default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// Other claims kept because a policy or header needs them.
    #[serde(rename = "c", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, Value>,
}

/// A claim by name; a name with dots that is not itself a claim is a path into nested
/// objects (`realm_access.roles`, as Keycloak sends roles).
pub(crate) fn lookup<'a>(claims: &'a Claims, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

fn non_empty_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A list claim: an array (string items kept) or one string. `split` also splits a
/// single string on whitespace (for OAuth-style `scope` / permission strings).
fn string_list(v: Option<&Value>, split: bool) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) if split => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl Identity {
    /// Extracts the identity from verified claims. `keep` names the extra claims that
    /// policies and headers read (`claim:<name>`); only those are stored.
    pub(crate) fn from_claims(claims: &Claims, names: &ClaimNames, keep: &[String]) -> Self {
        let sub = non_empty_str(claims.get("sub")).unwrap_or_default();
        let email = non_empty_str(lookup(claims, &names.email));
        let username = names
            .username
            .iter()
            .find_map(|n| {
                let value = non_empty_str(lookup(claims, n))?;
                if n == &names.email || n == "email" {
                    // The local part: `jane` from `jane@example.com`.
                    let local = value.split('@').next().unwrap_or_default();
                    (!local.is_empty()).then(|| local.to_string())
                } else {
                    Some(value)
                }
            })
            .unwrap_or_else(|| sub.clone());
        let claims_kept = keep
            .iter()
            .filter_map(|n| Some((n.clone(), lookup(claims, n)?.clone())))
            .collect();
        Self {
            username,
            email,
            name: non_empty_str(claims.get("name")),
            groups: string_list(lookup(claims, &names.groups), false),
            permissions: string_list(lookup(claims, &names.permissions), true),
            claims: claims_kept,
            sub,
        }
    }

    /// A kept claim, or one of the identity fields by its claim name (`sub`, `email`,
    /// `name`).
    pub fn claim(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.claims.get(name) {
            return Some(v.clone());
        }
        match name {
            "sub" => Some(Value::String(self.sub.clone())),
            "email" => self.email.clone().map(Value::String),
            "name" => self.name.clone().map(Value::String),
            _ => None,
        }
    }

    /// A claim as header text: strings as is, lists joined with `,`, other scalars as
    /// JSON; None when absent or an object.
    pub(crate) fn claim_text(&self, name: &str) -> Option<String> {
        match self.claim(name)? {
            Value::String(s) => Some(s),
            Value::Array(items) => Some(
                items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Value::Object(_) | Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn username_falls_back_to_email_local_part() {
        let c = claims(json!({"sub": "123", "email": "jane.doe@example.com"}));
        let id = Identity::from_claims(&c, &ClaimNames::default(), &[]);
        assert_eq!(id.username, "jane.doe");
        assert_eq!(id.email.as_deref(), Some("jane.doe@example.com"));
        let c = claims(json!({"sub": "123", "preferred_username": "jd", "email": "j@x.io"}));
        assert_eq!(
            Identity::from_claims(&c, &ClaimNames::default(), &[]).username,
            "jd"
        );
    }

    #[test]
    fn username_falls_back_to_sub_and_skips_empty_claims() {
        let c = claims(json!({"sub": "123", "preferred_username": ""}));
        assert_eq!(
            Identity::from_claims(&c, &ClaimNames::default(), &[]).username,
            "123"
        );
    }

    #[test]
    fn groups_accept_a_single_string_and_nested_paths() {
        let c = claims(json!({"sub": "1", "groups": "admins"}));
        let id = Identity::from_claims(&c, &ClaimNames::default(), &[]);
        assert_eq!(id.groups, vec!["admins"]);
        let names = ClaimNames {
            groups: "realm_access.roles".into(),
            ..ClaimNames::default()
        };
        let c = claims(json!({"sub": "1", "realm_access": {"roles": ["a", 7, "b"]}}));
        assert_eq!(
            Identity::from_claims(&c, &names, &[]).groups,
            vec!["a", "b"]
        );
    }

    #[test]
    fn permissions_string_is_split_and_only_kept_claims_are_stored() {
        let c = claims(json!({
            "sub": "1", "permissions": "docs:read docs:write",
            "tenant": "acme", "big": "x".repeat(1000)
        }));
        let id = Identity::from_claims(&c, &ClaimNames::default(), &["tenant".into()]);
        assert_eq!(id.permissions, vec!["docs:read", "docs:write"]);
        assert_eq!(id.claim_text("tenant").as_deref(), Some("acme"));
        assert_eq!(id.claim("big"), None);
        let json = serde_json::to_string(&id).unwrap();
        assert!(!json.contains("xxxx"));
        let back: Identity = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
    }
}
