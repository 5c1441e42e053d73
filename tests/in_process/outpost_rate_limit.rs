//! Abuse limits on `/oauth2/start` and `/oauth2/callback`, per client address after
//! trusted forwarding resolution.

use crate::outpost_support::idp::TestIdp;
use crate::outpost_support::{Browser, Outpost, header};

fn limited_route(per_minute: u32, burst: u32) -> String {
    format!(
        r#"  - id: test/limited
    hosts: [limited.localhost]
    paths: [/]
    provider: test/idp
    authURL: http://limited.localhost:PORT
    redirectURI: http://limited.localhost:PORT/oauth2/callback
    policy: {{ groups: [staff] }}
    loginRateLimit: {{ requestsPerMinute: {per_minute}, burst: {burst} }}
"#
    )
}

async fn start(b: &Browser, outpost: &Outpost, forwarded_for: &str) -> reqwest::Response {
    b.http
        .get(format!(
            "{}/oauth2/start?rd=http%3A%2F%2Flimited.localhost%2F",
            outpost.base_for("limited.localhost")
        ))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_ins_past_the_rate_get_429_per_real_client_address() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, &limited_route(6, 2)).await;
    let b = Browser::new();
    // Behind the trusted proxy (127.0.0.1) the forwarded address is the client.
    assert_eq!(start(&b, &outpost, "203.0.113.7").await.status(), 302);
    assert_eq!(start(&b, &outpost, "203.0.113.7").await.status(), 302);
    let r = start(&b, &outpost, "203.0.113.7").await;
    assert_eq!(r.status(), 429);
    let wait: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=10).contains(&wait), "Retry-After {wait}");
    let page = r.text().await.unwrap();
    assert!(page.contains("Too many sign-in attempts"), "{page}");
    assert!(page.contains("rate_limited"));
    assert!(page.contains("at most 6 sign-in requests a minute"));
    // Another client behind the same proxy has its own bucket.
    assert_eq!(start(&b, &outpost, "203.0.113.8").await.status(), 302);
    let text = outpost.metrics().await;
    assert!(
        text.contains(r#"portcullis_outpost_decisions_total{route="test/limited",endpoint="start",result="denied",reason="rate_limited"} 1"#),
        "{text}"
    );
    // Routes without the setting keep the default (60 a minute, burst 30).
    for _ in 0..5 {
        let r = b
            .http
            .get(format!(
                "{}/oauth2/start?rd=http%3A%2F%2Fapp.localhost%2F",
                outpost.base
            ))
            .header("x-forwarded-for", "203.0.113.7")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
    }
}

#[tokio::test]
async fn an_untrusted_peer_cannot_pick_its_bucket_with_x_forwarded_for() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start_trusting(&idp.base, &limited_route(6, 2), &[]).await;
    outpost.wait_ready().await;
    let b = Browser::new();
    let mut codes = Vec::new();
    for n in 0..4 {
        codes.push(
            start(&b, &outpost, &format!("198.51.100.{n}"))
                .await
                .status(),
        );
    }
    assert_eq!(
        codes,
        [302, 302, 429, 429],
        "a fresh X-Forwarded-For per request"
    );
}

#[tokio::test]
async fn the_callback_is_limited_too_and_zero_switches_it_off() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, &limited_route(0, 1)).await;
    let mut b = Browser::new();
    for _ in 0..5 {
        assert_eq!(start(&b, &outpost, "203.0.113.9").await.status(), 302);
    }
    // A full sign-in (start + callback) needs two requests: with a burst of 1 the
    // callback is refused.
    let idp2 = TestIdp::spawn().await;
    let strict = Outpost::start(&idp2.base, &limited_route(1, 1)).await;
    let rd = "http%3A%2F%2Flimited.localhost%2F";
    let r = b
        .get(
            &format!(
                "{}/oauth2/start?rd={rd}",
                strict.base_for("limited.localhost")
            ),
            &[],
        )
        .await;
    assert_eq!(r.status(), 302);
    let at_idp = b.get(&crate::outpost_support::location(&r), &[]).await;
    let r = b.get(&crate::outpost_support::location(&at_idp), &[]).await;
    assert_eq!(
        r.status(),
        429,
        "the callback counts against the same bucket"
    );
    assert!(b.cookie("portcullis").is_none(), "no session set");
}
