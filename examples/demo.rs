//! `scripts/demo`: Portcullis in front of a sample app, with a local OpenID Provider and
//! nginx configured like ingress-nginx, all on loopback. Open the printed URL and log in.
//! With `--smoke`, it logs in with a scripted browser instead and exits.
//!
//! `--cluster`: the whole product instead of one outpost on a file — a real control
//! plane (kube-apiserver 1.37, etcd, controller-manager), the Helm chart installed, the
//! operator and the outpost started exactly as their Deployments say, and the demo's
//! provider, client and route applied as resources.

#[path = "../tests/e2e/mod.rs"]
mod e2e;

use e2e::pod::PodProcess;
use e2e::{
    ControlPlane, IdpAccount, IdpClient, IdpOptions, Nginx, NginxOptions, Outpost, OutpostOptions,
    OutpostRoute, UpstreamApp, UserAgent,
};
use std::time::Duration;

type Error = Box<dyn std::error::Error>;

const CLIENT_ID: &str = "portcullis-demo";
const CLIENT_SECRET: &str = "demo-client-secret";

/// What serves the auth subrequests: an outpost on a file, or a cluster's.
enum Serving {
    File(Outpost),
    Cluster(Box<InCluster>),
}

/// The control plane and both roles running as their pod specs say.
struct InCluster {
    cp: ControlPlane,
    operator: PodProcess,
    outpost: PodProcess,
}

impl Serving {
    fn log(&self) -> String {
        match self {
            Serving::File(o) => o.log(),
            Serving::Cluster(c) => format!("{}\n{}", c.operator.log(), c.outpost.log()),
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let cluster = std::env::args().any(|a| a == "--cluster");
    let front_port: u16 = std::env::var("DEMO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    // Fail loudly before starting anything when the front port is taken: nginx would
    // not bind, yet the readiness check would see the other listener and carry on.
    if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", front_port)) {
        return Err(format!(
            "port {front_port} on 127.0.0.1 is not free ({e}); stop what listens there or pick another port with DEMO_PORT=<port>"
        )
        .into());
    }
    let front = format!("http://127.0.0.1:{front_port}");
    let mut client = IdpClient::new(
        CLIENT_ID,
        CLIENT_SECRET,
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
    let serving = if cluster {
        in_cluster(idp.issuer(), front_port).await?
    } else {
        Serving::File(
            Outpost::start(&OutpostOptions {
                issuer: idp.issuer().to_string(),
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                routes: vec![OutpostRoute {
                    id: "demo/app".into(),
                    auth_url: front.clone(),
                    groups: vec!["admins".into()],
                    public_paths: vec!["/healthz".into()],
                    bearer: false,
                    also_hosts: Vec::new(),
                }],
            })
            .await?,
        )
    };
    let outpost_addr = match &serving {
        Serving::File(o) => o.addr(),
        Serving::Cluster(c) => format!("127.0.0.1:{}", c.outpost.port("http")),
    };
    let mut opts = NginxOptions::new(&outpost_addr, &format!("127.0.0.1:{}", app.port()));
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
            "demo smoke{}: login as alice -> {} at {}",
            if cluster { " (cluster)" } else { "" },
            page.status,
            page.url
        );
        if !ok {
            eprintln!("{}\n{}", serving.log(), nginx.log());
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
    match &serving {
        Serving::File(o) => println!("  Metrics     {}/metrics", o.admin_url()),
        Serving::Cluster(c) => {
            let (cp, outpost) = (&c.cp, &c.outpost);
            println!(
                "  Metrics     http://127.0.0.1:{}/metrics",
                outpost.port("admin")
            );
            println!(
                "  kubectl     export KUBECONFIG={}   (kubectl v1.37.2 is in {})",
                cp.kubeconfig().display(),
                cp.kubectl_dir().display()
            );
            println!();
            println!(
                "{}",
                cp.kubectl().ok(&[
                    "get",
                    "oidcproviders,oauthclients,forwardauthroutes",
                    "-A",
                    "-o",
                    "wide"
                ])
            );
        }
    }
    // Listen before saying so: a SIGTERM sent on reading the line below (as a supervisor
    // or the demo's test does) found no handler yet and killed the demo, its children
    // and temporary folders left behind.
    let stop = portcullis::process::shutdown_signal();
    println!();
    println!("  Ctrl-C (or SIGTERM) stops everything.");
    stop.await;
    println!("stopping nginx, the outpost, the app and the IdP; removing their temporary folders");
    drop(nginx);
    drop(serving);
    drop(app);
    drop(idp);
    Ok(())
}

/// A control plane with the chart installed and both roles running as their pod specs
/// say; the demo's provider, Static client and route applied as resources.
async fn in_cluster(issuer: &str, front_port: u16) -> Result<Serving, Error> {
    println!("starting a control plane (the first run builds it: about 20 minutes)...");
    let cp = ControlPlane::start()?;
    cp.helm_install_on_loopback()?;
    let kubectl = cp.kubectl();
    kubectl.apply_yaml(&format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: demo}}
---
apiVersion: v1
kind: Secret
metadata: {{name: idp-credentials, namespace: demo}}
stringData: {{client-id: {CLIENT_ID}, client-secret: {CLIENT_SECRET}}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: outpost, namespace: demo}}
spec: {{providerRef: {{name: local}}, mode: Static, credentialsSecretRef: {{name: idp-credentials}}}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: local, namespace: demo}}
spec: {{issuerURL: "{issuer}", clientRef: {{name: outpost}}, scopes: [openid, profile, email, groups]}}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: app, namespace: demo}}
spec:
  hosts: ["127.0.0.1:{front_port}"]
  authURL: "http://127.0.0.1:{front_port}"
  providerRef: {{name: local}}
  policy: {{groups: [admins], public: {{paths: [/healthz]}}}}
"#
    ));
    let deployment =
        |name: &str| kubectl.json(&["get", "deployment", name, "-n", "portcullis-system"]);
    let mut operator = PodProcess::start(&cp, &deployment("portcullis-operator"));
    operator.wait_ready(Duration::from_secs(60)).await;
    kubectl.eventually(
        &["get", "forwardauthroute", "app", "-n", "demo"],
        "the demo route Ready",
        90,
        |v| e2e::has_condition(v, "Ready", "True"),
        || operator.log(),
    );
    let mut outpost = PodProcess::start(&cp, &deployment("portcullis-outpost"));
    outpost.wait_ready(Duration::from_secs(60)).await;
    Ok(Serving::Cluster(Box::new(InCluster {
        cp,
        operator,
        outpost,
    })))
}
