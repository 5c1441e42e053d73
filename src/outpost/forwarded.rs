//! Working out the original request behind the proxy's auth subrequest.
//!
//! nginx sends `X-Original-URL` (ingress-nginx) or `X-Original-URI`; Traefik and Caddy
//! send `X-Forwarded-Proto/Host/Uri/Method`; Envoy's ext_authz sends the original
//! `Host` and appends the original path to the auth path. Forwarded headers are believed
//! only from a peer inside the trusted CIDRs; otherwise they are ignored (a client could
//! have written them) and the request's own Host and URI are used, with a flag so the
//! handler can log [`Reason::UntrustedForwardedHeaders`].

use crate::reason::Reason;
use axum::http::{HeaderMap, Method, Uri};
use std::net::IpAddr;
use std::str::FromStr;
use thiserror::Error;

/// Longest original URI accepted.
pub(crate) const MAX_URI_LEN: usize = 8192;

/// Why the original request could not be worked out. Names headers, never their values.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ForwardedError {
    /// A trusted-CIDR entry does not parse.
    #[error("invalid trusted CIDR at index {index}")]
    InvalidCidr {
        /// Position in the configured list.
        index: usize,
    },
    /// A header needed to describe the request is malformed.
    #[error("malformed {header} header")]
    Malformed {
        /// The header's name.
        header: &'static str,
    },
    /// No host could be found at all.
    #[error("request has no host")]
    MissingHost,
}

impl ForwardedError {
    /// The reason code for logs and metrics.
    pub fn reason(&self) -> Reason {
        Reason::MalformedForwardedHeaders
    }
}

/// An IPv4 or IPv6 network, `10.0.0.0/8` or `fd00::/8`; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (a, Some(p.parse::<u8>().map_err(|_| ())?))
            }
            Some(_) => return Err(()),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| ())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(());
        }
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    /// Whether `ip` lies in the network. IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`, as a
    /// dual-stack socket reports them) are compared as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(ip)) => mask_eq(&n.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(ip)) => mask_eq(&n.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

fn mask_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (full, rest) = (usize::from(prefix / 8), prefix % 8);
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[full] & mask == b[full] & mask
    }
}

/// The peers whose forwarded headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Parses the configured CIDRs; an empty list trusts nobody.
    pub fn parse<S: AsRef<str>>(cidrs: &[S]) -> Result<Self, ForwardedError> {
        cidrs
            .iter()
            .enumerate()
            .map(|(index, c)| {
                c.as_ref()
                    .parse()
                    .map_err(|_| ForwardedError::InvalidCidr { index })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `peer` is trusted.
    pub fn contains(&self, peer: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(peer))
    }
}

/// The auth subrequest as the outpost received it.
#[derive(Clone, Copy, Debug)]
pub struct AuthRequest<'a> {
    /// Its method.
    pub method: &'a Method,
    /// Its URI.
    pub uri: &'a Uri,
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// The TCP peer.
    pub peer: IpAddr,
}

/// The request the user made, as far as the outpost may believe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalRequest {
    /// The method.
    pub method: Method,
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case host without trailing dot; `:port` only when not the scheme's default.
    pub host: String,
    /// Path and query, starting with `/`.
    pub uri: String,
}

/// The original request and whether forwarded headers were ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The request to decide on.
    pub request: OriginalRequest,
    /// Forwarded headers were present but the peer is not trusted: log
    /// [`Reason::UntrustedForwardedHeaders`].
    pub forwarded_headers_ignored: bool,
}

const FORWARDED_HEADERS: &[&str] = &[
    "x-original-url",
    "x-original-uri",
    "x-original-method",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-uri",
    "x-forwarded-method",
    "forwarded",
];

