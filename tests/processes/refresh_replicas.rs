//! Refresh single-flight across replicas: two outposts share a Redis session store and
//! the IdP (the real `oidc-provider`) rotates refresh tokens, revoking the grant when a
//! used one comes back. Requests with the same session hit both replicas at the moment
//! its tokens are due: the IdP sees one refresh grant per round, both replicas keep
//! serving, and the session never ends.

use crate::e2e;

use e2e::{
    Idp, IdpAccount, IdpClient, IdpOptions, Nginx, NginxOptions, Outpost, OutpostOptions, Redis,
    UpstreamApp, UserAgent, free_port,
};
use std::time::Duration;

const CLIENT_ID: &str = "portcullis";
const CLIENT_SECRET: &str = "e2e-replicas-client-secret";
/// The IdP's access-token lifetime: the outpost refreshes at half of it.
const ACCESS_TTL: u64 = 4;
/// Concurrent requests per replica at each refresh moment.
const BURST: usize = 4;

struct Stack {
    idp: Idp,
    _app: UpstreamApp,
    _redis: Redis,
    outposts: Vec<Outpost>,
    nginx: Nginx,
}

async fn stack() -> Stack {
    let front_port = free_port();
    let front = format!("http://127.0.0.1:{front_port}");
    let idp = Idp::start(IdpOptions {
        clients: vec![IdpClient::new(
            CLIENT_ID,
            CLIENT_SECRET,
            &format!("{front}/oauth2/callback"),
        )],
        accounts: vec![IdpAccount::new(
            "alice",
            "wonderland",
            "alice@example.test",
            &["admins"],
        )],
        ttl: [("AccessToken".to_string(), ACCESS_TTL)].into(),
        rotate_refresh_tokens: true,
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    let app = UpstreamApp::start().await.expect("start the app");
    let redis = Redis::start(false).expect("start redis-server");
    let yaml = e2e::outpost::config_yaml_with_session(
        &OutpostOptions::dashboard(idp.issuer(), CLIENT_ID, CLIENT_SECRET, &front),
        &format!(
            "{{ cookieName: portcullis, lifetimeSeconds: 3600, idleTimeoutSeconds: 0, refreshGraceSeconds: 30, store: {{redis: {{urls: [\"{}\"], timeoutMillis: 1000}}}} }}",
            redis.url()
        ),
    );
    assert!(yaml.contains("redis"), "{yaml}");
    let mut outposts = Vec::new();
    for _ in 0..2 {
        outposts.push(
            Outpost::start_with_yaml(&yaml)
                .await
                .expect("start the outpost"),
        );
    }
    let mut opts = NginxOptions::new(&outposts[0].addr(), &format!("127.0.0.1:{}", app.port()));
    opts.port = Some(front_port);
    let nginx = Nginx::start(opts).expect("start nginx");
    Stack {
        idp,
        _app: app,
        _redis: redis,
        outposts,
        nginx,
    }
}

impl Stack {
    fn logs(&self) -> String {
        let mut all: Vec<String> = self.outposts.iter().map(Outpost::log).collect();
        all.push(self.idp.log());
        all.join("\n----\n")
    }

    /// Refresh grants the IdP answered: (successes, errors).
    fn refresh_grants(&self) -> (usize, usize) {
        let log = self.idp.log();
        (
            log.matches("idp: grant refresh_token success").count(),
            log.matches("idp: grant refresh_token error").count(),
        )
    }
}

/// The auth subrequest as nginx sends it, straight to replica `i`.
async fn auth(s: &Stack, i: usize, cookie: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{}/oauth2/auth", s.outposts[i].addr()))
        .header("x-original-url", format!("{}/private", s.nginx.url()))
        .header("cookie", cookie)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_refresh_a_session_once_at_an_idp_that_rotates_refresh_tokens() {
    if !crate::session_store::tools() {
        return;
    }
    let s = stack().await;
    let mut ua = UserAgent::new();
    ua.get(&format!("{}/private", s.nginx.url()))
        .await
        .expect("to the IdP");
    let landed = ua.login("alice", "wonderland").await.expect("login");
    assert_eq!(landed.status, 200, "{}", s.logs());
    let url = url::Url::parse(&s.nginx.url()).expect("url");
    let cookie = ua.jar.header_for(&url).expect("cookie");
    assert_eq!(s.refresh_grants(), (0, 0));

    for round in 1..=3 {
        // Past half the access token's lifetime: the next request refreshes.
        tokio::time::sleep(Duration::from_millis(ACCESS_TTL * 1000 / 2 + 700)).await;
        let burst = (0..2 * BURST).map(|n| {
            let cookie = cookie.clone();
            let s = &s;
            async move { auth(s, n % 2, &cookie).await }
        });
        let statuses = futures::future::join_all(burst).await;
        assert!(
            statuses.iter().all(|s| *s == 200),
            "round {round}: every request on both replicas is served: {statuses:?}\n{}",
            s.logs()
        );
        let (ok, errors) = s.refresh_grants();
        assert_eq!(
            (ok, errors),
            (round, 0),
            "round {round}: one refresh grant at the IdP, never a reused refresh token\n{}",
            s.logs()
        );
    }
    for i in 0..2 {
        assert_eq!(auth(&s, i, &cookie).await, 200, "replica {i} still serves");
    }
    let log = s.logs();
    assert!(!log.contains("refresh_refused"), "{log}");
}
