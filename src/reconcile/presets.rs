//! Key layouts of the Secret an application reads, per preset.

use crate::api::SecretPreset;
use std::collections::BTreeMap;

/// Everything a preset or template may put into the Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The issuer URL.
    pub issuer_url: String,
    /// Scopes, space-separated for apps that want one string.
    pub scopes: Vec<String>,
    /// Authorization endpoint, once discovered.
    pub authorization_url: Option<String>,
    /// Token endpoint, once discovered.
    pub token_url: Option<String>,
    /// Userinfo endpoint, once discovered.
    pub userinfo_url: Option<String>,
    /// A cookie secret for oauth2-proxy (minted once, like the client secret).
    pub cookie_secret: Option<String>,
}

/// The key under which a preset stores the client secret (used to find an existing value).
pub(crate) fn secret_key(preset: SecretPreset) -> &'static str {
    match preset {
        SecretPreset::Generic => "client-secret",
        SecretPreset::Grafana => "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET",
        SecretPreset::Argocd => "clientSecret",
        SecretPreset::OAuth2Proxy => "OAUTH2_PROXY_CLIENT_SECRET",
    }
}

/// Labels a preset needs on the Secret for the application to find it.
pub(crate) fn labels(preset: SecretPreset) -> BTreeMap<String, String> {
    match preset {
        // Argo CD resolves `$secret:key` references only in Secrets it labels as its own.
        SecretPreset::Argocd => [(
            "app.kubernetes.io/part-of".to_string(),
            "argocd".to_string(),
        )]
        .into(),
        _ => BTreeMap::new(),
    }
}

/// The data of the Secret for a preset.
pub(crate) fn data(preset: SecretPreset, c: &Credentials) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        out.insert(k.to_string(), v.to_string());
    };
    match preset {
        SecretPreset::Generic => {
            put("client-id", &c.client_id);
            put("client-secret", &c.client_secret);
            put("issuer-url", &c.issuer_url);
        }
        SecretPreset::Grafana => {
            put("GF_AUTH_GENERIC_OAUTH_ENABLED", "true");
            put("GF_AUTH_GENERIC_OAUTH_CLIENT_ID", &c.client_id);
            put("GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET", &c.client_secret);
            put("GF_AUTH_GENERIC_OAUTH_SCOPES", &c.scopes.join(" "));
            put("GF_AUTH_GENERIC_OAUTH_USE_PKCE", "true");
            if let Some(u) = &c.authorization_url {
                put("GF_AUTH_GENERIC_OAUTH_AUTH_URL", u);
            }
            if let Some(u) = &c.token_url {
                put("GF_AUTH_GENERIC_OAUTH_TOKEN_URL", u);
            }
            if let Some(u) = &c.userinfo_url {
                put("GF_AUTH_GENERIC_OAUTH_API_URL", u);
            }
        }
        SecretPreset::Argocd => {
            put("clientID", &c.client_id);
            put("clientSecret", &c.client_secret);
            put("issuer", &c.issuer_url);
        }
        SecretPreset::OAuth2Proxy => {
            put("OAUTH2_PROXY_PROVIDER", "oidc");
            put("OAUTH2_PROXY_CLIENT_ID", &c.client_id);
            put("OAUTH2_PROXY_CLIENT_SECRET", &c.client_secret);
            put("OAUTH2_PROXY_OIDC_ISSUER_URL", &c.issuer_url);
            put("OAUTH2_PROXY_SCOPE", &c.scopes.join(" "));
            if let Some(s) = &c.cookie_secret {
                put("OAUTH2_PROXY_COOKIE_SECRET", s);
            }
        }
    }
    out
}

/// Renders a template: `{{ name }}` (spaces optional) for each credential; unknown
/// names are an error naming them.
pub(crate) fn render_template(template: &str, c: &Credentials) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| "unclosed {{".to_string())?;
        let name = after[..end].trim();
        let value = match name {
            "clientID" => Some(c.client_id.clone()),
            "clientSecret" => Some(c.client_secret.clone()),
            "issuerURL" => Some(c.issuer_url.clone()),
            "scopes" => Some(c.scopes.join(" ")),
            "authorizationURL" => c.authorization_url.clone(),
            "tokenURL" => c.token_url.clone(),
            "userinfoURL" => c.userinfo_url.clone(),
            other => return Err(format!("unknown template variable {other:?}")),
        };
        out.push_str(&value.unwrap_or_default());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            client_id: "grafana".into(),
            client_secret: "s3cret".into(),
            issuer_url: "https://idp.example.com".into(),
            scopes: vec!["openid".into(), "email".into()],
            token_url: Some("https://idp.example.com/token".into()),
            ..Default::default()
        }
    }

    #[test]
    fn grafana_reads_its_generic_oauth_variables() {
        let d = data(SecretPreset::Grafana, &creds());
        assert_eq!(d["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"], "s3cret");
        assert_eq!(d["GF_AUTH_GENERIC_OAUTH_CLIENT_ID"], "grafana");
        assert_eq!(d["GF_AUTH_GENERIC_OAUTH_SCOPES"], "openid email");
        assert_eq!(
            d["GF_AUTH_GENERIC_OAUTH_TOKEN_URL"],
            "https://idp.example.com/token"
        );
        assert!(!d.contains_key("GF_AUTH_GENERIC_OAUTH_AUTH_URL"));
        assert_eq!(
            secret_key(SecretPreset::Grafana),
            "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"
        );
    }

    #[test]
    fn argocd_secret_is_labelled_for_argocd() {
        assert_eq!(
            labels(SecretPreset::Argocd)["app.kubernetes.io/part-of"],
            "argocd"
        );
        assert_eq!(
            data(SecretPreset::Argocd, &creds())["clientSecret"],
            "s3cret"
        );
    }

    #[test]
    fn templates_substitute_and_reject_unknown_names() {
        let c = creds();
        assert_eq!(
            render_template("id={{clientID}} secret={{ clientSecret }}", &c).unwrap(),
            "id=grafana secret=s3cret"
        );
        assert!(
            render_template("{{ nope }}", &c)
                .unwrap_err()
                .contains("nope")
        );
        assert!(render_template("{{ clientID", &c).is_err());
    }
}
