//! Integration tests that start processes: the `portcullis` binary, a real OpenID
//! Provider, nginx, Caddy, headless Chromium, and a real Kubernetes control plane
//! (etcd, kube-apiserver, kube-controller-manager built from their Go modules) driven
//! by the real kubectl.

#[path = "../e2e/mod.rs"]
mod e2e;
#[path = "../outpost_support/mod.rs"]
mod outpost_support;
/// The one RFC 6265 cookie jar, as `outpost_support` names it.
use e2e::cookies as cookie_jar;

mod backchannel;
mod cluster_api;
mod cluster_deletion;
mod cluster_explain;
mod cluster_faults;
mod cluster_operator;
mod cluster_probe;
mod cluster_seeds;
mod demo;
mod image;
mod install;
mod logging;
mod outpost_e2e;
mod outpost_minimal_config;
mod outpost_paths;
mod outpost_refresh;
mod outpost_reload;
mod own_sessions;
mod refresh_replicas;
mod render;
mod render_rotation;
mod render_strict;
mod session_store;
mod store_addressing;
mod store_tls_topologies;
