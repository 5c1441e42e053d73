//! Tests of [`super`]: CIDRs, trust, and each proxy's headers.

use super::*;
use axum::http::HeaderValue;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn cidr_parsing_and_matching() {
    let cases = [
        ("10.0.0.0/8", "10.255.1.2", true),
        ("10.0.0.0/8", "11.0.0.1", false),
        ("192.168.1.0/25", "192.168.1.127", true),
        ("192.168.1.0/25", "192.168.1.128", false),
        ("192.168.1.7", "192.168.1.7", true),
        ("192.168.1.7", "192.168.1.8", false),
        ("0.0.0.0/0", "8.8.8.8", true),
        ("0.0.0.0/0", "::1", false),
        ("fd00::/8", "fd12:3456::1", true),
        ("fd00::/8", "fe80::1", false),
        ("2001:db8::/33", "2001:db8:7fff::1", true),
        ("2001:db8::/33", "2001:db8:8000::1", false),
        ("::1", "::1", true),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true),
        ("::/0", "10.0.0.1", false),
    ];
    for (cidr, addr, want) in cases {
        let c: Cidr = cidr.parse().unwrap();
        assert_eq!(c.contains(ip(addr)), want, "{cidr} contains {addr}");
    }
    for bad in [
        "",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/",
        "10.0.0.0/-1",
        "10.0.0/8",
        "x/8",
        "10.0.0.0/8/8",
        "10.0.0.0/+8",
    ] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
    }
    assert_eq!(
        TrustedProxies::parse(&["10.0.0.0/8", "nope"]),
        Err(ForwardedError::InvalidCidr { index: 1 })
    );
    assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn trusted() -> TrustedProxies {
    TrustedProxies::parse(&["10.0.0.0/8"]).unwrap()
}

fn resolve(
    uri: &str,
    h: &HeaderMap,
    peer: &str,
    prefix: Option<&str>,
) -> Result<Resolved, ForwardedError> {
    let uri: Uri = uri.parse().unwrap();
    let req = AuthRequest {
        method: &Method::GET,
        uri: &uri,
        headers: h,
        peer: ip(peer),
    };
    original_request(&req, &trusted(), prefix)
}

fn req(method: &str, scheme: &str, host: &str, uri: &str) -> OriginalRequest {
    OriginalRequest {
        method: method.parse().unwrap(),
        scheme: scheme.into(),
        host: host.into(),
        uri: uri.into(),
    }
}

#[test]
fn nginx_original_url_from_trusted_peer() {
    let h = headers(&[
        ("host", "outpost.svc"),
        (
            "x-original-url",
            "https://App.Example.COM./admin/x?q=1&r=%2F",
        ),
        ("x-original-method", "POST"),
    ]);
    let r = resolve("/oauth2/auth", &h, "10.1.2.3", None).unwrap();
    assert_eq!(
        r.request,
        req("POST", "https", "app.example.com", "/admin/x?q=1&r=%2F")
    );
    assert!(!r.forwarded_headers_ignored);
    let h = headers(&[("x-original-url", "http://app.example.com:8080/")]);
    assert_eq!(
        resolve("/oauth2/auth", &h, "10.1.2.3", None)
            .unwrap()
            .request
            .host,
        "app.example.com:8080"
    );
    let h = headers(&[("x-original-url", "https://app.example.com:443/")]);
    assert_eq!(
        resolve("/oauth2/auth", &h, "10.1.2.3", None)
            .unwrap()
            .request
            .host,
        "app.example.com"
    );
}

#[test]
fn nginx_original_url_keeps_the_path_as_sent() {
    for (url, want) in [
        (
            "https://app.example.com/public//../admin",
            Some("/public//../admin"),
        ),
        (
            "https://app.example.com/a/%2e%2E/b?x=/../y",
            Some("/a/%2e%2E/b?x=/../y"),
        ),
        ("https://app.example.com?q=1", Some("/?q=1")),
        ("https://app.example.com/p#frag/../x", Some("/p")),
        ("https://app.example.com\\admin", None),
        ("https://app.example.com/a\\..\\b", Some("/a\\..\\b")),
    ] {
        let h = headers(&[("x-original-url", url)]);
        let got = resolve("/oauth2/auth", &h, "10.1.2.3", None).map(|r| r.request.uri);
        assert_eq!(got.ok().as_deref(), want, "{url}");
    }
}

#[test]
fn nginx_original_uri_with_host() {
    let h = headers(&[
        ("host", "app.example.com"),
        ("x-original-uri", "/a?b"),
        ("x-forwarded-proto", "https"),
    ]);
    let r = resolve("/oauth2/auth", &h, "10.0.0.1", None).unwrap();
    assert_eq!(r.request, req("GET", "https", "app.example.com", "/a?b"));
}

#[test]
fn traefik_and_caddy_forwarded_headers() {
    let h = headers(&[
        ("host", "outpost:4180"),
        ("x-forwarded-proto", "HTTPS"),
        ("x-forwarded-host", "Dash.Example.com"),
        ("x-forwarded-uri", "/d/1?x=2"),
        ("x-forwarded-method", "DELETE"),
    ]);
    let r = resolve("/oauth2/auth/traefik", &h, "10.9.9.9", None).unwrap();
    assert_eq!(
        r.request,
        req("DELETE", "https", "dash.example.com", "/d/1?x=2")
    );
}

#[test]
fn lists_take_the_value_the_trusted_peer_added() {
    let h = headers(&[
        ("x-forwarded-host", "evil.com, app.example.com"),
        ("x-forwarded-proto", "http,https"),
        ("x-forwarded-uri", "/x"),
    ]);
    let r = resolve("/oauth2/auth", &h, "10.0.0.1", None).unwrap();
    assert_eq!(r.request, req("GET", "https", "app.example.com", "/x"));
}

