//! Watches: newline-delimited JSON events over a chunked response, replay from a
//! resourceVersion out of the bounded history (410 Expired when too old), label and
//! field selectors (objects leaving a selector show as DELETED), periodic BOOKMARKs.

use super::Shared;
use super::handlers::{ListQuery, render};
use super::registry::ResourceInfo;
use super::status::ApiError;
use super::store::StoredEvent;
use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

struct Filter {
    info: ResourceInfo,
    namespace: Option<String>,
    q: ListQuery,
}

impl Filter {
    fn selects(&self, obj: &Value) -> bool {
        let obj = super::events::from_storage(&self.info, obj);
        self.q.labels.matches(&obj) && self.q.fields.matches(&obj)
    }

    /// The event type this watcher sees for a stored event, if any.
    fn event_type(&self, ev: &StoredEvent) -> Option<&'static str> {
        if (ev.key.group.as_str(), ev.key.plural.as_str()) != self.info.store_at() {
            return None;
        }
        if self
            .namespace
            .as_ref()
            .is_some_and(|ns| *ns != ev.key.namespace)
        {
            return None;
        }
        let now = self.selects(&ev.object);
        match ev.etype {
            "MODIFIED" => match (
                ev.old.as_ref().map(|o| self.selects(o)).unwrap_or(false),
                now,
            ) {
                (true, true) => Some("MODIFIED"),
                (true, false) => Some("DELETED"),
                (false, true) => Some("ADDED"),
                (false, false) => None,
            },
            other => now.then_some(other),
        }
    }

    fn line(&self, etype: &str, obj: &Value) -> Bytes {
        let object = render(&self.info, obj, self.q.output);
        let mut s =
            serde_json::to_string(&json!({"type": etype, "object": object})).unwrap_or_default();
        s.push('\n');
        Bytes::from(s)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": meta});
        let mut s =
            serde_json::to_string(&json!({"type": "BOOKMARK", "object": obj})).unwrap_or_default();
        s.push('\n');
        Bytes::from(s)
    }
}

fn expired(rv: u64, oldest: u64) -> Bytes {
    let status = ApiError::new(
        410,
        "Expired",
        format!("too old resource version: {rv} ({oldest})"),
    )
    .to_status();
    let mut s =
        serde_json::to_string(&json!({"type": "ERROR", "object": status})).unwrap_or_default();
    s.push('\n');
    Bytes::from(s)
}

/// Starts a watch and returns the streaming response.
pub fn watch(
    shared: Arc<Shared>,
    info: ResourceInfo,
    namespace: Option<String>,
    q: ListQuery,
) -> Result<Response, ApiError> {
    let filter = Filter { info, namespace, q };
    let mut initial: Vec<Bytes> = vec![];
    let (rx, start_rv) = {
        let store = shared.store.lock().expect("store lock");
        let rx = store.tx.subscribe();
        let requested = filter
            .q
            .resource_version
            .as_deref()
            .filter(|v| !v.is_empty());
        let send_initial = filter.q.send_initial_events || matches!(requested, None | Some("0"));
        let start = if send_initial {
            for (k, obj) in &store.objects {
                let ev = StoredEvent {
                    rv: store.rv,
                    key: k.clone(),
                    etype: "ADDED",
                    object: obj.clone(),
                    old: None,
                };
                if filter.event_type(&ev).is_some() {
                    initial.push(filter.line("ADDED", obj));
                }
            }
            if filter.q.send_initial_events && filter.q.bookmarks {
                initial.push(filter.bookmark(store.rv, true));
            }
            store.rv
        } else {
            let n: u64 = requested.unwrap_or("0").parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid resource version: {}",
                    requested.unwrap_or("")
                ))
            })?;
            if n < store.compacted {
                initial.push(expired(n, store.compacted + 1));
                return Ok(stream_response(initial, None));
            }
            for ev in store.history.iter().filter(|e| e.rv > n) {
                if let Some(t) = filter.event_type(ev) {
                    initial.push(filter.line(t, &ev.object));
                }
            }
            n.max(store.rv)
        };
        (rx, start)
    };
    let (tx, body_rx) = mpsc::channel::<Bytes>(256);
    let timeout = filter.q.timeout_seconds.map(Duration::from_secs);
    let bookmark_every = shared.bookmark_interval;
    let mut shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        pump(
            filter,
            rx,
            tx,
            start_rv,
            timeout,
            bookmark_every,
            &mut shutdown,
        )
        .await;
    });
    Ok(stream_response(vec![], Some(body_rx)))
}

async fn pump(
    filter: Filter,
    mut rx: broadcast::Receiver<Arc<StoredEvent>>,
    tx: mpsc::Sender<Bytes>,
    start_rv: u64,
    timeout: Option<Duration>,
    bookmark_every: Duration,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) {
    let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(365 * 86_400)));
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(bookmark_every);
    tick.tick().await;
    let mut last_rv = start_rv;
    loop {
        let line = tokio::select! {
            _ = &mut deadline => return,
            _ = shutdown.changed() => return,
            _ = tick.tick() => {
                if !filter.q.bookmarks { continue; }
                filter.bookmark(last_rv, false)
            }
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if ev.rv <= last_rv { continue; }
                    last_rv = ev.rv;
                    match filter.event_type(&ev) {
                        Some(t) => filter.line(t, &ev.object),
                        None => continue,
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = tx.send(expired(last_rv, last_rv + 1)).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        };
        if tx.send(line).await.is_err() {
            return;
        }
    }
}

fn stream_response(initial: Vec<Bytes>, rx: Option<mpsc::Receiver<Bytes>>) -> Response {
    let state = (initial.into_iter(), rx);
    let stream = futures_util::stream::unfold(state, |(mut first, mut rx)| async move {
        if let Some(b) = first.next() {
            return Some((Ok::<Bytes, Infallible>(b), (first, rx)));
        }
        let b = rx.as_mut()?.recv().await?;
        Some((Ok(b), (first, rx)))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(Body::from_stream(stream))
        .expect("response")
}
