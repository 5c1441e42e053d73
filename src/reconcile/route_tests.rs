use super::*;
use crate::config::{HttpMethod, PublicRequest};

#[test]
fn public_requests_by_method_reach_the_compiled_config() {
    let route: ForwardAuthRoute = serde_yaml::from_str(
        r#"
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: { name: app, namespace: apps }
spec:
  hosts: [app.example.com]
  providerRef: { name: idp }
  policy:
    allowAnyAuthenticated: true
    public:
      requests: [{ methods: [GET, HEAD], paths: [/public] }]
"#,
    )
    .unwrap();
    let compiled = config(&route).unwrap();
    assert_eq!(
        compiled.policy.public_requests,
        vec![PublicRequest {
            methods: vec![HttpMethod::Get, HttpMethod::Head],
            paths: vec!["/public".into()],
        }]
    );
}

fn with_session(session: &str) -> ForwardAuthRoute {
    serde_yaml::from_str(&format!(
        r#"
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{ name: app, namespace: apps }}
spec:
  hosts: [app.example.com]
  providerRef: {{ name: idp }}
  policy: {{ allowAnyAuthenticated: true }}
  session: {session}
"#
    ))
    .unwrap()
}

#[test]
fn a_redis_session_store_compiles_with_its_password_as_a_reference() {
    let route = with_session(
        "{ store: { redis: { mode: Sentinel, masterName: mymaster, urls: [\"redis://s1:26379\", \"redis://s2:26379\"], passwordSecretRef: { name: redis, key: password }, timeoutMillis: 250 } } }",
    );
    let compiled = config(&route).unwrap();
    let redis = compiled.session.store.redis.expect("redis");
    assert_eq!(redis.mode, crate::config::RedisMode::Sentinel);
    assert_eq!(redis.master_name.as_deref(), Some("mymaster"));
    assert_eq!(redis.timeout_millis, 250);
    assert_eq!(redis.key_prefix, "portcullis");
    let secret = redis.password.clone().unwrap().secret_key_ref.unwrap();
    assert_eq!(
        (
            secret.namespace.as_str(),
            secret.name.as_str(),
            secret.key.as_str()
        ),
        ("apps", "redis", "password"),
        "the Secret is looked up in the route's namespace"
    );
    redis
        .check()
        .expect("the compiled store passes the outpost's checks");
}

#[test]
fn a_redis_ca_bundle_compiles_to_a_reference_in_the_routes_namespace() {
    let route = with_session(
        "{ store: { redis: { urls: [\"rediss://redis:6379\"], caBundleRef: { kind: ConfigMap, name: redis-ca, key: ca.crt } } } }",
    );
    let redis = config(&route).unwrap().session.store.redis.expect("redis");
    let ca = redis.ca_bundle.clone().expect("caBundle");
    assert!(ca.secret_key_ref.is_none());
    let r = ca.config_map_key_ref.expect("a ConfigMap key");
    assert_eq!(
        (r.namespace.as_str(), r.name.as_str(), r.key.as_str()),
        ("apps", "redis-ca", "ca.crt")
    );
    redis.check().expect("passes the outpost's checks");
}

#[test]
fn without_a_store_the_compiled_config_is_unchanged() {
    let compiled = config(&with_session("{ cookieName: app }")).unwrap();
    assert!(compiled.session.store.is_cookie());
    let yaml = serde_yaml::to_string(&compiled).unwrap();
    assert!(!yaml.contains("store"), "{yaml}");
}

fn route(extra: &str) -> ForwardAuthRoute {
    serde_yaml::from_str(&format!(
        r#"
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{ name: app, namespace: apps }}
spec:
  hosts: [app.example.com]
  providerRef: {{ name: idp }}
  policy: {{ allowAnyAuthenticated: true }}
{extra}"#
    ))
    .unwrap()
}

#[test]
fn refresh_timing_and_login_limits_default_and_resolve() {
    let compiled = config(&route("")).unwrap();
    assert_eq!(compiled.session.refresh_lead_seconds, 60);
    assert_eq!(compiled.session.refresh_grace_seconds, 300);
    assert_eq!(compiled.login_rate_limit, LoginRateLimit::default());
    let compiled = config(&route(
        "  session: { refreshLead: 2m, refreshGrace: 0s }\n  loginRateLimit: { requestsPerMinute: 0 }\n",
    ))
    .unwrap();
    assert_eq!(compiled.session.refresh_lead_seconds, 120);
    assert_eq!(compiled.session.refresh_grace_seconds, 0);
    assert_eq!(compiled.login_rate_limit.requests_per_minute, 0, "off");
    assert_eq!(compiled.login_rate_limit.burst, 30);
}

#[test]
fn a_bad_refresh_duration_names_its_field() {
    let err = config(&route("  session: { refreshGrace: soon }\n")).unwrap_err();
    assert!(
        err.message.contains("spec.session.refreshGrace"),
        "{}",
        err.message
    );
}
