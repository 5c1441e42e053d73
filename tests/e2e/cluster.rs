//! A real Kubernetes control plane for tests: etcd, kube-apiserver (RBAC, audit log) and
//! kube-controller-manager (garbage collector and namespace controller), built from their
//! Go modules by `tools/build` and run by `tools/kube/testcluster` on 127.0.0.1.
//!
//! The supervisor reads commands on its standard input and stops everything when that
//! input ends, so the control plane goes with the test process however it dies (panic,
//! abort, SIGKILL); its children get SIGKILL from the kernel if the supervisor dies.

use super::kubectl::Kubectl;
use super::process::in_ci;
use super::repo_root;
use base64::Engine as _;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

/// Where the control-plane binaries are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// Directory with kube-apiserver, kube-controller-manager, kubectl and testcluster.
    pub kube: PathBuf,
    /// The etcd binary.
    pub etcd: PathBuf,
}

impl Binaries {
    /// `PORTCULLIS_KUBE_BIN` and `PORTCULLIS_ETCD` (set by scripts/test), else
    /// `tools/build`, which builds on first use and answers from its cache after.
    pub fn find() -> Result<Binaries, String> {
        static FOUND: OnceLock<Result<Binaries, String>> = OnceLock::new();
        FOUND
            .get_or_init(|| {
                let kube = match std::env::var_os("PORTCULLIS_KUBE_BIN") {
                    Some(dir) => PathBuf::from(dir),
                    None => build("kube")?,
                };
                let etcd = match std::env::var_os("PORTCULLIS_ETCD") {
                    Some(path) => PathBuf::from(path),
                    None => build("etcd")?.join("etcd"),
                };
                Ok(Binaries { kube, etcd })
            })
            .clone()
    }

    /// The real kubectl of the same release as the API server.
    pub fn kubectl(&self) -> PathBuf {
        self.kube.join("kubectl")
    }
}

/// The helm CLI: `HELM` (scripts/test sets it), else `tools/build helm`.
pub fn helm() -> Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| match std::env::var_os("HELM") {
            Some(path) => Ok(PathBuf::from(path)),
            None => build("helm").map(|dir| dir.join("helm")),
        })
        .clone()
}

fn build(set: &str) -> Result<PathBuf, String> {
    let out = Command::new(repo_root().join("tools/build"))
        .arg(set)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("tools/build {set}: {e} (is Go installed?)"))?;
    if !out.status.success() {
        return Err(format!("tools/build {set} failed ({})", out.status));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Whether the control plane can run here: `false` (with a SKIPPED line) outside CI
/// when it cannot be built; a panic under CI, where a skip would hide a broken machine.
pub fn require_control_plane() -> bool {
    match Binaries::find() {
        Ok(_) => true,
        Err(e) if in_ci() => panic!("control plane unavailable: {e}; CI is set, so this fails"),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "SKIPPED: control plane unavailable: {e}");
            false
        }
    }
}

struct Supervisor {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// A running control plane.
pub struct ControlPlane {
    supervisor: Mutex<Supervisor>,
    /// When each (re)start of the API server began and ended: it serves requests before
    /// it is ready, and its authorizer answers 403 until it has loaded the roles.
    starting: Mutex<Vec<(SystemTime, SystemTime)>>,
    dir: PathBuf,
    kubeconfig: PathBuf,
    binaries: Binaries,
}

/// The control plane's processes, as the supervisor names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// etcd.
    Etcd,
    /// kube-apiserver.
    ApiServer,
    /// kube-controller-manager.
    ControllerManager,
}

impl Process {
    fn name(self) -> &'static str {
        match self {
            Process::Etcd => "etcd",
            Process::ApiServer => "kube-apiserver",
            Process::ControllerManager => "kube-controller-manager",
        }
    }
}

