//! Tests of [`super`]: the allow rules and public-path normalisation.

use super::*;
use serde_json::json;
use std::collections::BTreeMap;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn subject() -> Subject {
    Subject {
        user: "ada".into(),
        email: Some("Ada@Example.com".into()),
        groups: strings(&["dev", "ops"]),
        permissions: strings(&["docs:read", "wiki:*"]),
        name: Some("Ada".into()),
        sub: "u1".into(),
        claims: json!({
            "dept": "eng",
            "level": 3,
            "email_verified": true,
            "roles": ["viewer", "editor"],
            "realm_access": {"roles": ["admin"]},
            "nested": {"x": 1}
        })
        .as_object()
        .cloned()
        .unwrap(),
    }
}

fn reason_of(d: Decision) -> Option<Reason> {
    match d {
        Decision::Allow => None,
        Decision::Deny { reason, .. } => Some(reason),
    }
}

#[test]
fn only_an_explicit_allow_any_admits_any_subject() {
    assert_eq!(
        reason_of(evaluate(&PolicyConfig::default(), &subject())),
        Some(Reason::PolicyDeniedNoRule),
        "a policy without rules admits nobody"
    );
    let public_only = PolicyConfig {
        public_paths: strings(&["/"]),
        allow_cors_preflight: true,
        ..PolicyConfig::default()
    };
    assert_eq!(
        reason_of(evaluate(&public_only, &subject())),
        Some(Reason::PolicyDeniedNoRule),
        "public paths are not allow rules"
    );
    let any = PolicyConfig {
        allow_any_authenticated: true,
        ..PolicyConfig::default()
    };
    assert_eq!(evaluate(&any, &Subject::default()), Decision::Allow);
}

#[test]
fn emails_and_domains_form_one_family() {
    let mut p = PolicyConfig {
        emails: strings(&["bob@other.org"]),
        email_domains: strings(&["example.com"]),
        ..Default::default()
    };
    assert_eq!(evaluate(&p, &subject()), Decision::Allow, "domain matches");
    p.email_domains = strings(&["elsewhere.com"]);
    p.emails = strings(&["ADA@example.COM"]);
    assert_eq!(evaluate(&p, &subject()), Decision::Allow, "address matches");
    p.emails = strings(&["bob@other.org"]);
    match evaluate(&p, &subject()) {
        Decision::Deny { reason, rule } => {
            assert_eq!(reason, Reason::PolicyDeniedEmail);
            assert!(
                rule.contains("bob@other.org") && rule.contains("elsewhere.com"),
                "{rule}"
            );
        }
        Decision::Allow => panic!("must deny"),
    }
    let no_email = Subject {
        email: None,
        ..subject()
    };
    assert_eq!(
        reason_of(evaluate(&p, &no_email)),
        Some(Reason::PolicyDeniedEmail)
    );
}

#[test]
fn email_domain_matching_is_on_label_boundaries() {
    let exact = PolicyConfig {
        email_domains: strings(&["example.com"]),
        ..Default::default()
    };
    let subs = PolicyConfig {
        email_domains: strings(&[".example.com"]),
        ..Default::default()
    };
    let cases = [
        ("a@example.com", true, true),
        ("A@EXAMPLE.COM", true, true),
        ("a@sub.example.com", false, true),
        ("a@x.sub.example.com", false, true),
        ("a@evil-example.com", false, false),
        ("a@evilexample.com", false, false),
        ("a@example.com.evil.com", false, false),
        ("a@.example.com", false, false),
        ("a@b@example.com", false, false),
        ("example.com", false, false),
        ("@example.com", false, false),
        ("a@", false, false),
        ("", false, false),
    ];
    for (email, want_exact, want_subs) in cases {
        assert_eq!(
            email_allowed(&exact, Some(email)),
            want_exact,
            "exact {email:?}"
        );
        assert_eq!(
            email_allowed(&subs, Some(email)),
            want_subs,
            "subs {email:?}"
        );
    }
    let dot_only = PolicyConfig {
        email_domains: strings(&["."]),
        ..Default::default()
    };
    assert!(!email_allowed(&dot_only, Some("a@com")));
    let listed = PolicyConfig {
        emails: strings(&["a@b@example.com"]),
        ..Default::default()
    };
    assert!(
        !email_allowed(&listed, Some("a@b@example.com")),
        "two @ never match"
    );
}

