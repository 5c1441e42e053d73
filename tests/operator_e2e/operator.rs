//! The real `portcullis operator` binary against the emulator.

use crate::e2e::process::{ManagedChild, free_port};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A running operator; killed on drop (a crash, as far as the API server can tell).
pub struct Operator {
    child: ManagedChild,
    admin: SocketAddr,
}

impl Operator {
    /// Starts the operator with the kubeconfig; returns once its admin port answers.
    pub fn start(kubeconfig: &Path, log_dir: &Path, identity: &str) -> Operator {
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.arg("operator")
            .arg("--operator-namespace")
            .arg("portcullis-system")
            .arg("--admin-addr")
            .arg(admin.to_string())
            .arg("--identity")
            .arg(identity)
            .arg("--idp-recheck")
            .arg("2s")
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info");
        let log = log_dir.join(format!("operator-{identity}.log"));
        let mut child = ManagedChild::spawn("operator", cmd, log).expect("spawn the operator");
        child
            .wait_for_port(admin, Duration::from_secs(30))
            .expect("operator admin port");
        Operator { child, admin }
    }

    /// Everything the operator logged.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// `/metrics` of the admin server.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.admin))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("body")
    }
}
