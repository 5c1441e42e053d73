//! ForwardAuthRoute → its compiled [`RouteConfig`], the redirect URI it needs, and its
//! status.

use super::conditions::{
    self, ConditionExt, ConditionReason, ConditionStatus, ConditionType, condition, summarise,
};
use super::key::ObjectKey;
use super::reference_allowed;
use super::world::World;
use crate::api::{ForwardAuthRoute, ForwardAuthRouteStatus, HeaderPresetName, Validate};
use crate::config::{
    BearerConfig, HeaderConfig, HeaderPreset, IdentityJwtConfig, LoginRateLimit, PolicyConfig,
    RouteConfig, SessionConfig, callback_uri, default_identity_jwt_header,
    default_identity_jwt_lifetime, default_paths,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use std::collections::BTreeMap;

/// The external URL of a route: `spec.authURL` without a trailing slash, or
/// `https://<first host>`.
pub(crate) fn auth_url(route: &ForwardAuthRoute) -> String {
    match &route.spec.auth_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!(
            "https://{}",
            route
                .spec
                .hosts
                .first()
                .map(String::as_str)
                .unwrap_or_default()
        ),
    }
}

/// The redirect URI the route needs registered at the IdP.
pub(crate) fn redirect_uri(route: &ForwardAuthRoute) -> String {
    callback_uri(&auth_url(route))
}

/// `namespace/name` of the provider a route references.
pub(crate) fn provider_key(route: &ForwardAuthRoute) -> ObjectKey {
    let ns = route.namespace().unwrap_or_default();
    ObjectKey::new(
        route.spec.provider_ref.namespace_or(&ns),
        &route.spec.provider_ref.name,
    )
}

