//! Checks on a compiled configuration that serde cannot express. Every error names the
//! source and the field path at fault.

use super::{OutpostConfig, SecretSource};
use thiserror::Error;
use url::Url;

/// Why a configuration was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The text is not valid YAML or does not match the schema.
    #[error("{origin}: {message}")]
    Parse {
        /// Where the text came from (a file, a ConfigMap).
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field has a value the outpost cannot serve.
    #[error("{origin}: {path}: {message}")]
    Invalid {
        /// Where the text came from (a file, a ConfigMap).
        origin: String,
        /// The field, as `routes[0].hosts[1]`.
        path: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ConfigError {
    /// A short label for metrics.
    pub(crate) fn metric_label(&self) -> &'static str {
        match self {
            Self::Parse { .. } => "parse",
            Self::Invalid { .. } => "invalid",
        }
    }
}

/// Parses an absolute http(s) URL with a host that a browser can be sent to.
pub fn external_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("{value:?} is not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{value:?} must use http or https"));
    }
    match url.host() {
        None => Err(format!("{value:?} has no host")),
        Some(url::Host::Ipv4(ip)) if ip.is_unspecified() => Err(format!(
            "{value:?} points to the unspecified address 0.0.0.0; set the external host name browsers use"
        )),
        Some(url::Host::Ipv6(ip)) if ip.is_unspecified() => Err(format!(
            "{value:?} points to the unspecified address [::]; set the external host name browsers use"
        )),
        Some(_) => Ok(url),
    }
}

impl OutpostConfig {
    /// Validates cross-references and values; `origin` names the source in errors.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |path: String, message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            path,
            message,
        };
        for (key, provider) in &self.providers {
            let at = |field: &str| format!("providers[{key:?}].{field}");
            external_url(&provider.issuer_url).map_err(|m| invalid(at("issuerURL"), m))?;
            if provider.client_id.is_empty() {
                return Err(invalid(at("clientID"), "must not be empty".into()));
            }
            if let Some(secret) = &provider.client_secret {
                check_secret_source(secret).map_err(|m| invalid(at("clientSecret"), m))?;
            }
            if let Some(ca) = &provider.ca_bundle {
                check_secret_source(ca).map_err(|m| invalid(at("caBundle"), m))?;
            }
            if provider.claims.username.is_empty() {
                return Err(invalid(
                    at("claims.username"),
                    "needs at least one claim".into(),
                ));
            }
        }
        for (i, route) in self.routes.iter().enumerate() {
            let at = |field: &str| format!("routes[{i}].{field}");
            if !self.providers.contains_key(&route.provider) {
                return Err(invalid(
                    at("provider"),
                    format!(
                        "names provider {:?}, which is not configured",
                        route.provider
                    ),
                ));
            }
            if route.hosts.is_empty() {
                return Err(invalid(at("hosts"), "needs at least one host".into()));
            }
            for (j, host) in route.hosts.iter().enumerate() {
                if host.is_empty() || *host != host.to_ascii_lowercase() {
                    return Err(invalid(
                        at(&format!("hosts[{j}]")),
                        format!("{host:?} must be a non-empty lower-case host name"),
                    ));
                }
            }
            if route.paths.is_empty() {
                return Err(invalid(
                    at("paths"),
                    "an empty list would protect no path, so the route would never be served; leave `paths` out to protect every path, or list the prefixes (for example `paths: [/app]`)".into(),
                ));
            }
            for (j, path) in route.paths.iter().enumerate() {
                if !path.starts_with('/') {
                    return Err(invalid(
                        at(&format!("paths[{j}]")),
                        format!("{path:?} must start with /"),
                    ));
                }
            }
            let auth = external_url(&route.auth_url).map_err(|m| invalid(at("authURL"), m))?;
            let expected = super::callback_uri(auth.as_str());
            if route.redirect_uri != expected {
                return Err(invalid(
                    at("redirectURI"),
                    format!(
                        "{:?} must be {expected:?} (authURL + /oauth2/callback)",
                        route.redirect_uri
                    ),
                ));
            }
            if route.session.cookie_name.is_empty()
                || !route
                    .session
                    .cookie_name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(invalid(
                    at("session.cookieName"),
                    "must be letters, digits, '_' or '-'".into(),
                ));
            }
            let rules = route.policy.allow_rules();
            match (route.policy.allow_any_authenticated, rules.is_empty()) {
                (false, true) => {
                    return Err(invalid(at("policy"), no_allow_rule(route)));
                }
                (true, false) => {
                    return Err(invalid(
                        at("policy.allowAnyAuthenticated"),
                        format!(
                            "admits every user who can log in, which contradicts the allow rules ({}); remove one or the other",
                            rules.join(", ")
                        ),
                    ));
                }
                _ => {}
            }
            let headers = &route.headers;
            let named = headers
                .map
                .keys()
                .map(|h| (format!("headers.map[{h:?}]"), h))
                .chain(
                    headers
                        .access_token
                        .iter()
                        .map(|h| ("headers.accessToken".into(), h)),
                )
                .chain(
                    headers
                        .identity_jwt
                        .iter()
                        .map(|j| ("headers.identityJwt.header".into(), &j.header)),
                );
            for (field, header) in named {
                super::check_header_name(header).map_err(|m| invalid(at(&field), m))?;
            }
            if route.session.lifetime_seconds == 0 {
                return Err(invalid(
                    at("session.lifetimeSeconds"),
                    "must be greater than 0".into(),
                ));
            }
            if let Some(redis) = &route.session.store.redis {
                redis.check().map_err(|(field, m)| {
                    invalid(at(&format!("session.store.redis.{field}")), m)
                })?;
                if let Some(password) = &redis.password {
                    check_secret_source(password)
                        .map_err(|m| invalid(at("session.store.redis.password"), m))?;
                }
            }
        }
        Ok(())
    }
}

