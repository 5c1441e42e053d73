use super::*;
use crate::config::OutpostConfig;
use crate::config::fixture::{config_yaml, provider, route};

/// Two providers and three routes: `team/app` by claim with headers, `team/api` under
/// `/api` of the other provider, and `team/shared` on two hosts signing in elsewhere.
fn config() -> String {
    config_yaml(
        &[
            provider("team/idp", "https://idp.example.com"),
            provider("team/other", "https://other.example.com")
                .scopes("[openid]")
                .username("[preferred_username]"),
        ],
        &[
            route("team/app", "team/idp", "{ claims: { tenant: [acme] } }")
                .extra("    headers: { map: { X-Tenant: \"claim:tenant\", X-User: user } }\n"),
            route("team/api", "team/other", "{ allowAnyAuthenticated: true }").paths("[/api]"),
            route("team/shared", "team/idp", "{ allowAnyAuthenticated: true }")
                .hosts("[grafana.example.com, wiki.example.com]")
                .auth_url("https://auth.example.com"),
        ],
    )
}

fn snapshot(text: &str) -> Snapshot {
    Snapshot {
        config: OutpostConfig::from_yaml(text, "t").unwrap().into(),
        secrets: BTreeMap::new(),
        cookie_secrets: vec![b"0123456789abcdef0123456789".to_vec()],
        store_secrets: Default::default(),
        fingerprint: [0; 32],
    }
}

#[test]
fn auth_url_must_be_https_except_loopback_in_dev_mode() {
    assert!(check_auth_url("https://app.example.com", false).is_ok());
    let err = check_auth_url("http://app.example.com", true).unwrap_err();
    assert!(err.contains("non-loopback"), "{err}");
    let err = check_auth_url("http://127.0.0.1:4180", false).unwrap_err();
    assert!(err.contains("--allow-http-loopback"), "{err}");
    assert!(check_auth_url("http://127.0.0.1:4180", true).is_ok());
    assert!(check_auth_url("http://localhost:4180", true).is_ok());
    assert!(check_auth_url("http://[::1]:4180", true).is_ok());
    let err = check_auth_url("http://0.0.0.0:4180", true).unwrap_err();
    assert!(err.contains("0.0.0.0") && err.contains("set"), "{err}");
    let err = check_auth_url("", true).unwrap_err();
    assert!(err.contains("set authURL"), "{err}");
}

#[test]
fn build_refuses_http_auth_url_and_names_the_route() {
    let text = config()
        .replace(
            "authURL: https://auth.example.com",
            "authURL: http://auth.example.com",
        )
        .replace(
            "https://auth.example.com/oauth2",
            "http://auth.example.com/oauth2",
        );
    let err = Loaded::build(snapshot(&text), None, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("routes[2] (team/shared): authURL"), "{err}");
}

#[test]
fn routes_are_looked_up_by_host_path_and_rd_never_built_from_host() {
    let loaded = Loaded::build(snapshot(&config()), None, false).unwrap();
    assert_eq!(
        loaded
            .route_for("APP.example.com", "/api/x")
            .unwrap()
            .config
            .id,
        "team/api"
    );
    assert_eq!(
        loaded.route_for("app.example.com", "/x").unwrap().config.id,
        "team/app"
    );
    assert!(loaded.route_for("evil.example.com", "/").is_none());
    // Login endpoints: the external URL's host chooses among its routes, rd refines.
    let shared = |host, rd| {
        loaded
            .route_for_login(host, rd)
            .map(|r| r.config.id.clone())
    };
    assert_eq!(
        shared("auth.example.com", Some("https://wiki.example.com/x")).as_deref(),
        Some("team/shared")
    );
    assert_eq!(
        shared("app.example.com", Some("/api/v1")).as_deref(),
        Some("team/api")
    );
    assert_eq!(shared("app.example.com", None).as_deref(), Some("team/app"));
    // An rd on another route's host does not move a request away from its own host.
    assert_eq!(
        shared("app.example.com", Some("https://wiki.example.com/")).as_deref(),
        Some("team/app")
    );
    // An unknown host with an rd on a configured host uses that route.
    assert_eq!(
        shared("10.0.0.1:4180", Some("https://wiki.example.com/")).as_deref(),
        Some("team/shared")
    );
    assert_eq!(
        shared("evil.example.com", Some("https://evil.example.com/")),
        None
    );
}

#[test]
fn claims_kept_are_those_policies_and_headers_read() {
    let loaded = Loaded::build(snapshot(&config()), None, false).unwrap();
    let keep = &loaded.route_by_id("team/app").unwrap().keep_claims;
    assert_eq!(
        keep,
        &vec!["preferred_username".to_string(), "tenant".to_string()]
    );
}

#[test]
fn unchanged_providers_keep_their_slot_across_reloads() {
    let a = Loaded::build(snapshot(&config()), None, false).unwrap();
    let changed = config().replace("https://other.example.com", "https://other2.example.com");
    let b = Loaded::build(snapshot(&changed), Some(&a), false).unwrap();
    assert!(Arc::ptr_eq(
        &a.providers["team/idp"],
        &b.providers["team/idp"]
    ));
    assert!(!Arc::ptr_eq(
        &a.providers["team/other"],
        &b.providers["team/other"]
    ));
    assert!(!b.ready());
}

#[test]
fn hosts_the_session_cookie_cannot_reach_are_found() {
    let loaded = Loaded::build(snapshot(&config()), None, false).unwrap();
    let app = loaded.route_by_id("team/app").unwrap();
    assert!(hosts_without_cookie(&app.config, &app.base).is_empty());
    let shared = loaded.route_by_id("team/shared").unwrap();
    assert_eq!(
        hosts_without_cookie(&shared.config, &shared.base),
        vec!["grafana.example.com", "wiki.example.com"]
    );
    let mut config = RouteConfig::clone(&shared.config);
    config.session.cookie_domain = Some(".example.com".into());
    assert!(hosts_without_cookie(&config, &shared.base).is_empty());
    config.session.cookie_domain = Some("wiki.example.com".into());
    assert_eq!(
        hosts_without_cookie(&config, &shared.base),
        vec!["grafana.example.com", "wiki.example.com"],
        "the external URL's host must be inside the cookie domain too"
    );
    let local = Url::parse("http://127.0.0.1:4180").unwrap();
    config.hosts = vec!["127.0.0.1:4180".into()];
    config.session.cookie_domain = None;
    assert!(hosts_without_cookie(&config, &local).is_empty());
}

/// One team's unreachable IdP does not take the other teams' routes out of service;
/// an outpost that can serve nothing, or has not tried every provider yet, is unready.
#[tokio::test]
async fn readiness_needs_every_provider_tried_and_one_usable() {
    let loaded = Loaded::build(snapshot(&config()), None, false).unwrap();
    assert!(!loaded.ready(), "nothing tried yet");
    loaded.providers["team/other"].set_error("discovery unreachable".into());
    assert!(!loaded.ready(), "team/idp not tried yet");
    loaded.providers["team/idp"].set_error("discovery unreachable".into());
    assert!(!loaded.ready(), "no provider usable: nothing can be served");

    use crate::oidc::testkit::{EC, TestIdp};
    let idp = TestIdp::spawn(vec![EC.jwk("ec", None)]).await;
    loaded.providers["team/idp"].set(idp.provider().await);
    assert!(loaded.ready(), "team/idp's routes can be served");
    assert_eq!(
        loaded.unready_providers(),
        vec![(
            "team/other".to_string(),
            "discovery unreachable".to_string()
        )]
    );
}
