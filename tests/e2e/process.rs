//! Child processes that die with their handle, tool discovery and port helpers.

use std::fs::File;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{HarnessError, Result, repo_root};

/// An external tool an end-to-end test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `node` (v20+), for the IdP and the browser driver.
    Node,
    /// `nginx` with the auth_request and set-misc modules.
    Nginx,
    /// `caddy` v2.
    Caddy,
    /// System Chromium (for the browser driver).
    Chromium,
    /// `tests/idp/node_modules` (npm ci).
    IdpPackages,
    /// `tests/browser/node_modules` (npm ci).
    BrowserPackages,
    /// `redis-server` and `redis-cli` (Debian's redis-server package).
    Redis,
    /// The `openssl` command (test certificates).
    Openssl,
}

impl Tool {
    /// Why the tool counts as missing, or `None` when it is present.
    fn missing(self) -> Option<String> {
        let found = match self {
            Tool::Node => which("node").is_some(),
            Tool::Nginx => {
                which("nginx").is_some() && Path::new(super::nginx::SET_MISC_MODULE).exists()
            }
            Tool::Caddy => which("caddy").is_some(),
            Tool::Chromium => chromium_path().exists(),
            Tool::IdpPackages => repo_root()
                .join("tests/idp/node_modules/oidc-provider")
                .exists(),
            Tool::Redis => which("redis-server").is_some() && which("redis-cli").is_some(),
            Tool::Openssl => which("openssl").is_some(),
            Tool::BrowserPackages => repo_root()
                .join("tests/browser/node_modules/playwright-core")
                .exists(),
        };
        (!found).then(|| format!("{self:?}"))
    }
}

/// The Chromium binary the browser driver uses (`CHROMIUM_PATH` or `/usr/bin/chromium`).
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Find an executable on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        .unwrap_or(false)
}

/// Check that the tools a test needs exist. Returns `false` (and says why on stderr) when
/// one is missing outside CI, so the test can return early; panics when one is missing
/// under `CI`, where a skipped end-to-end test would hide a broken machine.
pub fn require(tools: &[Tool]) -> bool {
    let missing: Vec<String> = tools.iter().filter_map(|t| t.missing()).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "missing test tools: {} (run scripts/setup)",
        missing.join(", ")
    );
    if in_ci() {
        panic!("{msg}; CI is set, so this is a failure, not a skip");
    }
    // Straight to fd 2: libtest captures eprintln!, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {msg}");
    false
}

/// A free TCP port on 127.0.0.1 (bound and released; a small race is accepted).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// A child process whose stdout/stderr go to a log file, killed and reaped on drop. When
/// dropped during a panic it prints the tail of its log, which is usually the clue.
#[derive(Debug)]
pub struct ManagedChild {
    name: String,
    child: Child,
    log_path: PathBuf,
    /// For [`ManagedChild::spawn_tied`]: the pipe whose end stops the process.
    _tie: Option<std::process::ChildStdin>,
}

impl ManagedChild {
    /// Spawn `cmd` with its output appended to `log_path`.
    pub fn spawn(name: &str, mut cmd: Command, log_path: PathBuf) -> Result<Self> {
        let log = File::create(&log_path)?;
        let log_err = log.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        // Own process group, so teardown reaches what the child forks (nginx workers,
        // Chromium under Node): a SIGKILLed nginx master leaves its workers running.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|source| HarnessError::Spawn {
            name: name.to_owned(),
            source,
        })?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log_path,
            _tie: None,
        })
    }

    /// Like [`ManagedChild::spawn`], for a process held in a `static` (never dropped): it
    /// runs under a small shell that kills it when the test process's end of a pipe
    /// closes, which happens however the test process ends. The shell exits with the
    /// process, so [`ManagedChild::check_running`] still sees a crash.
    pub fn spawn_tied(name: &str, cmd: Command, log_path: PathBuf) -> Result<Self> {
        let mut tied = Command::new("sh");
        tied.arg("-c")
            // Background jobs of a non-interactive shell read /dev/null unless told
            // otherwise: the watcher reads the pipe through fd 3.
            .arg(r#"exec 3<&0; "$@" </dev/null & child=$!; (read -r _ <&3; kill -TERM "$child" 2>/dev/null) & wait "$child""#)
            .arg("sh")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => tied.env(key, v),
                None => tied.env_remove(key),
            };
        }
        let log = File::create(&log_path)?;
        let log_err = log.try_clone()?;
        tied.stdin(Stdio::piped())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        std::os::unix::process::CommandExt::process_group(&mut tied, 0);
        let mut child = tied.spawn().map_err(|source| HarnessError::Spawn {
            name: name.to_owned(),
            source,
        })?;
        let tie = child.stdin.take();
        Ok(Self {
            name: name.to_owned(),
            child,
            log_path,
            _tie: tie,
        })
    }

    /// Everything the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the log shows `needle` within five seconds. Our processes write log lines
    /// from a background writer, so a line may land just after the answer it belongs
    /// to: assert on a logged line through this, never on `log()` read right after a
    /// request (CI once caught that race).
    pub async fn logged(&self, needle: &str) -> bool {
        for _ in 0..50 {
            if self.log().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Error if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(HarnessError::Exited {
                name: self.name.clone(),
                status: status.to_string(),
                log: self.log(),
            }),
        }
    }

    /// Wait until `addr` accepts TCP connections, failing early if the process exits.
    pub fn wait_for_port(&mut self, addr: SocketAddr, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_running()?;
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::NotReady {
                    name: self.name.clone(),
                    secs: timeout.as_secs(),
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl ManagedChild {
    /// Signal the child's whole process group (the group id is the child's pid).
    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        // TERM first so nginx's master stops its workers and Playwright closes Chromium;
        // then KILL the group for anything that ignored it.
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal_group("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: String = {
                let start = log.len().saturating_sub(4000);
                let start = (start..log.len())
                    .find(|i| log.is_char_boundary(*i))
                    .unwrap_or(log.len());
                log[start..].to_owned()
            };
            eprintln!("---- {} log (tail) ----\n{tail}\n---- end ----", self.name);
        }
    }
}
