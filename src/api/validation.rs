//! The checks the operator runs on an object before using it. First the CRD's own CEL
//! rules (`x-kubernetes-validations`), evaluated from the schema by [`super::cel`]: the
//! API server ran them at admission, but an object stored before a rule existed is not
//! checked again, so the operator checks at reconcile time with the same definition
//! (never a Rust copy of a rule). Then the operator's own rules: who may pass (the
//! operator's rule, `Accepted=False` naming `spec.policy`, by design not an admission
//! refusal) and value checks the schema's patterns state too, with a message naming
//! the fix (hosts, paths, durations, permissions, the issuer URL). Each error names
//! the field path.

use super::{ForwardAuthRoute, OAuthClient, OIDCProvider, PolicySpec};
use k8s_openapi::api::core::v1::Secret;
use url::Url;

/// A field path and what is wrong with it.
pub type FieldError = (String, String);

/// Checks beyond the structural schema.
pub trait Validate {
    /// The first problem found, if any.
    fn validate(&self) -> Result<(), FieldError>;
}

fn err(field: impl Into<String>, message: impl Into<String>) -> Result<(), FieldError> {
    Err((field.into(), message.into()))
}

/// An absolute http(s) URL.
fn absolute_url(field: &str, value: &str) -> Result<Url, FieldError> {
    let url = Url::parse(value).map_err(|e| {
        (
            field.to_string(),
            format!("{value:?} is not an absolute URL ({e})"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err((
            field.to_string(),
            format!("{value:?} must be an http(s) URL with a host"),
        ));
    }
    Ok(url)
}

/// A duration like `30s`, `15m`, `12h`, `1h30m`.
fn duration(field: &str, value: &Option<String>) -> Result<(), FieldError> {
    match value {
        Some(v) => super::parse_duration(v)
            .map(|_| ())
            .map_err(|m| (field.to_string(), m)),
        None => Ok(()),
    }
}

/// A lower-case DNS name with an optional port.
fn host(field: &str, value: &str) -> Result<(), FieldError> {
    let (name, port) = value
        .split_once(':')
        .map_or((value, None), |(n, p)| (n, Some(p)));
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return err(field, format!("{value:?} is not a lower-case DNS name"));
    }
    if let Some(p) = port
        && p.parse::<u16>().map_or(true, |p| p == 0)
    {
        return err(field, format!("{value:?} has an invalid port"));
    }
    Ok(())
}

impl Validate for OIDCProvider {
    fn validate(&self) -> Result<(), FieldError> {
        // clientRef xor clientID, and clientSecretRef only with clientID.
        super::cel::check_object(self)?;
        let s = &self.spec;
        absolute_url("spec.issuerURL", &s.issuer_url)?;
        duration("spec.clockSkew", &s.clock_skew)
    }
}

impl Validate for OAuthClient {
    fn validate(&self) -> Result<(), FieldError> {
        // The mode's required fields and the redirect URIs.
        super::cel::check_object(self)?;
        let s = &self.spec;
        if let Some(r) = &s.rotation {
            duration("spec.rotation.period", &Some(r.period.clone()))?;
            duration("spec.rotation.grace", &r.grace)?;
        }
        Ok(())
    }
}

/// A route's policy must say who may pass: allow rules, or the explicit
/// `allowAnyAuthenticated: true`, never both and never neither. An empty policy once
/// admitted every signed-in user, so a typo in a rule name opened the route.
fn policy(policy: Option<&PolicySpec>) -> Result<(), FieldError> {
    const RULES: &str = "emails, emailDomains, groups, claims, permissions";
    let empty = PolicySpec::default();
    let p = policy.unwrap_or(&empty);
    let mut rules = Vec::new();
    for (name, set) in [
        ("emails", p.emails.as_ref().is_some_and(|l| !l.is_empty())),
        (
            "emailDomains",
            p.email_domains.as_ref().is_some_and(|l| !l.is_empty()),
        ),
        ("groups", p.groups.as_ref().is_some_and(|l| !l.is_empty())),
        ("claims", p.claims.as_ref().is_some_and(|l| !l.is_empty())),
        (
            "permissions",
            p.permissions.as_ref().is_some_and(|l| !l.is_empty()),
        ),
    ] {
        if set {
            rules.push(name);
        }
    }
    match (p.allow_any_authenticated == Some(true), rules.is_empty()) {
        (false, true) => err(
            "spec.policy",
            format!(
                "no allow rule, so nobody is said to pass; list who may ({RULES}), or set allowAnyAuthenticated: true to admit every user who can log in"
            ),
        ),
        (true, false) => err(
            "spec.policy.allowAnyAuthenticated",
            format!(
                "admits every user who can log in, which contradicts the allow rules ({}); remove one or the other",
                rules.join(", ")
            ),
        ),
        _ => Ok(()),
    }
}

/// Header names that are HTTP tokens, and fields the outpost knows: a typo is refused
/// here, not served as an empty header.
fn headers(h: &super::HeadersSpec) -> Result<(), FieldError> {
    let name = |field: String, value: &str| {
        crate::config::check_header_name(value).map_err(|message| (field, message))
    };
    for (header, field) in h.map.iter().flatten() {
        let at = format!("spec.headers.map[{header:?}]");
        name(at.clone(), header)?;
        if let Err(e) = field.parse::<crate::config::IdentityField>() {
            return err(at, e.to_string());
        }
    }
    if let Some(header) = &h.access_token_header {
        name("spec.headers.accessTokenHeader".into(), header)?;
    }
    if let Some(j) = &h.identity_jwt {
        if let Some(header) = &j.header {
            name("spec.headers.identityJWT.header".into(), header)?;
        }
        duration("spec.headers.identityJWT.lifetime", &j.lifetime)?;
    }
    Ok(())
}

impl Validate for ForwardAuthRoute {
    fn validate(&self) -> Result<(), FieldError> {
        // authURL: https, or http on loopback (with the schema's pattern).
        super::cel::check_object(self)?;
        let s = &self.spec;
        if s.hosts.is_empty() {
            return err("spec.hosts", "needs at least one host");
        }
        for (i, h) in s.hosts.iter().enumerate() {
            host(&format!("spec.hosts[{i}]"), h)?;
        }
        for (i, p) in s.paths.iter().flatten().enumerate() {
            if !p.starts_with('/') {
                return err(
                    format!("spec.paths[{i}]"),
                    format!("{p:?} must start with /"),
                );
            }
        }
        if let Some(sess) = &s.session {
            duration("spec.session.lifetime", &sess.lifetime)?;
            duration("spec.session.idleTimeout", &sess.idle_timeout)?;
            duration("spec.session.refreshLead", &sess.refresh_lead)?;
            duration("spec.session.refreshGrace", &sess.refresh_grace)?;
        }
        if let Some(h) = &s.headers {
            headers(h)?;
        }
        policy(s.policy.as_ref())?;
        for (i, p) in s
            .policy
            .iter()
            .flat_map(|p| p.permissions.iter().flatten())
            .enumerate()
        {
            let ok = p.split_once(':').is_some_and(|(r, a)| {
                !r.is_empty() && !a.is_empty() && !p.contains('*') && !a.contains(':')
            });
            if !ok {
                return err(
                    format!("spec.policy.permissions[{i}]"),
                    format!(
                        "{p:?} must be resource:action without wildcards (wildcards belong in users' grants)"
                    ),
                );
            }
        }
        Ok(())
    }
}

impl Validate for Secret {
    fn validate(&self) -> Result<(), FieldError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_must_say_who_may_pass() {
        let rule = |f: fn(&mut PolicySpec)| {
            let mut p = PolicySpec::default();
            f(&mut p);
            policy(Some(&p)).map_err(|(field, _)| field)
        };
        let refused = Err("spec.policy".to_string());
        assert_eq!(policy(None).map_err(|e| e.0), refused);
        assert_eq!(rule(|_| {}), refused);
        assert_eq!(rule(|p| p.groups = Some(vec![])), refused);
        assert_eq!(rule(|p| p.allow_any_authenticated = Some(false)), refused);
        assert_eq!(
            rule(|p| {
                p.allow_cors_preflight = Some(true);
                p.public = Some(Default::default());
            }),
            refused
        );
        assert_eq!(rule(|p| p.allow_any_authenticated = Some(true)), Ok(()));
        assert_eq!(rule(|p| p.groups = Some(vec!["admins".into()])), Ok(()));
        assert_eq!(
            rule(|p| {
                p.allow_any_authenticated = Some(true);
                p.emails = Some(vec!["a@example.com".into()]);
            }),
            Err("spec.policy.allowAnyAuthenticated".to_string())
        );
        let (_, message) = policy(None).unwrap_err();
        assert!(message.contains("allowAnyAuthenticated: true"), "{message}");
    }

    #[test]
    fn hosts_are_lower_case_dns_names() {
        assert!(host("h", "app.example.com").is_ok());
        assert!(host("h", "app.example.com:8443").is_ok());
        assert!(host("h", "App.example.com").is_err());
        assert!(host("h", "-bad.example.com").is_err());
        assert!(host("h", "a..b").is_err());
        assert!(host("h", "a.b:0").is_err());
    }

    #[test]
    fn a_misspelt_identity_field_or_a_bad_header_name_is_refused_naming_the_header() {
        let check = |yaml: &str| {
            let h: super::super::HeadersSpec = serde_yaml::from_str(yaml).unwrap();
            headers(&h)
        };
        assert_eq!(
            check("{map: {X-User: user, X-Tenant: 'claim:tenant'}}"),
            Ok(())
        );
        let (field, message) = check("{map: {X-User: emial}}").unwrap_err();
        assert_eq!(field, r#"spec.headers.map["X-User"]"#);
        assert!(
            message.contains(r#""emial" is not an identity field"#),
            "{message}"
        );
        let (field, message) = check("{map: {'X User': user}}").unwrap_err();
        assert_eq!(field, r#"spec.headers.map["X User"]"#);
        assert!(message.contains("not an HTTP header name"), "{message}");
        let (field, _) = check("{accessTokenHeader: 'X-Token:'}").unwrap_err();
        assert_eq!(field, "spec.headers.accessTokenHeader");
        let (field, _) = check("{identityJWT: {audience: app, header: 'X Id'}}").unwrap_err();
        assert_eq!(field, "spec.headers.identityJWT.header");
    }
}
