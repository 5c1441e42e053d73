//! Session cookie names, attributes, chunking and reading.
//!
//! Browsers drop a cookie whose `Set-Cookie` exceeds 4096 bytes, silently, which shows up
//! as a login loop. Large values are therefore split into `name_0`, `name_1`, ... each of
//! which fits with its attributes, and reassembled on read.

use super::session_error::SessionError;

/// Longest `Set-Cookie` value (name, value and attributes) emitted, exclusive.
pub(crate) const MAX_SET_COOKIE_LEN: usize = 4096;
/// Most chunks one cookie may be split into; also bounds the work of reading.
pub(crate) const MAX_CHUNKS: usize = 12;

/// How one route's cookie is named and scoped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSpec {
    name: String,
    domain: Option<String>,
    secure: bool,
    /// `Path`: `/` for the session, narrower for a cookie only one endpoint reads.
    path: &'static str,
}

/// The cookies of one name found in a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoundCookie {
    /// Candidate values, best first: every unsplit occurrence (a browser sends two when
    /// a host-only and a domain cookie share the name), then the reassembled chunks.
    pub candidates: Vec<String>,
    /// Names of the base cookie and chunks that were present (what a clear must expire).
    pub present: Vec<String>,
    /// The cookie came more than once with different values (set for two domains or
    /// paths, or tossed from a sibling domain): which one is meant cannot be known.
    pub duplicated: bool,
}

