use super::*;
use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};

fn world(client_mode: &str) -> World {
    let provider: OIDCProvider = serde_yaml::from_str(
        "apiVersion: portcullis.dev/v1alpha1\nkind: OIDCProvider\nmetadata: {name: p, namespace: apps}\nspec: {issuerURL: 'https://idp.example.com', clientRef: {name: c}}",
    )
    .unwrap();
    let client: OAuthClient = serde_yaml::from_str(&format!(
        "apiVersion: portcullis.dev/v1alpha1\nkind: OAuthClient\nmetadata: {{name: c, namespace: apps}}\nspec: {{providerRef: {{name: p}}, mode: {client_mode}, registration: {{}}, redirectURIs: ['https://grafana.example.com/login']}}",
    ))
    .unwrap();
    let route = |name: &str, host: &str, ns: &str| -> ForwardAuthRoute {
        serde_yaml::from_str(&format!(
            "apiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{hosts: [{host}], providerRef: {{name: p, namespace: apps}}, policy: {{groups: [admins]}}}}",
        ))
        .unwrap()
    };
    World {
        providers: vec![provider],
        clients: vec![client],
        // The second route's namespace is not among those the provider allows.
        routes: vec![
            route("r", "app.example.com", "apps"),
            route("x", "other.example.com", "elsewhere"),
        ],
        ..World::default()
    }
}

/// A Dynamic client registers the redirect URIs of the routes signing in with it before
/// its provider (and so those routes) can be Ready: the status `render` shows lists them,
/// as the operator's registration does, and leaves out a route the provider does not
/// allow.
#[test]
fn a_clients_redirect_uris_include_routes_that_are_not_served_yet() {
    for mode in ["Dynamic", "Generated"] {
        let compiled = compile(&world(mode), "sys", Timestamp::now(), &mut || "s".into());
        let key = ObjectKey::new("apps", "c");
        let status = &compiled.client_status[&key];
        assert_eq!(
            status.redirect_uris,
            [
                "https://app.example.com/oauth2/callback",
                "https://grafana.example.com/login"
            ],
            "{mode}"
        );
    }
}
