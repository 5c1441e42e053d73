//! The Redis session store end to end: a real `redis-server`, the real IdP, nginx like
//! ingress-nginx and the `portcullis` binary (one or two replicas). Sign-out ends the
//! session on the server, so a copied cookie is refused; replicas share sessions; Redis
//! down is a 503 page and `/readyz` not ready, never a login loop, and recovery needs
//! nothing but Redis; Redis restarted empty sends users to sign in again.

use crate::e2e;

use e2e::{
    Idp, IdpAccount, IdpClient, IdpOptions, Nginx, NginxOptions, Outpost, OutpostOptions, Redis,
    Tool, UpstreamApp, UserAgent, free_port, require,
};
use std::time::Duration;

const CLIENT_ID: &str = "portcullis";
const CLIENT_SECRET: &str = "e2e-client-secret";

pub(crate) struct Stack {
    pub(crate) idp: Idp,
    pub(crate) app: UpstreamApp,
    pub(crate) redis: Redis,
    pub(crate) outposts: Vec<Outpost>,
    pub(crate) nginx: Nginx,
    /// What the outposts were started with (for another one with a different store).
    pub(crate) opts: OutpostOptions,
}

pub(crate) fn tools() -> bool {
    require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx, Tool::Redis])
}

/// IdP, app, Redis, `replicas` outposts sharing it, nginx in front of the first.
async fn stack(persistent: bool, replicas: usize) -> Stack {
    stack_with(persistent, replicas, None, false).await
}

