//! The real `portcullis operator` binary against a real control plane, running with the
//! token of its ServiceAccount as bound by `manifests/operator-rbac.yaml`.

use super::cluster::ControlPlane;
use super::kubectl::Kubectl;
use super::process::{ManagedChild, free_port};
use super::repo_root;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The namespace the RBAC manifests bind the operator and outpost in.
pub const SYSTEM_NAMESPACE: &str = "portcullis-system";

/// The user name prefix of the ServiceAccounts in [`SYSTEM_NAMESPACE`].
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:portcullis-system:";

/// Installs the CRDs (and waits until they are Established), the system namespace and
/// both RBAC manifests; returns the operator's and the outpost's kubeconfigs, which
/// authenticate as their ServiceAccounts with TokenRequest tokens.
pub fn install(cp: &ControlPlane) -> Identities {
    let crds = repo_root().join("crds");
    cp.kubectl()
        .ok(&["apply", "--server-side", "-f", crds.to_str().unwrap()]);
    install_with_crds_applied(cp)
}

/// [`install`] for a test that applied CRDs of its own first.
pub fn install_with_crds_applied(cp: &ControlPlane) -> Identities {
    let kubectl = cp.kubectl();
    kubectl.ok(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=60s",
    ]);
    kubectl.apply_yaml(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {SYSTEM_NAMESPACE}}}\n"
    ));
    for manifest in [
        "manifests/operator-rbac.yaml",
        "manifests/outpost-rbac.yaml",
    ] {
        let path = repo_root().join(manifest);
        kubectl.ok(&["apply", "--server-side", "-f", path.to_str().unwrap()]);
    }
    Identities {
        operator: cp.service_account_kubeconfig(SYSTEM_NAMESPACE, "portcullis-operator"),
        outpost: cp.service_account_kubeconfig(SYSTEM_NAMESPACE, "portcullis-outpost"),
    }
}

/// Kubeconfigs of the two ServiceAccounts.
#[derive(Debug, Clone)]
pub struct Identities {
    /// `system:serviceaccount:portcullis-system:portcullis-operator`.
    pub operator: PathBuf,
    /// `system:serviceaccount:portcullis-system:portcullis-outpost`.
    pub outpost: PathBuf,
}

/// The shared control plane with Portcullis installed and one operator running for the
/// whole test binary; tests isolate by namespace.
pub struct Shared {
    /// The control plane.
    pub cp: &'static ControlPlane,
    /// The ServiceAccounts' kubeconfigs.
    pub identities: Identities,
    /// The operator, behind a lock so a test can read its log.
    pub operator: Mutex<Operator>,
}

impl Shared {
    /// Started on first use.
    pub fn get() -> &'static Shared {
        static SHARED: OnceLock<Shared> = OnceLock::new();
        SHARED.get_or_init(|| {
            let cp = ControlPlane::shared();
            let identities = install(cp);
            let operator = Operator::start_tied(&identities.operator, cp.dir(), "shared");
            Shared {
                cp,
                identities,
                operator: Mutex::new(operator),
            }
        })
    }

    /// kubectl as the cluster admin.
    pub fn kubectl(&self) -> Kubectl {
        self.cp.kubectl()
    }

    /// Fails naming every request of Portcullis's ServiceAccounts that RBAC refused.
    pub fn assert_nothing_forbidden(&self) {
        self.cp.assert_nothing_forbidden(SERVICE_ACCOUNT_PREFIX);
    }

    /// Fails naming every write (create, update, patch, delete; events included) the
    /// operator makes in `namespaces` during a quiet window, counted at the API server
    /// from its audit log. Call it once a scenario has converged: a converged operator
    /// has nothing to write (issue 10: a status rewritten every reconcile).
    pub fn assert_quiet(&self, namespaces: &[&str]) {
        let user = format!("{SERVICE_ACCOUNT_PREFIX}portcullis-operator");
        // Three IdP re-checks (`--idp-recheck 2s`) and a resync of anything requeued.
        let window = Duration::from_secs(7);
        let start = std::time::SystemTime::now();
        std::thread::sleep(window);
        let end = std::time::SystemTime::now();
        // The audit backend writes each event as its request completes; a moment for
        // the last ones to reach the file.
        std::thread::sleep(Duration::from_millis(500));
        let writes: Vec<String> = self
            .cp
            .audited_calls()
            .into_iter()
            .filter(|c| c.user == user && start <= c.received && c.received <= end)
            .filter(|c| matches!(c.verb.as_str(), "create" | "update" | "patch" | "delete"))
            .filter(|c| namespaces.contains(&c.namespace.as_str()))
            .map(|c| c.to_string())
            .collect();
        assert!(
            writes.is_empty(),
            "{} write(s) in a {window:?} quiet window after convergence:\n{}\n{}",
            writes.len(),
            writes.join("\n"),
            self.operator_log()
        );
    }

    /// The shared operator's log (for failure messages).
    pub fn operator_log(&self) -> String {
        self.operator
            .lock()
            .map(|o| o.log())
            .unwrap_or_else(|e| e.into_inner().log())
    }
}

/// A running operator; killed on drop (a crash, as far as the API server can tell).
pub struct Operator {
    child: ManagedChild,
    admin: SocketAddr,
}

impl Operator {
    /// Starts the operator with `kubeconfig`; returns once its admin port answers.
    pub fn start(kubeconfig: &Path, log_dir: &Path, identity: &str) -> Operator {
        Self::spawn(kubeconfig, log_dir, identity, ManagedChild::spawn)
    }

    /// [`Operator::start`] for one held in a `static`: it goes with the test process.
    pub fn start_tied(kubeconfig: &Path, log_dir: &Path, identity: &str) -> Operator {
        Self::spawn(kubeconfig, log_dir, identity, ManagedChild::spawn_tied)
    }

    fn spawn(
        kubeconfig: &Path,
        log_dir: &Path,
        identity: &str,
        spawn: fn(&str, Command, PathBuf) -> super::Result<ManagedChild>,
    ) -> Operator {
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut cmd = Command::new(super::portcullis_binary());
        cmd.arg("operator")
            .arg("--operator-namespace")
            .arg(SYSTEM_NAMESPACE)
            .arg("--admin-listen")
            .arg(admin.to_string())
            .arg("--identity")
            .arg(identity)
            .arg("--idp-recheck")
            .arg("2s")
            .arg("--idp-failure-grace")
            .arg("4s")
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info");
        let log = log_dir.join(format!("operator-{identity}.log"));
        let mut child = spawn("operator", cmd, log).expect("spawn the operator");
        child
            .wait_for_port(admin, Duration::from_secs(30))
            .expect("operator admin port");
        Operator { child, admin }
    }

    /// Everything the operator logged.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.check_running().is_ok()
    }

    /// A path of the admin server (`/metrics`, `/readyz`): status code and body.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        match reqwest::get(format!("http://{}{path}", self.admin)).await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }
}
