//! Which route answers a host and path, found through an index built once per loaded
//! configuration instead of a scan of every route on every request (with 10,000 routes
//! the scan was half of the outpost's CPU, docs/benchmarks.md).
//!
//! The decision is the one the configuration documents: among the routes listing the
//! host (compared case-insensitively), the one with the longest matching path prefix;
//! when two routes tie, the later one in the configuration wins.

use super::{RouteConfig, path_has_prefix};
use std::borrow::Cow;
use std::collections::HashMap;

/// One path prefix of one route, under one host.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    /// The prefix as configured (matched with [`path_has_prefix`], as the routes say).
    prefix: Box<str>,
    /// Its length without trailing slashes: what "longest prefix" compares.
    weight: usize,
    /// Position of the route in [`super::OutpostConfig::routes`].
    route: usize,
}

/// Host → the path prefixes of the routes serving it, longest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteIndex {
    by_host: HashMap<Box<str>, Vec<Candidate>>,
}

impl RouteIndex {
    /// Indexes `routes`. Their hosts are taken as written: validation has lower-cased
    /// them, and a request host is lowered before the lookup.
    pub fn new(routes: &[RouteConfig]) -> Self {
        let mut by_host: HashMap<Box<str>, Vec<Candidate>> = HashMap::new();
        for (route, config) in routes.iter().enumerate() {
            let mut hosts: Vec<&str> = config.hosts.iter().map(String::as_str).collect();
            hosts.sort_unstable();
            hosts.dedup();
            for host in hosts {
                let candidates = by_host.entry(host.into()).or_default();
                candidates.extend(config.paths.iter().map(|prefix| Candidate {
                    weight: prefix.trim_end_matches('/').len(),
                    prefix: prefix.as_str().into(),
                    route,
                }));
            }
        }
        for candidates in by_host.values_mut() {
            // Longest prefix first; among equals the later route, so that the first
            // match is the scan's `max_by_key` (which keeps the last maximum).
            candidates.sort_by(|a, b| b.weight.cmp(&a.weight).then(b.route.cmp(&a.route)));
        }
        Self { by_host }
    }

    /// Position of the route for `host` (any case) and `path`, if one serves them.
    pub fn find(&self, host: &str, path: &str) -> Option<usize> {
        // Hosts arrive lower-cased from the forwarded-header resolution: no allocation
        // then; an upper-case host (a caller that did not normalise) is lowered here.
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(host.to_ascii_lowercase())
        } else {
            Cow::Borrowed(host)
        };
        self.by_host
            .get(host.as_ref())?
            .iter()
            .find(|c| path_has_prefix(path, &c.prefix))
            .map(|c| c.route)
    }

    /// How many distinct hosts are indexed.
    pub fn hosts(&self) -> usize {
        self.by_host.len()
    }
}

#[cfg(test)]
#[path = "route_index_tests.rs"]
mod tests;
