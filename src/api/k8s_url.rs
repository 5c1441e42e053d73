//! The Kubernetes CEL URL library (`k8s.io/apiserver/pkg/cel/library/urls.go`) with the
//! API server's semantics: `isURL` and `url` parse with Go's `net/url.ParseRequestURI`,
//! and the accessors return what Go's `URL` does. The `url` crate (a WHATWG parser) and
//! kube-cel's port built on it disagree with the API server on rules we ship:
//! `http://localhost/cb` has no scheme there (kube-cel reads it as an absolute path),
//! `HTTP://LOCALHOST` has hostname `localhost` (Go keeps `LOCALHOST`), and `https:x` or
//! `https://a:99999` do not parse (Go accepts both). So `render` would refuse what the
//! cluster admits, or the reverse; this port parses as the cluster does.

use kube_cel::cel::extractors::This;
use kube_cel::cel::objects::{Key, Map, Opaque, Value};
use kube_cel::cel::{Context, ExecutionError, ResolveResult};
use std::collections::HashMap;
use std::sync::Arc;

/// A URL as Go's `net/url` parses a request URI: the parts the library reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoUrl {
    /// Lower-cased, as Go stores it; empty for an absolute path.
    pub scheme: String,
    /// `host[:port]` (brackets kept for IPv6), unescaped; empty when there is none.
    pub host: String,
    /// The path as written (Go's `EscapedPath` for a valid encoding).
    pub escaped_path: String,
    /// The text after `?`, undecoded.
    pub raw_query: String,
}

impl Opaque for GoUrl {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.URL"
    }
}

impl GoUrl {
    /// `net/url.ParseRequestURI`: an absolute URI or an absolute path, no fragment
    /// handling (a `#` is part of the path), no control characters.
    pub fn parse_request_uri(raw: &str) -> Result<Self, String> {
        if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err("net/url: invalid control character in URL".into());
        }
        if raw.is_empty() {
            return Err("empty url".into());
        }
        if raw == "*" {
            return Ok(GoUrl {
                scheme: String::new(),
                host: String::new(),
                escaped_path: "*".into(),
                raw_query: String::new(),
            });
        }
        let (scheme, rest) = split_scheme(raw)?;
        let (rest, raw_query) = if rest.ends_with('?') && rest.matches('?').count() == 1 {
            (&rest[..rest.len() - 1], "")
        } else {
            rest.split_once('?').unwrap_or((rest, ""))
        };
        let mut url = GoUrl {
            scheme: scheme.to_ascii_lowercase(),
            host: String::new(),
            escaped_path: String::new(),
            raw_query: raw_query.to_string(),
        };
        if !rest.starts_with('/') {
            if !url.scheme.is_empty() {
                // An opaque URL (`https:app`): Go accepts it, with no host.
                return Ok(url);
            }
            return Err("invalid URI for request".into());
        }
        let mut path = rest;
        if !url.scheme.is_empty()
            && let Some(authority_and_path) = rest.strip_prefix("//")
        {
            let (authority, after) = match authority_and_path.find('/') {
                Some(i) => authority_and_path.split_at(i),
                None => (authority_and_path, ""),
            };
            url.host = parse_authority(authority)?;
            path = after;
        }
        unescape(path, Mode::Path)?;
        url.escaped_path = path.to_string();
        Ok(url)
    }

    /// Go's `URL.Hostname()`: the host without port and without IPv6 brackets.
    pub fn hostname(&self) -> &str {
        let host = self.split_host_port().0;
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// Go's `URL.Port()`: the digits after the last colon, if they form a port.
    pub fn port(&self) -> &str {
        self.split_host_port().1
    }

    fn split_host_port(&self) -> (&str, &str) {
        match self.host.rfind(':') {
            Some(i) if valid_optional_port(&self.host[i..]) => {
                (&self.host[..i], &self.host[i + 1..])
            }
            _ => (&self.host, ""),
        }
    }

    /// Go's `URL.Query()`: pairs split on `&`, a key with `;` or a bad escape skipped.
    pub fn query(&self) -> HashMap<String, Vec<String>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for pair in self.raw_query.split('&').filter(|p| !p.is_empty()) {
            if pair.contains(';') {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let (Ok(key), Ok(value)) = (unescape(key, Mode::Query), unescape(value, Mode::Query))
            {
                out.entry(key).or_default().push(value);
            }
        }
        out
    }
}

