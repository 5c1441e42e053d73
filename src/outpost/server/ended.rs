//! Answers for a session that just ended because of its IdP (a refused refresh, an
//! outage past the grace): the status, and the headers that clear the cookie. The page
//! itself is the usual one ([`super::handlers::page`]) naming the reason; it is shown by
//! the auth endpoints of proxies that show our response, and by `/oauth2/start`, where
//! nginx sends the browser after our 401.

use super::request::header_value;
use crate::reason::Reason;
use axum::http::{StatusCode, header};
use axum::response::Response;

/// The page's status: 503 while the IdP is unreachable (with `Retry-After`), else 401.
/// nginx's `auth_request` understands only 401, so it always gets [`PLAIN_STATUS`].
pub(crate) fn status_for(reason: Reason) -> StatusCode {
    if reason == Reason::RefreshGraceExpired {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        PLAIN_STATUS
    }
}

/// The status of the short answer for nginx and API clients.
pub(crate) const PLAIN_STATUS: StatusCode = StatusCode::UNAUTHORIZED;

/// The body of the short answer.
pub(crate) const PLAIN_BODY: &str = "the session ended; sign in again\n";

/// Seconds a browser is asked to wait while the IdP is unreachable.
const RETRY_AFTER_SECONDS: &str = "30";

/// Adds the `Set-Cookie`s that clear the session, and `Retry-After` on a 503.
pub fn finish(mut r: Response, clear_cookies: &[String]) -> Response {
    for c in clear_cookies {
        r.headers_mut().append(header::SET_COOKIE, header_value(c));
    }
    if r.status() == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header_value(RETRY_AFTER_SECONDS));
    }
    r
}
