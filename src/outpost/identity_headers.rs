//! Identity headers for the upstream.
//!
//! Every configured header is emitted on every allowed request, with an empty value when
//! the field is missing or unsafe, so a header the client sent itself can never reach
//! the upstream looking like ours (the proxy copies our value over the client's).

use super::subject::{Subject, claim_strings};
use crate::config::{HeaderConfig, IdentityField};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;

/// A route's upstream header names, parsed once when the configuration is loaded rather
/// than on every allowed request (a name that is not a standard header is validated and
/// copied each time it is parsed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamHeaderNames {
    /// Identity header → identity field, in the map's order; invalid names left out.
    pub identity: Vec<(HeaderName, IdentityField)>,
    /// The access-token header, when configured and valid.
    pub access_token: Option<HeaderName>,
    /// The identity JWT's header, when configured and valid.
    pub identity_jwt: Option<HeaderName>,
}

impl UpstreamHeaderNames {
    /// The names of `config`, as [`identity_headers`] would parse them.
    pub fn new(config: &HeaderConfig) -> Self {
        let name = |h: &str| HeaderName::from_bytes(h.trim().as_bytes()).ok();
        Self {
            identity: config
                .map
                .iter()
                .filter_map(|(header, field)| Some((name(header)?, field.clone())))
                .collect(),
            access_token: config.access_token.as_deref().and_then(name),
            identity_jwt: config.identity_jwt.as_ref().and_then(|j| name(&j.header)),
        }
    }
}

/// The headers for `subject` from a header → field map (see
/// [`crate::config::HeaderConfig::map`]); see [`field_value`] for the values. Header
/// names that are not valid HTTP names are skipped; configuration validation is
/// where such a name should have been refused.
pub fn identity_headers(
    map: &BTreeMap<String, IdentityField>,
    subject: &Subject,
) -> Vec<(HeaderName, HeaderValue)> {
    map.iter()
        .filter_map(|(header, field)| {
            let name = HeaderName::from_bytes(header.trim().as_bytes()).ok()?;
            Some((name, safe_value(&field_value(field, subject))))
        })
        .collect()
}

/// [`identity_headers`] with the names parsed at load ([`UpstreamHeaderNames::identity`]);
/// `extra` reserves room for the access-token and identity-JWT headers.
pub(crate) fn named_identity_headers(
    names: &[(HeaderName, IdentityField)],
    subject: &Subject,
    extra: usize,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::with_capacity(names.len() + extra);
    out.extend(
        names
            .iter()
            .map(|(name, field)| (name.clone(), safe_value(&field_value(field, subject)))),
    );
    out
}

/// The raw string value of one identity field: `groups` joined with `,`; a claim's
/// array joined with `,`, numbers and booleans in their JSON spelling; empty when the
/// identity lacks it.
pub fn field_value(field: &IdentityField, subject: &Subject) -> String {
    let claim = |name: &str| {
        subject
            .claim(name)
            .map(claim_strings)
            .unwrap_or_default()
            .join(",")
    };
    match field {
        IdentityField::User => subject.user.clone(),
        IdentityField::Email => subject.email.clone().unwrap_or_default(),
        IdentityField::Groups => subject.groups.join(","),
        IdentityField::Name => subject.name.clone().unwrap_or_default(),
        IdentityField::Sub => subject.sub.clone(),
        IdentityField::PreferredUsername => claim("preferred_username"),
        IdentityField::Claim(name) => claim(name),
    }
}

