//! Redirect-target safety for `rd` (after login) and post-logout targets.
//!
//! The target is parsed exactly as a browser parses a `Location` (WHATWG, via the `url`
//! crate, relative to the route's external URL), so backslashes, tabs and newlines,
//! `https:host` and `//host` mean here what they mean to the browser. Only then is the
//! result compared with the allow-list, and the *re-serialised* absolute URL is what the
//! caller redirects to: the browser never sees the raw input.

use thiserror::Error;
use url::{Host, Url};

/// Longest `rd` accepted; longer values are refused rather than parsed.
pub const MAX_REDIRECT_LEN: usize = 4096;

/// Why a redirect target was refused. Carries no part of the target, so it may be logged.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RedirectError {
    /// Longer than [`MAX_REDIRECT_LEN`].
    #[error("redirect target too long")]
    TooLong,
    /// Not a URL a browser would follow.
    #[error("redirect target does not parse")]
    Unparseable,
    /// Neither http nor https (`javascript:`, `data:`, ...).
    #[error("redirect target scheme not allowed")]
    Scheme,
    /// https base, http target.
    #[error("redirect target downgrades https to http")]
    Downgrade,
    /// Contains `user:password@`.
    #[error("redirect target carries userinfo")]
    Userinfo,
    /// Host or port not on the allow-list.
    #[error("redirect target host not allowed")]
    HostNotAllowed,
}

impl RedirectError {
    /// A short label for logs and metrics.
    pub(crate) fn metric_label(self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Unparseable => "unparseable",
            Self::Scheme => "scheme",
            Self::Downgrade => "downgrade",
            Self::Userinfo => "userinfo",
            Self::HostNotAllowed => "host_not_allowed",
        }
    }
}

/// The validated target, or the root of `base` when the target is refused or empty.
/// Use [`check_redirect`] to learn why a target was refused.
pub fn safe_redirect(rd: &str, base: &Url, allowed_hosts: &[String]) -> Url {
    check_redirect(rd, base, allowed_hosts).unwrap_or_else(|_| base_root(base))
}

/// The root (`/`) of the base URL: the fallback target.
pub(crate) fn base_root(base: &Url) -> Url {
    let mut root = base.clone();
    root.set_path("/");
    root.set_query(None);
    root.set_fragment(None);
    root
}

