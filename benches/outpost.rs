//! Micro-benchmarks of the outpost's per-request work: opening and sealing the session
//! cookie, the policy, identity headers, redirect checks, bearer-cache lookups, the
//! identity JWT, and ID/access token verification (RS256, ES256) through
//! [`portcullis::oidc::Provider`] against a JWKS served on 127.0.0.1; and the auth
//! subrequest through the outpost's router ([`auth_path`]).
//!
//! `cargo bench --bench outpost` measures (a few minutes at most: small samples);
//! `cargo test --benches` runs each function once, untimed. No timing is asserted anywhere:
//! the budgets in DESIGN.md are compared by hand in docs/benchmarks.md.

// Not `benches/auth_path.rs`: cargo would take that for a bench target of its own.
#[path = "outpost_parts/auth_path.rs"]
mod auth_path;
mod support;

use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::config::{PolicyConfig, ProviderConfig};
use portcullis::oidc::{Discovery, Provider, build_client};
use portcullis::outpost::identity_headers::identity_headers;
use portcullis::outpost::policy::{self, Decision};
use portcullis::outpost::redirect::safe_redirect;
use portcullis::outpost::server::bearer::{BearerCache, cache_key};
use portcullis::outpost::server::request::{SessionData, subject_of};
use portcullis::outpost::server::signer::Signer;
use portcullis::outpost::session::Session;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{CLIENT_ID, Keys};

const SECRET: &str = "a-bench-cookie-secret-of-enough-length";
const PROVIDER: &str = "bench/idp";
const NONCE: &str = "n-0S6_WzA2Mj";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn session_benches(c: &mut Criterion) {
    let now = now();
    let sessions = support::session_manager(SECRET, "portcullis");
    let data = support::session_data(PROVIDER);
    let cookie = support::cookie_header(&sessions, data.clone(), now);
    // The bench must measure a successful open: check it once up front.
    let opened: Session<SessionData> = sessions.load(&[cookie.as_str()], now).expect("open");
    assert_eq!(opened.data, data);

    let mut g = c.benchmark_group("session");
    g.bench_function("open_cookie", |b| {
        b.iter(|| {
            let s: Session<SessionData> = sessions
                .load(black_box(&[cookie.as_str()]), now)
                .expect("open");
            s
        });
    });
    let session = sessions.start(data, now);
    g.bench_function("seal_cookie", |b| {
        b.iter(|| sessions.store(black_box(&session), &[], now).expect("seal"));
    });
    g.finish();
}

fn policy_and_header_benches(c: &mut Criterion) {
    let subject = subject_of(&support::identity());
    let policy = PolicyConfig {
        email_domains: vec!["example.org".into(), "example.com".into()],
        groups: vec!["ops".into(), "staff".into()],
        ..PolicyConfig::default()
    };
    assert!(matches!(
        policy::evaluate(&policy, &subject),
        Decision::Allow
    ));
    let headers = portcullis::config::HeaderConfig::default().map;

    let mut g = c.benchmark_group("request");
    g.bench_function("subject_of_identity", |b| {
        let identity = support::identity();
        b.iter(|| subject_of(black_box(&identity)));
    });
    g.bench_function("policy_evaluate_allow", |b| {
        b.iter(|| policy::evaluate(black_box(&policy), black_box(&subject)));
    });
    g.bench_function("identity_headers_oauth2_proxy", |b| {
        b.iter(|| identity_headers(black_box(&headers), black_box(&subject)));
    });
    let base = url::Url::parse("https://app.example.com/").expect("url");
    let allowed = vec!["app.example.com".to_string()];
    g.bench_function("safe_redirect_allowed", |b| {
        b.iter(|| {
            safe_redirect(
                black_box("https://app.example.com/dashboards/1?tab=2"),
                &base,
                &allowed,
            )
        });
    });
    g.bench_function("safe_redirect_refused", |b| {
        b.iter(|| safe_redirect(black_box("https:/\\evil.example/x"), &base, &allowed));
    });
    let cache = BearerCache::default();
    let identity = Arc::new(support::identity());
    let token = "x".repeat(900);
    let key = cache_key("default/app", &token);
    cache.insert(key, Some(now() + 3600), identity, now());
    g.bench_function("bearer_cache_hit", |b| {
        b.iter(|| {
            let k = cache_key(black_box("default/app"), black_box(&token));
            cache.get(&k, now()).expect("cached")
        });
    });
    let signer = Signer::generate().expect("signer");
    g.bench_function("identity_jwt_es256_sign", |b| {
        b.iter(|| {
            signer
                .identity_jwt("https://app.example.com", "app", 300, &subject, now())
                .expect("sign")
        });
    });
    g.finish();
}

/// A provider whose JWKS comes from a tiny server on 127.0.0.1 (the same code path as
/// in production: discovery values, then one JWKS fetch).
fn provider(rt: &tokio::runtime::Runtime, keys: &Keys) -> (Provider, String) {
    let jwks = keys.jwks();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = Router::new().route("/jwks", get(move || async move { axum::Json(jwks) }));
    rt.spawn(async move { axum::serve(listener, app).await });
    let config = ProviderConfig {
        issuer_url: base.clone(),
        client_id: CLIENT_ID.into(),
        scopes: vec!["openid".into()],
        clock_skew_seconds: 30,
        ..ProviderConfig::default()
    };
    let discovery = Discovery {
        issuer: base.clone(),
        authorization_endpoint: format!("{base}/authorize"),
        jwks_uri: format!("{base}/jwks"),
        id_token_signing_alg_values_supported: vec!["RS256".into(), "ES256".into()],
        ..Discovery::default()
    };
    let http = build_client(None).expect("http client");
    let provider = Provider::new(config, None, http, discovery).expect("provider");
    rt.block_on(provider.jwks().refresh()).expect("jwks");
    (provider, base)
}

fn token_benches(c: &mut Criterion, keys: &Keys) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (provider, issuer) = provider(&rt, keys);
    let now = now();
    let mut claims = support::token_claims(&issuer, now, 1);
    let access_rs = keys.sign_rs256(&claims);
    let access_es = keys.sign_es256(&claims);
    claims["nonce"] = NONCE.into();
    let id_rs = keys.sign_rs256(&claims);
    let id_es = keys.sign_es256(&claims);
    let t = now as i64;

    let mut g = c.benchmark_group("oidc");
    for (name, token) in [
        ("access_token_rs256", &access_rs),
        ("access_token_es256", &access_es),
    ] {
        rt.block_on(provider.verify_access_token_at(
            token,
            &[],
            portcullis::oidc::UntrustedAudiences::Refuse,
            t,
        ))
        .expect("valid access token");
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(provider.verify_access_token_at(
                    black_box(token),
                    &[],
                    portcullis::oidc::UntrustedAudiences::Refuse,
                    t,
                ))
                .expect("verify")
            });
        });
    }
    for (name, token) in [("id_token_rs256", &id_rs), ("id_token_es256", &id_es)] {
        rt.block_on(provider.verify_id_token_at(token, NONCE, None, t))
            .expect("valid id token");
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(provider.verify_id_token_at(black_box(token), NONCE, None, t))
                    .expect("verify")
            });
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let keys = Keys::generate();
    session_benches(c);
    policy_and_header_benches(c);
    token_benches(c, &keys);
    auth_path::benches(c);
}

criterion_group! {
    name = outpost;
    // Small samples: the point is the order of magnitude and the ratios, in minutes.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(outpost);
