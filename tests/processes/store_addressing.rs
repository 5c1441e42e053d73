//! The Redis session store's addressing against real servers: a password read from a
//! file (and a wrong one named without ever printing it), TLS with the CA the outpost
//! is told about (and the errors when it is not, or is the wrong one), Sentinel failover
//! followed without a restart, and a three-master Redis Cluster, where sessions spread
//! over the slots and every multi-key write stays within one slot.

use crate::e2e;
use crate::session_store::{Stack, readyz, sessions_cli, stack_with, tools};

use e2e::{Redis, RedisCluster, RedisOptions, Sentinel, TlsFiles, Tool, require};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PASSWORD: &str = "e2e-redis-pw-7f3a";

fn secret_file(dir: &tempfile::TempDir, name: &str, value: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{value}\n")).expect("write the secret file");
    path.display().to_string()
}

/// Points the stack's outpost at `store` (it reloads its file) and waits up to ten
/// seconds for `/readyz` to answer `want` with `words` in the body; returns the last
/// answer.
pub(crate) async fn reload_store(s: &Stack, store: &str, want: u16, words: &str) -> (u16, String) {
    let yaml = e2e::outpost::config_yaml_with_store(&s.opts, store);
    s.outposts[0].write_config(&yaml).expect("write the config");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = readyz(&s.outposts[0]).await;
        if (status == want && body.contains(words)) || Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// TLS and a password together: the outpost verifies the server's certificate with the
/// CA from `caBundle` and authenticates with the password from a file. A wrong password,
/// a missing CA and another CA each leave the outpost not ready with an error naming
/// the store and the field to fix, and requests with a session get the 503 page; the
/// password never appears in a log or a probe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_a_password_from_files_and_the_errors_when_either_is_wrong() {
    if !tools() || !require(&[Tool::Openssl]) {
        return;
    }
    let tls = TlsFiles::generate("portcullis-test-ca").expect("certificates");
    let other_ca = TlsFiles::generate("someone-else-ca").expect("other CA");
    let files = e2e::scratch_dir("redis-secrets").expect("dir");
    let right = secret_file(&files, "right", PASSWORD);
    let wrong = secret_file(&files, "wrong", "not-the-pw-91c2");
    let server = Mutex::new(None);
    let store = |url: &str, password: &str, ca: Option<&std::path::Path>| {
        let ca = ca
            .map(|p| format!(", caBundle: {{file: \"{}\"}}", p.display()))
            .unwrap_or_default();
        format!(
            "{{redis: {{urls: [\"{url}\"], password: {{file: \"{password}\"}}, timeoutMillis: 1000{ca}}}}}"
        )
    };
    let s = stack_with(
        false,
        1,
        Some(&|_: &Redis| {
            let redis = Redis::start_with(RedisOptions {
                password: Some(PASSWORD.into()),
                tls: Some(tls.clone()),
                ..RedisOptions::default()
            })
            .expect("start redis-server with TLS and a password");
            let url = redis.url();
            *server.lock().unwrap() = Some(redis);
            store(&url, &right, Some(&tls.ca()))
        }),
        false,
    )
    .await;
    let server = server.into_inner().unwrap().expect("the TLS server");
    let url = server.url();
    assert!(url.starts_with("rediss://"), "{url}");

    let ua = s.login().await;
    let cookie = s.cookie_header(&ua);
    assert_eq!(s.auth_on(0, &cookie).await.status(), 200, "{}", s.logs());
    assert_eq!(
        server
            .cli(&["--scan", "--pattern", "portcullis:s:*"])
            .lines()
            .count(),
        1,
        "the session is in the TLS server"
    );
    assert_eq!(readyz(&s.outposts[0]).await.0, 200);

    // Each mistake, reloaded into the running outpost: not ready, the store and the
    // field to fix named, the session answered with the 503 page, no password printed.
    let good = store(&url, &right, Some(&tls.ca()));
    let cases = [
        (store(&url, &wrong, Some(&tls.ca())), "check password"),
        (store(&url, &right, None), "set caBundle"),
        (
            store(&url, &right, Some(&other_ca.ca())),
            "against caBundle",
        ),
    ];
    let outpost = &s.outposts[0];
    for (config, fix) in cases {
        let (status, body) = reload_store(&s, &config, 503, fix).await;
        eprintln!("{fix}: {body}");
        assert_eq!(status, 503, "{config}: {body}\n{}", outpost.log());
        assert!(
            body.contains("session store") && body.contains(&url),
            "names the store: {body}"
        );
        assert!(body.contains(fix), "says what to fix ({fix}): {body}");
        assert_eq!(s.auth_on(0, &cookie).await.status(), 503, "{config}");
        assert!(
            outpost
                .logged("\"reason\":\"session_store_unavailable\"")
                .await,
            "{}",
            outpost.log()
        );
        for text in [&body, &outpost.log()] {
            assert!(
                !text.contains(PASSWORD) && !text.contains("not-the-pw-91c2"),
                "a password leaked: {text}"
            );
        }
    }
    // Fixed: ready again, and the session written before the mistakes still works.
    let (status, body) = reload_store(&s, &good, 200, "ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.auth_on(0, &cookie).await.status(), 200, "{}", s.logs());
}

/// Sentinel: the master dies, the sentinel promotes its replica, and the outpost follows
/// on the next request (no restart); the session written before survives on the new
/// master, and writes (sign-out) land there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_keeps_sessions_and_the_outpost_follows() {
    if !tools() {
        return;
    }
    let parts = Mutex::new(None);
    let mut s = stack_with(
        false,
        1,
        Some(&|master: &Redis| {
            // Redis 7 waits 5 s before a diskless full sync, for more replicas to join.
            master.cli(&["CONFIG", "SET", "repl-diskless-sync-delay", "0"]);
            let replica = Redis::start_with(RedisOptions {
                replica_of: Some(master.port()),
                ..RedisOptions::default()
            })
            .expect("start the replica");
            wait_until(Duration::from_secs(10), "the replica is in sync", || {
                replica
                    .cli(&["INFO", "replication"])
                    .contains("master_link_status:up")
            });
            let sentinel = Sentinel::start(master).expect("start the sentinel");
            let url = sentinel.url();
            *parts.lock().unwrap() = Some((replica, sentinel));
            format!(
                "{{redis: {{mode: sentinel, masterName: mymaster, urls: [\"{url}\"], timeoutMillis: 1000}}}}"
            )
        }),
        false,
    )
    .await;
    let (replica, sentinel) = parts.into_inner().unwrap().expect("replica and sentinel");
    wait_until(
        Duration::from_secs(15),
        "the sentinel sees the replica",
        || sentinel.replicas() == 1,
    );
    let base = s.nginx.url();
    let mut ua = s.login().await;
    let cookie = s.cookie_header(&ua);
    wait_until(
        Duration::from_secs(5),
        "the session reaches the replica",
        || {
            replica
                .cli(&["--scan", "--pattern", "portcullis:s:*"])
                .lines()
                .count()
                == 1
        },
    );

    s.redis.kill();
    let started = Instant::now();
    wait_until(
        Duration::from_secs(20),
        "the sentinel promotes the replica",
        || sentinel.master_port() == Some(replica.port()),
    );
    let promoted_after = started.elapsed();
    // Right after +switch-master the sentinels may still flag the new master for a
    // moment (redis-rs then finds no valid master): those requests get the 503 page,
    // never a sign-in or a pass, and the next ones are served from the new master.
    let mut answers = Vec::new();
    let followed = loop {
        let status = s.auth_on(0, &cookie).await.status().as_u16();
        answers.push(status);
        if status == 200 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never served after the failover: {answers:?}\n{}",
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        answers.iter().all(|a| *a == 200 || *a == 503),
        "only the 503 page while following: {answers:?}"
    );
    assert_eq!(readyz(&s.outposts[0]).await.0, 200);
    ua.get(&format!("{base}/oauth2/sign_out?rd={base}/bye"))
        .await
        .expect("sign out");
    assert!(
        replica
            .cli(&["--scan", "--pattern", "portcullis:s:*"])
            .is_empty(),
        "the sign-out was written to the new master"
    );
    assert_eq!(s.auth_on(0, &cookie).await.status(), 401);
    eprintln!(
        "sentinel promoted the replica {promoted_after:?} after the kill; served again after {followed:?} ({answers:?})"
    );
}

