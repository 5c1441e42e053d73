//! `scripts/demo`: Portcullis in front of a sample app, with a local OpenID Provider and
//! nginx configured like ingress-nginx, all on loopback. Open the printed URL and log in.
//! With `--smoke`, it logs in with a scripted browser instead and exits.

#[path = "../tests/e2e/mod.rs"]
mod e2e;

use e2e::{
    IdpAccount, IdpClient, IdpOptions, Nginx, NginxOptions, Outpost, OutpostOptions, OutpostRoute,
    UpstreamApp, UserAgent,
};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let front_port: u16 = std::env::var("DEMO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let front = format!("http://127.0.0.1:{front_port}");
    let mut client = IdpClient::new(
        "portcullis-demo",
        "demo-client-secret",
        &format!("{front}/oauth2/callback"),
    );
    client.post_logout_redirect_uris = vec![format!("{front}/")];
    let idp = e2e::Idp::start(IdpOptions {
        algorithms: vec!["ES256".into()],
        clients: vec![client],
        accounts: vec![
            IdpAccount::new(
                "alice",
                "wonderland",
                "alice@example.test",
                &["admins", "devs"],
            ),
            IdpAccount::new("bob", "builder", "bob@example.test", &["visitors"]),
        ],
        ..IdpOptions::default()
    })?;
    let app = UpstreamApp::start().await?;
    let outpost = Outpost::start(&OutpostOptions {
        issuer: idp.issuer().to_string(),
        client_id: "portcullis-demo".into(),
        client_secret: "demo-client-secret".into(),
        routes: vec![OutpostRoute {
            id: "demo/app".into(),
            auth_url: front.clone(),
            groups: vec!["admins".into()],
            public_paths: vec!["/healthz".into()],
            bearer: false,
        }],
    })
    .await?;
    let mut opts = NginxOptions::new(&outpost.addr(), &format!("127.0.0.1:{}", app.port()));
    opts.port = Some(front_port);
    let nginx = Nginx::start(opts)?;

    if smoke {
        let mut ua = UserAgent::new();
        ua.get(&format!("{front}/")).await?;
        let page = ua.login("alice", "wonderland").await?;
        let ok = page.status == 200
            && app
                .last_request()
                .and_then(|r| r.header("x-auth-request-user").map(str::to_owned))
                .as_deref()
                == Some("alice");
        println!(
            "demo smoke: login as alice -> {} at {}",
            page.status, page.url
        );
        if !ok {
            eprintln!("{}\n{}", outpost.log(), nginx.log());
            return Err("the demo login did not reach the app as alice".into());
        }
        return Ok(());
    }

    println!();
    println!("  Portcullis demo is running.");
    println!();
    println!("  Open        {front}/");
    println!("  Log in as   alice / wonderland   (group admins: let in)");
    println!("          or  bob / builder        (group visitors: denied, with the rule named)");
    println!("  Sign out    {front}/oauth2/sign_out");
    println!("  IdP         {}", idp.issuer());
    println!("  Metrics     {}/metrics", outpost.admin_url());
    println!();
    println!("  Ctrl-C stops everything.");
    tokio::signal::ctrl_c().await?;
    drop(nginx);
    Ok(())
}
