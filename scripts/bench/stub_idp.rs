//! A minimal OpenID provider for the load test (`scripts/bench/load.sh`): serves
//! discovery and a JWKS on 127.0.0.1, and writes what a client would present to the
//! outpost: a session cookie sealed with the outpost's cookie secret (as a login would
//! leave it), bearer access tokens (RS256, ES256), and pools of distinct tokens for
//! measuring uncached verification. Stops by itself after `--serve-seconds`.
//!
//! `cargo run --release --example bench_stub_idp -- --port 18090 --out DIR --cookie-secret S`

#[path = "../../benches/support/mod.rs"]
mod support;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
struct Args {
    /// Port on 127.0.0.1; the issuer is `http://127.0.0.1:PORT`.
    #[arg(long)]
    port: u16,
    /// Directory the cookie and tokens are written to.
    #[arg(long)]
    out: PathBuf,
    /// The outpost's cookie secret.
    #[arg(long)]
    cookie_secret: String,
    /// The route's cookie name (plain-http route: no `__Host-` prefix).
    #[arg(long, default_value = "portcullis")]
    cookie_name: String,
    /// The provider key in the outpost configuration.
    #[arg(long, default_value = "bench/idp")]
    provider: String,
    /// Distinct tokens per algorithm in the uncached pools (0: none).
    #[arg(long, default_value_t = 0)]
    pool: usize,
    /// Serve this long, then exit.
    #[arg(long, default_value_t = 600)]
    serve_seconds: u64,
}

fn write_lines(path: &Path, lines: &[String]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for l in lines {
        writeln!(f, "{l}")?;
    }
    f.flush()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let issuer = format!("http://127.0.0.1:{}", args.port);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let keys = support::Keys::generate();
    std::fs::create_dir_all(&args.out)?;

    let sessions = support::session_manager(&args.cookie_secret, &args.cookie_name);
    let cookie = support::cookie_header(&sessions, support::session_data(&args.provider), now);
    write_lines(&args.out.join("cookie.txt"), &[cookie])?;
    let claims = support::token_claims(&issuer, now, 0);
    write_lines(
        &args.out.join("bearer_rs256.txt"),
        &[keys.sign_rs256(&claims)],
    )?;
    write_lines(
        &args.out.join("bearer_es256.txt"),
        &[keys.sign_es256(&claims)],
    )?;
    if args.pool > 0 {
        let rs: Vec<String> = (1..=args.pool)
            .map(|i| keys.sign_rs256(&support::token_claims(&issuer, now, i)))
            .collect();
        write_lines(&args.out.join("pool_rs256.txt"), &rs)?;
        let es: Vec<String> = (1..=args.pool)
            .map(|i| keys.sign_es256(&support::token_claims(&issuer, now, i)))
            .collect();
        write_lines(&args.out.join("pool_es256.txt"), &es)?;
    }

    let discovery = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
    });
    let jwks = keys.jwks();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
        println!("READY {issuer}");
        let serve = axum::serve(listener, app);
        // Bounded: the stub never outlives the load test by more than this.
        let _ = tokio::time::timeout(Duration::from_secs(args.serve_seconds), serve).await;
        Ok::<_, std::io::Error>(())
    })?;
    Ok(())
}
