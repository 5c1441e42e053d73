//! The `portcullis outpost` process: logging, listeners, the startup line, signals.

use super::cluster_source::ClusterSource;
use super::source::{ConfigSource, FileSource};
use super::{Options, Running, SigningKey, StartError, start};
use crate::config::SIGNING_KEY_KEY;
use crate::outpost::DEFAULT_ADMIN_LISTEN;
use crate::outpost::OutpostArgs;
use crate::process;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

async fn bind(addr: SocketAddr, what: &'static str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen {
            what,
            addr: addr.to_string(),
            message: e.to_string(),
        })
}

/// Routes named in the start-up line; the rest are counted.
const STARTUP_ROUTES_LISTED: usize = 10;

/// `portcullis outpost`: returns the process exit code.
pub fn run(args: &OutpostArgs) -> ExitCode {
    let _log_writer = process::init_logging(args.process.log_format);
    process::block_on("outpost", async {
        match run_async(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "portcullis outpost cannot start");
                eprintln!("portcullis outpost: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run_async(args: &OutpostArgs) -> Result<(), StartError> {
    let env_secrets = std::env::var("PORTCULLIS_COOKIE_SECRETS").unwrap_or_default();
    let files = FileSource {
        path: args.config.clone().unwrap_or_default(),
        cookie_secret_files: args.cookie_secret_file.clone(),
        cookie_secrets: env_secrets.split(',').map(str::to_string).collect(),
        ..Default::default()
    };
    let mut signing_key = args.signing_key_file.clone().map(SigningKey::File);
    let source: Arc<dyn ConfigSource> = match &args.cluster_namespace {
        Some(namespace) => {
            let client = kube::Client::try_default()
                .await
                .map_err(|e| StartError::Config {
                    source_name: format!("cluster namespace {namespace}"),
                    message: format!("no Kubernetes client (in-cluster config or KUBECONFIG): {e}"),
                })?;
            let cluster = ClusterSource::start(client, namespace.clone(), files)
                .with_keys_secret(args.keys_secret.clone());
            if signing_key.is_none() {
                signing_key = cluster
                    .keys_secret_value(SIGNING_KEY_KEY)
                    .await
                    .map_err(|e| StartError::Config {
                        source_name: cluster.describe(),
                        message: e.to_string(),
                    })?
                    .map(|pem| SigningKey::Pkcs8 {
                        origin: format!(
                            "Secret {namespace}/{} key {SIGNING_KEY_KEY}",
                            args.keys_secret.as_deref().unwrap_or_default()
                        ),
                        bytes: pem.into_bytes(),
                    });
            }
            Arc::new(cluster)
        }
        None => Arc::new(files),
    };
    let options = Options {
        trusted_proxies: args.trusted_proxy.clone(),
        allow_http_loopback: args.allow_http_loopback,
        signing_key: signing_key.unwrap_or(SigningKey::Generate),
        reload_interval: args.reload_interval.into(),
        jwks_refresh_interval: args.jwks_refresh_interval.into(),
    };
    let listener = bind(args.listen, "--listen").await?;
    let admin = bind(
        args.process.admin_listen_or(DEFAULT_ADMIN_LISTEN),
        "--admin-listen",
    )
    .await?;
    let running = start(source.clone(), &options, listener, admin).await?;
    let loaded = running.app.loaded();
    // The first few routes by name: a line listing 10,000 routes was 1.4 MB, and its
    // formatting buffer stayed allocated for the life of the process.
    let routes: Vec<String> = loaded
        .routes
        .iter()
        .take(STARTUP_ROUTES_LISTED)
        .map(|r| {
            format!(
                "{} [{}] -> {}",
                r.config.id,
                r.config.hosts.join(","),
                r.base
            )
        })
        .collect();
    let more = loaded.routes.len().saturating_sub(routes.len());
    let more = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    let stop = process::shutdown_signal();
    tracing::info!(
        listen = %running.addr,
        admin = %running.admin_addr,
        config = %source.describe(),
        routes = loaded.routes.len(),
        "portcullis outpost listening on http://{} (admin http://{}), {} route(s): {}{more}",
        running.addr,
        running.admin_addr,
        loaded.routes.len(),
        routes.join("; ")
    );
    tokio::select! {
        () = running_wait(&running) => {}
        () = stop => {
            tracing::info!("shutting down: no new connections, finishing requests in flight");
        }
    }
    running.drain(Duration::from_secs(10)).await;
    Ok(())
}

async fn running_wait(running: &Running) {
    // The servers only end on a listener error; poll cheaply until one does.
    while !running.server_ended() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