impl CookieSpec {
    /// Builds the spec for a configured base name. On https the name gets `__Host-`
    /// (no domain: host-only, `Path=/`, `Secure`) or `__Secure-` (with a domain); on
    /// plain http (development) it stays as configured and `Secure` is left off, because
    /// a browser will not store a `Secure` cookie from an http origin.
    pub fn new(base_name: &str, domain: Option<&str>, https: bool) -> Result<Self, SessionError> {
        let bare = base_name
            .strip_prefix("__Host-")
            .or_else(|| base_name.strip_prefix("__Secure-"))
            .unwrap_or(base_name);
        if !is_token(bare) {
            return Err(SessionError::CookieConfig);
        }
        let domain = match domain.map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase()) {
            Some(d)
                if d.is_empty()
                    || !d
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') =>
            {
                return Err(SessionError::CookieConfig);
            }
            other => other,
        };
        let name = match (https, &domain) {
            (true, None) => format!("__Host-{bare}"),
            (true, Some(_)) => format!("__Secure-{bare}"),
            (false, _) => bare.to_string(),
        };
        Ok(Self {
            name,
            domain,
            secure: https,
            path: "/",
        })
    }

    /// A host-only cookie named `<this name><suffix>` with the same `Secure` setting
    /// (used for per-login state cookies, which only the callback host needs).
    pub fn derived(&self, suffix: &str) -> Result<Self, SessionError> {
        if !is_token(suffix) {
            return Err(SessionError::Invalid);
        }
        let name = format!("{}{suffix}", self.name);
        // `__Secure-` only needs Secure; a host-only cookie satisfies `__Host-` as well.
        Ok(Self {
            name,
            domain: None,
            secure: self.secure,
            path: "/",
        })
    }

    /// A cookie named `<this name><suffix>` with this one's `Domain` and `Secure`, sent
    /// only to `path` (an absolute path): for data one endpoint needs and the auth
    /// subrequest must never carry. `__Host-` demands `Path=/`, so a narrower path
    /// takes `__Secure-` instead (same `Secure` guarantee, still host-only without a
    /// `Domain`).
    pub(crate) fn companion(&self, suffix: &str, path: &'static str) -> Result<Self, SessionError> {
        if !is_token(suffix) || !path.starts_with('/') || path.contains(';') {
            return Err(SessionError::Invalid);
        }
        let name = match self.name.strip_prefix("__Host-") {
            Some(bare) if path != "/" => format!("__Secure-{bare}{suffix}"),
            _ => format!("{}{suffix}", self.name),
        };
        Ok(Self {
            name,
            domain: self.domain.clone(),
            secure: self.secure,
            path,
        })
    }

    /// The full cookie name, prefix included.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the cookie carries `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The `Domain`, when set.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    fn attributes(&self, max_age: u64) -> String {
        self.attributes_for(self.domain.as_deref(), max_age)
    }

    fn attributes_for(&self, domain: Option<&str>, max_age: u64) -> String {
        let mut a = format!("; Path={}", self.path);
        if let Some(d) = domain {
            a.push_str("; Domain=");
            a.push_str(d);
        }
        a.push_str(&format!("; Max-Age={max_age}"));
        if max_age == 0 {
            a.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        if self.secure {
            a.push_str("; Secure");
        }
        a.push_str("; HttpOnly; SameSite=Lax");
        a
    }

    /// `Set-Cookie` values storing `value` (cookie-safe characters only, e.g. base64url)
    /// for `max_age` seconds, split into chunks when needed, plus expiries for every
    /// previously `present` cookie of this name the new set does not overwrite.
    pub(crate) fn set_cookies(
        &self,
        value: &str,
        max_age: u64,
        present: &[String],
    ) -> Result<Vec<String>, SessionError> {
        let attrs = self.attributes(max_age);
        let single = format!("{}={value}{attrs}", self.name);
        let mut out = Vec::new();
        let written: Vec<String> = if single.len() < MAX_SET_COOKIE_LEN {
            out.push(single);
            vec![self.name.clone()]
        } else {
            let mut names = Vec::new();
            let mut rest = value;
            while !rest.is_empty() {
                let name = format!("{}_{}", self.name, names.len());
                let room = MAX_SET_COOKIE_LEN - 1 - (name.len() + 1 + attrs.len());
                let take = floor_char_boundary(rest, room.min(rest.len()));
                if names.len() >= MAX_CHUNKS || take == 0 {
                    return Err(SessionError::TooLarge);
                }
                out.push(format!("{name}={}{attrs}", &rest[..take]));
                rest = &rest[take..];
                names.push(name);
            }
            names
        };
        for stale in present.iter().filter(|p| !written.contains(p)) {
            out.push(self.expire(stale));
        }
        Ok(out)
    }

    /// Expiries for the base name and every cookie of this name that was present.
    pub(crate) fn clear_cookies(&self, present: &[String]) -> Vec<String> {
        let mut names = vec![self.name.clone()];
        names.extend(present.iter().filter(|p| **p != self.name).cloned());
        names.iter().map(|n| self.expire(n)).collect()
    }

    /// Expiries for every copy of this cookie and its `present` chunks that the outpost
    /// can name from `host` (`host[:port]`): host-only and on the host and each parent
    /// domain, where a copy set for a wider domain or tossed from a sibling host lives.
    /// `__Host-` cookies exist host-only by the browser's rule.
    pub(crate) fn expire_everywhere(&self, host: &str, present: &[String]) -> Vec<String> {
        let mut names = vec![self.name.as_str()];
        names.extend(
            present
                .iter()
                .map(String::as_str)
                .filter(|p| *p != self.name),
        );
        let host = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        let mut domains = vec![None];
        let is_name = host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[');
        if is_name && !self.name.starts_with("__Host-") {
            let labels: Vec<&str> = host.split('.').collect();
            domains
                .extend((0..labels.len().saturating_sub(1)).map(|i| Some(labels[i..].join("."))));
        }
        let mut out = Vec::new();
        for name in names {
            for d in &domains {
                out.push(format!("{name}={}", self.attributes_for(d.as_deref(), 0)));
            }
        }
        out
    }

    fn expire(&self, name: &str) -> String {
        format!("{name}={}", self.attributes(0))
    }

    /// Finds this cookie in `Cookie` header values (a request may carry several).
    pub fn find(&self, cookie_headers: &[&str]) -> FoundCookie {
        let mut found = FoundCookie::default();
        let mut chunks: Vec<Option<&str>> = vec![None; MAX_CHUNKS];
        for pair in cookie_headers.iter().flat_map(|h| h.split(';')) {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim().trim_matches('"'));
            if name == self.name {
                if !found.candidates.iter().any(|c| c == value) {
                    found.candidates.push(value.to_string());
                }
            } else if let Some(index) = self.chunk_index(name) {
                match chunks[index] {
                    None => chunks[index] = Some(value),
                    Some(seen) => found.duplicated |= seen != value,
                }
            } else {
                continue;
            }
            if !found.present.iter().any(|p| p == name) {
                found.present.push(name.to_string());
            }
        }
        let joined: String = chunks.iter().map_while(|c| *c).collect();
        if !joined.is_empty() {
            found.candidates.push(joined);
        }
        found.duplicated |= found.candidates.len() > 1;
        found
    }

    fn chunk_index(&self, name: &str) -> Option<usize> {
        let digits = name.strip_prefix(self.name.as_str())?.strip_prefix('_')?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return None;
        }
        digits.parse().ok().filter(|i| *i < MAX_CHUNKS)
    }
}

/// RFC 6265 cookie-name token: visible ASCII without separators.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
#[path = "cookie_tests.rs"]
mod tests;