/// [`stack`], the outposts reaching Redis through `store` (flow YAML) when given, the
/// client registered at the IdP with the outpost's back-channel logout URI when
/// `backchannel`.
pub(crate) async fn stack_with(
    persistent: bool,
    replicas: usize,
    store: Option<&dyn Fn(&Redis) -> String>,
    backchannel: bool,
) -> Stack {
    let front_port = free_port();
    let front = format!("http://127.0.0.1:{front_port}");
    let mut client = IdpClient::new(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{front}/oauth2/callback"),
    );
    client.post_logout_redirect_uris = vec![format!("{front}/"), format!("{front}/bye")];
    if backchannel {
        client.backchannel_logout_uri = Some(format!("{front}/oauth2/backchannel-logout"));
    }
    let idp = Idp::start(IdpOptions {
        clients: vec![client],
        accounts: vec![IdpAccount::new(
            "alice",
            "wonderland",
            "alice@example.test",
            &["admins"],
        )],
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    let app = UpstreamApp::start().await.expect("start the app");
    let redis = Redis::start(persistent).expect("start redis-server");
    let opts = OutpostOptions::dashboard(idp.issuer(), CLIENT_ID, CLIENT_SECRET, &front);
    let store = match store {
        Some(f) => f(&redis),
        None => format!(
            "{{redis: {{urls: [\"{}\"], timeoutMillis: 300}}}}",
            redis.url()
        ),
    };
    let mut outposts = Vec::new();
    for _ in 0..replicas {
        outposts.push(
            Outpost::start_with_store(&opts, &store)
                .await
                .expect("start the outpost"),
        );
    }
    let mut nginx_opts =
        NginxOptions::new(&outposts[0].addr(), &format!("127.0.0.1:{}", app.port()));
    nginx_opts.port = Some(front_port);
    let nginx = Nginx::start(nginx_opts).expect("start nginx");
    Stack {
        idp,
        app,
        redis,
        outposts,
        nginx,
        opts,
    }
}

impl Stack {
    pub(crate) fn logs(&self) -> String {
        let mut all: Vec<String> = self.outposts.iter().map(Outpost::log).collect();
        all.push(self.redis.log());
        all.join("\n----\n")
    }

    /// Signs alice in through nginx; returns her user agent.
    pub(crate) async fn login(&self) -> UserAgent {
        let base = self.nginx.url();
        let mut ua = UserAgent::new();
        ua.get(&format!("{base}/private"))
            .await
            .expect("to the IdP");
        let landed = ua.login("alice", "wonderland").await.expect("login");
        assert_eq!(
            landed.status,
            200,
            "hops: {:?}\n{}",
            landed.hops,
            self.logs()
        );
        assert_eq!(landed.url.as_str(), format!("{base}/private"));
        ua
    }

    /// The `Cookie` header alice's browser sends to the site.
    pub(crate) fn cookie_header(&self, ua: &UserAgent) -> String {
        let url = url::Url::parse(&self.nginx.url()).expect("url");
        ua.jar.header_for(&url).expect("cookies for the site")
    }

    /// The auth subrequest as nginx sends it, straight to replica `i`, with `cookie`.
    pub(crate) async fn auth_on(&self, i: usize, cookie: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("http://{}/oauth2/auth", self.outposts[i].addr()))
            .header("x-original-url", format!("{}/private", self.nginx.url()))
            .header("cookie", cookie)
            .send()
            .await
            .expect("auth subrequest")
    }

    pub(crate) fn keys(&self, pattern: &str) -> Vec<String> {
        self.redis
            .cli(&["--scan", "--pattern", pattern])
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }
}

pub(crate) async fn readyz(outpost: &Outpost) -> (u16, String) {
    let r = reqwest::get(format!("{}/readyz", outpost.admin_url()))
        .await
        .expect("readyz");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sign_out_refuses_a_copied_cookie_on_every_replica() {
    if !tools() {
        return;
    }
    let s = stack(false, 2).await;
    let base = s.nginx.url();
    let mut ua = s.login().await;
    let copied = s.cookie_header(&ua);

    // The cookie holds only a sealed id; the session (encrypted) is in Redis.
    assert!(copied.len() < 400, "a small cookie: {copied}");
    let sessions = s.keys("portcullis:s:*");
    assert_eq!(sessions.len(), 1, "one session in Redis: {sessions:?}");
    let record = s.redis.cli(&["GET", &sessions[0]]);
    assert!(
        !record.contains("alice") && !record.contains("example.test"),
        "the record is encrypted at rest: {record}"
    );
    let sid = sessions[0]
        .trim_start_matches("portcullis:s:{")
        .trim_end_matches('}');
    assert!(
        !copied.contains(sid),
        "the cookie does not carry the id in clear"
    );
    let ttl: u64 = s.redis.cli(&["TTL", &sessions[0]]).trim().parse().unwrap();
    assert!(
        (12 * 3600 - 60..=12 * 3600).contains(&ttl),
        "the record expires with the session's lifetime: {ttl}"
    );

    // Both replicas accept the session (they share Redis).
    for i in 0..2 {
        let r = s.auth_on(i, &copied).await;
        assert_eq!(r.status(), 200, "replica {i}\n{}", s.logs());
        assert_eq!(r.headers()["x-auth-request-user"], "alice");
    }

    // The ID token stays server-side: no cookie of any path holds it (no sign-out
    // hint cookie in Redis mode).
    assert!(
        !ua.jar.all().iter().any(|c| c.name.ends_with("_idt")),
        "{:?}",
        ua.jar.all().iter().map(|c| &c.name).collect::<Vec<_>>()
    );

    // Sign out on replica 0 (through nginx), with the ID token from Redis as the hint ...
    let bye = ua
        .get(&format!("{base}/oauth2/sign_out?rd={base}/bye"))
        .await
        .expect("sign out");
    assert!(
        bye.hops.iter().any(|h| h.url.contains("id_token_hint=ey")),
        "{:?}",
        bye.hops
    );
    assert!(s.keys("portcullis:s:*").is_empty(), "the record is gone");

    // ... and the copy is refused by both replicas, with its own reason code.
    for i in 0..2 {
        let r = s.auth_on(i, &copied).await;
        assert_eq!(r.status(), 401, "replica {i}\n{}", s.logs());
    }
    let userinfo = reqwest::Client::new()
        .get(format!("{base}/oauth2/userinfo"))
        .header("cookie", &copied)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(userinfo.status(), 401);
    assert!(
        userinfo.text().await.unwrap().contains("session_revoked"),
        "userinfo names the reason"
    );
    for (i, o) in s.outposts.iter().enumerate() {
        assert!(
            o.logged("\"reason\":\"session_revoked\"").await,
            "replica {i} logs session_revoked:\n{}",
            o.log()
        );
    }
    assert!(
        s.outposts[0].logged("\"audit\":\"session_ended\"").await,
        "an audit line for the sign-out:\n{}",
        s.outposts[0].log()
    );
    // Through nginx the copy gets no further than the login.
    let before = s.app.requests().len();
    let mut thief = UserAgent::new();
    let url = url::Url::parse(&base).unwrap();
    for pair in copied.split("; ") {
        thief.jar.store(&url, &format!("{pair}; Path=/")).unwrap();
    }
    let r = thief
        .get_no_follow(&format!("{base}/private"))
        .await
        .expect("copied cookie");
    assert_eq!(r.status, 302);
    assert!(r.location().unwrap_or_default().contains("/oauth2/start"));
    assert_eq!(s.app.requests().len(), before, "the app was not reached");
    drop(s.idp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_a_503_page_and_readyz_then_recovers_by_itself() {
    if !tools() {
        return;
    }
    let mut s = stack(true, 1).await;
    let base = s.nginx.url();
    let mut ua = s.login().await;
    assert_eq!(readyz(&s.outposts[0]).await.0, 200);

    s.redis.kill();
    let before = s.app.requests().len();
    let page = ua.get(&format!("{base}/private")).await.expect("page");
    assert_eq!(page.status, 503, "hops: {:?}\n{}", page.hops, s.logs());
    assert!(
        page.body.contains("session_store_unavailable"),
        "the page names the reason: {}",
        page.body
    );
    assert!(
        page.hops
            .iter()
            .all(|h| !h.url.starts_with(s.idp.base_url())),
        "never sent to sign in while the store is down: {:?}",
        page.hops
    );
    assert_eq!(s.app.requests().len(), before, "never let through");
    // Traefik/Caddy-style callers get the 503 page itself.
    let cookie = s.cookie_header(&ua);
    let r = reqwest::Client::new()
        .get(format!(
            "http://{}/oauth2/auth/traefik",
            s.outposts[0].addr()
        ))
        .header(
            "x-forwarded-host",
            url::Url::parse(&base).unwrap().authority(),
        )
        .header("x-forwarded-uri", "/private")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-method", "GET")
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("traefik auth");
    assert_eq!(r.status(), 503);
    let (status, body) = readyz(&s.outposts[0]).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("session store"), "{body}");

    s.redis.restart().expect("restart redis");
    let (status, body) = readyz(&s.outposts[0]).await;
    assert_eq!(status, 200, "ready again without a restart: {body}");
    let back = ua.get(&format!("{base}/private")).await.expect("page");
    assert_eq!(
        back.status,
        200,
        "the same session works again\n{}",
        s.logs()
    );
    assert_eq!(
        back.url.as_str(),
        format!("{base}/private"),
        "no sign-in needed: {:?}",
        back.hops
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_sends_users_to_sign_in_again() {
    if !tools() {
        return;
    }
    let mut s = stack(false, 1).await;
    let base = s.nginx.url();
    let mut ua = s.login().await;
    s.redis.kill();
    s.redis.restart().expect("restart redis");
    assert!(s.keys("portcullis:s:*").is_empty(), "Redis came back empty");
    let r = ua
        .get_no_follow(&format!("{base}/private"))
        .await
        .expect("after the restart");
    assert_eq!(r.status, 302, "{}", s.logs());
    assert!(r.location().unwrap_or_default().contains("/oauth2/start"));
    assert!(
        s.outposts[0].logged("\"reason\":\"session_unknown\"").await,
        "{}",
        s.outposts[0].log()
    );
    // Signing in again works (the IdP still has alice's session: no form this time).
    let again = ua.get(&format!("{base}/private")).await.expect("again");
    let again = if again.url.as_str().starts_with(s.idp.base_url()) {
        ua.login("alice", "wonderland").await.expect("login")
    } else {
        again
    };
    assert_eq!(again.status, 200, "hops: {:?}\n{}", again.hops, s.logs());
    assert_eq!(s.keys("portcullis:s:*").len(), 1);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// `portcullis sessions ACTION --user USER --admin URL`: (exit success, stdout).
pub(crate) fn sessions_cli(action: &str, user: &str, admin: &str) -> (bool, String) {
    let out = std::process::Command::new(e2e::portcullis_binary())
        .args(["sessions", action, "--user", user, "--admin", admin])
        .output()
        .expect("run portcullis sessions");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_ends_every_session_of_a_user_across_replicas() {
    if !tools() {
        return;
    }
    let s = stack(false, 2).await;
    let laptop = s.login().await;
    let phone = s.login().await;
    let cookies = [s.cookie_header(&laptop), s.cookie_header(&phone)];
    assert_ne!(cookies[0], cookies[1], "two sessions");
    let admin = s.outposts[1].admin_url();
    for c in &cookies {
        assert_eq!(s.auth_on(1, c).await.status(), 200, "{}", s.logs());
    }

    let (ok, listed) = sessions_cli("list", "alice", &admin);
    assert!(ok, "{listed}");
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(
        listed["sessions"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    assert_eq!(listed["sessions"][0]["provider"], "test/idp");
    let (ok, other) = sessions_cli("list", "bob", &admin);
    assert!(ok && other.contains("\"sessions\":[]"), "{other}");

    // Revoked through replica 1's admin port ...
    let (ok, revoked) = sessions_cli("revoke", "alice", &admin);
    assert!(ok, "{revoked}");
    assert!(revoked.contains("\"ended\":2"), "{revoked}");
    // ... refused by both replicas, for both cookies.
    for i in 0..2 {
        for c in &cookies {
            let r = s.auth_on(i, c).await;
            assert_eq!(r.status(), 401, "replica {i}\n{}", s.logs());
        }
    }
    assert!(
        s.outposts[0].logged("\"reason\":\"session_revoked\"").await,
        "{}",
        s.outposts[0].log()
    );
    assert!(
        s.outposts[1].logged("\"audit\":\"session_ended\"").await,
        "an audit line: {}",
        s.outposts[1].log()
    );
    let (ok, again) = sessions_cli("revoke", "alice", &admin);
    assert!(ok && again.contains("\"ended\":0"), "{again}");
    // A missing user name is a clear error, not "revoke everyone".
    let (ok, empty) = sessions_cli("revoke", "", &admin);
    assert!(!ok && empty.contains("user is required"), "{empty}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_through_a_redis_sentinel() {
    if !tools() {
        return;
    }
    let sentinel = std::sync::Mutex::new(None);
    let s = stack_with(
        false,
        1,
        Some(&|redis: &Redis| {
            let started = e2e::Sentinel::start(redis).expect("start the sentinel");
            let url = started.url();
            *sentinel.lock().unwrap() = Some(started);
            format!(
                "{{redis: {{mode: sentinel, masterName: mymaster, urls: [\"{url}\"], timeoutMillis: 1000}}}}"
            )
        }),
        false,
    )
    .await;
    let ua = s.login().await;
    assert_eq!(
        s.keys("portcullis:s:*").len(),
        1,
        "the master has the session"
    );
    let r = s.auth_on(0, &s.cookie_header(&ua)).await;
    assert_eq!(r.status(), 200, "{}", s.logs());
    assert_eq!(readyz(&s.outposts[0]).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_lets_one_caller_win_per_name_until_the_marker_expires() {
    if !require(&[Tool::Redis]) {
        return;
    }
    use portcullis::config::RedisConfig;
    use portcullis::outpost::server::store::redis_client::RedisStore;
    let redis = Redis::start(false).expect("start redis-server");
    // Two stores as two replicas would hold them.
    let a = RedisStore::new(RedisConfig::standalone(&redis.url()), Default::default());
    let b = RedisStore::new(RedisConfig::standalone(&redis.url()), Default::default());
    let ttl = Duration::from_millis(400);
    assert!(
        a.once("refresh:abc", ttl).await.unwrap(),
        "the first caller wins"
    );
    assert!(
        !b.once("refresh:abc", ttl).await.unwrap(),
        "the other replica does not"
    );
    assert!(!a.once("refresh:abc", ttl).await.unwrap());
    assert!(
        b.once("refresh:other", ttl).await.unwrap(),
        "names are independent"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        b.once("refresh:abc", ttl).await.unwrap(),
        "free again after the TTL"
    );
    let pttl: i64 = redis
        .cli(&["PTTL", "portcullis:once:refresh:abc"])
        .trim()
        .parse()
        .unwrap();
    assert!(
        (1..=400).contains(&pttl),
        "the marker carries the TTL: {pttl}"
    );
}

/// `maxSessionsPerUser: 2`: a third sign-in ends the oldest session (that browser gets
/// `session_revoked`), keeps the newer one, and says so in an audit line; the person
/// signing in is never refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_past_the_session_limit_ends_the_oldest_session() {
    if !tools() {
        return;
    }
    let s = stack_with(
        false,
        1,
        Some(&|redis: &Redis| {
            format!(
                "{{redis: {{urls: [\"{}\"], timeoutMillis: 300, maxSessionsPerUser: 2}}}}",
                redis.url()
            )
        }),
        false,
    )
    .await;
    let mut cookies = Vec::new();
    for _ in 0..3 {
        let ua = s.login().await;
        cookies.push(s.cookie_header(&ua));
        // Sessions started in the same second have no order; a second between them.
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    }
    let oldest = s.auth_on(0, &cookies[0]).await;
    assert_eq!(oldest.status(), 401, "{}", s.logs());
    for (i, c) in cookies.iter().enumerate().skip(1) {
        assert_eq!(
            s.auth_on(0, c).await.status(),
            200,
            "session {i}: {}",
            s.logs()
        );
    }
    assert_eq!(s.keys("portcullis:s:*").len(), 2, "two records remain");
    assert!(
        s.outposts[0].logged("\"by\":\"session_limit\"").await,
        "{}",
        s.logs()
    );
    assert!(s.outposts[0].logged("\"reason\":\"session_revoked\"").await);
}
