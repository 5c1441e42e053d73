//! Sentinel and Redis Cluster behind TLS, each verified with the CA from `caBundle`: the
//! outpost must verify every hop (the sentinel, then the master it names; every cluster
//! node it is redirected to), and a CA that signed none of them must leave it not ready
//! with the fix named, never an unverified connection.

use crate::e2e;
use crate::session_store::{Stack, readyz, stack_with, tools};
use crate::store_addressing::{quoted_urls, reload_store, sign_ins_spread_over};

use e2e::{Redis, RedisCluster, RedisOptions, Sentinel, TlsFiles, Tool, require};
use std::sync::Mutex;

fn ca_bundle(tls: &TlsFiles) -> String {
    format!("caBundle: {{file: \"{}\"}}", tls.ca().display())
}

/// Signs out the stack's user agent `ua` through nginx.
async fn sign_out(s: &Stack, ua: &mut e2e::UserAgent) {
    let base = s.nginx.url();
    ua.get(&format!("{base}/oauth2/sign_out?rd={base}/bye"))
        .await
        .expect("sign out");
}

/// Another CA, reloaded into the running outpost: not ready, the fix named, and the
/// session answered with the 503 page; then the right CA brings the session back.
async fn another_ca_is_refused_then_the_right_one_serves(
    s: &Stack,
    store: impl Fn(&TlsFiles) -> String,
    tls: &TlsFiles,
    cookie: &str,
) {
    let other = TlsFiles::generate("someone-else-ca").expect("other CA");
    let (status, body) = reload_store(s, &store(&other), 503, "against caBundle").await;
    assert_eq!(status, 503, "{body}\n{}", s.logs());
    assert!(body.contains("against caBundle"), "names the fix: {body}");
    assert_eq!(s.auth_on(0, cookie).await.status(), 503);
    let (status, body) = reload_store(s, &store(tls), 200, "ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.auth_on(0, cookie).await.status(), 200, "{}", s.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_sentinel_names_a_tls_master_and_the_outpost_verifies_both() {
    if !tools() || !require(&[Tool::Openssl]) {
        return;
    }
    let tls = TlsFiles::generate("portcullis-test-ca").expect("certificates");
    let parts = Mutex::new(None);
    let store = |sentinel_url: &str, ca: &TlsFiles| {
        format!(
            "{{redis: {{mode: sentinel, masterName: mymaster, urls: [\"{sentinel_url}\"], timeoutMillis: 1000, {}}}}}",
            ca_bundle(ca)
        )
    };
    let s = stack_with(
        false,
        1,
        Some(&|_: &Redis| {
            let master = Redis::start_with(RedisOptions {
                tls: Some(tls.clone()),
                ..RedisOptions::default()
            })
            .expect("start a TLS master");
            let sentinel = Sentinel::start(&master).expect("start a TLS sentinel");
            let url = sentinel.url();
            *parts.lock().unwrap() = Some((master, sentinel));
            store(&url, &tls)
        }),
        false,
    )
    .await;
    let (master, sentinel) = parts.into_inner().unwrap().expect("master and sentinel");
    assert!(
        sentinel.url().starts_with("rediss://"),
        "{}",
        sentinel.url()
    );
    assert_eq!(
        sentinel.master_port(),
        Some(master.port()),
        "sentinel over TLS"
    );
    assert_eq!(readyz(&s.outposts[0]).await.0, 200, "{}", s.logs());

    let mut ua = s.login().await;
    let cookie = s.cookie_header(&ua);
    assert_eq!(s.auth_on(0, &cookie).await.status(), 200, "{}", s.logs());
    let sessions = || {
        master
            .cli(&["--scan", "--pattern", "portcullis:s:*"])
            .lines()
            .filter(|l| !l.is_empty())
            .count()
    };
    assert_eq!(
        sessions(),
        1,
        "the session is on the master the sentinel named"
    );

    let url = sentinel.url();
    another_ca_is_refused_then_the_right_one_serves(&s, |ca| store(&url, ca), &tls, &cookie).await;

    sign_out(&s, &mut ua).await;
    assert_eq!(sessions(), 0, "the sign-out was written to the TLS master");
    assert_eq!(s.auth_on(0, &cookie).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_spreads_sessions_and_the_outpost_verifies_every_node() {
    if !tools() || !require(&[Tool::Openssl]) {
        return;
    }
    let tls = TlsFiles::generate("portcullis-test-ca").expect("certificates");
    let cluster = Mutex::new(None);
    let store = |urls: &str, ca: &TlsFiles| {
        format!(
            "{{redis: {{mode: cluster, urls: [{urls}], timeoutMillis: 1000, {}}}}}",
            ca_bundle(ca)
        )
    };
    let s = stack_with(
        false,
        1,
        Some(&|_: &Redis| {
            let started = RedisCluster::start_with(Some(tls.clone())).expect("a TLS cluster");
            let urls = quoted_urls(&started);
            *cluster.lock().unwrap() = Some((started, urls.clone()));
            store(&urls, &tls)
        }),
        false,
    )
    .await;
    let (cluster, urls) = cluster.into_inner().unwrap().expect("the cluster");
    assert!(urls.contains("rediss://"), "{urls}");
    assert_eq!(readyz(&s.outposts[0]).await.0, 200, "{}", s.logs());

    // Six random ids all on one of three nodes: 3 in 3^6 (0.4%).
    let (mut agents, cookies) = sign_ins_spread_over(&s, &cluster, 6).await;

    another_ca_is_refused_then_the_right_one_serves(&s, |ca| store(&urls, ca), &tls, &cookies[0])
        .await;

    sign_out(&s, &mut agents[0]).await;
    assert_eq!(
        s.auth_on(0, &cookies[0]).await.status(),
        401,
        "{}",
        s.logs()
    );
    let left: usize = cluster
        .keys_per_node("portcullis:s:*")
        .iter()
        .map(Vec::len)
        .sum();
    assert_eq!(left, 5, "one session ended, five left");
}