#[test]
fn envoy_uses_host_and_strips_the_auth_prefix() {
    let h = headers(&[("host", "app.example.com"), ("x-forwarded-proto", "https")]);
    let cases = [
        ("/oauth2/auth/envoy/admin?x=1", "/admin?x=1"),
        ("/oauth2/auth/envoy", "/"),
        ("/oauth2/auth/envoy?x=1", "/?x=1"),
        ("/oauth2/auth/envoyx/a", "/oauth2/auth/envoyx/a"),
    ];
    for (uri, want) in cases {
        let r = resolve(uri, &h, "10.0.0.1", Some("/oauth2/auth/envoy")).unwrap();
        assert_eq!(
            r.request,
            req("GET", "https", "app.example.com", want),
            "{uri}"
        );
    }
}

#[test]
fn untrusted_peers_get_their_own_request() {
    let h = headers(&[
        ("host", "Outpost.Example.com"),
        ("x-original-url", "https://app.example.com/admin"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-proto", "https"),
    ]);
    for peer in ["192.168.0.1", "::1", "11.0.0.1"] {
        let r = resolve("/oauth2/auth?x=1", &h, peer, None).unwrap();
        assert_eq!(
            r.request,
            req("GET", "http", "outpost.example.com", "/oauth2/auth?x=1"),
            "{peer}"
        );
        assert!(r.forwarded_headers_ignored);
    }
    let plain = headers(&[("host", "outpost")]);
    assert!(
        !resolve("/", &plain, "192.168.0.1", None)
            .unwrap()
            .forwarded_headers_ignored
    );
}

#[test]
fn http2_authority_stands_in_for_host() {
    let h = HeaderMap::new();
    let r = resolve("https://app.example.com/x", &h, "192.168.0.1", None).unwrap();
    assert_eq!(r.request, req("GET", "https", "app.example.com", "/x"));
    assert_eq!(
        resolve("/x", &h, "192.168.0.1", None),
        Err(ForwardedError::MissingHost)
    );
}

#[test]
fn malformed_trusted_headers_fail() {
    let cases: &[(&[(&'static str, &str)], &str)] = &[
        (&[("x-original-url", "not a url")], "x-original-url"),
        (
            &[("x-original-url", "ftp://app.example.com/")],
            "x-original-url",
        ),
        (
            &[("x-original-url", "https://u:p@app.example.com/")],
            "x-original-url",
        ),
        (
            &[("host", "a"), ("x-forwarded-proto", "gopher")],
            "x-forwarded-proto",
        ),
        (&[("x-forwarded-host", "a b.com")], "x-forwarded-host"),
        (
            &[("x-forwarded-host", "app.example.com:99999")],
            "x-forwarded-host",
        ),
        (
            &[("x-forwarded-host", "app.example.com:")],
            "x-forwarded-host",
        ),
        (
            &[("host", "a"), ("x-forwarded-uri", "no-slash")],
            "x-forwarded-uri",
        ),
        (
            &[("host", "a"), ("x-forwarded-uri", "/a b")],
            "x-forwarded-uri",
        ),
        (
            &[("host", "a"), ("x-original-uri", "/a\tb")],
            "x-original-uri",
        ),
        (
            &[("host", "a"), ("x-forwarded-method", "GE T")],
            "x-forwarded-method",
        ),
        (&[("host", "a..b")], "host"),
    ];
    for (pairs, header) in cases {
        let mut h = HeaderMap::new();
        for (k, v) in *pairs {
            // Some cases carry bytes `from_str` refuses; build those from bytes.
            h.append(*k, HeaderValue::from_bytes(v.as_bytes()).unwrap());
        }
        let err = resolve("/oauth2/auth", &h, "10.0.0.1", None).unwrap_err();
        assert_eq!(err, ForwardedError::Malformed { header }, "{pairs:?}");
        assert_eq!(err.reason(), Reason::MalformedForwardedHeaders);
    }
    let mut h = HeaderMap::new();
    h.insert(
        "x-forwarded-host",
        HeaderValue::from_bytes(b"caf\xe9.com").unwrap(),
    );
    assert_eq!(
        resolve("/", &h, "10.0.0.1", None).unwrap_err(),
        ForwardedError::Malformed {
            header: "x-forwarded-host"
        }
    );
}

#[test]
fn host_normalisation() {
    let cases = [
        ("Example.COM", "https", Some("example.com")),
        ("example.com.", "https", Some("example.com")),
        ("example.com.:8443", "https", Some("example.com:8443")),
        ("example.com:443", "https", Some("example.com")),
        ("example.com:80", "https", Some("example.com:80")),
        ("example.com:80", "http", Some("example.com")),
        ("[::1]:8080", "http", Some("[::1]:8080")),
        ("[::1]", "https", Some("[::1]")),
        ("10.0.0.1:443", "https", Some("10.0.0.1")),
        ("my_svc.ns", "http", Some("my_svc.ns")),
        ("", "http", None),
        (".", "http", None),
        ("a..b", "http", None),
        ("[::1", "http", None),
        ("[nope]", "http", None),
        ("[::1]x", "http", None),
        ("a:b:c", "http", None),
        ("évil.com", "http", None),
        ("a/b", "http", None),
        ("a@b", "http", None),
    ];
    for (raw, scheme, want) in cases {
        assert_eq!(
            normalize_host(raw, scheme).as_deref(),
            want,
            "{raw:?} {scheme}"
        );
    }
}