/// A three-master Redis Cluster: sign-ins spread their records over the nodes, and
/// everything that writes several keys (a sign-in with its indexes, a sign-out with its
/// tombstone, an administrator ending all of a user's sessions) works there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_in_a_redis_cluster_spread_over_the_nodes() {
    if !tools() {
        return;
    }
    let cluster = Mutex::new(None);
    let s = stack_with(
        false,
        1,
        Some(&|_: &Redis| {
            let started = RedisCluster::start().expect("start the cluster");
            let urls = quoted_urls(&started);
            *cluster.lock().unwrap() = Some(started);
            format!("{{redis: {{mode: cluster, urls: [{urls}], timeoutMillis: 1000}}}}")
        }),
        false,
    )
    .await;
    let cluster = cluster.into_inner().unwrap().expect("the cluster");
    assert_eq!(readyz(&s.outposts[0]).await.0, 200);
    // Nine random ids all on one of three nodes: 3 in 3^9 (0.015%).
    let (mut agents, cookies) = sign_ins_spread_over(&s, &cluster, 9).await;

    // A sign-out ends one session: record gone, tombstone in its slot, indexes updated.
    let base = s.nginx.url();
    let mut first = agents.remove(0);
    first
        .get(&format!("{base}/oauth2/sign_out?rd={base}/bye"))
        .await
        .expect("sign out");
    let r = s.auth_on(0, &cookies[0]).await;
    assert_eq!(r.status(), 401, "{}", s.logs());
    assert!(s.outposts[0].logged("\"reason\":\"session_revoked\"").await);

    // The administrator ends the other eight across the nodes.
    let (ok, out) = sessions_cli("revoke", "alice", &s.outposts[0].admin_url());
    assert!(ok && out.contains("\"ended\":8"), "{out}\n{}", s.logs());
    for c in &cookies[1..] {
        assert_eq!(s.auth_on(0, c).await.status(), 401);
    }
    let left: usize = cluster
        .keys_per_node("portcullis:s:*")
        .iter()
        .map(Vec::len)
        .sum();
    assert_eq!(left, 0);
}

/// The comma-separated, quoted seed URLs of `cluster`, for a store's `urls: [...]`.
pub(crate) fn quoted_urls(cluster: &RedisCluster) -> String {
    cluster
        .urls()
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `n` sign-ins, each served, their records on the cluster and spread over at least two
/// of its three nodes; returns the user agents and their cookie headers.
pub(crate) async fn sign_ins_spread_over(
    s: &Stack,
    cluster: &RedisCluster,
    n: usize,
) -> (Vec<e2e::UserAgent>, Vec<String>) {
    let mut agents = Vec::new();
    for _ in 0..n {
        agents.push(s.login().await);
    }
    let cookies: Vec<String> = agents.iter().map(|ua| s.cookie_header(ua)).collect();
    for c in &cookies {
        let status = s.auth_on(0, c).await.status();
        assert_eq!(status, 200, "{}\n{}", s.logs(), cluster.logs());
    }
    let per_node: Vec<usize> = cluster
        .keys_per_node("portcullis:s:*")
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(per_node.iter().sum::<usize>(), n, "{per_node:?}");
    assert!(
        per_node.iter().filter(|k| **k > 0).count() >= 2,
        "records spread over the nodes: {per_node:?}"
    );
    (agents, cookies)
}

fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
