//! The objects tests reconcile (compiled for `cfg(test)` and the `testkit` feature, like
//! [`crate::testkit`]): an OIDCProvider, an OAuthClient and a ForwardAuthRoute
//! with the fields every test needs, in one place. A test changes what it is about on
//! the object it gets (`p.spec.allowed_namespaces = ...`, [`Fixture::generation`]) rather
//! than writing its own builder, so a field added to a kind is filled here once.

use crate::api::{
    ClientMode, ForwardAuthRoute, ForwardAuthRouteSpec, OAuthClient, OAuthClientSpec, OIDCProvider,
    OIDCProviderSpec, OIDCProviderStatus, ObjectRef, PolicySpec, ProviderEndpoints,
};
use crate::reconcile::conditions::{ConditionReason, ConditionType, condition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;

/// `namespace/name` with a uid (`uid-<name>`, so owner references resolve) and
/// generation 1, as the API server returns a created object.
pub(crate) fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        uid: Some(format!("uid-{name}")),
        generation: Some(1),
        ..Default::default()
    }
}

/// A reference to `name` in the referring object's namespace (`namespace: None`), or
/// in `namespace`.
pub fn reference(name: &str, namespace: Option<&str>) -> ObjectRef {
    ObjectRef {
        name: name.into(),
        namespace: namespace.map(Into::into),
    }
}

/// An OIDCProvider `namespace/name` for `issuer`, with a client id (`outpost`) and no
/// status.
pub fn provider(namespace: &str, name: &str, issuer: &str) -> OIDCProvider {
    OIDCProvider {
        metadata: meta(namespace, name),
        spec: OIDCProviderSpec {
            issuer_url: issuer.into(),
            client_id: Some("outpost".into()),
            ..Default::default()
        },
        status: None,
    }
}

/// An OAuthClient `namespace/name` in `mode`, at the provider `provider` of the
/// client's namespace (or `provider_namespace`).
pub fn client(
    namespace: &str,
    name: &str,
    mode: ClientMode,
    provider: &str,
    provider_namespace: Option<&str>,
) -> OAuthClient {
    OAuthClient {
        metadata: meta(namespace, name),
        spec: OAuthClientSpec {
            provider_ref: reference(provider, provider_namespace),
            mode,
            ..Default::default()
        },
        status: None,
    }
}

/// A ForwardAuthRoute `namespace/name` serving `host` (every path) to any authenticated
/// user, signing in at the provider `provider` of the route's namespace (or
/// `provider_namespace`).
pub fn route(
    namespace: &str,
    name: &str,
    host: &str,
    provider: &str,
    provider_namespace: Option<&str>,
) -> ForwardAuthRoute {
    ForwardAuthRoute {
        metadata: meta(namespace, name),
        spec: ForwardAuthRouteSpec {
            hosts: vec![host.into()],
            provider_ref: reference(provider, provider_namespace),
            policy: Some(PolicySpec::any_authenticated()),
            ..Default::default()
        },
        status: None,
    }
}

/// Changes to a fixture's metadata that tests make often, chained on the object.
pub trait Fixture: Resource + Sized {
    /// With `metadata.generation` = `generation`.
    fn generation(mut self, generation: i64) -> Self {
        self.meta_mut().generation = Some(generation);
        self
    }

    /// Created `seconds` after the epoch (the oldest claimant of a host keeps it).
    fn created_at(mut self, seconds: i64) -> Self {
        self.meta_mut().creation_timestamp = Some(Time(
            Timestamp::from_second(seconds).expect("a representable time"),
        ));
        self
    }
}

impl<K: Resource> Fixture for K {}

/// The provider with a `Ready=True` status, as its reconciler publishes it.
pub fn ready(mut provider: OIDCProvider) -> OIDCProvider {
    provider
        .status
        .get_or_insert_with(Default::default)
        .conditions
        .push(condition(
            ConditionType::Ready,
            Some(true),
            ConditionReason::Ready,
            "ok",
        ));
    provider
}

/// The provider with `endpoints` discovered, as its status publishes them.
pub fn discovered(mut provider: OIDCProvider, endpoints: ProviderEndpoints) -> OIDCProvider {
    provider
        .status
        .get_or_insert_with(OIDCProviderStatus::default)
        .endpoints = Some(endpoints);
    provider
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::conditions::{ConditionType, is_true};
    use crate::reconcile::key::ObjectKey;

    #[test]
    fn fixtures_name_what_they_were_given_and_reference_as_asked() {
        let p = ready(provider("auth", "idp", "https://idp.example"));
        assert_eq!(ObjectKey::of(&p), ObjectKey::new("auth", "idp"));
        assert_eq!(p.metadata.uid.as_deref(), Some("uid-idp"));
        assert!(is_true(&p.status.unwrap().conditions, ConditionType::Ready));
        let r = route("team", "web", "web.example.com", "idp", Some("auth"))
            .generation(4)
            .created_at(100);
        assert_eq!(
            crate::reconcile::route::provider_key(&r),
            ObjectKey::new("auth", "idp")
        );
        assert_eq!(r.metadata.generation, Some(4));
        assert_eq!(r.metadata.creation_timestamp.unwrap().0.as_second(), 100);
        let c = client("team", "app", ClientMode::Generated, "idp", None);
        assert_eq!(c.spec.provider_ref.namespace_or("team"), "team");
        assert_eq!(c.spec.mode, ClientMode::Generated);
    }
}
