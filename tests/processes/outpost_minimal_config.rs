//! The real binary on the smallest hand-written `--config` file (the one
//! `docs/reference/outpost-config.md` opens with): it starts, answers `/readyz` once the
//! real IdP's discovery and keys are loaded, serves every path of the route (no `paths`)
//! and asks the IdP for the default scopes (no `scopes`).

use crate::e2e;

use e2e::{Idp, IdpClient, IdpOptions, Outpost, Tool, free_port, require};
use portcullis::config::MINIMAL_EXAMPLE;

const CLIENT_SECRET: &str = "e2e-minimal-config-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minimal_file_starts_an_outpost_that_serves_its_route() {
    if !require(&[Tool::Node, Tool::IdpPackages]) {
        return;
    }
    let front = format!("http://127.0.0.1:{}", free_port());
    let idp = Idp::start(IdpOptions {
        clients: vec![IdpClient::new(
            "portcullis",
            CLIENT_SECRET,
            &format!("{front}/oauth2/callback"),
        )],
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    // Only what a test machine needs changed: the real issuer and URLs, the secret
    // inline. No field is added.
    let host = front.trim_start_matches("http://");
    let yaml = MINIMAL_EXAMPLE
        .replace("https://idp.example.com/", idp.issuer())
        .replace(
            "{ file: /etc/portcullis/client-secret }",
            &format!("{{ value: {CLIENT_SECRET} }}"),
        )
        .replace("[app.example.com]", &format!("[\"{host}\"]"))
        .replace("https://app.example.com", &front);
    for field in ["scopes", "claims", "clockSkewSeconds", "paths"] {
        assert!(!yaml.contains(field), "{field} in\n{yaml}");
    }
    let outpost = Outpost::start_with_yaml(&yaml)
        .await
        .unwrap_or_else(|e| panic!("the outpost refused\n{yaml}\n{e}"));

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ready = http
        .get(format!("{}/readyz", outpost.admin_url()))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200, "{}", outpost.log());

    // Any path of the host belongs to the route: not signed in (401), not "no route".
    let auth = format!("http://{}/oauth2/auth", outpost.addr());
    let r = http
        .get(&auth)
        .header("x-original-url", format!("{front}/deep/path?q=1"))
        .send()
        .await
        .expect("auth subrequest");
    assert_eq!(r.status(), 401, "{}", outpost.log());
    let elsewhere = http
        .get(&auth)
        .header("x-original-url", "http://other.example.com/")
        .send()
        .await
        .expect("auth subrequest");
    assert_ne!(
        elsewhere.status(),
        401,
        "a host of no route is not this route"
    );

    // The login asks the IdP for the default scopes.
    let start = http
        .get(format!(
            "http://{}/oauth2/start?rd={}",
            outpost.addr(),
            url::form_urlencoded::byte_serialize(format!("{front}/deep/path").as_bytes())
                .collect::<String>()
        ))
        .header("x-forwarded-host", host)
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .expect("start");
    assert_eq!(start.status(), 302, "{}", outpost.log());
    let location = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        location.as_str().starts_with(idp.issuer()),
        "to the IdP: {location}"
    );
    let scope = location
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned());
    assert_eq!(scope.as_deref(), Some("openid profile email"));
}