/// The compiled route, or the reason (as an `Accepted=False` condition) it has none.
pub(crate) fn config(route: &ForwardAuthRoute) -> Result<RouteConfig, Condition> {
    let invalid = |m: String| {
        condition(
            ConditionType::Accepted,
            Some(false),
            ConditionReason::InvalidSpec,
            m,
        )
    };
    let duration = |field: &str, value: &Option<String>, default: u64| match value {
        Some(v) => crate::api::parse_duration(v).map_err(|e| invalid(format!("{field}: {e}"))),
        None => Ok(default),
    };
    // The schema's rules, checked here too: the server that admitted the object may not
    // have had them (an older server, a rule added later).
    route
        .validate()
        .map_err(|(field, message)| invalid(format!("{field}: {message}")))?;
    let spec = &route.spec;
    let auth = auth_url(route);
    crate::config::external_url(&auth).map_err(|e| invalid(format!("spec.authURL: {e}")))?;
    let policy = spec.policy.clone().unwrap_or_default();
    let public = policy.public.clone().unwrap_or_default();
    let headers = spec.headers.clone().unwrap_or_default();
    let mut map = match headers.preset {
        Some(HeaderPresetName::OAuth2Proxy) => HeaderPreset::OAuth2Proxy.headers(),
        Some(HeaderPresetName::Authentik) => HeaderPreset::Authentik.headers(),
        Some(HeaderPresetName::RemoteUser) => HeaderPreset::RemoteUser.headers(),
        Some(HeaderPresetName::None) => BTreeMap::new(),
        None if headers.map.is_some() => BTreeMap::new(),
        None => HeaderPreset::OAuth2Proxy.headers(),
    };
    for (header, field) in headers.map.iter().flatten() {
        let field = field
            .parse()
            .map_err(|e| invalid(format!("spec.headers.map[{header:?}]: {e}")))?;
        map.insert(header.clone(), field);
    }
    let identity_jwt = match &headers.identity_jwt {
        Some(j) => Some(IdentityJwtConfig {
            header: j.header.clone().unwrap_or_else(default_identity_jwt_header),
            audience: j.audience.clone(),
            lifetime_seconds: duration(
                "spec.headers.identityJWT.lifetime",
                &j.lifetime,
                default_identity_jwt_lifetime(),
            )?,
        }),
        None => None,
    };
    let session = spec.session.clone().unwrap_or_default();
    let default_session = SessionConfig::default();
    if let Some(domain) = &session.cookie_domain {
        let d = domain.trim_start_matches('.').to_ascii_lowercase();
        if let Some(host) = spec.hosts.iter().find(|h| {
            let h = h.split(':').next().unwrap_or_default();
            h != d && !h.ends_with(&format!(".{d}"))
        }) {
            // A cookie for another domain is silently dropped by the browser: the classic
            // login loop. Refuse it here instead.
            return Err(invalid(format!(
                "spec.session.cookieDomain {domain:?} does not cover host {host:?}; the browser would drop the cookie and loop"
            )));
        }
    }
    Ok(RouteConfig {
        id: ObjectKey::of(route).to_string(),
        hosts: spec.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        paths: spec
            .paths
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(default_paths),
        provider: provider_key(route).to_string(),
        redirect_uri: callback_uri(&auth),
        auth_url: auth,
        policy: PolicyConfig {
            emails: policy.emails.unwrap_or_default(),
            email_domains: policy.email_domains.unwrap_or_default(),
            groups: policy.groups.unwrap_or_default(),
            claims: policy
                .claims
                .unwrap_or_default()
                .into_iter()
                .map(|r| (r.claim, r.values))
                .collect(),
            permissions: policy.permissions.unwrap_or_default(),
            public_paths: public.paths.unwrap_or_default(),
            public_methods: public.methods.unwrap_or_default(),
            public_requests: public.requests.unwrap_or_default(),
            allow_cors_preflight: policy.allow_cors_preflight.unwrap_or(false),
            allow_any_authenticated: policy.allow_any_authenticated.unwrap_or(false),
        },
        headers: HeaderConfig {
            map,
            access_token: headers.access_token_header,
            identity_jwt,
        },
        session: SessionConfig {
            cookie_name: session.cookie_name.unwrap_or(default_session.cookie_name),
            cookie_domain: session.cookie_domain,
            lifetime_seconds: duration(
                "spec.session.lifetime",
                &session.lifetime,
                default_session.lifetime_seconds,
            )?,
            idle_timeout_seconds: duration("spec.session.idleTimeout", &session.idle_timeout, 0)?,
            max_header_bytes: session
                .max_header_bytes
                .map_or(default_session.max_header_bytes, |b| b as usize),
            store: session_store(route, session.store.as_ref()),
            refresh_lead_seconds: duration(
                "spec.session.refreshLead",
                &session.refresh_lead,
                default_session.refresh_lead_seconds,
            )?,
            refresh_grace_seconds: duration(
                "spec.session.refreshGrace",
                &session.refresh_grace,
                default_session.refresh_grace_seconds,
            )?,
        },
        login_rate_limit: {
            let spec = spec.login_rate_limit.clone().unwrap_or_default();
            let default = LoginRateLimit::default();
            LoginRateLimit {
                requests_per_minute: spec
                    .requests_per_minute
                    .unwrap_or(default.requests_per_minute),
                burst: spec.burst.unwrap_or(default.burst).max(1),
            }
        },
        bearer: BearerConfig {
            enabled: spec.bearer.as_ref().is_some_and(|b| b.enabled),
            audiences: spec
                .bearer
                .as_ref()
                .and_then(|b| b.audiences.clone())
                .unwrap_or_default(),
            allow_multiple_audiences: spec
                .bearer
                .as_ref()
                .and_then(|b| b.allow_multiple_audiences)
                .unwrap_or(false),
        },
    })
}

