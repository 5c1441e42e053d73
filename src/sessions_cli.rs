//! `portcullis sessions list|revoke --user NAME`: a user's sessions on an outpost's admin
//! port (Redis session stores). Every replica sharing the store sees the result at once.

use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `portcullis sessions`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: SessionsAction,
}

/// `list` or `revoke`.
#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// List the user's live sessions (provider, started, last seen, expires) as JSON.
    List(Target),
    /// End every session of the user; copies of their cookies are refused afterwards.
    Revoke(Target),
}

/// Whose sessions, on which outpost.
#[derive(Debug, Args)]
pub struct Target {
    /// The user name (as in `X-Auth-Request-User` and the decision log).
    #[arg(long)]
    pub user: String,
    /// The outpost's admin port, e.g. `http://127.0.0.1:9090` (kubectl port-forward).
    #[arg(
        long,
        env = "PORTCULLIS_ADMIN_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub admin: String,
}

/// Runs the command: prints the outpost's JSON answer; exit 1 when it is not a success.
pub fn run(args: &SessionsArgs) -> ExitCode {
    let (target, revoke) = match &args.action {
        SessionsAction::List(t) => (t, false),
        SessionsAction::Revoke(t) => (t, true),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let base = target.admin.trim_end_matches('/');
    let user: String = url::form_urlencoded::byte_serialize(target.user.as_bytes()).collect();
    let path = if revoke {
        "sessions/revoke"
    } else {
        "sessions"
    };
    let url = format!("{base}/{path}?user={user}");
    let client = reqwest::Client::new();
    let request = if revoke {
        client.post(&url)
    } else {
        client.get(&url)
    };
    let outcome = runtime.block_on(async {
        let r = request
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await?;
        let status = r.status();
        Ok::<_, reqwest::Error>((status, r.text().await?))
    });
    match outcome {
        Ok((status, body)) => {
            println!("{}", body.trim_end());
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                eprintln!("error: {url} answered {status}");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {url}: {e}; is --admin the outpost's admin port?");
            ExitCode::FAILURE
        }
    }
}
