//! Pure relations between objects: who depends on whom. The controllers' `watches`
//! mappers and the reconcilers use these; no client, no I/O, unit-tested on slices.

use crate::api::{ClientMode, ForwardAuthRoute, OAuthClient, OIDCProvider};
use crate::reconcile::key::ObjectKey;
use crate::reconcile::route::{auth_url, provider_key, redirect_uri};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use std::collections::BTreeSet;
use std::sync::Arc;

fn ns<K: ResourceExt>(o: &K) -> String {
    o.namespace().unwrap_or_default()
}

/// Whether `provider` logs in with `client` (its `clientRef`).
pub(crate) fn provider_uses_client(provider: &OIDCProvider, client: &OAuthClient) -> bool {
    provider
        .spec
        .client_ref
        .as_ref()
        .is_some_and(|r| r.name == client.name_any() && r.namespace_or(&ns(provider)) == ns(client))
}

/// Whether `client.spec.providerRef` names `provider`.
pub(crate) fn client_belongs_to(client: &OAuthClient, provider: &OIDCProvider) -> bool {
    let r = &client.spec.provider_ref;
    r.name == provider.name_any() && r.namespace_or(&ns(client)) == ns(provider)
}

/// Clients to reconcile when `provider` changes: those that belong to it and the one it
/// logs in with (its redirect URIs come from the provider's routes).
pub(crate) fn clients_of_provider(
    clients: &[Arc<OAuthClient>],
    provider: &OIDCProvider,
) -> Vec<ObjectRef<OAuthClient>> {
    clients
        .iter()
        .filter(|c| client_belongs_to(c, provider) || provider_uses_client(provider, c))
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

/// Routes to reconcile when `provider` changes.
pub(crate) fn routes_of_provider(
    routes: &[Arc<ForwardAuthRoute>],
    provider: &OIDCProvider,
) -> Vec<ObjectRef<ForwardAuthRoute>> {
    let key = ObjectKey::of(provider);
    routes
        .iter()
        .filter(|r| provider_key(r) == key)
        .map(|r| ObjectRef::from_obj(r.as_ref()))
        .collect()
}

/// Providers to reconcile when `client` changes: the ones that log in with it (their
/// status carries its client id) and the one it belongs to.
pub(crate) fn providers_of_client(
    providers: &[Arc<OIDCProvider>],
    client: &OAuthClient,
) -> Vec<ObjectRef<OIDCProvider>> {
    providers
        .iter()
        .filter(|p| provider_uses_client(p, client) || client_belongs_to(client, p))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// The provider a route references, as an ObjectRef.
pub(crate) fn provider_of_route(route: &ForwardAuthRoute) -> ObjectRef<OIDCProvider> {
    let r = &route.spec.provider_ref;
    ObjectRef::new(&r.name).within(r.namespace_or(&ns(route)))
}

/// Clients that read the Secret `namespace/name` (Static credentials, or the initial
/// access token of a Dynamic registration).
pub(crate) fn clients_of_secret(
    clients: &[Arc<OAuthClient>],
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<OAuthClient>> {
    clients
        .iter()
        .filter(|c| ns(c.as_ref()) == namespace)
        .filter(|c| {
            let static_ref = c.spec.mode == ClientMode::Static
                && c.spec
                    .credentials_secret_ref
                    .as_ref()
                    .is_some_and(|r| r.name == name);
            let token_ref = c.spec.mode == ClientMode::Dynamic
                && c.spec
                    .registration
                    .as_ref()
                    .and_then(|r| r.initial_access_token_ref.as_ref())
                    .is_some_and(|r| r.name == name);
            static_ref || token_ref
        })
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

/// The redirect URIs `client` must have because routes log in through a provider that
/// uses it (routes whose reference the provider does not allow are left out). Sorted.
pub(crate) fn needed_redirects(
    providers: &[Arc<OIDCProvider>],
    routes: &[Arc<ForwardAuthRoute>],
    client: &OAuthClient,
) -> Vec<String> {
    let out: BTreeSet<String> = routes_signing_in_with(providers, routes, client)
        .map(|r| redirect_uri(r))
        .collect();
    out.into_iter().collect()
}

/// The `backchannel_logout_uri` to register for `client`: `<authURL>/oauth2/backchannel-logout`
/// of the first (sorted) route signing in with it whose sessions live in Redis. `None`
/// when every such route keeps sessions in cookies, which the server cannot end (the
/// IdP would post logout tokens for nothing). Any route's URL serves: the outpost picks
/// the provider by the token's issuer, not by host.
pub fn needed_backchannel_logout_uri(
    providers: &[Arc<OIDCProvider>],
    routes: &[Arc<ForwardAuthRoute>],
    client: &OAuthClient,
) -> Option<String> {
    routes_signing_in_with(providers, routes, client)
        .filter(|r| {
            r.spec
                .session
                .as_ref()
                .and_then(|s| s.store.as_ref())
                .is_some_and(|s| s.redis.is_some())
        })
        .map(|r| format!("{}/oauth2/backchannel-logout", auth_url(r)))
        .min()
}

/// The routes that sign in through a provider using `client` (routes whose reference
/// the provider does not allow are left out).
fn routes_signing_in_with<'a>(
    providers: &'a [Arc<OIDCProvider>],
    routes: &'a [Arc<ForwardAuthRoute>],
    client: &OAuthClient,
) -> impl Iterator<Item = &'a Arc<ForwardAuthRoute>> {
    let keys: BTreeSet<ObjectKey> = providers
        .iter()
        .filter(|p| provider_uses_client(p, client))
        .map(|p| ObjectKey::of(p.as_ref()))
        .collect();
    routes.iter().filter(move |r| {
        let key = provider_key(r);
        keys.contains(&key)
            && providers
                .iter()
                .find(|p| ObjectKey::of(p.as_ref()) == key)
                .is_some_and(|p| crate::reconcile::reference_allowed(p, &ns(r.as_ref())).is_ok())
    })
}

/// The claims the routes of a provider rely on (so the provider can say which ones the
/// IdP does not advertise): email for email rules, the groups claim for group rules,
/// named claims, and the permissions claim.
pub(crate) fn needed_claims(
    provider: &OIDCProvider,
    routes: &[Arc<ForwardAuthRoute>],
) -> BTreeSet<String> {
    let names = crate::reconcile::provider::claim_names(provider);
    let key = ObjectKey::of(provider);
    let mut out = BTreeSet::new();
    for r in routes.iter().filter(|r| provider_key(r) == key) {
        let Some(p) = &r.spec.policy else { continue };
        if p.emails.as_ref().is_some_and(|v| !v.is_empty())
            || p.email_domains.as_ref().is_some_and(|v| !v.is_empty())
        {
            out.insert(names.email.clone());
        }
        if p.groups.as_ref().is_some_and(|v| !v.is_empty()) {
            out.insert(names.groups.clone());
        }
        if p.permissions.as_ref().is_some_and(|v| !v.is_empty()) {
            out.insert(names.permissions.clone());
        }
        for c in p.claims.iter().flatten() {
            out.insert(c.claim.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::*;

    use crate::reconcile::fixtures;

    /// The provider `ns/name` signing in with `client` (of its namespace), referable
    /// from the `allowed` namespaces.
    fn provider(ns: &str, name: &str, client: &str, allowed: &[&str]) -> Arc<OIDCProvider> {
        let mut p = fixtures::provider(ns, name, "https://idp.example");
        p.spec.client_id = None;
        p.spec.client_ref = Some(fixtures::reference(client, None));
        p.spec.allowed_namespaces = Some(allowed.iter().map(|s| s.to_string()).collect());
        Arc::new(p)
    }

    /// The route `ns/name` on `host` of the provider `idp` (in `pns`, or its own
    /// namespace), for the group `admins`.
    fn route(ns: &str, name: &str, host: &str, pns: Option<&str>) -> Arc<ForwardAuthRoute> {
        let mut r = fixtures::route(ns, name, host, "idp", pns);
        r.spec.policy = Some(PolicySpec {
            groups: Some(vec!["admins".into()]),
            ..Default::default()
        });
        Arc::new(r)
    }

    /// The Static client `ns/name` of the provider `idp` of its namespace.
    fn client(ns: &str, name: &str) -> Arc<OAuthClient> {
        let mut c = fixtures::client(ns, name, ClientMode::Static, "idp", None);
        c.spec.credentials_secret_ref = Some(CredentialsSecretRef {
            name: "creds".into(),
            ..Default::default()
        });
        Arc::new(c)
    }

    #[test]
    fn redirects_come_from_permitted_routes_of_the_providers_using_the_client() {
        let providers = vec![provider("auth", "idp", "outpost", &["team-a"])];
        let routes = vec![
            route("auth", "own", "own.example.com", None),
            route("team-a", "a", "a.example.com", Some("auth")),
            route("team-b", "b", "b.example.com", Some("auth")),
            route("team-a", "elsewhere", "x.example.com", None),
        ];
        let c = client("auth", "outpost");
        assert_eq!(
            needed_redirects(&providers, &routes, &c),
            vec![
                "https://a.example.com/oauth2/callback".to_string(),
                "https://own.example.com/oauth2/callback".to_string()
            ]
        );
        assert!(needed_redirects(&providers, &routes, &client("auth", "other")).is_empty());
    }

    #[test]
    fn the_backchannel_logout_uri_is_for_routes_with_redis_sessions_only() {
        let providers = vec![provider("auth", "idp", "outpost", &["team-a", "team-b"])];
        let with_redis = |r: Arc<ForwardAuthRoute>| {
            let mut r = (*r).clone();
            r.spec.session = Some(crate::api::SessionSpec {
                store: Some(crate::api::SessionStoreSpec {
                    redis: Some(Default::default()),
                }),
                ..Default::default()
            });
            Arc::new(r)
        };
        let mut routes = vec![
            route("auth", "own", "own.example.com", None),
            route("team-c", "c", "c.example.com", Some("auth")),
        ];
        let c = client("auth", "outpost");
        assert_eq!(
            needed_backchannel_logout_uri(&providers, &routes, &c),
            None,
            "cookie sessions only: nothing the IdP could end"
        );
        // A route the provider does not allow does not count, Redis or not.
        routes[1] = with_redis(routes[1].clone());
        assert_eq!(needed_backchannel_logout_uri(&providers, &routes, &c), None);
        routes.push(with_redis(route(
            "team-b",
            "b",
            "b.example.com",
            Some("auth"),
        )));
        routes.push(with_redis(route(
            "team-a",
            "a",
            "a.example.com",
            Some("auth"),
        )));
        assert_eq!(
            needed_backchannel_logout_uri(&providers, &routes, &c).as_deref(),
            Some("https://a.example.com/oauth2/backchannel-logout")
        );
        assert_eq!(
            needed_backchannel_logout_uri(&providers, &routes, &client("auth", "other")),
            None
        );
    }

    #[test]
    fn mappers_follow_references() {
        let p = provider("auth", "idp", "outpost", &[]);
        let clients = vec![
            client("auth", "outpost"),
            client("auth", "grafana"),
            client("x", "y"),
        ];
        let names: Vec<String> = clients_of_provider(&clients, &p)
            .iter()
            .map(|r| r.name.clone())
            .collect();
        assert_eq!(names, vec!["outpost", "grafana"]);
        let routes = vec![
            route("auth", "r", "r.example.com", None),
            route("x", "r", "r.example.com", None),
        ];
        assert_eq!(routes_of_provider(&routes, &p).len(), 1);
        assert_eq!(
            providers_of_client(std::slice::from_ref(&p), &clients[1]).len(),
            1
        );
        assert_eq!(clients_of_secret(&clients, "auth", "creds").len(), 2);
        assert!(clients_of_secret(&clients, "auth", "other").is_empty());
        assert_eq!(
            provider_of_route(&routes[1]).namespace.as_deref(),
            Some("x")
        );
    }

    #[test]
    fn needed_claims_follow_route_policies() {
        let p = provider("auth", "idp", "outpost", &[]);
        let routes = vec![route("auth", "r", "r.example.com", None)];
        assert_eq!(
            needed_claims(&p, &routes),
            BTreeSet::from(["groups".to_string()])
        );
    }
}
