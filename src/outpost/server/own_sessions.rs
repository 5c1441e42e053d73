//! `/oauth2/sessions` on a route's host: the signed-in user's own sessions (Redis
//! stores), with forms to end one, all others, or all. A POST must come from this site
//! (`Sec-Fetch-Site`, `Origin`) and carry the form token bound to the poster's session;
//! the session cookie is `SameSite=Lax`, so a cross-site POST carries no session anyway.
//! Each ended session is an audit line (`by` = `user`).

use super::decision::Decided;
use super::extract::HostRoute;
use super::handlers::{page, redirect};
use super::loader::load_session;
use super::request::{RequestId, cookie_headers, now};
use super::state::RouteRuntime;
use super::store::own::{self, Own};
use super::store::{SessionStore, StoredSession};
use crate::outpost::sessions_page::{Row, SessionsPage, render, render_cookie_mode};
use crate::reason::Reason;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

const PATH: &str = "/oauth2/sessions";

fn html(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// The request's session on `route`, or the page asking to sign in first.
async fn signed_in(
    id: &RequestId,
    parts: &Parts,
    route: &RouteRuntime,
) -> Result<StoredSession, Decided> {
    load_session(route, &parts.headers, now())
        .await
        .map_err(|code| {
            let status = if code == Reason::SessionStoreUnavailable {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNAUTHORIZED
            };
            let rule = "sign in first: the sessions page shows the sessions of the signed-in user";
            let r = page(status, code, rule, "", id, Some(route));
            Decided::unauthenticated(route, code, r)
        })
}

fn rows<'a>(sessions: &'a [Own], current: &str) -> Vec<Row<'a>> {
    sessions
        .iter()
        .map(|o| Row {
            handle: &o.handle,
            started: o.session.issued_at,
            last_seen: o.session.last_seen,
            expires: o.session.expires_at,
            device: o.session.data.device.as_deref(),
            client_ip: o.session.data.client_ip.as_deref(),
            current: o.sid == current,
        })
        .collect()
}

/// `GET /oauth2/sessions`.
pub async fn list(id: RequestId, target: HostRoute, req: Request) -> Result<Decided, Decided> {
    let (parts, _) = req.into_parts();
    let route = target.route();
    let stored = signed_in(&id, &parts, route).await?;
    let user = stored.session.data.identity.username.clone();
    let (SessionStore::Redis(redis), Some(sid)) = (&route.store, &stored.id) else {
        let r = html(StatusCode::OK, render_cookie_mode(&user));
        return Ok(Decided::allow(route, Reason::Authenticated, r).by(user));
    };
    let provider = &route.config.provider;
    let sub = &stored.session.data.identity.sub;
    let sessions = (own::list(redis, route.sessions.keys(), provider, sub).await)
        .map_err(|e| unavailable(&id, route, &e.to_string()))?;
    let token = own::form_token(provider, sid);
    let body = render(&SessionsPage {
        user: &user,
        rows: rows(&sessions, sid),
        form_token: &token,
        action: PATH,
    });
    let r = html(StatusCode::OK, body);
    Ok(Decided::allow(route, Reason::Authenticated, r).by(user))
}

/// Whether a POST comes from this site: `Sec-Fetch-Site` (when the browser sends it)
/// is `same-origin` or `none`, and `Origin` (when sent) names the request's host.
pub fn same_site(parts: &Parts, host: &str) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let fetch_ok = header("sec-fetch-site").is_none_or(|v| v == "same-origin" || v == "none");
    let origin_ok = header("origin")
        .is_none_or(|o| url::Url::parse(o).is_ok_and(|u| super::state::authority(&u) == host));
    fetch_ok && origin_ok
}

