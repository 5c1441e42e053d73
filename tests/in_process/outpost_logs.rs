//! The decision log line (issue 13 item 7): host, path without the query, method,
//! client IP from trusted forwarding only, latency, route, user, and on a denial the
//! groups that were compared.

use crate::operator_support::capture_logs;
use crate::outpost_support;

use outpost_support::idp::TestIdp;
use outpost_support::{Browser, Outpost};
use serde_json::json;

/// A log line without colour codes and quotes, so fields read `name=value`.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            }
            '"' => {}
            c => out.push(c),
        }
    }
    out
}

#[tokio::test]
async fn a_decision_line_says_who_asked_for_what_and_why() {
    let (logs, _guard) = capture_logs();
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    idp.set_user(json!({"sub": "u-9", "preferred_username": "vic",
        "email": "vic@example.com", "groups": ["visitors", "readers"]}));
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    tracing::callsite::rebuild_interest_cache();
    logs.lock().unwrap().clear();
    let url = format!("{}/oauth2/auth", outpost.base);
    let r = b
        .get(
            &url,
            &[
                (
                    "x-original-url",
                    "http://app.localhost/admin/x?token=s3cr3t",
                ),
                ("x-original-method", "DELETE"),
                ("x-forwarded-for", "198.51.100.1, 203.0.113.9"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let log = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line = log
        .lines()
        .map(plain)
        .find(|l| l.contains("decision") && l.contains("policy_denied_group"))
        .unwrap_or_else(|| panic!("no decision line in\n{log}"));
    for want in [
        "host=app.localhost",
        "path=/admin/x",
        "method=DELETE",
        "client_ip=203.0.113.9",
        "latency_ms=",
        "route=test/app",
        "user=vic",
        // The groups the policy compared (all the user's: a header forwards them).
        "groups=visitors,readers",
    ] {
        assert!(line.contains(want), "{want:?} missing from {line}");
    }
    assert!(!line.contains("s3cr3t"), "the query is not logged: {line}");
}

#[tokio::test]
async fn refusals_in_the_login_flow_say_which_case_it_was() {
    let (logs, _guard) = capture_logs();
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    tracing::callsite::rebuild_interest_cache();
    let base = &outpost.base;
    // A callback whose state cookie never came.
    let missing = format!("{base}/oauth2/callback?state=AAAAAAAA-x&code=c");
    b.get(&missing, &[]).await;
    let start = format!("{base}/oauth2/start?rd=http%3A%2F%2Fapp.localhost%2F");
    let start = b.get(&start, &[]).await;
    let authorize = url::Url::parse(&outpost_support::location(&start)).unwrap();
    let (_, state) = authorize.query_pairs().find(|(k, _)| k == "state").unwrap();
    for url in [
        // A callback for another attempt (a state cookie of another login is present).
        format!("{base}/oauth2/callback?state=ZZZZZZZZ-y&code=c"),
        // The IdP refused, with a description.
        format!(
            "{base}/oauth2/callback?state={state}&error=access_denied&error_description=user+is+disabled"
        ),
        // A refused sign-out target.
        format!("{base}/oauth2/sign_out?rd=https%3A%2F%2Fevil.example%2F"),
    ] {
        b.get(&url, &[]).await;
    }
    let log: Vec<String> = String::from_utf8_lossy(&logs.lock().unwrap())
        .lines()
        .map(plain)
        .collect();
    for want in [
        "state_cookie=missing",
        "state_cookie=for_another_attempt",
        "user is disabled",
        "rd refused",
    ] {
        assert!(
            log.iter().any(|l| l.contains(want)),
            "{want:?} in none of\n{}",
            log.join("\n")
        );
    }
}