impl ControlPlane {
    /// One control plane per test binary, started on first use and stopped when the
    /// binary exits (its supervisor sees standard input close). Tests isolate by
    /// namespace ([`ControlPlane::namespace`]).
    pub fn shared() -> &'static ControlPlane {
        static SHARED: OnceLock<ControlPlane> = OnceLock::new();
        SHARED.get_or_init(|| ControlPlane::start().expect("start the shared control plane"))
    }

    /// A control plane of its own, for tests that restart or break it.
    pub fn start() -> Result<ControlPlane, String> {
        let binaries = Binaries::find()?;
        let dir = fresh_dir()?;
        let mut child = Command::new(binaries.kube.join("testcluster"))
            .arg("-dir")
            .arg(&dir)
            .arg("-bin")
            .arg(&binaries.kube)
            .arg("-etcd")
            .arg(&binaries.etcd)
            .arg("-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("testcluster.log")).map_err(|e| e.to_string())?,
            ))
            .spawn()
            .map_err(|e| format!("spawn testcluster: {e}"))?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let Some(kubeconfig) = line.trim().strip_prefix("KUBECONFIG=") else {
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("testcluster.log")).unwrap_or_default();
            return Err(format!("the control plane did not start:\n{log}"));
        };
        Ok(ControlPlane {
            kubeconfig: PathBuf::from(kubeconfig),
            supervisor: Mutex::new(Supervisor {
                child,
                stdin,
                stdout,
            }),
            starting: Mutex::new(Vec::new()),
            dir,
            binaries,
        })
    }

    /// The admin kubeconfig (client certificate in `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Where certificates, logs and the audit log are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `helm install portcullis` of the chart into `portcullis-system`, with the two values
    /// a loopback setup needs and a real cluster does not (nginx is 127.0.0.1, the
    /// external URL plain http). Returns helm's output (the release NOTES).
    pub fn helm_install_on_loopback(&self) -> Result<String, String> {
        self.helm_install_on_loopback_with(&[])
    }

    /// [`Self::helm_install_on_loopback`] with more helm arguments (`--set ...`).
    pub fn helm_install_on_loopback_with(&self, more: &[&str]) -> Result<String, String> {
        let out = Command::new(helm()?)
            .env("KUBECONFIG", &self.kubeconfig)
            .args(["install", "portcullis"])
            .arg(repo_root().join("charts/portcullis"))
            .args([
                "--namespace",
                "portcullis-system",
                "--create-namespace",
                "--set",
                "outpost.trustedProxies={127.0.0.1/32}",
                "--set",
                "outpost.extraArgs={--allow-http-loopback}",
            ])
            .args(more)
            .output()
            .map_err(|e| format!("helm: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "helm install: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(stdout)
    }

    /// Where the kubectl of the API server's release is.
    pub fn kubectl_dir(&self) -> &Path {
        &self.binaries.kube
    }

    /// The real kubectl, as the cluster admin.
    pub fn kubectl(&self) -> Kubectl {
        Kubectl::new(self.binaries.kubectl(), self.kubeconfig.clone())
    }

    /// A new namespace with a unique name starting with `prefix`.
    pub fn namespace(&self, prefix: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.kubectl().ok(&["create", "namespace", &name]);
        name
    }

    /// Stops, starts or restarts one process; returns once it is ready again.
    pub fn control(&self, verb: &str, process: Process) {
        let began = SystemTime::now();
        let mut s = self.supervisor.lock().unwrap_or_else(|e| e.into_inner());
        let stdin = s.stdin.as_mut().expect("supervisor input open");
        writeln!(stdin, "{verb} {}", process.name()).expect("write to testcluster");
        stdin.flush().expect("flush");
        let mut answer = String::new();
        s.stdout.read_line(&mut answer).expect("read testcluster");
        assert!(
            answer.starts_with("ok "),
            "testcluster {verb} {}: {answer}\n{}",
            process.name(),
            self.log(process)
        );
        if process == Process::ApiServer && verb != "stop" {
            self.starting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((began, SystemTime::now()));
        }
    }

    /// Fails naming every request of users starting with `user_prefix` that RBAC refused
    /// (see [`ControlPlane::forbidden_calls`]).
    pub fn assert_nothing_forbidden(&self, user_prefix: &str) {
        let forbidden: Vec<String> = self
            .forbidden_calls(user_prefix)
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert!(
            forbidden.is_empty(),
            "RBAC refused calls the manifests should allow:\n{}",
            forbidden.join("\n")
        );
    }

    /// Requests of users starting with `user_prefix` that RBAC refused, except those an
    /// API server answered while it was still starting (its authorizer refuses
    /// everything until it has loaded the roles; clients retry).
    pub fn forbidden_calls(&self, user_prefix: &str) -> Vec<AuditedCall> {
        let starting = self
            .starting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.audited_calls()
            .into_iter()
            .filter(|c| c.code == 403 && c.user.starts_with(user_prefix))
            .filter(|c| {
                !starting
                    .iter()
                    .any(|(from, to)| *from <= c.received && c.received <= *to)
            })
            .collect()
    }

    /// A process's log so far.
    pub fn log(&self, process: Process) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.log", process.name())))
            .unwrap_or_default()
    }

    /// The supervisor's process id (for the orphan test).
    pub fn supervisor_pid(&self) -> u32 {
        self.supervisor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .child
            .id()
    }

    /// A ServiceAccount `name` in `namespace`, created if missing, and a kubeconfig that
    /// authenticates as it with a token from the TokenRequest API.
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        let kubectl = self.kubectl();
        // Created only when missing: applying it would take over (and drop) the fields
        // an installed manifest set, under the same field manager.
        if !kubectl
            .run(&["get", "serviceaccount", name, "-n", namespace], None)
            .status
            .success()
        {
            kubectl.ok(&["create", "serviceaccount", name, "-n", namespace]);
        }
        let token = kubectl.ok(&["create", "token", name, "-n", namespace, "--duration=24h"]);
        let admin = std::fs::read_to_string(&self.kubeconfig).expect("admin kubeconfig");
        let field = |key: &str| {
            admin
                .lines()
                .find_map(|l| l.trim().strip_prefix(key))
                .expect("kubeconfig field")
                .trim()
                .to_string()
        };
        // The CA goes inline, so the file stands alone: copied into a pod's directory it
        // is all a process running as another uid needs.
        let ca = std::fs::read(field("certificate-authority:")).expect("the CA");
        let path = self.dir.join(format!("sa-{namespace}-{name}.kubeconfig"));
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    token: {}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u, namespace: {namespace}}}\ncurrent-context: c\n",
                field("server:"),
                base64::engine::general_purpose::STANDARD.encode(ca),
                token.trim()
            ),
        )
        .expect("write kubeconfig");
        path
    }

    /// Requests that service accounts made, from the API server's audit log (JSON
    /// lines), as `(user, verb, resource[/subresource], namespace, code)`.
    pub fn audited_calls(&self) -> Vec<AuditedCall> {
        let text = std::fs::read_to_string(self.dir.join("audit.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["stage"] == "ResponseComplete")
            .map(|e| {
                let r = &e["objectRef"];
                let resource = match r["subresource"].as_str() {
                    Some(sub) => format!("{}/{sub}", r["resource"].as_str().unwrap_or("")),
                    None => r["resource"].as_str().unwrap_or("").to_string(),
                };
                let received = e["requestReceivedTimestamp"]
                    .as_str()
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
                    .map(SystemTime::from)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                AuditedCall {
                    received,
                    user: e["user"]["username"].as_str().unwrap_or("").to_string(),
                    verb: e["verb"].as_str().unwrap_or("").to_string(),
                    group: r["apiGroup"].as_str().unwrap_or("").to_string(),
                    resource,
                    namespace: r["namespace"].as_str().unwrap_or("").to_string(),
                    name: r["name"].as_str().unwrap_or("").to_string(),
                    code: e["responseStatus"]["code"].as_u64().unwrap_or(0),
                }
            })
            .collect()
    }
}

/// One audited request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedCall {
    /// When the API server received it.
    pub received: SystemTime,
    /// `system:serviceaccount:<ns>:<name>`.
    pub user: String,
    /// get, list, watch, create, patch, update, delete.
    pub verb: String,
    /// API group ("" for core).
    pub group: String,
    /// Resource, with `/subresource` when there is one.
    pub resource: String,
    /// Namespace ("" when cluster-wide).
    pub namespace: String,
    /// Object name ("" for a list or a create without one in the URL).
    pub name: String,
    /// HTTP status of the answer.
    pub code: u64,
}

impl std::fmt::Display for AuditedCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}.{} {:?} in {:?} -> {}",
            self.user, self.verb, self.resource, self.group, self.name, self.namespace, self.code
        )
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let s = self.supervisor.get_mut().unwrap_or_else(|e| e.into_inner());
        // End of input: the supervisor stops everything and exits.
        drop(s.stdin.take());
        let _ = s.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("control plane logs kept in {}", self.dir.display());
        }
    }
}

/// A new directory under the target dir's test scratch space; directories of earlier
/// runs older than a day are removed first (a shared control plane is never dropped,
/// so its logs stay for a look after a failure).
fn fresh_dir() -> Result<PathBuf, String> {
    let root = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/tmp"))
        .join("control-planes");
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 24 * 3600);
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    tempfile::Builder::new()
        .prefix("cp-")
        .tempdir_in(&root)
        .map(|d| d.keep())
        .map_err(|e| e.to_string())
}
