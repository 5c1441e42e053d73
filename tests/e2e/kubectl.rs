//! The real `kubectl` (the release the API server is built from), with a private
//! discovery cache, and helpers that assert on its outcome.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// kubectl pointed at one kubeconfig.
#[derive(Debug, Clone)]
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// kubectl `binary` with `kubeconfig`.
    pub fn new(binary: PathBuf, kubeconfig: PathBuf) -> Kubectl {
        Kubectl { binary, kubeconfig }
    }

    /// The same kubectl as another identity.
    pub fn with_kubeconfig(&self, kubeconfig: &Path) -> Kubectl {
        Kubectl::new(self.binary.clone(), kubeconfig.to_path_buf())
    }

    /// The kubeconfig it uses.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A command (not started).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.binary);
        let cache = self
            .kubeconfig
            .parent()
            .unwrap_or(Path::new("."))
            .join("kubectl-cache");
        c.env("KUBECONFIG", &self.kubeconfig)
            .arg(format!("--cache-dir={}", cache.display()))
            .args(args);
        c
    }

    /// Runs kubectl with optional stdin and returns its output.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.unwrap_or_default().as_bytes())
            .expect("write stdin");
        drop(input);
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None)
    }

    /// Like [`Self::ok`], with stdin (a manifest for `-f -`).
    pub fn ok_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl, asserts failure, returns stderr.
    pub fn fail_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kubectl apply --server-side -f -` of `yaml`.
    pub fn apply_yaml(&self, yaml: &str) -> String {
        self.ok_in(&["apply", "--server-side", "-f", "-"], Some(yaml))
    }

    /// `kubectl apply --server-side -f -` that must be refused; returns the message.
    pub fn refuse_yaml(&self, yaml: &str) -> String {
        self.fail_in(&["apply", "--server-side", "-f", "-"], Some(yaml))
    }

    /// Runs kubectl with `-o json` and parses the output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl json output")
    }

    /// Polls `kubectl get ARGS -o json` until `check` holds; panics after `secs` with the
    /// last answer and `context()` (an operator's log, usually).
    pub fn eventually(
        &self,
        args: &[&str],
        what: &str,
        secs: u64,
        check: impl Fn(&Value) -> bool,
        context: impl Fn() -> String,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let out = self.run(&[args, &["-o", "json"]].concat(), None);
            let value: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            if check(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {secs}s waiting for {what}; last: {value:#}\n{}",
                context()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The condition of `type_` in an object's status.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Whether the object's condition `type_` has `status`.
pub fn has_condition(object: &Value, type_: &str, status: &str) -> bool {
    condition(object, type_).is_some_and(|c| c["status"] == status)
}
