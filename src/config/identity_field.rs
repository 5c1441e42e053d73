//! The vocabulary of identity fields a header can carry (`user`, `email`, ...,
//! `claim:<name>`), parsed once when a configuration is read. A misspelt field is a
//! configuration error naming the field and the words it could be, never a header that
//! is silently empty on every request.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The spellings a field may have, as a JSON-schema pattern (the CRD's admission check
/// and the outpost file's schema both use it).
pub const IDENTITY_FIELD_PATTERN: &str =
    "^(user|email|groups|preferred_username|name|sub|claim:[^\\s]+)$";

/// What an identity header carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityField {
    /// The username (the provider's `claims.username`, tried in order).
    User,
    /// The email address.
    Email,
    /// The groups, joined with `,`.
    Groups,
    /// The `preferred_username` claim.
    PreferredUsername,
    /// The display name (`name`).
    Name,
    /// The subject identifier (`sub`).
    Sub,
    /// Any claim by name: arrays joined with `,`, numbers and booleans as JSON spells them.
    Claim(String),
}

/// A spelling that is not a field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an identity field: use user, email, groups, preferred_username, name, sub or claim:<name>"
)]
pub struct UnknownIdentityField(pub String);

impl FromStr for IdentityField {
    type Err = UnknownIdentityField;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "user" => Self::User,
            "email" => Self::Email,
            "groups" => Self::Groups,
            "preferred_username" => Self::PreferredUsername,
            "name" => Self::Name,
            "sub" => Self::Sub,
            _ => match s.strip_prefix("claim:") {
                Some(claim) if !claim.is_empty() && !claim.contains(char::is_whitespace) => {
                    Self::Claim(claim.to_string())
                }
                _ => return Err(UnknownIdentityField(s.to_string())),
            },
        })
    }
}

impl fmt::Display for IdentityField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::User => "user",
            Self::Email => "email",
            Self::Groups => "groups",
            Self::PreferredUsername => "preferred_username",
            Self::Name => "name",
            Self::Sub => "sub",
            Self::Claim(claim) => return write!(f, "claim:{claim}"),
        })
    }
}

impl serde::Serialize for IdentityField {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IdentityField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for IdentityField {
    fn schema_name() -> Cow<'static, str> {
        "IdentityField".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": IDENTITY_FIELD_PATTERN,
        })
    }
}

/// `name` as an HTTP header name (RFC 9110 token characters), or why it is not one.
pub fn check_header_name(name: &str) -> Result<(), String> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_ok() {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips() {
        for text in [
            "user",
            "email",
            "groups",
            "preferred_username",
            "name",
            "sub",
            "claim:tenant",
            "claim:https://example.com/roles",
        ] {
            let field: IdentityField = text.parse().unwrap();
            assert_eq!(field.to_string(), text);
            let yaml: IdentityField = serde_yaml::from_str(text).unwrap();
            assert_eq!(yaml, field);
        }
    }

    #[test]
    fn a_misspelt_field_is_refused_with_the_words_it_could_be() {
        for bad in ["emial", "User", "claim:", "claim: x", "", "groups "] {
            let err = bad.parse::<IdentityField>().unwrap_err().to_string();
            assert!(err.contains("user, email, groups"), "{bad:?}: {err}");
        }
        let err = serde_yaml::from_str::<IdentityField>("emial").unwrap_err();
        assert!(
            err.to_string()
                .contains("\"emial\" is not an identity field"),
            "{err}"
        );
    }

    #[test]
    fn the_pattern_admits_exactly_what_parses() {
        let pattern = regex::Regex::new(IDENTITY_FIELD_PATTERN).unwrap();
        for text in [
            "user",
            "sub",
            "claim:x",
            "claim:a/b",
            "emial",
            "claim:",
            "claim: x",
            "Name",
        ] {
            assert_eq!(
                pattern.is_match(text),
                text.parse::<IdentityField>().is_ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(check_header_name("X-Auth-Request-User").is_ok());
        assert!(check_header_name("x_user").is_ok());
        for bad in ["", "X User", "X-User:", "Ünï", "X-User\n"] {
            let err = check_header_name(bad).unwrap_err();
            assert!(err.contains("is not an HTTP header name"), "{bad:?}: {err}");
        }
    }
}
