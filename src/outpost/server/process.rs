//! The `portcullis outpost` process: logging, listeners, the startup line, signals.

use super::cluster_source::ClusterSource;
use super::source::{ConfigSource, FileSource};
use super::{Options, Running, SigningKey, StartError, start};
use crate::config::SIGNING_KEY_KEY;
use crate::outpost::OutpostArgs;
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

/// Lines the background log writer queues before it drops (see [`init_logging`]).
const LOG_QUEUE_LINES: usize = 16_384;

/// Routes named in the start-up line; the rest are counted.
const STARTUP_ROUTES_LISTED: usize = 10;

/// Installs the log subscriber. Lines go through a background writer thread: a
/// `write(2)` per decision on the request path cost about 7% of a cookie check
/// (docs/benchmarks.md). The returned guard flushes what is queued when dropped.
fn init_logging(json: bool) -> tracing_appender::non_blocking::WorkerGuard {
    // The queue's slots are allocated up front: the default 128,000 lines were 4 MB of
    // every outpost's memory. 16,384 lines are a third of a second of decisions at
    // 50,000 requests per second (the writer drains continuously); past that, lines are
    // dropped rather than slowing requests, as before.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(std::io::stdout());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // A second init (tests) is harmless; keep the first subscriber.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    guard
}

/// `portcullis outpost`: returns the process exit code.
pub fn run(args: &OutpostArgs) -> ExitCode {
    let _log_writer = init_logging(args.log_format == "json");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portcullis outpost: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
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
    let admin = bind(args.admin_listen, "--admin-listen").await?;
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
        () = shutdown_signal() => {
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

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
