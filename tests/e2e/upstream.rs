//! The protected app: echoes each request's method, path and headers (JSON, or a small
//! HTML page for browsers) and records every request it saw.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::Result;

/// One request as the app saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path and query, as received.
    pub uri: String,
    /// Headers in arrival order (lowercase names).
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for (k, v) in &self.headers {
            match headers.get_mut(k) {
                Some(Value::String(prev)) => *prev = format!("{prev}, {v}"),
                _ => {
                    headers.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        json!({ "method": self.method, "uri": self.uri, "headers": headers })
    }
}

/// The running app; the server task stops on drop.
#[derive(Debug)]
pub struct UpstreamApp {
    port: u16,
    seen: Arc<Mutex<Vec<RecordedRequest>>>,
    task: JoinHandle<()>,
}

impl UpstreamApp {
    /// Bind 127.0.0.1 on a free port and serve.
    pub async fn start() -> Result<UpstreamApp> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let seen: Arc<Mutex<Vec<RecordedRequest>>> = Arc::default();
        let record = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let record = record.clone();
            async move { echo(&record, req) }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(UpstreamApp { port, seen, task })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.seen.lock().expect("upstream record lock").clone()
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.seen
            .lock()
            .expect("upstream record lock")
            .last()
            .cloned()
    }

    /// Forget what was seen.
    pub fn clear(&self) {
        self.seen.lock().expect("upstream record lock").clear();
    }
}

impl Drop for UpstreamApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn echo(record: &Mutex<Vec<RecordedRequest>>, req: Request<Body>) -> Response {
    let seen = RecordedRequest {
        method: req.method().to_string(),
        uri: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned()),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let body = seen.to_json();
    record.lock().expect("upstream record lock").push(seen);
    if wants_html {
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let escaped = escape(&serde_json::to_string_pretty(&body).unwrap_or_default());
        // The identity headers first, as a person opening the demo wants to see them.
        let identity: String = req
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-auth-request-"))
            .map(|(k, v)| {
                format!(
                    "<tr><th>{}</th><td>{}</td></tr>",
                    escape(k.as_str()),
                    escape(v.to_str().unwrap_or("?"))
                )
            })
            .collect();
        Html(format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Upstream app</title>\
             <style>body{{font-family:sans-serif;margin:2em}}th{{text-align:left;padding-right:1em}}\
             pre{{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:1em}}</style></head>\
             <body><h1>Upstream app</h1><p>Identity headers from the outpost:</p><table id=\"identity\">{identity}</table>\
             <p>Request as received:</p><pre id=\"echo\">{escaped}</pre></body></html>"
        ))
        .into_response()
    } else {
        axum::Json(body).into_response()
    }
}
