//! Pages for a session cookie the browser mishandles, shown at `/oauth2/start` instead
//! of another round trip to the IdP (which could not help and would loop).

use super::decision::Decided;
use super::handlers::page;
use super::request::RequestId;
use super::state::RouteRuntime;
use crate::reason::Reason;
use axum::http::{HeaderValue, StatusCode, header};

/// When the session cookie came twice with different values: the page naming the
/// cookie and how to clear it, with expiries for every copy the outpost can name, and a
/// log line saying the same. `Ok` when the cookie is not duplicated.
#[expect(
    clippy::result_large_err,
    reason = "an early answer is the whole response, moved once to the layer; boxing it would allocate"
)]
pub(crate) fn duplicated_session(
    id: &RequestId,
    route: &RouteRuntime,
    host: &str,
    cookies: &[&str],
) -> Result<(), Decided> {
    let spec = route.sessions.cookie();
    let found = spec.find(cookies);
    if !found.duplicated {
        return Ok(());
    }
    let scope = spec
        .domain()
        .map_or_else(|| "this host only".to_string(), |d| format!("Domain={d}"));
    let detail = format!(
        "the session cookie {name} (configured for {scope}, Path=/) came more than once with different values ({present}); a copy set for another domain or path, or by a sibling host, shadows the one this site sets",
        name = spec.name(),
        present = found.present.join(", "),
    );
    tracing::warn!(
        request_id = %id,
        route = %route.config.id,
        reason = %Reason::SessionCookieDuplicated,
        cookie = spec.name(),
        detail = %detail,
        "session cookie sent twice; showing how to clear it instead of starting a login"
    );
    let mut r = page(
        StatusCode::BAD_REQUEST,
        Reason::SessionCookieDuplicated,
        &detail,
        "",
        id,
        Some(route),
    );
    for expiry in spec.expire_everywhere(host, &found.present) {
        if let Ok(v) = HeaderValue::from_str(&expiry) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Err(Decided::error(route, Reason::SessionCookieDuplicated, r))
}
