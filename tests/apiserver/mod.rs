//! An in-process Kubernetes API-server emulator for tests, driven by the real
//! `kubectl` and by kube-rs clients. See tests/APISERVER_EMULATOR.md for what it does
//! and where it differs from a real API server.
//!
//! ```ignore
//! mod apiserver;
//! let emu = apiserver::Emulator::start().await;
//! emu.write_kubeconfig(&path)?;   // then run kubectl with KUBECONFIG=path
//! ```
// Each integration test binary that includes this module uses only part of it.
#![allow(dead_code)]

pub mod apply;
pub mod delete;
pub mod discovery;
pub mod events;
pub mod fields;
pub mod handlers;
pub mod kubectl;
pub mod patch;
pub mod proto;
pub mod registry;
pub mod schema;
pub mod selectors;
pub mod status;
pub mod store;
pub mod structural;
pub mod table;
pub mod util;
pub mod validate;
pub mod watch;
pub mod write;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// State shared by all requests.
pub struct Shared {
    /// Objects, types, history.
    pub store: Mutex<store::Store>,
    /// `host:port` the server listens on.
    pub addr: String,
    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Flips to true when the emulator is dropped; open watches end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Tunables for [`Emulator::start_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Interval between BOOKMARK events on watches that allow them (real: ~1 min).
    pub bookmark_interval: Duration,
    /// How many events the watch history keeps (older resourceVersions get 410).
    pub history_limit: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bookmark_interval: Duration::from_secs(1),
            history_limit: 1000,
        }
    }
}

/// A running emulator. It serves plain HTTP on 127.0.0.1 on its own thread and
/// runtime (so blocking calls such as running kubectl from a test do not starve it),
/// and stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator with default options.
    pub async fn start() -> Emulator {
        Self::start_blocking_with(Options::default())
    }

    /// Starts an emulator with the given options.
    pub async fn start_with(options: Options) -> Emulator {
        Self::start_blocking_with(options)
    }

    /// Starts an emulator from synchronous code.
    pub fn start_blocking() -> Emulator {
        Self::start_blocking_with(Options::default())
    }

    /// Starts an emulator from synchronous code with the given options.
    pub fn start_blocking_with(options: Options) -> Emulator {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            store: Mutex::new(store::Store::new(options.history_limit)),
            addr: addr.to_string(),
            bookmark_interval: options.bookmark_interval,
            shutdown: stop_rx.clone(),
        });
        let app = axum::Router::new()
            .fallback(handlers::dispatch)
            .with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name("apiserver-emulator".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("emulator runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let mut stop = stop_rx;
                    // Not graceful: open watches and keep-alive connections must not
                    // keep a dropped emulator alive.
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                });
                // Connections still open (e.g. a client holding a keep-alive) are dropped here.
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("emulator thread");
        Emulator {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig for this server: plain http, a fake bearer token, namespace default.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: {url}\n\
             contexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: emulator\n    namespace: default\n\
             current-context: emulator\nusers:\n- name: emulator\n  user:\n    token: emulator-fake-token\n",
            url = self.url()
        )
    }

    /// Writes [`Self::kubeconfig_yaml`] to `path`.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store.lock().expect("store lock").rv
    }

    /// A stored object (as stored, storage apiVersion), for assertions.
    pub fn object(
        &self,
        group: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Option<serde_json::Value> {
        let st = self.shared.store.lock().expect("store lock");
        st.objects
            .get(&store::ObjKey::new(group, plural, namespace, name))
            .cloned()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