/// Validates a redirect target.
///
/// The base URL's own origin is always allowed. `allowed_hosts` entries are lower-case
/// hosts with an optional `:port` (no port: the scheme's default port only); an entry
/// starting with `.` (`.example.com`) allows that domain and every sub-domain, on a
/// label boundary. The scheme must be http or https, and https when the base is https.
/// An empty target means the base root.
pub fn check_redirect(
    rd: &str,
    base: &Url,
    allowed_hosts: &[String],
) -> Result<Url, RedirectError> {
    if rd.len() > MAX_REDIRECT_LEN {
        return Err(RedirectError::TooLong);
    }
    if rd.trim().is_empty() {
        return Ok(base_root(base));
    }
    let target = base.join(rd).map_err(|_| RedirectError::Unparseable)?;
    if !matches!(target.scheme(), "http" | "https") {
        return Err(RedirectError::Scheme);
    }
    if base.scheme() == "https" && target.scheme() != "https" {
        return Err(RedirectError::Downgrade);
    }
    if !target.username().is_empty() || target.password().is_some() {
        return Err(RedirectError::Userinfo);
    }
    let host = match target.host() {
        Some(Host::Domain(d)) => d.to_string(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => format!("[{ip}]"),
        None => return Err(RedirectError::Unparseable),
    };
    let same_origin = target.scheme() == base.scheme()
        && target.host() == base.host()
        && target.port_or_known_default() == base.port_or_known_default();
    // `port()` is None exactly when the port is the scheme's default one.
    if same_origin
        || allowed_hosts
            .iter()
            .any(|e| entry_allows(e, &host, target.port()))
    {
        Ok(target)
    } else {
        Err(RedirectError::HostNotAllowed)
    }
}

/// Whether one allow-list entry admits `host` (as the url crate serialises it: lower-case,
/// punycode, IPv6 in brackets) with an explicit non-default `port`.
fn entry_allows(entry: &str, host: &str, port: Option<u16>) -> bool {
    let Some((entry_host, entry_port)) = split_entry(entry) else {
        return false;
    };
    if entry_port != port {
        return false;
    }
    match entry_host.strip_prefix('.') {
        Some(domain) if !domain.is_empty() => {
            host == domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
        }
        Some(_) => false,
        None => host == entry_host,
    }
}

/// Splits `host[:port]` and normalises the host the way the url crate does (lower case,
/// IDN to punycode), so `bücher.example` in the allow-list matches what browsers send.
/// Invalid entries allow nothing.
fn split_entry(entry: &str) -> Option<(String, Option<u16>)> {
    let entry = entry.trim();
    let (host, port) = if entry.starts_with('[') {
        let end = entry.find(']')?;
        let rest = &entry[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if rest.is_empty() => None,
            None => return None,
        };
        (&entry[..=end], port)
    } else {
        match entry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (entry, None),
        }
    };
    let (dot, bare) = match host.strip_prefix('.') {
        Some(rest) => (".", rest),
        None => ("", host),
    };
    let normalised = match Host::parse(bare).ok()? {
        Host::Domain(d) => d,
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => format!("[{ip}]"),
    };
    Some((format!("{dot}{normalised}"), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://auth.example.com/oauth2/start").unwrap()
    }

    fn allowed() -> Vec<String> {
        vec![
            "app.example.com".into(),
            "allowed.com".into(),
            ".corp.example".into(),
            "ports.example.com:8443".into(),
            "xn--bcher-kva.example".into(),
            "[::1]:9000".into(),
        ]
    }

    const ROOT: &str = "https://auth.example.com/";

    #[test]
    fn hostile_targets_fall_back_to_the_base_root() {
        let cases = [
            "/\\evil.com",
            "\\\\evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "//evil.com",
            "///evil.com",
            "////evil.com/x",
            "https://allowed.com@evil.com",
            "https://allowed.com:pw@evil.com/",
            "https://user@allowed.com/",
            "https://evil.com#@allowed.com",
            "https://evil.com?@allowed.com",
            "https://evilexample.com",
            "https://app.example.com.evil.com",
            "https://allowed.com.evil.com/",
            "https://evilallowed.com/",
            "https://xcorp.example/",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "file:///etc/passwd",
            "ftp://allowed.com/",
            "https://allowed.com:8443/",
            "https://ports.example.com/",
            "https://ports.example.com:9443/",
            "http://allowed.com/",
            "http://auth.example.com/",
            "https://auth.example.com:8443/",
            "https://127.0.0.1/",
            "https://[::1]:9001/",
            "https://%65vil.com/",
            "http:evil.com",
            "https:\\\\evil.com",
            "https:/\\evil.com",
            "https://evil.com\\.allowed.com",
            "https://0x7f000001/",
        ];
        for rd in cases {
            assert_eq!(
                safe_redirect(rd, &base(), &allowed()).as_str(),
                ROOT,
                "rd = {rd:?}"
            );
            assert!(
                check_redirect(rd, &base(), &allowed()).is_err(),
                "rd = {rd:?}"
            );
        }
    }

    #[test]
    fn allowed_targets_are_reserialised_absolute() {
        let cases = [
            ("", ROOT),
            ("/", ROOT),
            (
                "/dash?tab=1&x=%20y",
                "https://auth.example.com/dash?tab=1&x=%20y",
            ),
            (
                "dash/x?q=1#frag",
                "https://auth.example.com/oauth2/dash/x?q=1#frag",
            ),
            (
                "https://app.example.com/a?b=c",
                "https://app.example.com/a?b=c",
            ),
            ("https://APP.Example.COM/A", "https://app.example.com/A"),
            ("https://app.example.com:443/", "https://app.example.com/"),
            ("https://allowed.com", "https://allowed.com/"),
            ("https://corp.example/", "https://corp.example/"),
            ("https://a.corp.example/", "https://a.corp.example/"),
            ("https://a.b.corp.example/x", "https://a.b.corp.example/x"),
            (
                "https://ports.example.com:8443/p",
                "https://ports.example.com:8443/p",
            ),
            ("https://bücher.example/", "https://xn--bcher-kva.example/"),
            ("https://[::1]:9000/", "https://[::1]:9000/"),
            // `https:evil.com` against an https base is a relative path in WHATWG.
            ("https:evil.com", "https://auth.example.com/oauth2/evil.com"),
            ("/%2e%2e/%2e%2e/x", "https://auth.example.com/x"),
            ("/public/../admin", "https://auth.example.com/admin"),
            (
                "%2F%2Fevil.com",
                "https://auth.example.com/oauth2/%2F%2Fevil.com",
            ),
            ("/%2F%2Fevil.com", "https://auth.example.com/%2F%2Fevil.com"),
            // A browser reads the backslash as a path separator: the host is allowed.com.
            (
                "https://allowed.com\\@evil.com",
                "https://allowed.com/@evil.com",
            ),
            (
                "?only=query",
                "https://auth.example.com/oauth2/start?only=query",
            ),
        ];
        for (rd, want) in cases {
            assert_eq!(
                safe_redirect(rd, &base(), &allowed()).as_str(),
                want,
                "rd = {rd:?}"
            );
        }
    }

    #[test]
    fn http_base_allows_upgrade_but_not_other_hosts() {
        let base = Url::parse("http://localhost:8080/").unwrap();
        let allowed = vec!["app.test:3000".to_string()];
        assert_eq!(
            safe_redirect("https://app.test:3000/x", &base, &allowed).as_str(),
            "https://app.test:3000/x"
        );
        assert_eq!(
            safe_redirect("http://app.test:3000/x", &base, &allowed).as_str(),
            "http://app.test:3000/x"
        );
        // With an http base, `https:evil.com` is an absolute URL to evil.com.
        assert_eq!(
            check_redirect("https:evil.com", &base, &allowed),
            Err(RedirectError::HostNotAllowed)
        );
        assert_eq!(
            safe_redirect("http://localhost:8081/", &base, &allowed).as_str(),
            "http://localhost:8080/"
        );
    }

    #[test]
    fn refusals_name_their_reason() {
        let b = base();
        let a = allowed();
        assert_eq!(
            check_redirect("javascript:x", &b, &a),
            Err(RedirectError::Scheme)
        );
        assert_eq!(
            check_redirect("http://allowed.com/", &b, &a),
            Err(RedirectError::Downgrade)
        );
        assert_eq!(
            check_redirect("https://u@allowed.com/", &b, &a),
            Err(RedirectError::Userinfo)
        );
        assert_eq!(
            check_redirect("//evil.com", &b, &a),
            Err(RedirectError::HostNotAllowed)
        );
        assert_eq!(
            check_redirect("https://[::1", &b, &a),
            Err(RedirectError::Unparseable)
        );
        let long = format!("/{}", "a".repeat(MAX_REDIRECT_LEN));
        assert_eq!(check_redirect(&long, &b, &a), Err(RedirectError::TooLong));
        assert_eq!(RedirectError::Downgrade.metric_label(), "downgrade");
    }

    #[test]
    fn malformed_or_bare_dot_entries_allow_nothing() {
        let b = base();
        for entry in [".", "", "evil.com:notaport", "[::1", "[::1]x"] {
            let a = vec![entry.to_string()];
            assert!(
                check_redirect("https://evil.com/", &b, &a).is_err(),
                "entry {entry:?}"
            );
            assert!(
                check_redirect("https://com/", &b, &a).is_err(),
                "entry {entry:?}"
            );
        }
    }

    #[test]
    fn unicode_and_uppercase_entries_are_normalised() {
        let a = vec!["Bücher.Example".to_string()];
        assert_eq!(
            safe_redirect("https://xn--bcher-kva.example/", &base(), &a).as_str(),
            "https://xn--bcher-kva.example/"
        );
    }
}
