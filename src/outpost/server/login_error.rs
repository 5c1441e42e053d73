//! Why a sign-in at `/oauth2/callback` ends on a page instead of back at the app: one
//! [`LoginError`] variant per case, each with its status, result, reason, rule and log
//! line. A [`LoginFailure`] (the error with the request it ends) is a [`Decided`] (and
//! so a response), so the callback is a chain of `?`.

use super::decision::Decided;
use super::handlers::page;
use super::request::{RequestId, header_value};
use super::state::RouteRuntime;
use crate::oidc::OidcError;
use crate::reason::{Outcome, Reason};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why there is no usable login state for a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateCause {
    /// No state cookie for this attempt: not stored, or blocked.
    Missing,
    /// The state cookie is older than 10 minutes.
    Expired,
    /// A state cookie of another login is present: an old tab or a repeated callback.
    ForAnotherAttempt,
    /// The callback has no `state` parameter.
    NoStateParameter,
}

impl StateCause {
    /// The label in the log line (`state_cookie`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Expired => "expired",
            Self::ForAnotherAttempt => "for_another_attempt",
            Self::NoStateParameter => "no_state_parameter",
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Self::Expired => "the sign-in took longer than 10 minutes; start again",
            Self::ForAnotherAttempt => {
                "this callback belongs to another sign-in attempt (an older tab, or the back button); start again"
            }
            Self::NoStateParameter => "the identity provider sent no state parameter",
            Self::Missing => {
                "the sign-in state cookie was not sent back; if this repeats, the browser is not storing it (check the cookie domain and that the site is served over https)"
            }
        }
    }
}

/// Why a sign-in failed at the callback.
#[derive(Debug)]
pub enum LoginError {
    /// No usable login state (no route is known yet).
    StateInvalid(StateCause),
    /// The IdP answered with `error` (and `error_description`), already made printable.
    IdpRefused {
        /// `error`.
        error: String,
        /// `error_description`.
        description: String,
    },
    /// The provider's discovery has not been loaded yet.
    ProviderNotReady,
    /// The authorization response's `iss` is not the provider's.
    IssuerRefused(OidcError),
    /// The IdP sent no authorization code.
    MissingCode,
    /// The code could not be exchanged for tokens.
    CodeExchange(OidcError),
    /// The token response has no ID token.
    MissingIdToken,
    /// The ID token was refused.
    IdTokenRefused(OidcError),
    /// The new session could not be saved (the session store did not answer).
    NotSaved {
        /// The reason code.
        reason: Reason,
        /// Who signed in.
        user: String,
    },
    /// The new session does not fit in cookies at all.
    TooLarge {
        /// Who signed in.
        user: String,
    },
}

impl LoginError {
    /// The status, decision result and reason code.
    pub fn answer(&self) -> (StatusCode, Outcome, Reason) {
        match self {
            Self::StateInvalid(_) => (
                StatusCode::BAD_REQUEST,
                Outcome::BadRequest,
                Reason::StateInvalid,
            ),
            Self::IdpRefused { .. } => (StatusCode::FORBIDDEN, Outcome::Denied, Reason::IdpError),
            Self::ProviderNotReady => (
                StatusCode::SERVICE_UNAVAILABLE,
                Outcome::Error,
                Reason::ProviderNotReady,
            ),
            Self::IssuerRefused(e) | Self::IdTokenRefused(e) => {
                (StatusCode::FORBIDDEN, Outcome::Denied, e.reason())
            }
            Self::MissingCode => (
                StatusCode::BAD_REQUEST,
                Outcome::BadRequest,
                Reason::MissingCode,
            ),
            Self::CodeExchange(e) => (StatusCode::BAD_GATEWAY, Outcome::Error, e.reason()),
            Self::MissingIdToken => (
                StatusCode::BAD_GATEWAY,
                Outcome::Error,
                Reason::MissingIdToken,
            ),
            Self::NotSaved { reason, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, Outcome::Error, *reason)
            }
            Self::TooLarge { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Outcome::Error,
                Reason::SessionTooLarge,
            ),
        }
    }

    /// The rule the page shows.
    pub fn rule(&self) -> String {
        match self {
            Self::StateInvalid(cause) => cause.rule().to_string(),
            Self::IdpRefused { error, description } => {
                format!("the identity provider refused the sign-in: {error} {description}")
                    .trim()
                    .to_string()
            }
            Self::ProviderNotReady => "the identity provider has not been reached yet".into(),
            Self::IssuerRefused(e) | Self::CodeExchange(e) | Self::IdTokenRefused(e) => {
                e.to_string()
            }
            Self::MissingCode => "the identity provider sent no authorization code".into(),
            Self::MissingIdToken => {
                "the token response has no id_token; request the openid scope".into()
            }
            Self::NotSaved { .. } => "the session could not be saved: the session store did not answer; sign in again in a moment".into(),
            Self::TooLarge { .. } => {
                "the session does not fit in cookies; keep fewer claims or tokens".into()
            }
        }
    }

    /// Who signed in, when known (for the decision line; the page names nobody).
    fn user(&self) -> &str {
        match self {
            Self::NotSaved { user, .. } | Self::TooLarge { user } => user,
            _ => "",
        }
    }

    /// The line logged besides the decision line, for the cases that have one.
    fn log(&self, request_id: &RequestId, route: Option<&RouteRuntime>) {
        let route = route.map_or("", |r| r.config.id.as_str());
        match self {
            Self::StateInvalid(cause) => tracing::info!(
                request_id = %request_id,
                reason = %Reason::StateInvalid,
                state_cookie = cause.label(),
                "no usable sign-in state for this callback"
            ),
            Self::IdpRefused { error, description } => tracing::warn!(
                request_id = %request_id,
                route = %route,
                reason = %Reason::IdpError,
                error = %error,
                error_description = %description,
                "the identity provider refused the sign-in"
            ),
            Self::CodeExchange(e) => {
                tracing::warn!(request_id = %request_id, route = %route, reason = %e.reason(), error = %e, "code exchange failed");
            }
            Self::IdTokenRefused(e) => {
                tracing::warn!(request_id = %request_id, route = %route, reason = %e.reason(), error = %e, "ID token refused");
            }
            _ => {}
        }
    }

    /// The failure of request `request_id` on `route` (none before the login state
    /// names one), clearing `cookies` (the login's state cookie).
    pub fn of<'a>(
        self,
        request_id: RequestId,
        route: Option<&'a RouteRuntime>,
        cookies: &[String],
    ) -> LoginFailure<'a> {
        LoginFailure {
            error: self,
            request_id,
            route,
            cookies: cookies.to_vec(),
        }
    }
}