/// `POST /oauth2/sessions` (form: `token`, `end` = a handle, `others` or `all`).
pub async fn end(id: RequestId, target: HostRoute, req: Request) -> Result<Decided, Decided> {
    let (parts, body) = req.into_parts();
    let (route, host) = (target.route(), target.host.as_str());
    let stored = signed_in(&id, &parts, route).await?;
    let user = stored.session.data.identity.username.clone();
    let refuse = |status: StatusCode, code: Reason, rule: &str| {
        tracing::warn!(request_id = %id, route = %route.config.id, reason = %code, "sessions form refused");
        let r = page(status, code, rule, &user, &id, Some(route));
        Decided::denied(route, code, r).by(user.as_str())
    };
    if !same_site(&parts, host) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            Reason::CrossSiteRequest,
            "sessions can only be ended from this site's own sessions page",
        ));
    }
    let (SessionStore::Redis(redis), Some(sid)) = (&route.store, &stored.id) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            Reason::FormTokenInvalid,
            "this site keeps sessions only in cookies; there are no server sessions to end",
        ));
    };
    let body = to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let field = |name: &str| {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let provider = &route.config.provider;
    if field("token") != own::form_token(provider, sid) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            Reason::FormTokenInvalid,
            "the form was not issued to this session; open the sessions page again",
        ));
    }
    let sub = &stored.session.data.identity.sub;
    let sessions = (own::list(redis, route.sessions.keys(), provider, sub).await)
        .map_err(|e| unavailable(&id, route, &e.to_string()))?;
    let which = field("end");
    let chosen: Vec<&Own> = sessions
        .iter()
        .filter(|o| match which.as_str() {
            "all" => true,
            "others" => o.sid != *sid,
            handle => o.handle == handle,
        })
        .collect();
    let now = now();
    (own::end(redis, &chosen, now).await).map_err(|e| unavailable(&id, route, &e.to_string()))?;
    for o in &chosen {
        tracing::info!(
            audit = "session_ended",
            request_id = %id,
            route = %route.config.id,
            user = %o.session.data.identity.username,
            this_browser = o.sid == *sid,
            by = "user",
            "session ended by its user"
        );
    }
    let r = if chosen.iter().any(|o| o.sid == *sid) {
        let clear = route.sessions.clear(&cookie_headers(&parts.headers));
        redirect(route.base.as_str(), &clear)
    } else {
        redirect(PATH, &[])
    };
    Ok(Decided::signed_out(route, Reason::Authenticated, r).by(user))
}

/// The 503 page when the store did not answer.
fn unavailable(id: &RequestId, route: &RouteRuntime, error: &str) -> Decided {
    let code = Reason::SessionStoreUnavailable;
    tracing::warn!(request_id = %id, route = %route.config.id, reason = %code, error = %error, "session store did not answer");
    let rule = "the session store did not answer; try again in a moment";
    let r = page(
        StatusCode::SERVICE_UNAVAILABLE,
        code,
        rule,
        "",
        id,
        Some(route),
    );
    Decided::error(route, code, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder().method("POST").uri(PATH);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_same_site_posts_pass() {
        let host = "app.example.com";
        for ok in [
            &[][..],
            &[("sec-fetch-site", "same-origin")],
            &[("sec-fetch-site", "none")],
            &[("origin", "https://app.example.com")],
            &[
                ("origin", "https://app.example.com"),
                ("sec-fetch-site", "same-origin"),
            ],
        ] {
            assert!(same_site(&parts(ok), host), "{ok:?}");
        }
        for bad in [
            &[("sec-fetch-site", "cross-site")][..],
            &[("sec-fetch-site", "same-site")],
            &[("origin", "https://evil.example")],
            &[("origin", "https://app.example.com.evil.example")],
            &[("origin", "https://app.example.com:8443")],
            &[("origin", "null")],
            &[
                ("origin", "https://app.example.com"),
                ("sec-fetch-site", "cross-site"),
            ],
        ] {
            assert!(!same_site(&parts(bad), host), "{bad:?}");
        }
    }

    #[test]
    fn handles_and_form_tokens_depend_on_the_session_and_hide_it() {
        let (a, b) = ("A".repeat(43), "B".repeat(43));
        assert_ne!(own::handle("p", &a), own::handle("p", &b));
        assert_ne!(own::form_token("p", &a), own::form_token("p", &b));
        assert_ne!(own::handle("p", &a), own::form_token("p", &a));
        assert!(!own::handle("p", &a).contains(&a[..8]));
    }
}