/// The refusal of a route that does not say who may pass: which route, why a policy
/// without rules is not read as "anyone", and the exact YAML that makes it so.
fn no_allow_rule(route: &super::RouteConfig) -> String {
    let line = if route.policy == super::PolicyConfig::default() {
        "set `policy: { allowAnyAuthenticated: true }` on the route"
    } else {
        "add `allowAnyAuthenticated: true` under its `policy:`"
    };
    format!(
        "route {:?} (hosts {}) has no allow rule, and a route that does not say who may pass is refused rather than opened to everyone; list who may (emails, emailDomains, groups, claims, permissions), or, to admit every user who can log in, {line}",
        route.id,
        route.hosts.join(", "),
    )
}

fn check_secret_source(source: &SecretSource) -> Result<(), String> {
    let set = [
        source.value.is_some(),
        source.file.is_some(),
        source.env.is_some(),
        source.secret_key_ref.is_some(),
        source.config_map_key_ref.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if set == 1 {
        Ok(())
    } else {
        Err("set exactly one of value, file, env, secretKeyRef, configMapKeyRef".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::fixture::{config_yaml, provider, route};

    /// The fixture with one route for `staff`; tests replace one line to break one field.
    fn valid() -> String {
        config_yaml(
            &[provider("team/idp", "https://idp.example.com/")
                .client_secret("{ env: CLIENT_SECRET }")],
            &[route("team/app", "team/idp", "{ groups: [staff] }")],
        )
    }

    #[test]
    fn accepts_a_minimal_file() {
        let config = OutpostConfig::from_yaml(&valid(), "test.yaml").unwrap();
        assert_eq!(config.routes[0].session.cookie_name, "portcullis");
        let index = super::super::RouteIndex::new(&config.routes);
        assert_eq!(index.find("APP.example.com", "/x"), Some(0));
        assert_eq!(index.find("other.example.com", "/x"), None);
    }

    #[test]
    fn refuses_the_unspecified_address_and_names_the_field() {
        let text = valid()
            .replace(
                "authURL: https://app.example.com",
                "authURL: http://0.0.0.0:4180",
            )
            .replace(
                "https://app.example.com/oauth2",
                "http://0.0.0.0:4180/oauth2",
            );
        let err = OutpostConfig::from_yaml(&text, "test.yaml").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("test.yaml: routes[0].authURL"), "{text}");
        assert!(text.contains("0.0.0.0"), "{text}");
    }

    #[test]
    fn refuses_an_unknown_provider_and_unknown_fields() {
        let err =
            OutpostConfig::from_yaml(&valid().replace("provider: team/idp", "provider: x/y"), "f")
                .unwrap_err();
        assert!(err.to_string().contains("routes[0].provider"), "{err}");
        let err = OutpostConfig::from_yaml(&format!("{}\nextra: 1\n", valid()), "f").unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }

    #[test]
    fn a_misspelt_identity_field_or_header_name_names_the_file_route_and_header() {
        let with = |headers: &str| {
            let text = config_yaml(
                &[provider("team/idp", "https://idp.example.com/")
                    .client_secret("{ env: CLIENT_SECRET }")],
                &[route("team/app", "team/idp", "{ groups: [staff] }").extra(headers)],
            );
            OutpostConfig::from_yaml(&text, "outpost.yaml").map(|_| ())
        };
        assert!(with("    headers: { map: { X-User: user, X-Tenant: 'claim:tenant' } }\n").is_ok());
        let err = with("    headers: { map: { X-User: emial } }\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("outpost.yaml"), "{err}");
        assert!(err.contains("routes[0]"), "{err}");
        assert!(
            err.contains("\"emial\" is not an identity field: use user, email"),
            "{err}"
        );
        let err = with("    headers: { map: { 'X User': user } }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(r#"outpost.yaml: routes[0].headers.map["X User"]"#),
            "{err}"
        );
        let err = with("    headers: { map: {}, accessToken: 'X-Token:' }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("routes[0].headers.accessToken"), "{err}");
    }

    /// The YAML the refusal tells the user to write (the one quoted in backticks).
    fn suggested_yaml(err: &str) -> &str {
        let after = &err[err.find('`').expect("names the YAML to write") + 1..];
        &after[..after.find('`').unwrap()]
    }

    #[test]
    fn a_route_without_a_policy_is_refused_naming_file_route_field_and_the_line_to_add() {
        let text = valid().replace("    policy: { groups: [staff] }\n", "");
        let err = OutpostConfig::from_yaml(&text, "/etc/portcullis/outpost.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/etc/portcullis/outpost.yaml: routes[0].policy: route \"team/app\" (hosts app.example.com)"),
            "{err}"
        );
        assert!(err.contains("emails, emailDomains, groups"), "{err}");
        // The line it names is the fix: added to the route, the file loads as "anyone".
        let line = suggested_yaml(&err);
        assert_eq!(line, "policy: { allowAnyAuthenticated: true }");
        let fixed = text.replace(
            "    redirectURI: https://app.example.com/oauth2/callback\n",
            &format!("    redirectURI: https://app.example.com/oauth2/callback\n    {line}\n"),
        );
        let config = OutpostConfig::from_yaml(&fixed, "f").unwrap();
        assert!(config.routes[0].policy.allow_any_authenticated);
    }

    #[test]
    fn a_policy_without_rules_is_refused_with_the_key_to_add_under_it() {
        for policy in [
            "{}",
            "{ publicPaths: [/] }",
            "{ groups: [] }",
            "{ allowCorsPreflight: true }",
        ] {
            let text = valid().replace("{ groups: [staff] }", policy);
            let err = OutpostConfig::from_yaml(&text, "f")
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("f: routes[0].policy: route \"team/app\""),
                "{policy}: {err}"
            );
            let key = suggested_yaml(&err);
            if policy == "{}" || policy == "{ groups: [] }" {
                // Empty after parsing: the whole policy line.
                assert_eq!(key, "policy: { allowAnyAuthenticated: true }", "{policy}");
                continue;
            }
            assert_eq!(key, "allowAnyAuthenticated: true", "{policy}");
            let fixed = valid().replace(
                "{ groups: [staff] }",
                &policy.replace(" }", &format!(", {key} }}")),
            );
            OutpostConfig::from_yaml(&fixed, "f").unwrap();
        }
    }

    #[test]
    fn the_refusal_names_the_route_at_fault_not_the_first() {
        let text = config_yaml(
            &[provider("team/idp", "https://idp.example.com/")],
            &[
                route("team/app", "team/idp", "{ groups: [staff] }"),
                route("team/wiki", "team/idp", "{ publicPaths: [/] }")
                    .hosts("[wiki.example.com, docs.example.com]"),
            ],
        );
        let err = OutpostConfig::from_yaml(&text, "f")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("f: routes[1].policy: route \"team/wiki\" (hosts wiki.example.com, docs.example.com)"),
            "{err}"
        );
    }

    #[test]
    fn every_rule_family_and_the_explicit_flag_say_who_may_pass() {
        for policy in [
            "{ emails: [a@example.com] }",
            "{ emailDomains: [example.com] }",
            "{ groups: [staff] }",
            "{ claims: { tenant: [acme] } }",
            "{ permissions: [\"app:read\"] }",
            "{ allowAnyAuthenticated: true, publicPaths: [/health] }",
        ] {
            let text = valid().replace("{ groups: [staff] }", policy);
            let config =
                OutpostConfig::from_yaml(&text, "f").unwrap_or_else(|e| panic!("{policy}: {e}"));
            assert_eq!(
                config.routes[0].policy.allow_any_authenticated,
                policy.contains("allowAnyAuthenticated"),
                "{policy}"
            );
        }
    }

    #[test]
    fn rules_and_the_flag_together_contradict_each_other() {
        let text = valid().replace(
            "{ groups: [staff] }",
            "{ groups: [a], allowAnyAuthenticated: true }",
        );
        let err = OutpostConfig::from_yaml(&text, "f")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("f: routes[0].policy.allowAnyAuthenticated"),
            "{err}"
        );
        assert!(err.contains("groups"), "{err}");
        // `false` is the same as not saying it: still no rule.
        let text = valid().replace("{ groups: [staff] }", "{ allowAnyAuthenticated: false }");
        let err = OutpostConfig::from_yaml(&text, "f")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f: routes[0].policy:"), "{err}");
    }

    #[test]
    fn a_misspelt_rule_is_an_unknown_field_not_an_empty_policy() {
        let typo = valid().replace("policy: { groups: [staff] }", "policy: { group: [staff] }");
        let err = OutpostConfig::from_yaml(&typo, "f")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `group`"), "{err}");
    }

    #[test]
    fn a_left_out_redirect_uri_follows_the_auth_url() {
        let text = valid()
            .replace(
                "    redirectURI: https://app.example.com/oauth2/callback\n",
                "",
            )
            .replace(
                "authURL: https://app.example.com",
                "authURL: https://app.example.com/",
            );
        assert!(!text.contains("redirectURI"), "{text}");
        let config = OutpostConfig::from_yaml(&text, "f").unwrap();
        assert_eq!(
            config.routes[0].redirect_uri,
            "https://app.example.com/oauth2/callback"
        );
    }

    #[test]
    fn an_empty_paths_list_is_refused_with_both_ways_out() {
        let text = valid().replace("paths: [/]", "paths: []");
        assert!(text.contains("paths: []"), "{text}");
        let err = OutpostConfig::from_yaml(&text, "f")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f: routes[0].paths"), "{err}");
        assert!(err.contains("leave `paths` out"), "{err}");
    }

    #[test]
    fn refuses_a_redirect_uri_that_does_not_follow_the_auth_url() {
        let text = valid().replace(
            "redirectURI: https://app.example.com/oauth2/callback",
            "redirectURI: https://app.example.com/callback",
        );
        let err = OutpostConfig::from_yaml(&text, "f").unwrap_err();
        assert!(err.to_string().contains("routes[0].redirectURI"), "{err}");
    }
}
