//! Portcullis: a Kubernetes operator and forward-auth outpost for OpenID Connect.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod config;
pub mod crd_reference;
pub mod crdgen;
pub mod oidc;
pub mod operator;
pub mod outpost;
pub mod process;
pub mod reason;
pub mod reasons_cmd;
pub mod reconcile;
pub mod render;
pub mod sessions_cli;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
