//! Sessions of a user on the admin port (Redis session stores only): `GET
//! /sessions?user=NAME` lists them, `POST /sessions/revoke?user=NAME` ends them all, in
//! every store the served routes use, for every replica sharing those stores. Each
//! revocation is an audit log line. `portcullis sessions list|revoke` calls these.

use super::App;
use super::store::{end_user, list_user};
use crate::reason::Reason;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// `?user=`.
#[derive(Debug, Deserialize)]
pub struct UserQuery {
    /// The user name (as in the `X-Auth-Request-User` header and the decision log).
    #[serde(default)]
    pub user: String,
}

fn bad(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_request", "error_description": message})),
    )
        .into_response()
}

fn no_user(q: &UserQuery) -> Option<Response> {
    q.user
        .trim()
        .is_empty()
        .then(|| bad("query parameter user is required: ?user=<user name>"))
}

fn store_error(e: &super::store::redis_client::RedisError) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": Reason::SessionStoreUnavailable, "error_description": e.to_string()})),
    )
        .into_response()
}

/// `GET /sessions?user=NAME`.
pub async fn list(State(app): State<Arc<App>>, Query(q): Query<UserQuery>) -> Response {
    if let Some(r) = no_user(&q) {
        return r;
    }
    let loaded = app.loaded();
    let Some(route) = loaded.routes.first() else {
        return Json(json!({"user": q.user, "sessions": []})).into_response();
    };
    let mut sessions = Vec::new();
    for store in loaded.redis_stores() {
        match list_user(&store, route.sessions.keys(), &q.user).await {
            Ok(found) => sessions.extend(found),
            Err(e) => return store_error(&e),
        }
    }
    Json(json!({"user": q.user, "sessions": sessions})).into_response()
}

/// `POST /sessions/revoke?user=NAME`.
pub async fn revoke(State(app): State<Arc<App>>, Query(q): Query<UserQuery>) -> Response {
    if let Some(r) = no_user(&q) {
        return r;
    }
    let loaded = app.loaded();
    let stores = loaded.redis_stores();
    if stores.is_empty() {
        return bad(
            "no route keeps sessions in Redis: cookie sessions cannot be ended on the server (set session.store.redis)",
        );
    }
    let longest = loaded
        .routes
        .iter()
        .map(|r| r.sessions.lifetime())
        .max()
        .unwrap_or(1);
    let mut ended = 0;
    for store in stores {
        match end_user(&store, &q.user, longest).await {
            Ok(n) => ended += n,
            Err(e) => return store_error(&e),
        }
    }
    tracing::info!(
        audit = "session_ended",
        user = %q.user,
        sessions = ended,
        by = "admin",
        "sessions of a user ended by an administrator"
    );
    Json(json!({"user": q.user, "ended": ended})).into_response()
}
