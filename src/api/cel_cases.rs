//! A table of specs for every CEL rule of the CRDs, each admitted and refused, with
//! the API server's field and words for the refusals. The unit tests run it through
//! `render`'s evaluator; `tests/processes/render_strict.rs` runs it against a real API
//! server, so the two are shown to agree. Test support only.

use serde_json::{Value, json};

/// The redirect URI rule's message.
pub const REDIRECT: &str = "must be an absolute https URL (http only on loopback) with a host, no wildcard and no fragment; redirect URIs are matched exactly";
/// The post-logout redirect URI rule's message.
pub const POST_LOGOUT: &str = "must be an absolute https URL (http only on loopback) with a host, no wildcard and no fragment; post-logout redirect URIs are matched exactly";
/// The authURL rule's message.
pub const AUTH_URL: &str = "must be an https URL (http only on loopback) without a path";

/// (kind, spec, `None` when admitted, else the API server's field and words).
#[allow(clippy::type_complexity)]
pub fn cases() -> Vec<(&'static str, Value, Option<(&'static str, String)>)> {
    // The API server quotes an invalid string and leaves an invalid object unquoted.
    let invalid = |field: &'static str, value: &str, message: &str| {
        let value = if value == "object" {
            String::new()
        } else {
            format!("{value:?}: ")
        };
        Some((field, format!("Invalid value: {value}{message}")))
    };
    let issuer = "https://idp.example.com";
    let client = |extra: Value| {
        let mut spec = json!({"providerRef": {"name": "p"}, "mode": "Generated"});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        spec
    };
    let route = |auth: &str| json!({"hosts": ["a.example.com"], "providerRef": {"name": "p"}, "policy": {"groups": ["g"]}, "authURL": auth});
    let mut cases = vec![
        (
            "OIDCProvider",
            json!({"issuerURL": issuer, "clientID": "a"}),
            None,
        ),
        (
            "OIDCProvider",
            json!({"issuerURL": issuer, "clientRef": {"name": "c"}}),
            None,
        ),
        (
            "OIDCProvider",
            json!({"issuerURL": issuer, "clientID": "a", "clientRef": {"name": "c"}}),
            invalid("spec", "object", "set exactly one of clientRef or clientID"),
        ),
        (
            "OIDCProvider",
            json!({"issuerURL": issuer}),
            invalid("spec", "object", "set exactly one of clientRef or clientID"),
        ),
        (
            "OIDCProvider",
            json!({"issuerURL": issuer, "clientID": "a", "clientSecretRef": {"name": "s", "key": "k"}}),
            None,
        ),
        (
            "OIDCProvider",
            json!({"issuerURL": issuer, "clientRef": {"name": "c"}, "clientSecretRef": {"name": "s", "key": "k"}}),
            invalid(
                "spec",
                "object",
                "clientSecretRef goes with clientID; an OAuthClient in clientRef brings its own secret",
            ),
        ),
        (
            "OAuthClient",
            json!({"providerRef": {"name": "p"}, "mode": "Static"}),
            invalid("spec", "object", "mode Static needs credentialsSecretRef"),
        ),
        (
            "OAuthClient",
            json!({"providerRef": {"name": "p"}, "mode": "Static", "credentialsSecretRef": {"name": "s"}}),
            None,
        ),
        (
            "OAuthClient",
            json!({"providerRef": {"name": "p"}, "mode": "Dynamic"}),
            invalid("spec", "object", "mode Dynamic needs registration"),
        ),
        (
            "OAuthClient",
            json!({"providerRef": {"name": "p"}, "mode": "Dynamic", "registration": {}}),
            None,
        ),
        ("ForwardAuthRoute", route("https://auth.example.com"), None),
        ("ForwardAuthRoute", route("http://localhost:4180"), None),
        ("ForwardAuthRoute", route("http://127.0.0.1:4180/"), None),
        ("ForwardAuthRoute", route("http://[::1]:4180"), None),
        (
            "ForwardAuthRoute",
            route("http://auth.example.com"),
            invalid("spec.authURL", "http://auth.example.com", AUTH_URL),
        ),
        (
            "ForwardAuthRoute",
            route("http://LOCALHOST:4180"),
            invalid("spec.authURL", "http://LOCALHOST:4180", AUTH_URL),
        ),
        (
            "ForwardAuthRoute",
            route("http://127.0.0.2:4180"),
            invalid("spec.authURL", "http://127.0.0.2:4180", AUTH_URL),
        ),
    ];
    for (field, message) in [
        ("redirectURIs", REDIRECT),
        ("postLogoutRedirectURIs", POST_LOGOUT),
    ] {
        for (uri, ok) in [
            ("https://app.example.com/oauth2/callback", true),
            ("https://app.example.com:99999/cb", true),
            ("HTTPS://app.example.com/cb", true),
            ("http://localhost:8080/cb", true),
            ("http://127.0.0.1/cb", true),
            ("http://[::1]:8080/cb", true),
            ("http://app.example.com/cb", false),
            ("http://LOCALHOST/cb", false),
            ("https://*.example.com/cb", false),
            ("https://app.example.com/cb#x", false),
            ("https:app.example.com/cb", false),
            ("https:///cb", false),
            ("/oauth2/callback", false),
            ("app.example.com/cb", false),
            ("ftp://localhost/cb", false),
        ] {
            let at: &'static str = if field == "redirectURIs" {
                "spec.redirectURIs[1]"
            } else {
                "spec.postLogoutRedirectURIs[1]"
            };
            cases.push((
                "OAuthClient",
                client(json!({field: ["https://first.example.com/cb", uri]})),
                (!ok).then(|| (at, format!("Invalid value: {uri:?}: {message}"))),
            ));
        }
    }
    cases
}
