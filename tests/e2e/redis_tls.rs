//! Certificates for a TLS `redis-server`, made with the `openssl` command: a test CA and
//! a server certificate it signs for `127.0.0.1` (an IP subject alternative name).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use super::{HarnessError, Result, scratch_dir};

/// A CA and a server certificate and key signed by it, in a temp dir kept while any
/// clone lives.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    dir: Arc<tempfile::TempDir>,
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(HarnessError::Unexpected(format!(
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

impl TlsFiles {
    /// A fresh CA (`name` in its subject) and a server certificate for 127.0.0.1.
    pub fn generate(name: &str) -> Result<TlsFiles> {
        let dir = scratch_dir("redis-tls")?;
        let d = dir.path();
        let subject = format!("/CN={name}");
        let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        let ca = format!("req -x509 {new_key} -keyout ca.key -out ca.crt -days 2");
        let csr = format!("req {new_key} -keyout server.key -out server.csr");
        let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        let mut ca = words(&ca);
        ca.extend(["-subj".to_string(), subject]);
        let mut csr = words(&csr);
        csr.extend(["-subj".to_string(), "/CN=127.0.0.1".to_string()]);
        openssl(d, &ca.iter().map(String::as_str).collect::<Vec<_>>())?;
        openssl(d, &csr.iter().map(String::as_str).collect::<Vec<_>>())?;
        std::fs::write(d.join("ext"), "subjectAltName=IP:127.0.0.1\n")?;
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "ext",
            ],
        )?;
        Ok(TlsFiles { dir: Arc::new(dir) })
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The CA certificate (PEM file).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// `redis-server` arguments: its certificate and key, clients not asked for one.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--tls-cert-file".into(),
            self.path("server.crt"),
            "--tls-key-file".into(),
            self.path("server.key"),
            "--tls-ca-cert-file".into(),
            self.path("ca.crt"),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }

    /// `redis-cli` arguments to reach the server over TLS.
    pub fn client_args(&self) -> Vec<String> {
        vec!["--tls".into(), "--cacert".into(), self.path("ca.crt")]
    }
}
