//! `portcullis sessions list|revoke --user NAME`: a user's sessions on an outpost's admin
//! port (Redis session stores). Every replica sharing the store sees the result at once.

use clap::{Args, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

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
    let outcome = runtime.block_on(async {
        let client = admin_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT)?;
        call(&client, &url, revoke, REQUEST_TIMEOUT).await
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
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How long connecting to the admin port may take: it is local (a port-forward) or in
/// the cluster, so a few seconds is already a dead end.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the whole request may take (revoking reaches the session store).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the outpost's admin port gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    /// The HTTP client could not be built (the TLS backend failed to start).
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// No answer within the time allowed.
    #[error(
        "{url} did not answer within {}s; is --admin (or PORTCULLIS_ADMIN_URL) the outpost's admin port, and is the outpost (or kubectl port-forward) running?",
        after.as_secs_f32()
    )]
    TimedOut {
        /// The URL asked.
        url: String,
        /// The time allowed (connecting, or the whole request).
        after: Duration,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The request failed otherwise (refused, DNS, TLS, closed).
    #[error("{url}: {detail}; is --admin (or PORTCULLIS_ADMIN_URL) the outpost's admin port?")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong, as a person can act on it.
        detail: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
}

/// The client for the admin port: bounded connect and request times (a default client
/// has none, and a port-forward that accepts but never answers would hang the command).
fn admin_client(connect: Duration, overall: Duration) -> Result<reqwest::Client, SessionsError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(overall)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(SessionsError::Client)
}

/// `error` and its causes, each once, without reqwest's "error sending request" (which
/// says nothing its causes do not).
fn causes(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        // Wrappers often repeat their cause's text; keep each piece once.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        next = e.source();
    }
    // reqwest's own top line says nothing its causes do not.
    if parts.len() > 1 && parts[0] == "error sending request" {
        parts.remove(0);
    }
    parts.join(": ")
}

/// Asks `url` (POST to revoke, GET to list): the status and body of the answer.
async fn call(
    client: &reqwest::Client,
    url: &str,
    revoke: bool,
    overall: Duration,
) -> Result<(reqwest::StatusCode, String), SessionsError> {
    let failed = |source: reqwest::Error| {
        if source.is_timeout() {
            SessionsError::TimedOut {
                url: url.to_string(),
                after: overall,
                source,
            }
        } else {
            // The URL leads the message already; the causes say what went wrong
            // (reqwest's own top line, "error sending request", does not).
            let source = source.without_url();
            SessionsError::Unreachable {
                url: url.to_string(),
                detail: causes(&source),
                source,
            }
        }
    };
    let request = if revoke {
        client.post(url)
    } else {
        client.get(url)
    };
    let answer = request.send().await.map_err(failed)?;
    let status = answer.status();
    let body = answer.text().await.map_err(failed)?;
    Ok((status, body))
}

#[cfg(test)]
#[path = "sessions_cli_tests.rs"]
mod tests;
