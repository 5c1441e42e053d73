//! Keeping a session's tokens fresh on the request path: refresh before expiry, end the
//! session when the IdP refuses, ride out an IdP outage for a bounded grace. The rules
//! are in [`super::refresh_policy`], the single flight in [`super::refresh`]; this is
//! where they meet a request (logs, metrics, the session to write back).

use super::App;
use super::refresh::REFRESH_WAIT;
use super::refresh_policy::{Due, OutageVerdict, RefreshFailure, due, outage_verdict};
use super::request::SessionData;
use super::state::RouteRuntime;
use crate::outpost::session::Session;
use crate::reason::Reason;

/// A session that can no longer be served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The reason code (`refresh_refused`, `refresh_grace_expired`, `session_expired`,
    /// or what a new ID token failed on).
    pub reason: Reason,
    /// What the IdP answered or what went wrong, in words (never a token), for the page.
    pub detail: String,
}

impl Ended {
    /// Whether the end needs its own page: the IdP refused, or stayed unreachable past
    /// the grace, so a new sign-in would be refused too or could not happen. Otherwise
    /// (tokens expired without a refresh token, a renewed ID token that does not
    /// verify) the ordinary "sign in" answer is right.
    pub(crate) fn needs_page(&self) -> bool {
        self.reason == Reason::RefreshRefused || self.reason == Reason::RefreshGraceExpired
    }
}

/// What renewing came to when the session may still be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewed {
    /// Nothing to do, or the refresh could not happen yet and the tokens are valid.
    Unchanged,
    /// New tokens: the session must be written back.
    Refreshed,
    /// The tokens expired and the IdP is unreachable: served on the last identity.
    InGrace,
}

/// Refreshes `session` when its tokens are due, at `now`.
pub async fn renew(
    app: &App,
    route: &RouteRuntime,
    session: &mut Session<SessionData>,
    now: u64,
) -> Result<Renewed, Ended> {
    let config = &route.config.session;
    let data = &session.data;
    let when = due(
        data.token_expires_at,
        data.tokens_obtained_at,
        data.refresh_token.is_some(),
        config.refresh_lead_seconds,
        now,
    );
    let (Some(exp), Some(refresh_token)) = (data.token_expires_at, data.refresh_token.clone())
    else {
        return match when {
            Due::Expired => Err(Ended {
                reason: Reason::SessionExpired,
                detail: "the session's tokens expired and there is no refresh token to renew them"
                    .into(),
            }),
            _ => Ok(Renewed::Unchanged),
        };
    };
    if when == Due::No {
        return Ok(Renewed::Unchanged);
    }
    let grace = config.refresh_grace_seconds;
    // Without the result this request cannot be served: wait for the IdP's answer.
    let wait =
        (outage_verdict(exp, grace, now) != OutageVerdict::GraceOver).then_some(REFRESH_WAIT);
    let user = data.identity.username.clone();
    match app
        .refreshes
        .refresh(route, data, now, wait, &app.metrics)
        .await
    {
        Ok(fresh) => {
            session.data = fresh;
            Ok(Renewed::Refreshed)
        }
        Err(RefreshFailure::Refused { error, description }) => Err(Ended {
            reason: Reason::RefreshRefused,
            detail: match description {
                Some(d) => format!("the identity provider answered {error}: {d}"),
                None => format!("the identity provider answered {error}"),
            },
        }),
        Err(RefreshFailure::Ended(code)) => Err(Ended {
            reason: code,
            detail: format!("the renewed sign-in could not be accepted ({code})"),
        }),
        Err(RefreshFailure::Unreachable { detail }) => {
            let verdict = outage_verdict(exp, grace, now);
            let left = exp.saturating_add(grace).saturating_sub(now);
            if app.refreshes.should_warn(route, &refresh_token, now) {
                tracing::warn!(
                    route = %route.config.id,
                    user = %user,
                    reason = %Reason::IdpUnreachableGrace,
                    detail = %detail,
                    tokens_expired = now >= exp,
                    grace_left_seconds = left,
                    "the identity provider cannot be reached to renew the session; serving it on its last identity until the IdP answers or the grace ends (logged at most once a minute per session)"
                );
            }
            match verdict {
                OutageVerdict::StillValid => Ok(Renewed::Unchanged),
                OutageVerdict::InGrace => {
                    app.metrics.served_in_refresh_grace(&route.config.id);
                    Ok(Renewed::InGrace)
                }
                OutageVerdict::GraceOver => Err(Ended {
                    reason: Reason::RefreshGraceExpired,
                    detail: format!(
                        "the identity provider could not be reached for longer than the {grace}s grace ({detail})"
                    ),
                }),
            }
        }
    }
}
