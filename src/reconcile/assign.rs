//! Which routes the outposts serve: the one rule `render` and the operator's writer share.
//! A route is served when its spec compiles, its provider is usable from its namespace,
//! and no older route already claims one of its host+path pairs (the oldest claimant
//! keeps it, so a new route cannot silently take over a live one).

use super::key::ObjectKey;
use super::route;
use crate::api::ForwardAuthRoute;
use crate::config::RouteConfig;
use std::collections::BTreeMap;

/// Per route `namespace/name`: served, or why not (a message naming the cause).
pub(crate) type Verdicts = BTreeMap<ObjectKey, Result<(), String>>;

/// The served routes, in a stable order, and every route's verdict.
#[derive(Debug, Default)]
pub(crate) struct Assignment {
    /// Compiled routes that are served.
    pub routes: Vec<RouteConfig>,
    /// Every route's verdict.
    pub verdicts: Verdicts,
    /// Per provider a served route uses: the redirect URIs of its served routes, in the
    /// routes' order.
    pub redirects: BTreeMap<ObjectKey, Vec<String>>,
}

/// Assigns host+path pairs to routes. `provider_usable(route, provider)` says whether
/// the route may use its provider (it exists, compiles, and permits the namespace).
pub(crate) fn assign<'a>(
    routes: impl IntoIterator<Item = &'a ForwardAuthRoute>,
    provider_usable: &dyn Fn(&ForwardAuthRoute, &ObjectKey) -> Result<(), String>,
) -> Assignment {
    let mut ordered: Vec<&ForwardAuthRoute> = routes.into_iter().collect();
    ordered.sort_by_cached_key(|r| {
        (
            r.metadata.creation_timestamp.as_ref().map(|t| t.0),
            ObjectKey::of(*r),
        )
    });
    let mut claimed: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut out = Assignment::default();
    let mut served: Vec<(ObjectKey, RouteConfig)> = Vec::new();
    for r in ordered {
        let verdict = route::config(r).map_err(|c| c.message).and_then(|rc| {
            let provider = route::provider_key(r);
            provider_usable(r, &provider)?;
            let pairs: Vec<(String, String)> = rc
                .hosts
                .iter()
                .flat_map(|h| rc.paths.iter().map(move |p| (h.clone(), p.clone())))
                .collect();
            if let Some(((h, p), owner)) = pairs.iter().find_map(|k| claimed.get(k).map(|o| (k, o)))
            {
                return Err(format!(
                    "host {h:?} path {p:?} is already served by ForwardAuthRoute {owner}"
                ));
            }
            for k in pairs {
                claimed.insert(k, rc.id.clone());
            }
            served.push((provider, rc));
            Ok(())
        });
        out.verdicts.insert(ObjectKey::of(r), verdict);
    }
    served.sort_by(|(_, a), (_, b)| a.id.cmp(&b.id));
    for (provider, rc) in served {
        out.redirects
            .entry(provider)
            .or_default()
            .push(rc.redirect_uri.clone());
        out.routes.push(rc);
    }
    out
}

/// A stable order (by id); matching picks the longest prefix, not the first route.
pub(crate) fn sort_routes(routes: &mut [RouteConfig]) {
    routes.sort_by(|a, b| a.id.cmp(&b.id));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::fixtures::{self as fx, Fixture};

    /// The route `apps/<name>` of `apps/idp` on `host`, created at `created`.
    fn route(name: &str, created: i64, host: &str) -> ForwardAuthRoute {
        fx::route("apps", name, host, "idp", None).created_at(created)
    }

    #[test]
    fn the_oldest_claimant_keeps_a_host_whatever_the_input_order() {
        let (old, new) = (
            route("zz-old", 100, "a.example.com"),
            route("aa-new", 200, "a.example.com"),
        );
        let assignment = assign([&new, &old], &|_, _| Ok(()));
        assert_eq!(assignment.routes.len(), 1);
        assert_eq!(assignment.routes[0].id, "apps/zz-old");
        // Only the served route's redirect URI counts for its provider.
        assert_eq!(
            assignment.redirects,
            BTreeMap::from([(
                ObjectKey::new("apps", "idp"),
                vec!["https://a.example.com/oauth2/callback".to_string()]
            )])
        );
        let refused = assignment.verdicts[&ObjectKey::new("apps", "aa-new")]
            .clone()
            .unwrap_err();
        assert!(
            refused.contains("apps/zz-old") && refused.contains("a.example.com"),
            "{refused}"
        );
    }

    #[test]
    fn an_unusable_provider_keeps_the_route_out_and_says_why() {
        let r = route("r", 100, "b.example.com");
        let assignment = assign([&r], &|_, key| Err(format!("provider {key} is not ready")));
        assert!(assignment.routes.is_empty());
        assert!(assignment.redirects.is_empty());
        assert_eq!(
            assignment.verdicts[&ObjectKey::new("apps", "r")],
            Err("provider apps/idp is not ready".into())
        );
    }
}