/// The route's status given its inputs. `provider_ready`/`client_ready` come from the
/// provider's and client's computed Ready conditions; `programmed` says whether the
/// compiled configuration holds the route.
pub(crate) fn status(
    world: &World,
    route: &ForwardAuthRoute,
    compiled: &Result<RouteConfig, Condition>,
    provider_conditions: Option<&[Condition]>,
    programmed: Result<(), String>,
) -> ForwardAuthRouteStatus {
    let ns = route.namespace().unwrap_or_default();
    let pref = &route.spec.provider_ref;
    let provider_ns = pref.namespace_or(&ns);
    let mut conds = Vec::new();
    let provider = world.provider(provider_ns, &pref.name);
    let accepted = match (compiled, provider) {
        (Err(c), _) => c.clone(),
        (Ok(_), Some(p)) => match reference_allowed(p, &ns) {
            Ok(()) => condition(
                ConditionType::Accepted,
                Some(true),
                ConditionReason::Ready,
                "route compiled",
            ),
            Err(m) => condition(
                ConditionType::Accepted,
                Some(false),
                ConditionReason::ReferenceNotPermitted,
                m,
            ),
        },
        (Ok(_), None) => condition(
            ConditionType::Accepted,
            Some(true),
            ConditionReason::Ready,
            "route compiled",
        ),
    };
    conds.push(accepted);
    let provider_ready = match (provider, provider_conditions) {
        (None, _) => condition(
            ConditionType::ProviderReady,
            Some(false),
            ConditionReason::ProviderNotFound,
            format!(
                "OIDCProvider {provider_ns}/{} not found (spec.providerRef)",
                pref.name
            ),
        ),
        (Some(_), Some(pc)) => match conditions::find(pc, ConditionType::Ready) {
            Some(c) if c.has_status(ConditionStatus::True) => condition(
                ConditionType::ProviderReady,
                Some(true),
                ConditionReason::Ready,
                "provider ready",
            ),
            Some(c) => conditions::relay(
                ConditionType::ProviderReady,
                ConditionStatus::of(c),
                c,
                format!("OIDCProvider {provider_ns}/{}: {}", pref.name, c.message),
            ),
            None => condition(
                ConditionType::ProviderReady,
                None,
                ConditionReason::Pending,
                "provider not reconciled yet",
            ),
        },
        (Some(_), None) => condition(
            ConditionType::ProviderReady,
            None,
            ConditionReason::Pending,
            "provider not reconciled yet",
        ),
    };
    conds.push(provider_ready);
    let client_ready = match provider.and_then(|p| p.spec.client_ref.as_ref().map(|r| (p, r))) {
        Some((p, r)) => {
            let cns = r.namespace_or(provider_ns).to_string();
            match world.client(&cns, &r.name) {
                Some(_) => condition(
                    ConditionType::ClientReady,
                    Some(true),
                    ConditionReason::Ready,
                    format!("OAuthClient {cns}/{} exists", r.name),
                ),
                None => condition(
                    ConditionType::ClientReady,
                    Some(false),
                    ConditionReason::ClientNotFound,
                    format!(
                        "OAuthClient {cns}/{} (clientRef of OIDCProvider {}/{}) not found",
                        r.name,
                        provider_ns,
                        p.name_any()
                    ),
                ),
            }
        }
        None if provider.is_some() => condition(
            ConditionType::ClientReady,
            Some(true),
            ConditionReason::Ready,
            "provider uses a client id set by hand",
        ),
        None => condition(
            ConditionType::ClientReady,
            None,
            ConditionReason::Pending,
            "no provider",
        ),
    };
    conds.push(client_ready);
    conds.push(match programmed {
        Ok(()) => condition(
            ConditionType::Programmed,
            Some(true),
            ConditionReason::Ready,
            "in the compiled outpost configuration",
        ),
        Err(m) => condition(
            ConditionType::Programmed,
            Some(false),
            ConditionReason::Conflict,
            m,
        ),
    });
    let ready = summarise(&conds, "route is served");
    conds.push(ready);
    ForwardAuthRouteStatus {
        observed_generation: route.metadata.generation,
        conditions: conds,
        auth_url: Some(auth_url(route)),
        redirect_uris: vec![redirect_uri(route)],
    }
}

/// The compiled session store: the Redis password becomes a reference to the Secret in
/// the route's namespace (the outpost reads it; its value never enters the config).
fn session_store(
    route: &ForwardAuthRoute,
    spec: Option<&crate::api::SessionStoreSpec>,
) -> crate::config::StoreConfig {
    use crate::api::RedisModeName;
    use crate::config::{RedisConfig, RedisMode, SecretKeyRef, SecretSource};
    let redis = spec.and_then(|s| s.redis.as_ref()).map(|r| {
        let defaults = RedisConfig::standalone("");
        RedisConfig {
            mode: match r.mode.unwrap_or_default() {
                RedisModeName::Standalone => RedisMode::Standalone,
                RedisModeName::Sentinel => RedisMode::Sentinel,
                RedisModeName::Cluster => RedisMode::Cluster,
            },
            urls: r.urls.clone(),
            master_name: r.master_name.clone(),
            username: r.username.clone(),
            password: r.password_secret_ref.as_ref().map(|p| SecretSource {
                secret_key_ref: Some(SecretKeyRef {
                    namespace: route.namespace().unwrap_or_default(),
                    name: p.name.clone(),
                    key: p.key.clone(),
                }),
                ..SecretSource::default()
            }),
            ca_bundle: r.ca_bundle_ref.as_ref().map(|c| {
                super::provider::ca_bundle_source(&route.namespace().unwrap_or_default(), c)
            }),
            key_prefix: r.key_prefix.clone().unwrap_or(defaults.key_prefix),
            timeout_millis: r.timeout_millis.map_or(defaults.timeout_millis, u64::from),
            max_sessions_per_user: r.max_sessions_per_user.unwrap_or(0),
        }
    });
    crate::config::StoreConfig { redis }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
