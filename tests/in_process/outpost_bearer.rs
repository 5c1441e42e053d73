//! Bearer refusals explain themselves (issue 13 item 4): each refusal's log line says
//! what was expected and what came (issuer, audience, algorithm, key id, times with the
//! skew) and never holds the token.

use crate::operator_support::capture_logs;
use crate::outpost_support;

use outpost_support::idp::TestIdp;
use outpost_support::{Browser, Outpost};
use serde_json::{Value, json};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn every_bearer_refusal_logs_expected_and_got_never_the_token() {
    let (logs, _guard) = capture_logs();
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let es256 = json!({"alg": "ES256", "typ": "JWT", "kid": "k1"});
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c =
            json!({"iss": idp.base, "sub": "svc", "aud": "api", "iat": now(), "exp": now() + 600});
        f(&mut c);
        c
    };
    let slash = format!("{}/", idp.base);
    // (header, claims, reason, words the log line must hold)
    let cases: Vec<(Value, Value, &str, Vec<String>)> = vec![
        (
            es256.clone(),
            claims(&|c| c["iss"] = json!(slash)),
            "issuer_mismatch",
            vec![
                format!("{slash:?}"),
                format!("{:?}", idp.base),
                "trailing slash".into(),
            ],
        ),
        (
            es256.clone(),
            claims(&|c| c["aud"] = json!("billing")),
            "audience_mismatch",
            vec!["billing".into(), "\"api\"".into(), "\"outpost\"".into()],
        ),
        (
            es256.clone(),
            claims(&|c| c["aud"] = json!(["api", "billing"])),
            "multiple_audiences_without_azp",
            vec!["billing".into(), "azp".into()],
        ),
        (
            json!({"alg": "RS256", "kid": "k1"}),
            claims(&|_| {}),
            "alg_not_allowed",
            vec!["RS256".into(), "ES256".into()],
        ),
        (
            json!({"alg": "ES256", "kid": "k9"}),
            claims(&|_| {}),
            "unknown_kid",
            vec!["\"k9\"".into(), "\"k1\"".into()],
        ),
        (
            es256.clone(),
            claims(&|c| c["exp"] = json!(now() - 100)),
            "token_expired",
            vec!["skew 30s".into(), "valid until".into()],
        ),
        (
            es256.clone(),
            claims(&|c| c["nbf"] = json!(now() + 3600)),
            "token_not_yet_valid",
            vec!["skew 30s".into(), "valid from".into()],
        ),
    ];
    let mut b = Browser::new();
    for (header, claims, reason, words) in cases {
        let token = idp.state.sign_with(&header, &claims);
        logs.lock().unwrap().clear();
        // A callsite first hit on another test's thread while our subscriber was being
        // installed can cache "never"; recompute so this thread's subscriber sees it.
        tracing::callsite::rebuild_interest_cache();
        let r = b
            .bearer_auth(&outpost, "http://app.localhost/api", &token)
            .await;
        assert_eq!(r.status(), 401, "{reason}");
        let log = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        let line = log
            .lines()
            .find(|l| l.contains("bearer token refused"))
            .unwrap_or_else(|| panic!("{reason}: no refusal line in\n{log}"));
        assert!(line.contains(reason), "{reason}: {line}");
        for w in &words {
            assert!(
                line.contains(w.as_str()),
                "{reason}: {w:?} missing from {line}"
            );
        }
        let signature = token.rsplit('.').next().unwrap();
        let payload = token.split('.').nth(1).unwrap();
        for secret in [token.as_str(), signature, payload] {
            assert!(!log.contains(secret), "{reason}: the token is in the log");
        }
    }
}
