//! Integration tests that run in this process: the operator's controllers against a
//! mocked API server (kube-rs's tower-test pattern), the outpost's HTTP flow with a
//! scripted browser and IdP, and the generated files. Nothing here starts a process.

/// The one RFC 6265 cookie jar (the end-to-end harness's), for `outpost_support`.
#[path = "../e2e/cookies.rs"]
#[allow(dead_code)] // the end-to-end tests use the rest
mod cookie_jar;
#[path = "../operator_support/mod.rs"]
mod operator_support;
#[path = "../outpost_support/mod.rs"]
mod outpost_support;

mod config_defaults;
mod crds;
mod operator_client;
mod operator_dynamic;
mod operator_lease;
mod operator_provider;
mod operator_rbac;
mod operator_rotation;
mod operator_route;
mod outpost_bearer;
mod outpost_cluster_config;
mod outpost_cookies;
mod outpost_flow;
mod outpost_large;
mod outpost_logs;
mod outpost_rate_limit;
mod outpost_refresh;
mod outpost_sign_out_hint;
mod reasons;
mod render_parity;
mod render_probe_parity;
mod render_rotation_parity;
mod structure;