/// Go's `getScheme`: letters, then letters, digits, `+`, `-`, `.` up to a `:`.
fn split_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// Go's `parseAuthority`: optional `userinfo@`, then the host.
fn parse_authority(authority: &str) -> Result<String, String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let host = parse_host(host)?;
    if let Some(userinfo) = userinfo {
        let valid = userinfo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b));
        if !valid {
            return Err("net/url: invalid userinfo".into());
        }
        unescape(userinfo, Mode::UserInfo)?;
    }
    Ok(host)
}

/// Go's `parseHost`: an IP literal in brackets with an optional port, or a name whose
/// optional port is all digits; escapes only for non-ASCII bytes.
fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let Some(close) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        if !valid_optional_port(&host[close + 1..]) {
            return Err(format!("invalid port {:?} after host", &host[close + 1..]));
        }
    } else if let Some(colon) = host.rfind(':')
        && !valid_optional_port(&host[colon..])
    {
        return Err(format!("invalid port {:?} after host", &host[colon..]));
    }
    unescape(host, Mode::Host)
}

fn valid_optional_port(port: &str) -> bool {
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    UserInfo,
    Query,
}

/// Go's `unescape`: `%XX` must be two hex digits; in a host only non-ASCII bytes (and
/// `%25`) may be escaped, and characters a host may not hold are refused.
fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(format!(
                        "invalid URL escape {:?}",
                        &s[i..(i + 3).min(s.len())]
                    ));
                };
                if mode == Mode::Host && hi < 8 && &s[i..i + 3] != "%25" {
                    return Err(format!("invalid URL escape {:?}", &s[i..i + 3]));
                }
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if mode == Mode::Query => {
                out.push(b' ');
                i += 1;
            }
            b if mode == Mode::Host && b < 0x80 && !host_may_hold(b) => {
                return Err(format!("invalid character {:?} in host name", b as char));
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `shouldEscape(c, encodeHost)` is false for these: a host may hold them.
fn host_may_hold(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&b)
}

/// Registers the URL library over whatever `ctx` had under the same names.
pub fn register(ctx: &mut Context<'_>) {
    ctx.add_function("isURL", |s: Arc<String>| {
        GoUrl::parse_request_uri(&s).is_ok()
    });
    ctx.add_function("url", |s: Arc<String>| -> ResolveResult {
        let url = GoUrl::parse_request_uri(&s).map_err(|e| {
            ExecutionError::function_error(
                "url",
                format!("URL parse error during conversion from string: {e}"),
            )
        })?;
        Ok(Value::Opaque(Arc::new(url)))
    });
    ctx.add_function("getScheme", |This(v): This<Value>| {
        accessor(&v, |u| u.scheme.clone())
    });
    ctx.add_function("getHost", |This(v): This<Value>| {
        accessor(&v, |u| u.host.clone())
    });
    ctx.add_function("getHostname", |This(v): This<Value>| {
        accessor(&v, |u| u.hostname().to_string())
    });
    ctx.add_function("getPort", |This(v): This<Value>| {
        accessor(&v, |u| u.port().to_string())
    });
    ctx.add_function("getEscapedPath", |This(v): This<Value>| {
        accessor(&v, |u| u.escaped_path.clone())
    });
    ctx.add_function("getQuery", |This(v): This<Value>| -> ResolveResult {
        let url = as_url(&v)?;
        let map = url
            .query()
            .into_iter()
            .map(|(k, vs)| {
                let list = vs.into_iter().map(|v| Value::String(Arc::new(v))).collect();
                (Key::String(Arc::new(k)), Value::List(Arc::new(list)))
            })
            .collect();
        Ok(Value::Map(Map { map: Arc::new(map) }))
    });
}

fn as_url(v: &Value) -> Result<&GoUrl, ExecutionError> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<GoUrl>(),
        _ => None,
    }
    .ok_or_else(|| ExecutionError::function_error("url", "expected a URL (url(string))"))
}

fn accessor(v: &Value, part: impl Fn(&GoUrl) -> String) -> ResolveResult {
    Ok(Value::String(Arc::new(part(as_url(v)?))))
}

#[cfg(test)]
#[path = "k8s_url_tests.rs"]
mod tests;
