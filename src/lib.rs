//! Portcullis: a Kubernetes operator and forward-auth outpost for OpenID Connect.
#![forbid(unsafe_code)]

pub mod config;
pub mod outpost;