/// A [`LoginError`] with the request it ends: its [`Decided`] is the page naming the
/// reason and rule, with the state cookie cleared.
#[derive(Debug)]
pub struct LoginFailure<'a> {
    /// What went wrong.
    pub error: LoginError,
    /// The request's id (shown on the page).
    pub request_id: RequestId,
    /// The route, once the login state named one.
    pub route: Option<&'a RouteRuntime>,
    /// `Set-Cookie` values to send (the cleared state cookie).
    pub cookies: Vec<String>,
}

impl From<LoginFailure<'_>> for Decided {
    fn from(failure: LoginFailure<'_>) -> Self {
        let LoginFailure {
            error,
            request_id,
            route,
            cookies,
        } = failure;
        error.log(&request_id, route);
        let (status, result, reason) = error.answer();
        let mut r = page(status, reason, &error.rule(), "", &request_id, route);
        for c in &cookies {
            r.headers_mut().append(header::SET_COOKIE, header_value(c));
        }
        Decided::new(route, result, reason, r).by(error.user())
    }
}

impl IntoResponse for LoginFailure<'_> {
    fn into_response(self) -> Response {
        Decided::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outpost::server::decision::Decision;

    fn failure(error: LoginError, cookies: &[&str]) -> Response {
        LoginFailure {
            error,
            request_id: RequestId::of(&axum::http::HeaderMap::new()),
            route: None,
            cookies: cookies.iter().map(|c| c.to_string()).collect(),
        }
        .into_response()
    }

    #[test]
    fn each_failure_is_its_page_with_the_state_cookie_cleared_and_a_decision() {
        let cases = [
            (
                LoginError::StateInvalid(StateCause::Expired),
                400,
                Outcome::BadRequest,
                Reason::StateInvalid,
                "",
            ),
            (
                LoginError::IdpRefused {
                    error: "access_denied".into(),
                    description: String::new(),
                },
                403,
                Outcome::Denied,
                Reason::IdpError,
                "",
            ),
            (
                LoginError::ProviderNotReady,
                503,
                Outcome::Error,
                Reason::ProviderNotReady,
                "",
            ),
            (
                LoginError::MissingCode,
                400,
                Outcome::BadRequest,
                Reason::MissingCode,
                "",
            ),
            (
                LoginError::MissingIdToken,
                502,
                Outcome::Error,
                Reason::MissingIdToken,
                "",
            ),
            (
                LoginError::NotSaved {
                    reason: Reason::SessionStoreUnavailable,
                    user: "jane".into(),
                },
                503,
                Outcome::Error,
                Reason::SessionStoreUnavailable,
                "jane",
            ),
            (
                LoginError::TooLarge { user: "joe".into() },
                500,
                Outcome::Error,
                Reason::SessionTooLarge,
                "joe",
            ),
        ];
        for (error, status, result, reason, user) in cases {
            let rule = error.rule();
            let r = failure(error, &["s_csrf_x=; Max-Age=0"]);
            assert_eq!(r.status().as_u16(), status, "{reason}");
            assert_eq!(r.headers()["set-cookie"], "s_csrf_x=; Max-Age=0");
            let d = r.extensions().get::<Decision>().expect("a decision");
            assert_eq!(
                (d.result, d.reason, d.user.as_str()),
                (result, reason, user)
            );
            assert!(!rule.is_empty());
        }
    }

    #[test]
    fn the_idp_refusal_rule_quotes_error_and_description_without_trailing_space() {
        let e = LoginError::IdpRefused {
            error: "access_denied".into(),
            description: String::new(),
        };
        assert_eq!(
            e.rule(),
            "the identity provider refused the sign-in: access_denied"
        );
        assert_eq!(StateCause::ForAnotherAttempt.label(), "for_another_attempt");
    }
}
