//! A [`Decided`] carries exactly what its constructor says to the layer, and nothing
//! leaks between the decision and the answer.

use super::*;
use crate::outpost::server::auth::tests::app;
use crate::outpost::server::handlers::text;
use axum::http::StatusCode;

fn decision_of(decided: Decided) -> (Response, Decision) {
    let mut r = decided.into_response();
    let d = r
        .extensions_mut()
        .remove::<Decision>()
        .expect("the response carries the decision");
    (r, d)
}

#[test]
fn each_constructor_names_its_result_and_the_route() {
    let app = app();
    let loaded = app.loaded();
    let route = loaded.route_by_id("t/app").unwrap();
    let ok = || text(StatusCode::OK, "");
    let reason = Reason::Authenticated;
    for (decided, result) in [
        (Decided::allow(route, reason, ok()), Outcome::Allow),
        (
            Decided::unauthenticated(route, reason, ok()),
            Outcome::Unauthenticated,
        ),
        (Decided::denied(route, reason, ok()), Outcome::Denied),
        (
            Decided::bad_request(route, reason, ok()),
            Outcome::BadRequest,
        ),
        (Decided::redirect(route, reason, ok()), Outcome::Redirect),
        (Decided::signed_out(route, reason, ok()), Outcome::SignOut),
        (Decided::error(route, reason, ok()), Outcome::Error),
    ] {
        let (_, d) = decision_of(decided);
        assert_eq!(d.result, result);
        assert_eq!(d.reason, reason);
        assert_eq!(d.route.as_deref(), Some("t/app"));
        assert_eq!(d.user, "", "nobody until `by` names someone");
        assert!(d.seen.is_none() && d.compared_groups.is_none());
    }
    let (_, d) = decision_of(Decided::error(None, Reason::ProviderNotReady, ok()));
    assert_eq!(d.route, None);
}

#[test]
fn the_user_seen_request_groups_and_cookies_reach_decision_and_answer() {
    let original = OriginalRequest {
        method: Method::DELETE,
        scheme: "https".into(),
        host: "app.example.com".into(),
        uri: "/admin/x?token=s3cr3t#frag".into(),
    };
    let ip: IpAddr = "203.0.113.9".parse().unwrap();
    let groups: Vec<String> = (0..40).map(|n| format!("g{n}")).collect();
    let decided = Decided::denied(
        None,
        Reason::PolicyDeniedGroup,
        text(StatusCode::FORBIDDEN, ""),
    )
    .by(String::from("jane"))
    .seen(Seen::of(&original, ip))
    .compared(Some(compared_groups(&groups)))
    .with_cookies(&["a=1".into(), "b=2".into()]);
    assert_eq!(decided.decision().user, "jane");
    let (r, d) = decision_of(decided);
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    let seen = d.seen.expect("seen");
    assert_eq!(
        seen.path, "/admin/x",
        "no query, no fragment: {}",
        seen.path
    );
    assert_eq!(
        (seen.host.as_str(), seen.method, seen.client_ip),
        ("app.example.com", Method::DELETE, ip)
    );
    let shown = d.compared_groups.expect("groups");
    assert!(shown.starts_with("g0,g1,"), "{shown}");
    assert!(shown.ends_with(",g31,... (8 more)"), "{shown}");
}

#[test]
fn a_short_group_list_is_shown_whole() {
    assert_eq!(compared_groups(&["a".into(), "b".into()]), "a,b");
    assert_eq!(compared_groups(&[]), "");
}
