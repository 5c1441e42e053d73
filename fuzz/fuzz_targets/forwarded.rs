//! Forwarded-header parsing: the original request behind the proxy from
//! `X-Original-URL`, `X-Forwarded-*`, `Host` and Envoy's appended path, from a trusted
//! and an untrusted peer. Input: the request target on the first line, then
//! `name: value` header lines.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use portcullis::outpost::forwarded::{AuthRequest, TrustedProxies, original_request};
use portcullis::outpost::path::{PathForm, RequestPath};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let Ok(uri) = lines.next().unwrap_or("/").parse::<Uri>() else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(n, v);
        }
    }
    let trusted = TrustedProxies::parse(&["127.0.0.1/32"]).expect("cidr");
    for (peer, strip) in [
        ("127.0.0.1", None),
        ("127.0.0.1", Some("/oauth2/auth/envoy")),
        ("10.9.9.9", None),
    ] {
        let req = AuthRequest {
            method: &Method::GET,
            uri: &uri,
            headers: &headers,
            peer: peer.parse().expect("ip"),
        };
        if let Ok(resolved) = original_request(&req, &trusted, strip) {
            let r = resolved.request;
            assert!(r.uri.starts_with('/'), "{:?}", r.uri);
            assert!(!r.host.is_empty());
            // A plain path (the only kind that may be public) has no dot-segment; the
            // query may hold anything.
            let path = &r.uri[..r.uri.find(['?', '#']).unwrap_or(r.uri.len())];
            if let PathForm::Plain = RequestPath::read(&r.uri).form {
                assert!(!path.contains("/../") && !path.ends_with("/.."), "{path:?}");
            }
        }
    }
});