#[test]
fn groups_are_any_of_and_case_sensitive() {
    let mut p = PolicyConfig {
        groups: strings(&["admins", "ops"]),
        ..Default::default()
    };
    assert_eq!(evaluate(&p, &subject()), Decision::Allow);
    p.groups = strings(&["admins", "OPS"]);
    match evaluate(&p, &subject()) {
        Decision::Deny { reason, rule } => {
            assert_eq!(reason, Reason::PolicyDeniedGroup);
            assert!(rule.contains("admins"));
        }
        Decision::Allow => panic!("must deny"),
    }
}

#[test]
fn every_listed_claim_must_have_an_accepted_value() {
    let rules = |pairs: &[(&str, &[&str])]| PolicyConfig {
        claims: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), strings(v)))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    };
    let allowed: &[&[(&str, &[&str])]] = &[
        &[("dept", &["eng", "ops"])],
        &[("level", &["3"])],
        &[("email_verified", &["true"])],
        &[("roles", &["editor"])],
        &[("realm_access.roles", &["admin"])],
        &[("dept", &["eng"]), ("roles", &["viewer"])],
    ];
    for r in allowed {
        assert_eq!(evaluate(&rules(r), &subject()), Decision::Allow, "{r:?}");
    }
    let denied: &[&[(&str, &[&str])]] = &[
        &[("dept", &["ENG"])],
        &[("level", &["3.0"])],
        &[("email_verified", &["false"])],
        &[("roles", &["admin"])],
        &[("missing", &["x"])],
        &[("nested", &["{\"x\":1}"])],
        &[("dept", &["eng"]), ("roles", &["owner"])],
        &[("dept", &[])],
    ];
    for r in denied {
        assert_eq!(
            reason_of(evaluate(&rules(r), &subject())),
            Some(Reason::PolicyDeniedClaim),
            "{r:?}"
        );
    }
}

#[test]
fn permission_grants_use_per_segment_wildcards() {
    let cases = [
        ("*:*", "docs:read", true),
        ("docs:*", "docs:read", true),
        ("*:read", "docs:read", true),
        ("docs:read", "docs:read", true),
        ("docs:read", "docs:write", false),
        ("*:read", "docs:write", false),
        ("doc*:read", "docs:read", false),
        ("*", "docs:read", false),
        ("*:*", "docs:read:own", false),
        ("*:*:*", "docs:read:own", true),
        ("docs", "docs:read", false),
        ("docs:read:extra", "docs:read", false),
        ("*:*", "docs:", false),
        ("docs:read", "docs:*", false),
        ("docs:*", "docs:*", true),
        ("", "", false),
    ];
    for (grant, required, want) in cases {
        assert_eq!(
            grant_covers(grant, required),
            want,
            "{grant:?} covers {required:?}"
        );
    }
}

#[test]
fn all_required_permissions_must_be_granted() {
    let mut p = PolicyConfig {
        permissions: strings(&["docs:read", "wiki:edit"]),
        ..Default::default()
    };
    assert_eq!(evaluate(&p, &subject()), Decision::Allow);
    p.permissions.push("docs:write".into());
    match evaluate(&p, &subject()) {
        Decision::Deny { reason, rule } => {
            assert_eq!(reason, Reason::PolicyDeniedPermission);
            assert!(rule.contains("docs:write"), "{rule}");
        }
        Decision::Allow => panic!("must deny"),
    }
}

#[test]
fn families_are_checked_in_order_and_all_must_pass() {
    let p = PolicyConfig {
        email_domains: strings(&["example.com"]),
        groups: strings(&["dev"]),
        permissions: strings(&["docs:delete"]),
        ..Default::default()
    };
    assert_eq!(
        reason_of(evaluate(&p, &subject())),
        Some(Reason::PolicyDeniedPermission)
    );
    let outsider = Subject {
        email: Some("a@evil.com".into()),
        groups: vec![],
        ..subject()
    };
    assert_eq!(
        reason_of(evaluate(&p, &outsider)),
        Some(Reason::PolicyDeniedEmail)
    );
}