/// Works out the original request. `strip_prefix` is the auth path for proxies that
/// append the original path to it (Envoy: `/oauth2/auth/envoy/admin` → `/admin`).
pub fn original_request(
    req: &AuthRequest<'_>,
    trusted: &TrustedProxies,
    strip_prefix: Option<&str>,
) -> Result<Resolved, ForwardedError> {
    let present = FORWARDED_HEADERS
        .iter()
        .any(|h| req.headers.contains_key(*h));
    let is_trusted = trusted.contains(req.peer);
    let own_uri = own_path(req.uri, strip_prefix)?;
    let own_scheme = req.uri.scheme_str().unwrap_or("http");
    let own_host = || -> Result<String, ForwardedError> {
        match header(req.headers, "host")? {
            Some(h) => Ok(h.to_string()),
            None => req
                .uri
                .authority()
                .map(|a| a.to_string())
                .ok_or(ForwardedError::MissingHost),
        }
    };

    if !is_trusted {
        let scheme = own_scheme.to_string();
        let host = normalize_host(&own_host()?, &scheme)
            .ok_or(ForwardedError::Malformed { header: "host" })?;
        let request = OriginalRequest {
            method: req.method.clone(),
            scheme,
            host,
            uri: own_uri,
        };
        return Ok(Resolved {
            request,
            forwarded_headers_ignored: present,
        });
    }

    let method = match last(req.headers, "x-forwarded-method")?
        .or(last(req.headers, "x-original-method")?)
    {
        Some(m) => Method::from_bytes(m.as_bytes()).map_err(|_| ForwardedError::Malformed {
            header: "x-forwarded-method",
        })?,
        None => req.method.clone(),
    };

    if let Some(full) = last(req.headers, "x-original-url")? {
        let bad = ForwardedError::Malformed {
            header: "x-original-url",
        };
        let url = url::Url::parse(full).map_err(|_| bad.clone())?;
        let scheme = url.scheme().to_string();
        if !matches!(scheme.as_str(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(bad);
        }
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().ok_or(bad.clone())?),
            None => url.host_str().ok_or(bad.clone())?.to_string(),
        };
        let host = normalize_host(&authority, &scheme).ok_or(bad.clone())?;
        // The path as sent, not as WHATWG resolves it: `/public//../admin` is
        // `/public/admin` to the URL parser but `/admin` to nginx and the upstream.
        let uri = check_uri(&raw_path_and_query(full).ok_or(bad.clone())?).ok_or(bad)?;
        return Ok(Resolved {
            request: OriginalRequest {
                method,
                scheme,
                host,
                uri,
            },
            forwarded_headers_ignored: false,
        });
    }

    let scheme = match last(req.headers, "x-forwarded-proto")? {
        Some(p) if p.eq_ignore_ascii_case("http") || p.eq_ignore_ascii_case("https") => {
            p.to_ascii_lowercase()
        }
        Some(_) => {
            return Err(ForwardedError::Malformed {
                header: "x-forwarded-proto",
            });
        }
        None => own_scheme.to_string(),
    };
    let (host_header, raw_host) = match last(req.headers, "x-forwarded-host")? {
        Some(h) => ("x-forwarded-host", h.to_string()),
        None => ("host", own_host()?),
    };
    let host = normalize_host(&raw_host, &scheme).ok_or(ForwardedError::Malformed {
        header: host_header,
    })?;
    let uri = match (
        header(req.headers, "x-forwarded-uri")?,
        header(req.headers, "x-original-uri")?,
    ) {
        (Some(u), _) => check_uri(u).ok_or(ForwardedError::Malformed {
            header: "x-forwarded-uri",
        })?,
        (None, Some(u)) => check_uri(u).ok_or(ForwardedError::Malformed {
            header: "x-original-uri",
        })?,
        (None, None) => own_uri,
    };
    Ok(Resolved {
        request: OriginalRequest {
            method,
            scheme,
            host,
            uri,
        },
        forwarded_headers_ignored: false,
    })
}

/// The last line of a header as text (`None` when absent); non-UTF-8 is malformed.
fn header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, ForwardedError> {
    match headers.get_all(name).iter().next_back() {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ForwardedError::Malformed { header: name }),
    }
}

/// The last element of a comma-separated forwarded list: the one our trusted peer added
/// (earlier elements may come from the client or from proxies we know nothing of).
fn last<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, ForwardedError> {
    Ok(header(headers, name)?
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty()))
}

/// The auth request's own path and query, minus `strip_prefix` on a segment boundary.
fn own_path(uri: &Uri, strip_prefix: Option<&str>) -> Result<String, ForwardedError> {
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let pq = match strip_prefix
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
    {
        Some(prefix) => match pq.strip_prefix(prefix) {
            Some("") => "/".to_string(),
            Some(rest) if rest.starts_with('?') => format!("/{rest}"),
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            _ => pq.to_string(),
        },
        None => pq.to_string(),
    };
    check_uri(&pq).ok_or(ForwardedError::Malformed { header: ":path" })
}

/// The path and query of an absolute URL exactly as written (fragment dropped; `/`
/// when only a query follows the authority); `None` when no `/` starts the path.
fn raw_path_and_query(full: &str) -> Option<String> {
    let rest = full.split_once("://")?.1;
    let rest = &rest[..rest.find('#').unwrap_or(rest.len())];
    let start = rest.find(['/', '?', '\\'])?;
    match &rest[start..] {
        q if q.starts_with('?') => Some(format!("/{q}")),
        p if p.starts_with('/') => Some(p.to_string()),
        _ => None,
    }
}

/// An origin-form URI: starts with `/`, visible ASCII only, bounded length.
fn check_uri(uri: &str) -> Option<String> {
    let ok = uri.starts_with('/')
        && uri.len() <= MAX_URI_LEN
        && uri.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| uri.to_string())
}

/// Lower-cases a `host[:port]`, removes a trailing dot and the scheme's default port, and
/// refuses anything that is not a plausible host name or IP literal.
pub(crate) fn normalize_host(raw: &str, scheme: &str) -> Option<String> {
    let raw = raw.trim().to_ascii_lowercase();
    let (host, port) = if raw.starts_with('[') {
        let end = raw.find(']')?;
        let rest = &raw[end + 1..];
        let port = if rest.is_empty() {
            None
        } else {
            Some(rest.strip_prefix(':')?)
        };
        raw[1..end].parse::<std::net::Ipv6Addr>().ok()?;
        (&raw[..=end], port)
    } else {
        match raw.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (raw.as_str(), None),
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let valid_name = |h: &str| {
        !h.is_empty()
            && h.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    if !host.starts_with('[') && !valid_name(host) {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    let default = match scheme {
        "https" => 443,
        _ => 80,
    };
    Some(match port {
        Some(p) if p != default => format!("{host}:{p}"),
        _ => host.to_string(),
    })
}

#[cfg(test)]
#[path = "forwarded_tests.rs"]
mod tests;
