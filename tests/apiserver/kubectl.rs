//! A kubectl harness over an [`Emulator`]: a kubeconfig and a private discovery cache
//! in a temp dir, and helpers that run the real `kubectl` against it.

use super::{Emulator, Options};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// An emulator plus a kubeconfig and a private kubectl cache dir.
pub struct Kube {
    /// The running emulator.
    pub emu: Emulator,
    dir: tempfile::TempDir,
}

impl Kube {
    /// A fresh emulator with default options.
    pub fn new() -> Kube {
        Self::with(Options::default())
    }

    /// A fresh emulator with the given options.
    pub fn with(options: Options) -> Kube {
        let emu = Emulator::start_blocking_with(options);
        let dir = tempfile::tempdir().expect("tempdir");
        emu.write_kubeconfig(dir.path().join("kubeconfig"))
            .expect("kubeconfig");
        Kube { emu, dir }
    }

    /// A `kubectl` command pointed at this emulator (not started).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            // A private HOME and cache dir: no discovery cache shared between emulators.
            .env("HOME", self.dir.path())
            .arg(format!(
                "--cache-dir={}",
                self.dir.path().join("cache").display()
            ))
            .args(args);
        c
    }

    /// Runs kubectl with optional stdin and returns its output.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.command(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn kubectl");
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

    /// Like [`Self::ok`], with stdin (e.g. a manifest for `-f -`).
    pub fn ok_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}"
        );
        stdout.into_owned()
    }

    /// Runs kubectl, asserts failure, returns stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        self.fail_in(args, None)
    }

    /// Like [`Self::fail`], with stdin.
    pub fn fail_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// Runs kubectl with `-o json` and parses the output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl json output")
    }

    /// The emulator URL joined with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.url())
    }

    /// Where the kubeconfig is (for KUBECONFIG of other processes).
    pub fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("kubeconfig")
    }
}
impl Default for Kube {
    fn default() -> Self {
        Self::new()
    }
}
