//! What Go's `net/url.ParseRequestURI` and the Kubernetes URL library answer, case by
//! case, including where a WHATWG parser answers differently.

use super::*;
use kube_cel::cel::Program;

fn parsed(raw: &str) -> GoUrl {
    GoUrl::parse_request_uri(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
}

#[test]
fn parts_are_what_go_returns() {
    // (input, scheme, host, hostname, port, escaped path)
    for (raw, scheme, host, hostname, port, path) in [
        (
            "https://app.example.com/x",
            "https",
            "app.example.com",
            "app.example.com",
            "",
            "/x",
        ),
        (
            "https://app.example.com",
            "https",
            "app.example.com",
            "app.example.com",
            "",
            "",
        ),
        // Go lower-cases the scheme but not the host.
        (
            "HTTP://LOCALHOST:8080/cb",
            "http",
            "LOCALHOST:8080",
            "LOCALHOST",
            "8080",
            "/cb",
        ),
        (
            "http://localhost/cb",
            "http",
            "localhost",
            "localhost",
            "",
            "/cb",
        ),
        (
            "http://[::1]:8080/cb",
            "http",
            "[::1]:8080",
            "::1",
            "8080",
            "/cb",
        ),
        ("http://[::1]/", "http", "[::1]", "::1", "", "/"),
        (
            "http://127.0.0.1:4180",
            "http",
            "127.0.0.1:4180",
            "127.0.0.1",
            "4180",
            "",
        ),
        // Go checks that a port is digits, not that it fits in 16 bits.
        (
            "https://a.example.com:99999/",
            "https",
            "a.example.com:99999",
            "a.example.com",
            "99999",
            "/",
        ),
        // Opaque: a scheme and no `//`; no host at all.
        ("https:app.example.com", "https", "", "", "", ""),
        ("/absolute/path", "", "", "", "", "/absolute/path"),
        ("*", "", "", "", "", "*"),
        // No fragment handling in a request URI: `#` stays in the path.
        (
            "https://a.example.com/cb#x",
            "https",
            "a.example.com",
            "a.example.com",
            "",
            "/cb#x",
        ),
        (
            "https://user:p@ss@host.example.com/",
            "https",
            "host.example.com",
            "host.example.com",
            "",
            "/",
        ),
        (
            "https://%C3%A9.example.com/",
            "https",
            "é.example.com",
            "é.example.com",
            "",
            "/",
        ),
    ] {
        let u = parsed(raw);
        assert_eq!(
            (
                u.scheme.as_str(),
                u.host.as_str(),
                u.hostname(),
                u.port(),
                u.escaped_path.as_str()
            ),
            (scheme, host, hostname, port, path),
            "{raw}"
        );
    }
}

#[test]
fn what_go_refuses_is_refused() {
    for raw in [
        "",
        "relative/path",
        "app.example.com",
        "://x",
        "https://a b.example.com/",
        "https://a.example.com:port/",
        "https://[::1/",
        "https://a.example.com/%zz",
        "https://%41.example.com/",
        "https://a.example.com/\u{7f}",
        "https://a.example.com/\n",
        "https://us er@host/",
    ] {
        assert!(GoUrl::parse_request_uri(raw).is_err(), "{raw:?} parsed");
    }
}

#[test]
fn the_query_is_go_s_url_values() {
    let q = parsed("https://a/x?a=1&a=2&b&c=%20x+y&bad=%zz&k;x=1").query();
    assert_eq!(q["a"], ["1", "2"]);
    assert_eq!(q["b"], [""]);
    assert_eq!(q["c"], [" x y"]);
    assert!(
        !q.contains_key("bad") && !q.contains_key("k;x") && q.len() == 3,
        "{q:?}"
    );
}

fn eval(expr: &str) -> Value {
    let mut ctx = Context::default();
    register(&mut ctx);
    Program::compile(expr)
        .unwrap()
        .execute(&ctx)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

#[test]
fn the_cel_functions_answer_as_the_api_server_does() {
    let t = |expr: &str| eval(expr) == Value::Bool(true);
    assert!(t("isURL('https://a.example.com/x')"));
    assert!(t("isURL('/x')"));
    assert!(!t("isURL('x')"));
    assert!(t("url('http://localhost:8080/cb').getScheme() == 'http'"));
    assert!(t("url('HTTP://LOCALHOST').getHostname() == 'LOCALHOST'"));
    assert!(t("url('http://[::1]:80').getHostname() == '::1'"));
    assert!(t("url('http://[::1]:80').getHost() == '[::1]:80'"));
    assert!(t("url('http://a:80').getPort() == '80'"));
    assert!(t("url('https://a/b%20c').getEscapedPath() == '/b%20c'"));
    assert!(t("url('https://a/?x=1&x=2').getQuery()['x'] == ['1', '2']"));
    assert!(t(
        "url('/x').getScheme() == '' && url('/x').getHostname() == ''"
    ));
    let err = Program::compile("url('x')")
        .unwrap()
        .execute(&{
            let mut ctx = Context::default();
            register(&mut ctx);
            ctx
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("URL parse error"), "{err}");
}
