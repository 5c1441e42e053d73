//! The smallest `--config` file that serves a route: only the fields without a default.
//! `docs/reference/outpost-config.md` opens with it, and the tests load it, so the example
//! a user copies first is one the outpost accepts.

/// One provider and one route; everything left out takes its documented default
/// (scopes `openid profile email`, the usual claim names, 30 s clock skew, every path,
/// the redirect URI `authURL` + `/oauth2/callback`, the session and header defaults).
pub const MINIMAL_EXAMPLE: &str = "\
providers:
  team/idp:
    issuerURL: https://idp.example.com/
    clientID: portcullis
    clientSecret: { file: /etc/portcullis/client-secret }
routes:
  - id: team/app
    hosts: [app.example.com]
    provider: team/idp
    authURL: https://app.example.com
    policy: { groups: [staff] }
";
