//! Back-channel logout end to end (issue 12 item 2b): the real `oidc-provider` with the
//! client's `backchannel_logout_uri` pointing at the outpost (through nginx), Redis
//! sessions shared by two replicas. Signing out at the IdP ends the session here: the
//! old cookie is refused with `session_revoked` on every replica. Bad posts are refused
//! with the OAuth-style JSON error and change nothing.

use crate::session_store::{Stack, stack_with, tools};

async fn sign_out_at_the_idp(s: &Stack, ua: &mut crate::e2e::UserAgent) {
    let page = ua
        .get(&format!("{}/session/end", s.idp.base_url()))
        .await
        .expect("the IdP's end_session page");
    assert_eq!(page.status, 200, "{}", page.body);
    let form = page
        .forms()
        .into_iter()
        .find(|f| f.pairs(None).iter().any(|(k, _)| k == "logout"))
        .unwrap_or_else(|| panic!("a sign-out form at the IdP: {}", page.body));
    let done = ua.submit(&page, &form).await.expect("confirm the sign-out");
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("signed out"), "{}", done.body);
}

async fn post_logout(s: &Stack, body: &str) -> (u16, String, Option<String>) {
    let r = reqwest::Client::new()
        .post(format!("{}/oauth2/backchannel-logout", s.nginx.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("post to the back-channel logout endpoint");
    let cache = r
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (
        r.status().as_u16(),
        r.text().await.unwrap_or_default(),
        cache,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_at_the_idp_ends_the_session_on_every_replica() {
    if !tools() {
        return;
    }
    let s = stack_with(false, 2, None, true).await;
    let mut ua = s.login().await;
    let copied = s.cookie_header(&ua);
    assert_eq!(s.keys("portcullis:s:*").len(), 1);
    assert_eq!(
        s.keys("portcullis:o:*").len(),
        1,
        "the IdP session (sid) is indexed:\n{}",
        s.logs()
    );
    for i in 0..2 {
        assert_eq!(s.auth_on(i, &copied).await.status(), 200, "replica {i}");
    }

    // The user signs out at the IdP, not here: the IdP posts a logout token to us.
    sign_out_at_the_idp(&s, &mut ua).await;
    assert!(
        s.outposts[0].logged("\"by\":\"backchannel_logout\"").await,
        "an audit line for the back-channel logout:\n{}\n---- idp ----\n{}",
        s.logs(),
        s.idp.log()
    );
    assert!(s.keys("portcullis:s:*").is_empty(), "the record is gone");
    for i in 0..2 {
        let r = s.auth_on(i, &copied).await;
        assert_eq!(r.status(), 401, "replica {i}\n{}", s.logs());
    }
    for (i, o) in s.outposts.iter().enumerate() {
        assert!(
            o.logged("\"reason\":\"session_revoked\"").await,
            "replica {i} logs session_revoked:\n{}",
            o.log()
        );
    }
    let log = s.outposts[0].log();
    assert!(log.contains("\"reason\":\"backchannel_logout\""), "{log}");
    // oidc-provider sends sid (backchannel_logout_session_required): the IdP session's
    // index found the session.
    assert!(log.contains("\"by_sid\":true"), "{log}");
    assert!(
        s.keys("portcullis:o:*").is_empty(),
        "the sid index entry is gone"
    );
    assert!(!log.contains("eyJ"), "a JWT in the log: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_logout_posts_are_refused_and_end_nothing() {
    if !tools() {
        return;
    }
    let s = stack_with(false, 1, None, true).await;
    let ua = s.login().await;
    let cookie = s.cookie_header(&ua);
    let forged = {
        use base64::Engine;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let claims = serde_json::json!({
            "iss": s.idp.issuer(), "aud": "portcullis", "iat": 1, "jti": "x",
            "sub": "sub-alice",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        });
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","kid":"nope"}"#),
            b64(&claims.to_string()),
            b64("not a signature")
        )
    };
    let unknown_issuer = forged.replace(
        forged.split('.').nth(1).unwrap(),
        &base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            r#"{"iss":"https://other.example","sub":"sub-alice"}"#,
        ),
    );
    for (body, says) in [
        ("", "logout_token is missing"),
        ("token=abc", "logout_token is missing"),
        ("logout_token=not-a-jwt", "malformed"),
        (&format!("logout_token={forged}") as &str, "refused"),
        (
            &format!("logout_token={unknown_issuer}"),
            "is not the issuer",
        ),
    ] {
        let (status, text, cache) = post_logout(&s, body).await;
        assert_eq!(status, 400, "{body}: {text}");
        let json: serde_json::Value = serde_json::from_str(&text).expect("a JSON error");
        assert_eq!(json["error"], "invalid_request", "{text}");
        let description = json["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(says), "{body}: {description}");
        assert_eq!(cache.as_deref(), Some("no-store"));
    }
    // GET is not the protocol.
    let get = reqwest::get(format!("{}/oauth2/backchannel-logout", s.nginx.url()))
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    // Nothing was ended.
    assert_eq!(s.auth_on(0, &cookie).await.status(), 200, "{}", s.logs());
    assert_eq!(s.keys("portcullis:s:*").len(), 1);
    assert!(
        s.outposts[0]
            .logged("\"reason\":\"logout_token_invalid\"")
            .await,
        "{}",
        s.logs()
    );
    assert!(
        !s.outposts[0].log().contains(&forged[..40]),
        "the token is never logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_ends_exactly_the_sessions_it_names() {
    use crate::e2e::{Redis, Tool, require};
    use portcullis::config::{RedisConfig, SessionConfig};
    use portcullis::oidc::Identity;
    use portcullis::outpost::server::request::SessionData;
    use portcullis::outpost::server::store::logout::{LogoutTarget, end_matching, first_use};
    use portcullis::outpost::server::store::redis_client::RedisStore;
    use portcullis::outpost::server::store::{Scope, SessionStore, StoredSession};
    use portcullis::outpost::session::{KeyRing, SessionManager};
    use std::sync::Arc;
    use std::time::Duration;
    if !require(&[Tool::Redis]) {
        return;
    }
    let redis = Redis::start(false).expect("start redis-server");
    let client = Arc::new(RedisStore::new(
        RedisConfig::standalone(&redis.url()),
        Default::default(),
    ));
    let store = SessionStore::Redis(client.clone());
    let keys = Arc::new(KeyRing::from_secrets(&["0123456789abcdef0123"]).unwrap());
    let m = SessionManager::new(keys.clone(), &SessionConfig::default(), true).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // (provider, sub, user name, IdP session)
    let sessions = [
        ("team/idp", "alice-sub", "alice", Some("S1")),
        ("team/idp", "alice-sub", "alice", Some("S2")),
        ("team/idp", "bob-sub", "bob", Some("S1")),
        ("team/other", "alice-sub", "alice", Some("S1")),
        ("team/idp", "alice-sub", "alice", None),
        ("team/idp", "carol-sub", "carol", Some("S5")),
        ("team/idp", "carol-sub", "carol", None),
    ];
    let mut ids = Vec::new();
    for (provider, sub, username, sid) in sessions {
        let data = SessionData {
            provider: provider.into(),
            identity: Identity {
                sub: sub.into(),
                username: username.into(),
                ..Identity::default()
            },
            token_expires_at: None,
            tokens_obtained_at: None,
            refresh_token: None,
            access_token: None,
            id_token: None,
            idp_session: sid.map(str::to_string),
            device: None,
            client_ip: None,
        };
        let mut stored = StoredSession::new(m.start(data, now));
        let scope = Scope {
            sessions: &m,
            provider,
        };
        store
            .save(scope, &mut stored, &Default::default(), now)
            .await
            .expect("save");
        ids.push(stored.id.unwrap());
    }
    let live = |i: usize| redis.cli(&["EXISTS", &format!("portcullis:s:{{{}}}", ids[i])]) == "1\n";
    let ended = |i: usize| redis.cli(&["EXISTS", &format!("portcullis:x:{{{}}}", ids[i])]) == "1\n";
    let end = |sub: Option<&'static str>, sid: Option<&'static str>| {
        let (client, keys) = (client.clone(), keys.clone());
        async move {
            let target = LogoutTarget {
                provider: "team/idp",
                sub,
                sid,
            };
            end_matching(&client, &keys, target, now)
                .await
                .expect("end")
                .into_iter()
                .map(|e| e.user)
                .collect::<Vec<_>>()
        }
    };

    // sub and sid: that user's session in that IdP session, and the user's session
    // with no recorded IdP session (nothing says it belongs to another one).
    let mut both = end(Some("alice-sub"), Some("S1")).await;
    both.sort();
    assert_eq!(both, ["alice", "alice"]);
    assert!(!live(0) && ended(0), "alice's S1 session ended");
    assert!(!live(4) && ended(4), "alice's session without a sid ended");
    assert!(live(1) && live(2) && live(3), "nothing else: {ids:?}");
    // sid alone: every session of the IdP session (bob's), none of another provider.
    assert_eq!(end(None, Some("S1")).await, ["bob"]);
    assert!(!live(2) && live(3), "the other provider's S1 session stays");
    // An unknown sid ends nothing.
    assert!(end(None, Some("S9")).await.is_empty());

    // A session the IdP-session index lost (or that predates it) is still ended by a
    // token naming its user and IdP session.
    let index = client.keys.idp_session("team/idp", "S2");
    assert_eq!(redis.cli(&["DEL", &index]), "1\n", "the S2 index existed");
    assert!(
        end(None, Some("S2")).await.is_empty(),
        "sid alone cannot find it without the index"
    );
    assert!(live(1));
    assert_eq!(end(Some("alice-sub"), Some("S2")).await, ["alice"]);
    assert!(!live(1) && ended(1) && live(3));

    // sub alone: every session of the user with this provider, with or without a sid.
    assert!(live(5) && live(6));
    assert_eq!(end(Some("carol-sub"), None).await, ["carol", "carol"]);
    assert!(!live(5) && !live(6) && ended(5) && ended(6));
    assert!(end(Some("carol-sub"), None).await.is_empty(), "idempotent");
    assert!(live(3), "another provider's session of alice stays");

    // A jti is used once while it is fresh, per provider.
    let ttl = Duration::from_secs(60);
    assert!(first_use(&client, "team/idp", "j1", ttl).await.unwrap());
    assert!(!first_use(&client, "team/idp", "j1", ttl).await.unwrap());
    assert!(first_use(&client, "team/other", "j1", ttl).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_sessions_answer_the_idp_501_and_say_why() {
    if !tools() {
        return;
    }
    // `store: {}`: the route keeps sessions in the cookie, yet the IdP has the URI.
    let s = stack_with(false, 1, Some(&|_| "{}".to_string()), true).await;
    let mut ua = s.login().await;
    assert!(
        s.keys("portcullis:*").is_empty(),
        "cookie mode writes nothing"
    );
    sign_out_at_the_idp(&s, &mut ua).await;
    assert!(
        s.outposts[0]
            .logged("\"reason\":\"backchannel_logout_unsupported\"")
            .await,
        "{}\n---- idp ----\n{}",
        s.logs(),
        s.idp.log()
    );
    let log = s.outposts[0].log();
    assert!(log.contains("\"status\":501"), "{log}");
    assert!(!log.contains("\"by\":\"backchannel_logout\""), "{log}");
    assert!(
        s.idp
            .log()
            .contains("back-channel logout to portcullis failed"),
        "the IdP saw the refusal:\n{}",
        s.idp.log()
    );
}
