//! What the two long-running roles (`operator`, `outpost`) share as processes: the same
//! flags for logging and the admin port, one way to install logging, to run the async
//! runtime, and to wait for a shutdown signal.

use std::future::Future;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, fields at the top level (for log collectors).
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

/// The flags both long-running roles take, with the same names and meaning.
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessArgs {
    /// Log format (`RUST_LOG` filters, default `info`).
    #[arg(long, env = "PORTCULLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Address of the admin server (`/healthz`, `/readyz`, `/metrics`). Default
    /// `0.0.0.0:9090` for the outpost, `0.0.0.0:8081` for the operator. `--admin-addr`
    /// is the operator's former name of this flag and still accepted.
    #[arg(long, env = "PORTCULLIS_ADMIN_LISTEN", alias = "admin-addr")]
    pub admin_listen: Option<SocketAddr>,
}

impl ProcessArgs {
    /// The admin address, or the role's default.
    pub fn admin_listen_or(&self, default: SocketAddr) -> SocketAddr {
        self.admin_listen.unwrap_or(default)
    }
}

/// Lines the background log writer queues before it drops (see [`init_logging`]).
const LOG_QUEUE_LINES: usize = 16_384;

/// The background writer of JSON logs, once [`init_logging`] installed them: lines
/// written by hand (the outpost's decision line) go the same way as `tracing`'s.
static JSON_LOG_WRITER: std::sync::OnceLock<tracing_appender::non_blocking::NonBlocking> =
    std::sync::OnceLock::new();

/// Where to write a hand-formatted JSON log line, when the process logs JSON through
/// [`init_logging`]; `None` otherwise (text logs, tests), and then `tracing` it is.
pub fn json_log_writer() -> Option<&'static tracing_appender::non_blocking::NonBlocking> {
    JSON_LOG_WRITER.get()
}

/// Installs the log subscriber. Lines go through a background writer thread: a
/// `write(2)` per decision on the outpost's request path cost about 7% of a cookie check
/// (docs/benchmarks.md). The returned guard flushes what is queued when dropped, so
/// hold it until the process ends.
pub fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    // The queue's slots are allocated up front: the default 128,000 lines were 4 MB of
    // every process's memory. 16,384 lines are a third of a second of decisions at
    // 50,000 requests per second (the writer drains continuously); past that, lines are
    // dropped rather than slowing requests, as before.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(std::io::stdout());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = wants_colour(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer.clone());
    // A second init (tests) is harmless; keep the first subscriber.
    match format {
        LogFormat::Json => {
            if builder.json().flatten_event(true).try_init().is_ok() {
                let _ = JSON_LOG_WRITER.set(writer);
            }
        }
        LogFormat::Text => {
            let _ = builder.try_init();
        }
    }
    guard
}

/// Whether text logs get ANSI colours: only on a terminal, and never when `NO_COLOR` is
/// set to anything non-empty (no-color.org). Piped to a file, a log collector or
/// `kubectl logs`, escape codes are noise that breaks `grep`.
fn wants_colour(stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The release and the commit this binary was built from (`build.rs`), as
/// `portcullis --version` prints it and each role's first log line says it.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PORTCULLIS_COMMIT"),
    ")"
);

/// Runs `main` on a multi-threaded runtime and returns its exit code, after a first log
/// line naming the role and the build ([`VERSION`]); a runtime that cannot start is
/// reported on stderr as `portcullis <role>: ...`.
pub fn block_on<F: Future<Output = ExitCode>>(role: &str, main: F) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            tracing::info!(role, version = VERSION, "starting portcullis {role}");
            runtime.block_on(main)
        }
        Err(e) => {
            eprintln!("portcullis {role}: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM (what the kubelet sends) or Ctrl-C. The handlers are installed
/// when this is called, not when the future is first polled: once tokio handles a signal
/// its default action (ending the process) is gone for good, so a SIGTERM between a role
/// saying it is up and its first poll of a lazily made future was swallowed, and the pod
/// waited out its grace period. Make it once, before saying "listening" or "waiting",
/// and poll the same future at every wait.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // A handler that cannot be installed (never seen on Linux) leaves that signal's
        // default action in place, which also ends the process.
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let recv = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = recv(term) => {}
                () = recv(interrupt) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Role {
        #[command(flatten)]
        process: ProcessArgs,
    }

    /// A SIGTERM that arrives after the future is made and before it is first polled
    /// is not lost. (Were the handler installed on first poll, as before, this signal
    /// would end the test process with "signal: 15".)
    #[tokio::test]
    async fn a_sigterm_before_the_first_wait_still_stops() {
        let stop = shutdown_signal();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        tokio::time::timeout(std::time::Duration::from_secs(10), stop)
            .await
            .expect("the SIGTERM sent before the first poll ends the wait");
    }

    #[test]
    fn both_names_of_the_admin_flag_parse_and_the_role_default_applies_otherwise() {
        let default: SocketAddr = "0.0.0.0:8081".parse().unwrap();
        let new = Role::try_parse_from(["x", "--admin-listen", "127.0.0.1:1"]).unwrap();
        let old = Role::try_parse_from(["x", "--admin-addr=127.0.0.1:1"]).unwrap();
        assert_eq!(new.process.admin_listen_or(default).port(), 1);
        assert_eq!(old.process.admin_listen_or(default).port(), 1);
        let none = Role::try_parse_from(["x"]).unwrap();
        assert_eq!(none.process.admin_listen_or(default), default);
    }

    #[test]
    fn log_format_is_json_or_text_and_nothing_else() {
        let text = Role::try_parse_from(["x", "--log-format", "text"]).unwrap();
        assert_eq!(text.process.log_format, LogFormat::Text);
        let default = Role::try_parse_from(["x"]).unwrap();
        assert_eq!(default.process.log_format, LogFormat::Json);
        let error = Role::try_parse_from(["x", "--log-format", "yaml"]).unwrap_err();
        assert!(error.to_string().contains("json"), "{error}");
    }

    #[test]
    fn text_logs_are_coloured_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(wants_colour(true, None));
        assert!(wants_colour(true, Some(OsStr::new(""))));
        assert!(
            !wants_colour(false, None),
            "a pipe or a file gets no escape codes"
        );
        assert!(!wants_colour(true, Some(OsStr::new("1"))));
        assert!(!wants_colour(false, Some(OsStr::new("1"))));
    }
}