fn facts<'a>(method: &'a str, raw_path: &'a str) -> RequestFacts<'a> {
    RequestFacts {
        method,
        raw_path,
        has_origin: false,
        has_acrm: false,
    }
}

#[test]
fn public_paths_cannot_be_reached_by_traversal() {
    let p = PolicyConfig {
        public_paths: strings(&["/public", "/healthz/"]),
        ..Default::default()
    };
    for path in [
        "/public",
        "/public/",
        "/public/a/b?x",
        "/healthz",
        "/healthz/",
        "/public/caf%C3%A9",
    ] {
        assert_eq!(
            public_access(&p, &facts("GET", path)),
            Some(Reason::PublicPath),
            "{path}"
        );
    }
    for path in [
        "/publicity",
        "/public/../admin",
        "/x/../public/y",
        "/public/%2e/y",
        "/public//y",
        "/public/%2e%2e/admin",
        "//admin",
        "/public/..%2fadmin",
        "/public/..;/admin",
        "/admin?/public",
        "/admin#/public",
        "public",
        "/",
    ] {
        assert_eq!(public_access(&p, &facts("GET", path)), None, "{path}");
    }
}

#[test]
fn public_methods_and_cors_preflight() {
    let mut p = PolicyConfig {
        public_methods: strings(&["head"]),
        ..Default::default()
    };
    assert_eq!(
        public_access(&p, &facts("HEAD", "/x")),
        Some(Reason::PublicMethod)
    );
    assert!(!is_public(&p, &facts("GET", "/x")));
    let preflight = RequestFacts {
        method: "OPTIONS",
        raw_path: "/x",
        has_origin: true,
        has_acrm: true,
    };
    assert!(
        !is_public(&p, &preflight),
        "preflight needs allow_cors_preflight"
    );
    p.allow_cors_preflight = true;
    assert_eq!(public_access(&p, &preflight), Some(Reason::CorsPreflight));
    for (origin, acrm) in [(false, true), (true, false), (false, false)] {
        let partial = RequestFacts {
            has_origin: origin,
            has_acrm: acrm,
            ..preflight
        };
        assert!(!is_public(&p, &partial), "origin={origin} acrm={acrm}");
    }
    let not_options = RequestFacts {
        method: "POST",
        ..preflight
    };
    assert!(!is_public(&p, &not_options));
}

#[test]
fn public_requests_are_public_only_for_their_methods() {
    use crate::config::{HttpMethod, PublicRequest};
    let p = PolicyConfig {
        public_requests: vec![PublicRequest {
            methods: vec![HttpMethod::Get],
            paths: strings(&["/public"]),
        }],
        allow_cors_preflight: true,
        ..Default::default()
    };
    assert_eq!(
        public_access(&p, &facts("GET", "/public/a.css")),
        Some(Reason::PublicPath)
    );
    for (method, path) in [
        ("POST", "/public/a"),
        ("PUT", "/public"),
        ("DELETE", "/public/a"),
        ("HEAD", "/public/a"),
        ("get", "/public/a"),
        ("GET", "/private"),
        ("GET", "/public/../private"),
        ("GET", "/public//../private"),
        ("GET", "/publicity"),
    ] {
        assert_eq!(
            public_access(&p, &facts(method, path)),
            None,
            "{method} {path}"
        );
    }
    // The CORS preflight rule is unchanged: OPTIONS with both headers passes anywhere.
    let preflight = RequestFacts {
        method: "OPTIONS",
        raw_path: "/private",
        has_origin: true,
        has_acrm: true,
    };
    assert_eq!(public_access(&p, &preflight), Some(Reason::CorsPreflight));
    assert_eq!(public_access(&p, &facts("OPTIONS", "/public/a")), None);
}
