//! The one reading of a request path, whatever header brought it (`X-Original-URL`,
//! `X-Forwarded-Uri`, `X-Original-URI`, Envoy's appended path).
//!
//! The outpost decides on a path, the proxy routes on its own reading, and the upstream
//! acts on a third: nginx merges `//` before resolving `..`, WHATWG keeps the empty
//! segment, Tomcat strips `;` parameters, IIS reads `\` as `/`, some servers decode
//! `%2f` or stop at NUL. A path every parser reads the same way is [`PathForm::Plain`];
//! one they could read differently is [`PathForm::Ambiguous`] and never public (it still
//! picks a route, by the RFC 3986 reading nginx uses, and needs a login there).

use std::fmt;

/// Why parsers could read a path two ways (for logs; lower snake case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ambiguity {
    /// `//` inside the path (merged by nginx, kept by WHATWG and most upstreams).
    EmptySegment,
    /// A `.` or `..` segment, resolved before or after the proxy depending on the parser.
    DotSegment,
    /// A percent-encoded unreserved character (`%2e`, `%70`): decoded by some parsers only.
    EncodedUnreserved,
    /// `%2f` or `%5c`: a separator to some upstreams, a character to others.
    EncodedSeparator,
    /// A raw `\`: a separator to WHATWG and Windows servers.
    Backslash,
    /// `;` or `%3b`: path parameters, stripped by Servlet containers.
    PathParameter,
    /// `%25`: decoded twice by some stacks.
    DoubleEncoding,
    /// An encoded control byte (`%00`): truncates the path in C-based servers.
    EncodedControl,
    /// Encoded bytes that are not UTF-8 (overlong `%c0%ae` is a dot to old decoders).
    InvalidUtf8,
}

impl Ambiguity {
    /// The log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmptySegment => "empty_segment",
            Self::DotSegment => "dot_segment",
            Self::EncodedUnreserved => "encoded_unreserved",
            Self::EncodedSeparator => "encoded_separator",
            Self::Backslash => "backslash",
            Self::PathParameter => "path_parameter",
            Self::DoubleEncoding => "double_encoding",
            Self::EncodedControl => "encoded_control",
            Self::InvalidUtf8 => "invalid_utf8",
        }
    }
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a path can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathForm {
    /// Every parser reads it as written: may be public.
    Plain,
    /// Parsers could disagree: never public.
    Ambiguous(Ambiguity),
    /// Not a path at all (no leading `/`, raw controls or spaces, a malformed escape):
    /// never public, routed by its raw text.
    Unreadable,
}

/// A request path as the outpost reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPath {
    /// The path to pick a route with (and to match public paths when [`PathForm::Plain`]).
    pub resolved: String,
    /// Whether it may be public.
    pub form: PathForm,
}

impl RequestPath {
    /// Reads the path of an origin-form URI (query and fragment are ignored).
    pub fn read(uri: &str) -> Self {
        let end = uri.find(['?', '#']).unwrap_or(uri.len());
        let raw = &uri[..end];
        match resolve(raw) {
            Some((resolved, ambiguity)) => Self {
                resolved,
                form: ambiguity.map_or(PathForm::Plain, PathForm::Ambiguous),
            },
            None => Self {
                resolved: raw.to_string(),
                form: PathForm::Unreadable,
            },
        }
    }

    /// The path when public-path rules may look at it: only a plain one.
    pub fn plain(&self) -> Option<&str> {
        (self.form == PathForm::Plain).then_some(self.resolved.as_str())
    }
}

/// The RFC 3986 reading (unreserved escapes decoded, empty segments merged as nginx
/// does, dot-segments removed, never above the root) and the first ambiguity seen;
/// `None` when unreadable.
fn resolve(raw: &str) -> Option<(String, Option<Ambiguity>)> {
    if !raw.starts_with('/') {
        return None;
    }
    let (decoded, mut ambiguity) = decode(raw)?;
    let mut note = |a: Ambiguity| {
        ambiguity.get_or_insert(a);
    };
    let parts: Vec<&str> = decoded[1..].split('/').collect();
    let trailing = decoded.ends_with('/');
    let mut segments: Vec<&str> = Vec::with_capacity(parts.len());
    let mut last_was_dot = false;
    for (i, segment) in parts.iter().copied().enumerate() {
        let last = i + 1 == parts.len();
        last_was_dot = matches!(segment, "." | "..");
        match segment {
            "" if last => {}
            "" => note(Ambiguity::EmptySegment),
            "." => note(Ambiguity::DotSegment),
            ".." => {
                note(Ambiguity::DotSegment);
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || ((trailing || last_was_dot) && !segments.is_empty()) {
        out.push('/');
    }
    Some((out, ambiguity))
}

/// Decodes `%XX` of unreserved characters (noting that it did), upper-cases the hex of
/// the rest, and notes every other ambiguity of single characters; `None` for raw
/// controls, spaces, non-ASCII and malformed escapes.
fn decode(raw: &str) -> Option<(String, Option<Ambiguity>)> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut ambiguity = None;
    let mut encoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let found = match b {
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                let v = u8::from_str_radix(hex, 16).ok()?;
                encoded.push(v);
                i += 3;
                match v {
                    v if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') => {
                        out.push(char::from(v));
                        Some(Ambiguity::EncodedUnreserved)
                    }
                    _ => {
                        out.push('%');
                        out.push_str(&hex.to_ascii_uppercase());
                        match v {
                            b'/' | b'\\' => Some(Ambiguity::EncodedSeparator),
                            b';' => Some(Ambiguity::PathParameter),
                            b'%' => Some(Ambiguity::DoubleEncoding),
                            0..=0x1f | 0x7f => Some(Ambiguity::EncodedControl),
                            _ => None,
                        }
                    }
                }
            }
            0..=0x20 | 0x7f..=0xff => return None,
            _ => {
                i += 1;
                out.push(char::from(b));
                match b {
                    b'\\' => Some(Ambiguity::Backslash),
                    b';' => Some(Ambiguity::PathParameter),
                    _ => None,
                }
            }
        };
        if bytes.get(i) != Some(&b'%') {
            // A run of escapes ended: it must be UTF-8 as a whole.
            if std::str::from_utf8(&encoded).is_err() {
                ambiguity.get_or_insert(Ambiguity::InvalidUtf8);
            }
            encoded.clear();
        }
        if let Some(a) = found {
            ambiguity.get_or_insert(a);
        }
    }
    Some((out, ambiguity))
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
