//! One reading of the path whatever header carries it: the public-path decision for
//! `X-Original-URL`, `X-Forwarded-Uri`, `X-Original-URI` and Envoy's appended path.

use super::tests::app;
use super::*;
use crate::outpost::forwarded::{AuthRequest, TrustedProxies, original_request};
use axum::http::{HeaderValue, Method, Uri};

/// Each way a proxy can tell us the path, as an auth subrequest from a trusted peer.
#[derive(Clone, Copy, Debug)]
enum Source {
    OriginalUrl,
    ForwardedUri,
    OriginalUri,
    Envoy,
}

const SOURCES: [Source; 4] = [
    Source::OriginalUrl,
    Source::ForwardedUri,
    Source::OriginalUri,
    Source::Envoy,
];

/// The original request the outpost works out for `path` sent through `source`;
/// `None` when it refuses the headers (fail closed, never public).
fn resolve(source: Source, path: &str) -> Option<OriginalRequest> {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("app.example.com"));
    let mut uri = "/oauth2/auth".to_string();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).ok()?);
        Some(())
    };
    match source {
        Source::OriginalUrl => set("x-original-url", format!("https://app.example.com{path}"))?,
        Source::ForwardedUri => set("x-forwarded-uri", path.to_string())?,
        Source::OriginalUri => set("x-original-uri", path.to_string())?,
        Source::Envoy => uri = format!("/oauth2/auth/envoy{path}"),
    }
    let uri: Uri = uri.parse().ok()?;
    let req = AuthRequest {
        method: &Method::GET,
        uri: &uri,
        headers: &headers,
        peer: "127.0.0.1".parse().unwrap(),
    };
    let trusted = TrustedProxies::parse(&["127.0.0.1/32"]).unwrap();
    let strip = matches!(source, Source::Envoy).then_some("/oauth2/auth/envoy");
    original_request(&req, &trusted, strip)
        .ok()
        .map(|r| r.request)
}

async fn reason_for(app: &App, source: Source, path: &str) -> Option<Reason> {
    let original = resolve(source, path)?;
    let loaded = app.loaded();
    let (_, verdict) = decide(app, &loaded, &original, &HeaderMap::new()).await;
    Some(verdict.reason())
}

#[tokio::test]
async fn a_path_read_two_ways_is_public_through_no_header() {
    let app = app();
    for path in ["/public", "/public/a", "/public/a/b.css?v=1"] {
        for source in SOURCES {
            assert_eq!(
                reason_for(&app, source, path).await,
                Some(Reason::PublicPath),
                "{source:?} {path}"
            );
        }
    }
    // Each of these is under /public to one parser and outside it to another (nginx
    // merges `//` before resolving `..`; WHATWG keeps the empty segment; some servers
    // decode `%2f`, strip `;` parameters, read `\` as `/`, or stop at NUL).
    let ambiguous = [
        "/public//../admin",
        "/public//..//admin",
        "/public/x//../../admin",
        "/public/.//../admin",
        "/public/%2e%2e/admin",
        "/public/%2E./admin",
        "/public/..%2fadmin",
        "/public/..%2Fadmin",
        "/public/..%5cadmin",
        "/public/..\\admin",
        "/public/..;/admin",
        "/public;/../admin",
        "/public/%00/../../admin",
        "/public/%c0%ae%c0%ae/admin",
        "/public/%252e%252e/admin",
        "/x/../public/y",
        "/public/./y",
        "//public/y",
        "/public//y",
        "/%70ublic/y",
    ];
    for path in ambiguous {
        for source in SOURCES {
            let got = reason_for(&app, source, path).await;
            assert_ne!(got, Some(Reason::PublicPath), "{source:?} {path}");
        }
    }
}
