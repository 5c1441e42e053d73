//! The differential path test: generated paths (empty segments, dot-segments, encoded
//! dots and slashes, backslashes, `;`, `%00`, overlong UTF-8, case) sent through real
//! nginx (configured like ingress-nginx) to an app that records what it received, and
//! straight to the outpost through every other header source. No path may be public to
//! the outpost while any reasonable upstream reading of it is outside the public prefix.

use crate::e2e::{Tool, require};
use crate::outpost_e2e::{nginx_for, stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The stack's public prefix.
const PUBLIC: &str = "/healthz";

/// A header source: its label, the auth request target and its headers.
type Probe<'a> = (&'a str, String, Vec<(&'a str, String)>);

/// Segments the generator combines.
const PIECES: &[&str] = &[
    "healthz",
    "admin",
    "",
    ".",
    "..",
    "%2e",
    "%2e%2e",
    ".%2E",
    "..%2f",
    "%2f",
    "%5c",
    "..\\",
    "..;",
    "healthz;x",
    "%00",
    "%c0%ae%c0%ae",
    "%252e%252e",
    "HEALTHZ",
    "%68ealthz",
    "healthz%2fadmin",
    "%ef%bc%8f",
    "x",
];

/// Every two-piece path, and three-piece paths under the public prefix.
fn generated() -> Vec<String> {
    let mut out = Vec::new();
    for a in PIECES {
        for b in PIECES {
            out.push(format!("/{a}/{b}"));
            out.push(format!("{PUBLIC}/{a}/{b}"));
            out.push(format!("{PUBLIC}/{a}{b}/admin"));
        }
    }
    out
}

/// Readings an upstream might act on: as written, RFC 3986 on the raw text, nginx's
/// (decode, merge `//`, resolve), a Servlet container's (`;` parameters stripped, `\`
/// as `/`, NUL ends the path, overlong `%c0%ae` as a dot), and WHATWG's.
fn readings(received: &str) -> Vec<String> {
    let raw = &received[..received.find('?').unwrap_or(received.len())];
    let decoded = |s: &str| String::from_utf8_lossy(&percent_decode(s)).into_owned();
    let overlong = raw.to_ascii_lowercase().replace("%c0%ae", ".");
    let servlet: String = decoded(&overlong)
        .replace('\\', "/")
        .split('\0')
        .next()
        .unwrap_or_default()
        .split('/')
        .map(|seg| seg.split(';').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("/");
    let mut out = vec![
        raw.to_string(),
        resolve(raw, false),
        resolve(&decoded(raw), true),
        resolve(&servlet, false),
    ];
    if let Ok(url) = url::Url::parse(&format!("http://h{raw}")) {
        out.push(resolve(&decoded(url.path()), false));
    }
    out
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Dot-segment removal, optionally merging empty segments.
fn resolve(path: &str, merge: bool) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            "" if merge => {}
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

fn under_public(path: &str) -> bool {
    path == PUBLIC || path.starts_with(&format!("{PUBLIC}/"))
}

/// One HTTP/1.1 GET written byte for byte (a client library would normalise the path);
/// the status code, 0 when the server closed without one.
async fn raw_get(addr: &str, target: &str, headers: &[(&str, String)]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("GET {target} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(12)]).into_owned();
    head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_path_is_public_to_the_outpost_and_protected_upstream() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let s = stack("RS256").await;
    let _nginx = nginx_for(&s);
    let front = format!("127.0.0.1:{}", s.front_port);
    let outpost = s.outpost.addr();
    let host = ("Host", front.clone());
    let mut violations = Vec::new();
    let mut public = 0;
    let paths = generated();
    for path in &paths {
        // Real nginx: public iff the app was reached; judge the path it received.
        s.app.clear();
        if raw_get(&front, path, std::slice::from_ref(&host)).await == 200 {
            public += 1;
            let received = s.app.last_request().map(|r| r.uri).unwrap_or_default();
            if let Some(r) = readings(&received).into_iter().find(|r| !under_public(r)) {
                violations.push(format!("nginx: {path} reached the app as {received} ({r})"));
            }
        }
        // Every other source, straight to the outpost: nginx passes the path as
        // written, so the app would receive `path` itself.
        let url = format!("http://{front}{path}");
        let sources: [Probe<'_>; 5] = [
            (
                "x-original-url",
                "/oauth2/auth".into(),
                vec![host.clone(), ("X-Original-URL", url)],
            ),
            (
                "x-original-uri",
                "/oauth2/auth".into(),
                vec![host.clone(), ("X-Original-URI", path.clone())],
            ),
            (
                "x-forwarded-uri",
                "/oauth2/auth".into(),
                vec![host.clone(), ("X-Forwarded-Uri", path.clone())],
            ),
            (
                "traefik",
                "/oauth2/auth/traefik".into(),
                vec![
                    ("Host", "outpost".into()),
                    ("X-Forwarded-Host", front.clone()),
                    ("X-Forwarded-Proto", "http".into()),
                    ("X-Forwarded-Uri", path.clone()),
                ],
            ),
            (
                "envoy",
                format!("/oauth2/auth/envoy{path}"),
                vec![host.clone()],
            ),
        ];
        for (source, target, headers) in sources {
            if raw_get(&outpost, &target, &headers).await == 200
                && let Some(r) = readings(path).into_iter().find(|r| !under_public(r))
            {
                violations.push(format!("{source}: {path} is public, an upstream reads {r}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "{} of {} paths public to the outpost and protected upstream:\n{}",
        violations.len(),
        paths.len(),
        violations[..violations.len().min(20)].join("\n")
    );
    // Not vacuous: the plain public paths do pass.
    assert!(public > 10, "only {public} public paths reached the app");
}