/// The value as a header, or an empty header when it contains a control character
/// (CR, LF, NUL, tab, DEL...). Dropping rather than stripping, because a value with a
/// control character removed is a different identity. Non-ASCII UTF-8 is kept: names
/// like `José` are legitimate and `HeaderValue` carries them as opaque bytes.
pub(crate) fn safe_value(value: &str) -> HeaderValue {
    if value.chars().any(char::is_control) {
        return HeaderValue::from_static("");
    }
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A request header that spells one of the route's identity headers with underscores
/// (`X_Auth_Request_User` for `X-Auth-Request-User`): `(sent, ours)`.
///
/// The proxy overwrites our hyphenated names with the auth response's values, but not
/// an underscore spelling, and CGI-style stacks (PHP, WSGI, Rack) read both as the same
/// variable. nginx drops such headers by default; where it is configured to pass them
/// (`underscores_in_headers on`, ingress-nginx `enable-underscores-in-headers`), the
/// request is refused instead of letting a client name the user.
pub(crate) fn underscore_spelling(
    config: &HeaderConfig,
    request: &HeaderMap,
) -> Option<(String, String)> {
    // Only a request that carries an underscore header at all pays for the comparison.
    request
        .keys()
        .filter(|k| k.as_str().contains('_'))
        .find_map(|sent| {
            let as_hyphens = sent.as_str().replace('_', "-");
            config
                .map
                .keys()
                .chain(config.access_token.iter())
                .chain(config.identity_jwt.iter().map(|j| &j.header))
                .find(|ours| ours.eq_ignore_ascii_case(&as_hyphens))
                .map(|ours| (sent.as_str().to_string(), ours.clone()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HeaderPreset;
    use serde_json::json;

    fn subject() -> Subject {
        Subject {
            user: "ada".into(),
            email: Some("ada@example.com".into()),
            groups: vec!["dev".into(), "ops".into()],
            permissions: vec![],
            name: Some("Ada Lovelace".into()),
            sub: "u-1".into(),
            claims: json!({
                "preferred_username": "ada.l",
                "tenant": "acme",
                "level": 3,
                "verified": true,
                "roles": ["a", "b", 7],
                "obj": {"k": "v"},
                "evil": "x\r\nSet-Cookie: y",
                "nul": "a\u{0}b",
                "tab": "a\tb",
                "unicode": "José"
            })
            .as_object()
            .cloned()
            .unwrap(),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, IdentityField> {
        pairs
            .iter()
            .map(|(h, f)| (h.to_string(), f.parse().unwrap()))
            .collect()
    }

    fn as_pairs(headers: Vec<(HeaderName, HeaderValue)>) -> Vec<(String, String)> {
        headers
            .into_iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8(v.as_bytes().to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn oauth2_proxy_preset_fills_every_header() {
        let got = as_pairs(identity_headers(
            &HeaderPreset::OAuth2Proxy.headers(),
            &subject(),
        ));
        let want = [
            ("x-auth-request-email", "ada@example.com"),
            ("x-auth-request-groups", "dev,ops"),
            ("x-auth-request-preferred-username", "ada.l"),
            ("x-auth-request-user", "ada"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn missing_fields_are_present_and_empty() {
        let bare = Subject {
            user: "u".into(),
            ..Subject::default()
        };
        let m = map(&[
            ("Remote-Email", "email"),
            ("Remote-Groups", "groups"),
            ("Remote-Name", "name"),
            ("X-Pref", "preferred_username"),
            ("X-Tenant", "claim:tenant"),
        ]);
        let got = as_pairs(identity_headers(&m, &bare));
        assert_eq!(got.len(), 5, "every configured header is emitted");
        assert!(got.iter().all(|(_, v)| v.is_empty()), "{got:?}");
    }

    #[test]
    fn claims_are_stringified() {
        let s = subject();
        let cases = [
            ("claim:tenant", "acme"),
            ("claim:level", "3"),
            ("claim:verified", "true"),
            ("claim:roles", "a,b,7"),
            ("claim:obj", ""),
            ("claim:obj.k", "v"),
            ("claim:absent", ""),
            ("sub", "u-1"),
            ("name", "Ada Lovelace"),
        ];
        for (field, want) in cases {
            assert_eq!(field_value(&field.parse().unwrap(), &s), want, "{field}");
        }
    }

    #[test]
    fn unsafe_values_become_empty_headers() {
        let m = map(&[
            ("X-Evil", "claim:evil"),
            ("X-Nul", "claim:nul"),
            ("X-Tab", "claim:tab"),
            ("X-Unicode", "claim:unicode"),
        ]);
        let got: BTreeMap<String, Vec<u8>> = identity_headers(&m, &subject())
            .into_iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(got["x-evil"], b"");
        assert_eq!(got["x-nul"], b"");
        assert_eq!(got["x-tab"], b"");
        assert_eq!(got["x-unicode"], "José".as_bytes());
        let user = Subject {
            user: "ada\nX-Admin: 1".into(),
            ..subject()
        };
        let got = identity_headers(&map(&[("X-User", "user")]), &user);
        assert_eq!(got[0].1.as_bytes(), b"");
    }

    #[test]
    fn names_parsed_at_load_give_the_same_headers_as_names_parsed_per_request() {
        let mut config = HeaderConfig {
            map: map(&[
                ("X-User", "user"),
                (" X-Email ", "email"),
                ("bad header", "user"),
                ("X-Roles", "claim:roles"),
                ("X-Evil", "claim:evil"),
                ("x-none", "claim:absent"),
            ]),
            ..HeaderConfig::default()
        };
        let names = UpstreamHeaderNames::new(&config);
        assert_eq!(
            as_pairs(named_identity_headers(&names.identity, &subject(), 2)),
            as_pairs(identity_headers(&config.map, &subject()))
        );
        assert_eq!(names.identity.len(), 5, "the invalid name is left out");
        assert_eq!(names.access_token, None);
        config.access_token = Some(" X-Access-Token ".into());
        config.identity_jwt = Some(crate::config::IdentityJwtConfig {
            header: "bad name".into(),
            audience: "a".into(),
            lifetime_seconds: 60,
        });
        let names = UpstreamHeaderNames::new(&config);
        assert_eq!(names.access_token.unwrap().as_str(), "x-access-token");
        assert_eq!(
            names.identity_jwt, None,
            "skipped, as the per-request parse did"
        );
    }

    #[test]
    fn invalid_header_names_are_skipped() {
        let m = map(&[("Bad Header", "user"), ("X-Ok", "user"), ("", "user")]);
        let got = as_pairs(identity_headers(&m, &subject()));
        assert_eq!(got, vec![("x-ok".to_string(), "ada".to_string())]);
    }

    #[test]
    fn underscore_spellings_of_our_headers_are_found_and_others_are_not() {
        let config = HeaderConfig {
            access_token: Some("X-Access-Token".into()),
            ..HeaderConfig::default()
        };
        let request = |names: &[&str]| {
            let mut h = HeaderMap::new();
            for n in names {
                h.insert(
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    "admin".parse().unwrap(),
                );
            }
            h
        };
        assert_eq!(
            underscore_spelling(&config, &request(&["x_auth_request_user"])),
            Some(("x_auth_request_user".into(), "X-Auth-Request-User".into()))
        );
        assert_eq!(
            underscore_spelling(&config, &request(&["accept", "X_AUTH_request-EMAIL"])),
            Some(("x_auth_request-email".into(), "X-Auth-Request-Email".into())),
            "mixed spellings and case"
        );
        assert_eq!(
            underscore_spelling(&config, &request(&["x_access_token"])).map(|m| m.1),
            Some("X-Access-Token".into())
        );
        // Our own hyphenated names are overwritten by the proxy; other underscore
        // headers are none of our business.
        assert_eq!(
            underscore_spelling(
                &config,
                &request(&["x-auth-request-user", "x_custom_thing", "x_auth_request"])
            ),
            None
        );
    }
}
