//! "Never loop": a browser that does not keep the session cookie (its `Domain` does not
//! cover the app, `Secure` over http, blocked, stripped by a proxy, too large) bounces
//! between the app, the outpost and the IdP for ever, because every leg succeeds.
//!
//! A small host-only cookie on the callback host records the targets of the logins
//! completed there in the last seconds. It sticks where the session cookie may not
//! (it is tiny and scoped to exactly the host that sets it), so a second completed
//! login for the same target within [`WINDOW_SECONDS`], arriving without a valid
//! session, means the session cookie did not come back: the callback then ends on a
//! page naming the cookie instead of redirecting into the next round.

use super::decision::Decided;
use super::handlers::page;
use super::request::RequestId;
use super::state::RouteRuntime;
use crate::outpost::cookie::CookieSpec;
use crate::reason::Reason;
use aws_lc_rs::digest;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Two completed logins for one target closer than this, without the session coming
/// back in between, are a loop (an IdP with a live session completes one in ~1 s; a
/// person typing a password again takes longer).
pub const WINDOW_SECONDS: u64 = 15;
/// Targets remembered; bounds the cookie at well under 300 bytes.
const MAX_ENTRIES: usize = 4;

/// What the callback should do.
#[derive(Debug)]
pub enum Completed {
    /// Carry on; this `Set-Cookie` records the login.
    Recorded(String),
    /// The same target completed `seconds_ago` and the session did not come back.
    Loop {
        /// Since the previous completed login.
        seconds_ago: u64,
        /// Expires the record, so a retry after a fix starts clean.
        clear: String,
    },
}

fn spec(route: &RouteRuntime) -> Option<CookieSpec> {
    route.sessions.cookie().derived("_logins").ok()
}

/// Expires the record (sign-out: a new sign-in seconds later is not a loop).
pub fn clear(route: &RouteRuntime) -> Option<String> {
    spec(route).map(|s| s.clear_cookies(&[]).remove(0))
}

/// A short digest of who signed in and for what: the record names no user and no URL.
/// The subject is part of it so that a record copied into another browser (tossed from
/// a sibling host, say) cannot make someone else's first sign-in look like a loop: a
/// loop is the same person completing the same sign-in again.
fn target_key(subject: &str, rd: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(subject.as_bytes());
    ctx.update(b"\n");
    ctx.update(rd.as_bytes());
    let d = ctx.finish();
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..9])
}

/// Records a completed login of `subject` (the IdP's `sub`) for `rd`;
/// `session_came_back` says whether the callback request carried a valid session (then
/// it cannot be a loop: two tabs, say).
pub fn record(
    route: &RouteRuntime,
    cookies: &[&str],
    subject: &str,
    rd: &str,
    now: u64,
    session_came_back: bool,
) -> Option<Completed> {
    let spec = spec(route)?;
    let keys = route.sessions.keys();
    let mut recent: Vec<(String, u64)> = spec
        .find(cookies)
        .candidates
        .first()
        .and_then(|v| keys.open(spec.name(), v).ok())
        .and_then(|plain| serde_json::from_slice(&plain).ok())
        .unwrap_or_default();
    recent.retain(|(_, at)| *at <= now && now - at < WINDOW_SECONDS);
    let key = target_key(subject, rd);
    let previous = recent.iter().find(|(k, _)| *k == key).map(|(_, at)| *at);
    if let (Some(at), false) = (previous, session_came_back) {
        let clear = spec.clear_cookies(&[]).remove(0);
        let seconds_ago = now - at;
        return Some(Completed::Loop { seconds_ago, clear });
    }
    recent.retain(|(k, _)| *k != key);
    recent.push((key, now));
    let skip = recent.len().saturating_sub(MAX_ENTRIES);
    let json = serde_json::to_vec(&recent[skip..]).ok()?;
    let sealed = keys.seal(spec.name(), &json).ok()?;
    let set = spec.set_cookies(&sealed, WINDOW_SECONDS, &[]).ok()?;
    set.into_iter().next().map(Completed::Recorded)
}

/// Whether the browser sends the route's session cookie to the app at `rd`: its Domain
/// covers the app's host, or it is host-only on the app's own host. (Not `Secure` over
/// http either.) When it does not, a session the callback host sees proves nothing.
pub(crate) fn cookie_reaches(route: &RouteRuntime, rd: &str) -> bool {
    let Ok(app) = url::Url::parse(rd) else {
        return true;
    };
    domain_covers(route, &app) && !(route.sessions.cookie().secure() && app.scheme() == "http")
}

/// Whether the session cookie's Domain (or, host-only, the sign-in host) covers the
/// app's host. Cookies ignore ports, so only host names are compared.
fn domain_covers(route: &RouteRuntime, app: &url::Url) -> bool {
    let app_host = app.host_str().unwrap_or_default();
    match route.sessions.cookie().domain() {
        Some(d) => app_host == d || app_host.ends_with(&format!(".{d}")),
        None => app_host == sign_in_host(route),
    }
}

/// The sign-in host without its port.
fn sign_in_host(route: &RouteRuntime) -> String {
    url::Url::parse(&format!("http://{}", route.authority))
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| route.authority.clone())
}

/// The session cookie as it was written, in words, with the causes that fit this
/// route: host-only on another host than the app's, `Secure` for an http app.
fn describe(route: &RouteRuntime, written: &[String], rd: &str, seconds_ago: u64) -> String {
    let spec = route.sessions.cookie();
    let size: usize = written
        .iter()
        .filter(|c| c.starts_with(spec.name()))
        .map(String::len)
        .sum();
    let domain = spec.domain().map_or_else(
        // Cookies ignore ports: host-only means this host name on every port.
        || format!("none (host-only on {})", sign_in_host(route)),
        str::to_string,
    );
    let mut text = format!(
        "you completed a sign-in for this page {seconds_ago}s ago, but the browser did not send back the session cookie. It was set as: name {name}; Domain {domain}; Path=/; Secure {secure}; HttpOnly; SameSite=Lax; {size} bytes of Set-Cookie.",
        name = spec.name(),
        secure = if spec.secure() { "yes" } else { "no" },
    );
    if let Ok(app) = url::Url::parse(rd) {
        let app_host = app.host_str().unwrap_or_default();
        if !domain_covers(route, &app) {
            text.push_str(&format!(
                " The app is at {app_host}, which this cookie's Domain does not cover."
            ));
        }
        if spec.secure() && app.scheme() == "http" {
            text.push_str(
                " The app is served over http, where a browser never sends a Secure cookie.",
            );
        }
    }
    text
}

/// The page that ends the loop, and its log line.
pub(crate) fn loop_page(
    id: &RequestId,
    route: &RouteRuntime,
    written: &[String],
    rd: &str,
    seconds_ago: u64,
) -> Decided {
    let detail = describe(route, written, rd, seconds_ago);
    tracing::warn!(
        request_id = %id,
        route = %route.config.id,
        reason = %Reason::LoginLoop,
        cookie = route.sessions.cookie().name(),
        detail = %detail,
        "login loop: the session cookie did not come back; showing a page instead of another login"
    );
    let r = page(
        StatusCode::BAD_REQUEST,
        Reason::LoginLoop,
        &detail,
        "",
        id,
        Some(route),
    );
    Decided::error(route, Reason::LoginLoop, r)
}
