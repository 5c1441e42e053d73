use super::*;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

/// A writer the formatter under test writes into.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// What `tracing-subscriber` writes for `line` with the JSON settings of
/// `process::init_logging`, through `emit` (which, without `init_logging`, is `trace`).
fn through_tracing(line: &Line<'_>, filter: &str) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(move || writer.clone())
        .json()
        .flatten_event(true)
        .finish();
    tracing::subscriber::with_default(subscriber, || line.emit());
    out.text()
}

fn by_hand(line: &Line<'_>, now: SystemTime) -> String {
    let (mut out, mut scratch) = (Vec::new(), String::new());
    line.json(now, &mut out, &mut scratch);
    String::from_utf8(out).unwrap()
}

/// The line without its timestamp's value (the two are written at different instants).
fn without_timestamp(line: &str) -> String {
    let start = line
        .find("{\"timestamp\":\"")
        .expect("starts with the timestamp")
        + 14;
    let end = start + line[start..].find('"').expect("timestamp ends");
    format!("{}{}", &line[..start], &line[end..])
}

fn sample<'a>(id: &'a RequestId, text: &'a str, groups: Option<&'a str>) -> Line<'a> {
    Line {
        request_id: id,
        endpoint: "auth",
        host: text,
        path: text,
        method: "GET",
        client_ip: Some("10.1.2.3".parse().unwrap()),
        route: text,
        result: "allowed",
        reason: "authenticated",
        status: 200,
        user: text,
        groups,
        latency_ms: 0.404,
    }
}

#[test]
fn the_hand_written_line_is_byte_for_byte_what_the_json_formatter_writes() {
    let id = RequestId::of(&axum::http::HeaderMap::new());
    let tricky = [
        "plain",
        "",
        "quote \" and backslash \\ and slash /",
        "new\nline, tab\t, return\r, nul \u{0}, bell \u{7}, escape \u{1b}, del \u{7f}",
        "unicode: grüße, 日本, emoji 🦀, line separator \u{2028}",
        "</script><script>alert(1)</script>",
    ];
    for text in tricky {
        for groups in [None, Some("[\"admins\",\"dev \\\"ops\\\"\"]"), Some(text)] {
            let line = sample(&id, text, groups);
            let reference = through_tracing(&line, "info");
            assert_eq!(reference.lines().count(), 1, "{reference}");
            let ours = by_hand(&line, SystemTime::now());
            assert_eq!(
                without_timestamp(&ours),
                without_timestamp(&reference),
                "for {text:?} / {groups:?}"
            );
        }
    }
}

#[test]
fn numbers_and_an_unknown_client_print_as_the_formatter_prints_them() {
    let id = RequestId::of(&axum::http::HeaderMap::new());
    for latency_ms in [0.0, 0.001, 1.0, 12.5, 1234.567, 1e-7, 98765.4321] {
        for (status, client_ip) in [(200, None), (302, Some("fd00::1".parse().unwrap()))] {
            let line = Line {
                latency_ms,
                status,
                client_ip,
                ..sample(&id, "x", None)
            };
            let reference = through_tracing(&line, "info");
            let ours = by_hand(&line, SystemTime::now());
            assert_eq!(without_timestamp(&ours), without_timestamp(&reference));
        }
    }
}

#[test]
fn the_timestamp_has_the_formatters_shape() {
    let id = RequestId::of(&axum::http::HeaderMap::new());
    let line = sample(&id, "x", None);
    let reference = through_tracing(&line, "info");
    // A whole second and an instant with microseconds: RFC 3339, six digits, UTC.
    for now in [
        UNIX_EPOCH + Duration::from_secs(1_764_806_400),
        UNIX_EPOCH + Duration::new(1_764_806_400, 123_456_789),
    ] {
        let ours = by_hand(&line, now);
        let shape = |l: &str| -> String {
            l[..40]
                .chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect()
        };
        assert_eq!(shape(&ours), shape(&reference), "{ours}\n{reference}");
    }
    let ours = by_hand(
        &line,
        UNIX_EPOCH + Duration::new(1_764_806_400, 123_456_789),
    );
    assert!(
        ours.starts_with("{\"timestamp\":\"2025-12-04T00:00:00.123456Z\""),
        "{ours}"
    );
}

#[test]
fn a_filtered_out_decision_target_writes_nothing() {
    let id = RequestId::of(&axum::http::HeaderMap::new());
    let line = sample(&id, "x", None);
    assert_eq!(through_tracing(&line, "warn"), "");
    assert_eq!(through_tracing(&line, "info,portcullis::decision=off"), "");
    assert_eq!(
        through_tracing(&line, "warn,portcullis::decision=info")
            .lines()
            .count(),
        1
    );
}

#[test]
fn the_client_ip_prints_as_before_and_empty_when_unknown() {
    let v4: std::net::IpAddr = "10.1.2.3".parse().unwrap();
    let v6: std::net::IpAddr = "fd00::1".parse().unwrap();
    assert_eq!(ClientIp(Some(v4)).to_string(), v4.to_string());
    assert_eq!(ClientIp(Some(v6)).to_string(), "fd00::1");
    assert_eq!(ClientIp(None).to_string(), "");
}
