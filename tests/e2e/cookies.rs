//! A small cookie jar with the RFC 6265bis rules that matter for login loops: host-only vs
//! Domain cookies, Path, Secure (only over https — strict on purpose, so a `Secure`
//! cookie set over plain http is lost exactly as in a browser that does not special-case
//! loopback), Max-Age/Expires, and the `__Host-`/`__Secure-` prefixes.
//! SameSite is recorded but not enforced: on loopback every origin is the same site.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

/// One stored cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCookie {
    /// Name.
    pub name: String,
    /// Value (never printed by the harness).
    pub value: String,
    /// Domain (the request host for host-only cookies), lowercase.
    pub domain: String,
    /// True when no Domain attribute was given.
    pub host_only: bool,
    /// Path attribute or the default path.
    pub path: String,
    /// Secure attribute.
    pub secure: bool,
    /// HttpOnly attribute.
    pub http_only: bool,
    /// SameSite attribute as given.
    pub same_site: Option<String>,
    /// Expiry; `None` for a session cookie.
    pub expires: Option<SystemTime>,
}

/// The jar.
#[derive(Debug, Default, Clone)]
pub struct CookieJar {
    cookies: Vec<StoredCookie>,
    skew: Duration,
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pretend `by` has passed (for expiry tests).
    pub fn advance(&mut self, by: Duration) {
        self.skew += by;
    }

    fn now(&self) -> SystemTime {
        SystemTime::now() + self.skew
    }

    /// Process one `Set-Cookie` value received from `url`. Returns why it was ignored.
    pub fn store(&mut self, url: &Url, set_cookie: &str) -> Result<(), String> {
        let host = url.host_str().ok_or("no host")?.to_ascii_lowercase();
        let secure_origin = url.scheme() == "https";
        let mut parts = set_cookie.split(';');
        let pair = parts.next().unwrap_or_default();
        let (name, value) = pair.split_once('=').ok_or("no '=' in cookie pair")?;
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        if name.is_empty() {
            return Err("empty cookie name".into());
        }
        let mut cookie = StoredCookie {
            name,
            value,
            domain: host.clone(),
            host_only: true,
            path: default_path(url),
            secure: false,
            http_only: false,
            same_site: None,
            expires: None,
        };
        let mut max_age: Option<i64> = None;
        let mut expires: Option<SystemTime> = None;
        let mut domain_attr: Option<String> = None;
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "domain" if !v.is_empty() => {
                    domain_attr = Some(v.trim_start_matches('.').to_ascii_lowercase());
                }
                "path" if v.starts_with('/') => cookie.path = v.to_owned(),
                "secure" => cookie.secure = true,
                "httponly" => cookie.http_only = true,
                "samesite" => cookie.same_site = Some(v.to_owned()),
                "max-age" => max_age = v.parse().ok().or(max_age),
                "expires" => expires = parse_http_date(v).or(expires),
                _ => {}
            }
        }
        if let Some(domain) = domain_attr {
            if !domain_matches(&host, &domain) {
                return Err(format!("Domain={domain} does not match host {host}"));
            }
            if domain != host
                && url
                    .host()
                    .is_some_and(|h| !matches!(h, url::Host::Domain(_)))
            {
                return Err("Domain attribute on an IP address host".into());
            }
            cookie.domain = domain;
            cookie.host_only = false;
        }
        if cookie.secure && !secure_origin {
            return Err("Secure cookie set over plain http".into());
        }
        if cookie.name.starts_with("__Secure-") && !(cookie.secure && secure_origin) {
            return Err("__Secure- prefix without Secure/https".into());
        }
        if cookie.name.starts_with("__Host-")
            && !(cookie.secure && secure_origin && cookie.host_only && cookie.path == "/")
        {
            return Err("__Host- prefix rules (Secure, https, no Domain, Path=/) not met".into());
        }
        cookie.expires = match max_age {
            Some(secs) if secs <= 0 => Some(UNIX_EPOCH),
            Some(secs) => Some(self.now() + Duration::from_secs(secs.unsigned_abs())),
            None => expires,
        };
        self.cookies.retain(|c| {
            !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
        });
        if cookie.expires.is_none_or(|t| t > self.now()) {
            self.cookies.push(cookie);
        }
        Ok(())
    }

    /// The `Cookie` header value a browser would send to `url`, if any.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let mut matching = self.matching(url);
        // Longer paths first, as RFC 6265 asks; stable otherwise (creation order).
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let header = matching
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ");
        (!header.is_empty()).then_some(header)
    }

    /// Cookies that would be sent to `url`.
    pub fn matching(&self, url: &Url) -> Vec<&StoredCookie> {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return Vec::new();
        };
        let now = self.now();
        self.cookies
            .iter()
            .filter(|c| c.expires.is_none_or(|t| t > now))
            .filter(|c| {
                if c.host_only {
                    c.domain == host
                } else {
                    domain_matches(&host, &c.domain)
                }
            })
            .filter(|c| path_matches(url.path(), &c.path))
            .filter(|c| !c.secure || url.scheme() == "https")
            .collect()
    }

    /// A stored, unexpired cookie by name (first match).
    pub fn get(&self, name: &str) -> Option<&StoredCookie> {
        let now = self.now();
        self.cookies
            .iter()
            .find(|c| c.name == name && c.expires.is_none_or(|t| t > now))
    }

    /// All stored cookies (possibly expired ones included).
    pub fn all(&self) -> &[StoredCookie] {
        &self.cookies
    }

    /// Drop cookies with this name.
    pub fn remove(&mut self, name: &str) {
        self.cookies.retain(|c| c.name != name);
    }

    /// Drop session cookies, as closing a browser does.
    pub fn end_session(&mut self) {
        self.cookies.retain(|c| c.expires.is_some());
    }

    /// Drop everything.
    pub fn clear(&mut self) {
        self.cookies.clear();
    }
}

fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain || (host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.'))
}

fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// Parse an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, also with `-` separators).
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let cleaned: String = s
        .chars()
        .map(|c| if c == '-' || c == ',' { ' ' } else { c })
        .collect();
    let mut day = None;
    let mut month = None;
    let mut year = None;
    let mut hms = None;
    for tok in cleaned.split_whitespace() {
        if let Some((h, rest)) = tok.split_once(':') {
            let (m, sec) = rest.split_once(':')?;
            hms = Some((
                h.parse::<u64>().ok()?,
                m.parse::<u64>().ok()?,
                sec.parse::<u64>().ok()?,
            ));
        } else if let Ok(n) = tok.parse::<i64>() {
            if tok.len() >= 3 {
                year = Some(n);
            } else if day.is_none() {
                day = Some(n);
            } else {
                year = Some(if n < 70 { 2000 + n } else { 1900 + n });
            }
        } else if let Some(i) = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ]
        .iter()
        .position(|m| tok.to_ascii_lowercase().starts_with(m))
        {
            month = Some(i as i64 + 1);
        }
    }
    let (d, m, y, (hh, mm, ss)) = (day?, month?, year?, hms?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::try_from(hh * 3600 + mm * 60 + ss).ok()?;
    if secs < 0 {
        return Some(UNIX_EPOCH);
    }
    Some(UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs()))
}
