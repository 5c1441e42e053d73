//! The defaults of a hand-written `--config` file: the fields a user may leave out
//! (`scopes`, `claims` and each claim, `clockSkewSeconds`, a route's `paths`) load as the
//! full form would, and a wrong type in one of them is still refused naming the file
//! and the field.

use crate::config::{ClaimNames, MINIMAL_EXAMPLE, OutpostConfig, ProviderConfig};

/// [`MINIMAL_EXAMPLE`] with every defaulted field written out, as the operator writes it.
fn full_form() -> String {
    MINIMAL_EXAMPLE
        .replace(
            "    clientSecret: { file: /etc/portcullis/client-secret }\n",
            "    clientSecret: { file: /etc/portcullis/client-secret }\n    scopes: [openid, profile, email]\n    claims:\n      username: [preferred_username, email]\n      email: email\n      groups: groups\n      permissions: permissions\n    clockSkewSeconds: 30\n",
        )
        .replace(
            "    hosts: [app.example.com]\n",
            "    hosts: [app.example.com]\n    paths: [/]\n",
        )
}

#[test]
fn the_minimal_file_loads_as_its_full_form() {
    let full = full_form();
    // The replacements took: the full form really spells out the four fields.
    for field in [
        "scopes:",
        "claims:",
        "permissions: permissions",
        "clockSkewSeconds:",
        "paths:",
    ] {
        assert!(full.contains(field), "{field} in\n{full}");
        assert!(
            !MINIMAL_EXAMPLE.contains(field),
            "{field} in the minimal file"
        );
    }
    let minimal = OutpostConfig::from_yaml(MINIMAL_EXAMPLE, "minimal.yaml").unwrap();
    let full = OutpostConfig::from_yaml(&full, "full.yaml").unwrap();
    assert_eq!(minimal, full);
    let provider = &minimal.providers["team/idp"];
    assert_eq!(provider.scopes, ["openid", "profile", "email"]);
    assert_eq!(provider.clock_skew_seconds, 30);
    assert_eq!(provider.claims, ClaimNames::default());
    assert_eq!(minimal.routes[0].paths, ["/"]);
    // The route answers every path of its host, as `paths: [/]` does.
    let index = super::super::RouteIndex::new(&minimal.routes);
    assert_eq!(index.find("app.example.com", "/deep/path"), Some(0));
}

#[test]
fn a_claim_left_out_keeps_its_default_and_the_others_are_read() {
    let text = MINIMAL_EXAMPLE.replace(
        "    clientSecret: { file: /etc/portcullis/client-secret }\n",
        "    clientSecret: { file: /etc/portcullis/client-secret }\n    claims: { groups: roles, username: [sub] }\n",
    );
    let config = OutpostConfig::from_yaml(&text, "f").unwrap();
    let claims = &config.providers["team/idp"].claims;
    assert_eq!(claims.groups, "roles");
    assert_eq!(claims.username, ["sub"]);
    assert_eq!(claims.email, "email");
    assert_eq!(claims.permissions, "permissions");
}

#[test]
fn an_explicit_value_wins_over_the_default() {
    let text = MINIMAL_EXAMPLE
        .replace(
            "    clientSecret: { file: /etc/portcullis/client-secret }\n",
            "    clientSecret: { file: /etc/portcullis/client-secret }\n    scopes: [openid, groups]\n    clockSkewSeconds: 0\n",
        )
        .replace(
            "    hosts: [app.example.com]\n",
            "    hosts: [app.example.com]\n    paths: [/api]\n",
        );
    let config = OutpostConfig::from_yaml(&text, "f").unwrap();
    let provider = &config.providers["team/idp"];
    assert_eq!(provider.scopes, ["openid", "groups"]);
    // 0 is a value, not "unset".
    assert_eq!(provider.clock_skew_seconds, 0);
    assert_eq!(config.routes[0].paths, ["/api"]);
    let index = super::super::RouteIndex::new(&config.routes);
    assert_eq!(index.find("app.example.com", "/other"), None);
}

#[test]
fn a_wrong_type_in_a_defaulted_field_names_the_file_and_the_field() {
    let provider_line = "    clientSecret: { file: /etc/portcullis/client-secret }\n";
    let route_line = "    hosts: [app.example.com]\n";
    // The field as the parser names it, after the file: `providers.<key>.<field>`.
    let cases = [
        (
            provider_line,
            "scopes: openid",
            "providers.team/idp.scopes:",
        ),
        (
            provider_line,
            "scopes: [openid, [profile]]",
            "providers.team/idp.scopes[1]:",
        ),
        (
            provider_line,
            "clockSkewSeconds: thirty",
            "providers.team/idp.clockSkewSeconds:",
        ),
        (
            provider_line,
            "clockSkewSeconds: -1",
            "providers.team/idp.clockSkewSeconds:",
        ),
        (
            provider_line,
            "claims: groups",
            "providers.team/idp.claims:",
        ),
        (
            provider_line,
            "claims: { permissions: [a, b] }",
            "providers.team/idp.claims.permissions:",
        ),
        (
            provider_line,
            "claims: { username: preferred_username }",
            "providers.team/idp.claims.username:",
        ),
        (
            provider_line,
            "claims: { group: roles }",
            "providers.team/idp.claims: unknown field `group`",
        ),
        (route_line, "paths: /", "routes[0].paths:"),
        (route_line, "paths: [{ prefix: / }]", "routes[0].paths[0]:"),
    ];
    for (after, line, field) in cases {
        let text = MINIMAL_EXAMPLE.replace(after, &format!("{after}    {line}\n"));
        assert_ne!(text, MINIMAL_EXAMPLE);
        let err = OutpostConfig::from_yaml(&text, "/etc/portcullis/outpost.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("/etc/portcullis/outpost.yaml: {field}")),
            "{line}: {err}"
        );
    }
}

#[test]
fn an_empty_username_list_is_still_refused() {
    let text = MINIMAL_EXAMPLE.replace(
        "    clientSecret: { file: /etc/portcullis/client-secret }\n",
        "    clientSecret: { file: /etc/portcullis/client-secret }\n    claims: { username: [] }\n",
    );
    let err = OutpostConfig::from_yaml(&text, "f")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("f: providers[\"team/idp\"].claims.username"),
        "{err}"
    );
}

#[test]
fn the_minimal_file_still_says_who_may_pass() {
    // Defaults stop at the policy: without it the minimal file is refused.
    let text = MINIMAL_EXAMPLE.replace("    policy: { groups: [staff] }\n", "");
    assert_ne!(text, MINIMAL_EXAMPLE);
    let err = OutpostConfig::from_yaml(&text, "f")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("f: routes[0].policy:"), "{err}");
}

#[test]
fn the_default_provider_is_what_a_file_that_leaves_everything_out_loads() {
    let from_file: ProviderConfig =
        serde_yaml::from_str("issuerURL: \"\"\nclientID: \"\"\n").expect("parses");
    assert_eq!(ProviderConfig::default(), from_file);
}
