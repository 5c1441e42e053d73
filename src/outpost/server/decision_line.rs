//! The decision line's fields, and the line written by hand in the JSON log format.
//!
//! `tracing-subscriber`'s JSON formatter builds every event through a `serde_json` map
//! (a `String` per key and value), which was 12% of a cookie check (docs/benchmarks.md).
//! With `--log-format json` the decision line is written here instead, straight into a
//! reused buffer and onto the same background writer, byte for byte what the formatter
//! wrote (a test holds the two to that). Everything else, the text format and runs
//! without [`crate::process::init_logging`] (tests) still go through `tracing`.

use super::request::RequestId;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::time::SystemTime;

/// The `target` of the decision line (what `RUST_LOG` filters on).
pub(crate) const TARGET: &str = "portcullis::decision";

/// One decision line's fields, in the order the line shows them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<'a> {
    /// The request id.
    pub request_id: &'a RequestId,
    /// The endpoint that answered.
    pub endpoint: &'static str,
    /// Host of the original request (`-` when not worked out).
    pub host: &'a str,
    /// Path without the query (`-` when not worked out).
    pub path: &'a str,
    /// Method (`-` when not worked out).
    pub method: &'a str,
    /// The client address from trusted forwarding; empty when unknown.
    pub client_ip: Option<IpAddr>,
    /// The route's id (`-` when none).
    pub route: &'a str,
    /// The result label.
    pub result: &'static str,
    /// The reason code.
    pub reason: &'static str,
    /// The HTTP status answered.
    pub status: u16,
    /// Who asked (empty when nobody is signed in).
    pub user: &'a str,
    /// On a denial, the groups compared (absent otherwise).
    pub groups: Option<&'a str>,
    /// Time spent, in milliseconds rounded to the microsecond.
    pub latency_ms: f64,
}

/// The client address as the line shows it (empty when unknown), formatted straight
/// into the line instead of into a `String` first.
struct ClientIp(Option<IpAddr>);

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => Ok(()),
        }
    }
}

thread_local! {
    /// The line being written, kept per thread so a line costs no allocation of its own.
    static BUFFER: RefCell<(Vec<u8>, String)> = const { RefCell::new((Vec::new(), String::new())) };
}

impl Line<'_> {
    /// Writes the line: by hand onto the JSON log writer when the process logs JSON, else
    /// through `tracing`. Nothing when `RUST_LOG` filters the decision target out.
    pub(crate) fn emit(&self) {
        if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
            return;
        }
        match crate::process::json_log_writer() {
            Some(writer) => BUFFER.with(|b| {
                let (line, scratch) = &mut *b.borrow_mut();
                line.clear();
                self.json(SystemTime::now(), line, scratch);
                // The background writer takes the whole line as one message, as it does
                // for `tracing`'s lines; a full queue drops it the same way.
                let _ = writer.clone().write_all(line);
            }),
            None => self.trace(),
        }
    }

    /// The line through `tracing` (the text format, and the reference for [`Line::json`]).
    pub(crate) fn trace(&self) {
        tracing::info!(
            target: TARGET,
            request_id = %self.request_id,
            endpoint = self.endpoint,
            host = self.host,
            path = self.path,
            method = self.method,
            client_ip = %ClientIp(self.client_ip),
            route = self.route,
            result = self.result,
            reason = self.reason,
            status = self.status,
            user = self.user,
            groups = self.groups,
            latency_ms = self.latency_ms,
            "decision"
        );
    }

    /// The JSON line `tracing-subscriber` writes for [`Line::trace`] with
    /// `.json().flatten_event(true)`, newline included, appended to `out` (`scratch` is
    /// a reused buffer for the formatted values). Strings are escaped by `serde_json`, as
    /// the formatter does.
    pub fn json(&self, now: SystemTime, out: &mut Vec<u8>, scratch: &mut String) {
        scratch.clear();
        let _ = write!(scratch, "{}", humantime::format_rfc3339_micros(now));
        out.extend_from_slice(b"{\"timestamp\":");
        string(out, scratch);
        out.extend_from_slice(b",\"level\":\"INFO\",\"message\":\"decision\"");
        field(out, "request_id", self.request_id.as_str());
        field(out, "endpoint", self.endpoint);
        field(out, "host", self.host);
        field(out, "path", self.path);
        field(out, "method", self.method);
        scratch.clear();
        let _ = write!(scratch, "{}", ClientIp(self.client_ip));
        field(out, "client_ip", scratch);
        field(out, "route", self.route);
        field(out, "result", self.result);
        field(out, "reason", self.reason);
        out.extend_from_slice(b",\"status\":");
        let _ = serde_json::to_writer(&mut *out, &self.status);
        field(out, "user", self.user);
        if let Some(groups) = self.groups {
            field(out, "groups", groups);
        }
        out.extend_from_slice(b",\"latency_ms\":");
        let _ = serde_json::to_writer(&mut *out, &self.latency_ms);
        out.extend_from_slice(b",\"target\":");
        string(out, TARGET);
        out.extend_from_slice(b"}\n");
    }
}

/// `,"key":"value"` with the value escaped as `serde_json` escapes it.
fn field(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(b',');
    string(out, key);
    out.push(b':');
    string(out, value);
}

fn string(out: &mut Vec<u8>, value: &str) {
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
#[path = "decision_line_tests.rs"]
mod tests;
