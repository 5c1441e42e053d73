//! The outpost configuration YAML that unit tests start from, written once: builders
//! whose defaults are what the tests share and whose setters are what one test needs
//! differently (a second provider, a client secret to resolve, headers, a route on
//! another path). The text keeps one layout, so a test may still `replace` a line of it
//! to break exactly one field. Test support only.

/// One entry under `providers:`.
pub(crate) struct Provider {
    key: String,
    issuer: String,
    client_secret: Option<String>,
    scopes: String,
    username: String,
}

/// A provider `key` for `issuer`: client `portcullis`, no secret, scopes `openid` and
/// `email`, the username from `preferred_username` or `email`.
pub(crate) fn provider(key: &str, issuer: &str) -> Provider {
    Provider {
        key: key.into(),
        issuer: issuer.into(),
        client_secret: None,
        scopes: "[openid, email]".into(),
        username: "[preferred_username, email]".into(),
    }
}

impl Provider {
    /// `clientSecret:` as a YAML flow mapping, e.g. `{ env: CLIENT_SECRET }`.
    pub(crate) fn client_secret(mut self, source: &str) -> Self {
        self.client_secret = Some(source.into());
        self
    }

    /// `scopes:` as a YAML flow sequence.
    pub(crate) fn scopes(mut self, scopes: &str) -> Self {
        self.scopes = scopes.into();
        self
    }

    /// `claims.username:` as a YAML flow sequence.
    pub(crate) fn username(mut self, claims: &str) -> Self {
        self.username = claims.into();
        self
    }

    fn write(&self, out: &mut String) {
        out.push_str(&format!(
            "  {}:\n    issuerURL: {}\n    clientID: portcullis\n",
            self.key, self.issuer
        ));
        if let Some(secret) = &self.client_secret {
            out.push_str(&format!("    clientSecret: {secret}\n"));
        }
        out.push_str(&format!(
            "    scopes: {}\n    claims: {{ username: {}, email: email, groups: groups, permissions: permissions }}\n    clockSkewSeconds: 30\n",
            self.scopes, self.username
        ));
    }
}

/// One entry under `routes:`.
pub(crate) struct Route {
    id: String,
    hosts: String,
    paths: String,
    provider: String,
    auth_url: String,
    policy: String,
    extra: String,
}

/// A route `id` of `provider` on `app.example.com`, every path, signing in at
/// `https://app.example.com`. `policy` is the `policy:` flow mapping and has no default:
/// a route says who may pass (`{ allowAnyAuthenticated: true }` for anyone).
pub(crate) fn route(id: &str, provider: &str, policy: &str) -> Route {
    Route {
        id: id.into(),
        hosts: "[app.example.com]".into(),
        paths: "[/]".into(),
        provider: provider.into(),
        auth_url: "https://app.example.com".into(),
        policy: policy.into(),
        extra: String::new(),
    }
}

impl Route {
    /// `hosts:` as a YAML flow sequence.
    pub(crate) fn hosts(mut self, hosts: &str) -> Self {
        self.hosts = hosts.into();
        self
    }

    /// `paths:` as a YAML flow sequence.
    pub(crate) fn paths(mut self, paths: &str) -> Self {
        self.paths = paths.into();
        self
    }

    /// `authURL:`; `redirectURI:` follows it.
    pub(crate) fn auth_url(mut self, url: &str) -> Self {
        self.auth_url = url.into();
        self
    }

    /// Further fields of the route (`headers:`, `bearer:`), as lines indented by four.
    pub(crate) fn extra(mut self, lines: &str) -> Self {
        self.extra = lines.into();
        self
    }

    fn write(&self, out: &mut String) {
        out.push_str(&format!(
            "  - id: {}\n    hosts: {}\n    paths: {}\n    provider: {}\n    authURL: {auth}\n    redirectURI: {auth}/oauth2/callback\n    policy: {}\n",
            self.id,
            self.hosts,
            self.paths,
            self.provider,
            self.policy,
            auth = self.auth_url,
        ));
        out.push_str(&self.extra);
    }
}

/// The configuration file text for `providers` and `routes`.
pub(crate) fn config_yaml(providers: &[Provider], routes: &[Route]) -> String {
    let mut out = String::from("\nproviders:\n");
    for p in providers {
        p.write(&mut out);
    }
    out.push_str("routes:\n");
    for r in routes {
        r.write(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OutpostConfig;

    #[test]
    fn the_fixture_loads_and_carries_every_setting() {
        let text = config_yaml(
            &[
                provider("a/idp", "https://idp.example.com")
                    .client_secret("{ value: s }")
                    .scopes("[openid]")
                    .username("[sub]"),
                provider("a/other", "https://other.example.com"),
            ],
            &[
                route("a/app", "a/idp", "{ groups: [staff] }")
                    .extra("    bearer: { enabled: true }\n"),
                route("a/api", "a/other", "{ allowAnyAuthenticated: true }")
                    .hosts("[api.example.com, b.example.com]")
                    .paths("[/api]")
                    .auth_url("https://auth.example.com"),
            ],
        );
        let config = OutpostConfig::from_yaml(&text, "fixture").unwrap();
        let idp = &config.providers["a/idp"];
        assert_eq!(idp.scopes, ["openid"]);
        assert_eq!(idp.claims.username, ["sub"]);
        assert_eq!(
            idp.client_secret.as_ref().unwrap().value.as_deref(),
            Some("s")
        );
        assert!(config.providers["a/other"].client_secret.is_none());
        let [app, api] = &config.routes[..] else {
            panic!("two routes: {:?}", config.routes)
        };
        assert_eq!(app.policy.groups, ["staff"]);
        assert!(app.bearer.enabled);
        assert_eq!(api.hosts, ["api.example.com", "b.example.com"]);
        assert_eq!(api.paths, ["/api"]);
        assert_eq!(api.provider, "a/other");
        assert_eq!(api.redirect_uri, "https://auth.example.com/oauth2/callback");
        assert!(api.policy.allow_any_authenticated && !api.bearer.enabled);
    }
}
