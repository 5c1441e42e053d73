//! Runs a Deployment's container as a local process, the way a kubelet would run its pod
//! (no kubelet runs here): the container's command and args, its env (`fieldRef`s and
//! `secretKeyRef`s resolved), its Secret, ConfigMap and emptyDir volumes written to a
//! directory and their mount paths rewritten to it, its ServiceAccount's TokenRequest
//! token, `runAsUser`, and readiness from its own readinessProbe.
//!
//! Two things differ from a pod, and only these: each container port is bound on a free
//! local port (the `:PORT` in the args is rewritten; the probe follows the port by name),
//! and the in-cluster service-account mount is replaced by `KUBECONFIG` pointing at a
//! kubeconfig with the same ServiceAccount's token (the binary reads either).

use super::cluster::ControlPlane;
use super::process::{ManagedChild, free_port};
use super::{portcullis_binary, scratch_dir};
use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A Deployment's container running as a local process.
pub struct PodProcess {
    /// The container's name.
    pub name: String,
    child: ManagedChild,
    /// Container port name → the local port it listens on.
    ports: BTreeMap<String, u16>,
    probe: Option<(String, u16)>,
    _dir: tempfile::TempDir,
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} missing in the pod spec"))
}

fn decode(data: &Value) -> BTreeMap<String, Vec<u8>> {
    data.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or(""))
                .expect("base64 in Secret data");
            (k.clone(), bytes)
        })
        .collect()
}

impl PodProcess {
    /// Starts the only container of `deployment` (as `kubectl get -o json` shows it; a
    /// sidecar's test wraps its container in `metadata.namespace` and
    /// `spec.template.spec`).
    pub fn start(cp: &ControlPlane, deployment: &Value) -> PodProcess {
        let kubectl = cp.kubectl();
        let namespace = str_of(&deployment["metadata"]["namespace"], "metadata.namespace");
        let pod = &deployment["spec"]["template"]["spec"];
        let containers = pod["containers"].as_array().expect("containers");
        assert_eq!(
            containers.len(),
            1,
            "one container per pod is what this runner knows"
        );
        let container = &containers[0];
        let name = str_of(&container["name"], "container name").to_string();
        let dir = scratch_dir(&format!("pod-{name}")).expect("scratch dir");
        let uid = container["securityContext"]["runAsUser"]
            .as_u64()
            .or(pod["securityContext"]["runAsUser"].as_u64());

        // Volumes, written as the kubelet would project them.
        let mut mounts: Vec<(String, PathBuf)> = Vec::new();
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let volume_name = str_of(&mount["name"], "volumeMount name");
            let volume = pod["volumes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["name"] == volume_name)
                .unwrap_or_else(|| panic!("volume {volume_name} not in the pod spec"));
            let local = dir.path().join("volumes").join(volume_name);
            std::fs::create_dir_all(&local).unwrap();
            let files = if let Some(secret) = volume["secret"]["secretName"].as_str() {
                let s = kubectl.json(&["get", "secret", secret, "-n", namespace]);
                decode(&s["data"])
            } else if let Some(cm) = volume["configMap"]["name"].as_str() {
                let c = kubectl.json(&["get", "configmap", cm, "-n", namespace]);
                c["data"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").as_bytes().to_vec()))
                    .collect()
            } else {
                assert!(
                    volume.get("emptyDir").is_some(),
                    "volume {volume_name}: only secret, configMap and emptyDir are known: {volume}"
                );
                BTreeMap::new()
            };
            let items: Option<BTreeMap<String, String>> = volume["secret"]["items"]
                .as_array()
                .or(volume["configMap"]["items"].as_array())
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            (
                                str_of(&i["key"], "key").into(),
                                str_of(&i["path"], "path").into(),
                            )
                        })
                        .collect()
                });
            for (key, bytes) in files {
                let path = match &items {
                    Some(map) => match map.get(&key) {
                        Some(p) => p.clone(),
                        None => continue,
                    },
                    None => key.clone(),
                };
                let file = local.join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, bytes).unwrap();
            }
            mounts.push((str_of(&mount["mountPath"], "mountPath").to_string(), local));
        }
        let remap = |text: &str| -> String {
            let mut out = text.to_string();
            for (mount_path, local) in &mounts {
                out = out.replace(mount_path.as_str(), &local.display().to_string());
            }
            out
        };

        // Ports: each container port on a free local one.
        let mut ports = BTreeMap::new();
        let mut numbers = BTreeMap::new();
        for p in container["ports"].as_array().into_iter().flatten() {
            let number = p["containerPort"].as_u64().expect("containerPort");
            let local = free_port();
            if let Some(n) = p["name"].as_str() {
                ports.insert(n.to_string(), local);
            }
            numbers.insert(number, local);
        }
        let rewrite = |arg: &str| -> String {
            let mut out = remap(arg);
            for (number, local) in &numbers {
                if let Some(prefix) = out.strip_suffix(&format!(":{number}")) {
                    out = format!("{prefix}:{local}");
                }
            }
            out
        };

        // The ServiceAccount's token, as the in-cluster mount would carry it.
        let sa = pod["serviceAccountName"].as_str().unwrap_or("default");
        // A copy inside the pod's directory, readable by the pod's uid (the control
        // plane's own directory is private); the CA is inline.
        let kubeconfig = dir.path().join("serviceaccount.kubeconfig");
        std::fs::copy(cp.service_account_kubeconfig(namespace, sa), &kubeconfig)
            .expect("copy the kubeconfig");

        let command: Vec<String> = container["command"]
            .as_array()
            .map(|c| c.iter().map(|a| str_of(a, "command").to_string()).collect())
            .unwrap_or_else(|| vec!["/usr/local/bin/portcullis".into()]);
        assert_eq!(
            command,
            vec!["/usr/local/bin/portcullis".to_string()],
            "the image's binary is /usr/local/bin/portcullis (Dockerfile)"
        );
        let args: Vec<String> = container["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| rewrite(str_of(a, "arg")))
            .collect();
        let mut cmd = Command::new(portcullis_binary());
        cmd.args(&args).env_clear().env("PATH", "/usr/bin:/bin");
        for e in container["env"].as_array().into_iter().flatten() {
            let key = str_of(&e["name"], "env name");
            let value = if let Some(v) = e["value"].as_str() {
                remap(v)
            } else if let Some(field) = e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                match field {
                    "metadata.name" => format!("{name}-test-pod"),
                    "metadata.namespace" => namespace.to_string(),
                    other => panic!("fieldRef {other} is not known to the runner"),
                }
            } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
                let s =
                    kubectl.json(&["get", "secret", str_of(&r["name"], "name"), "-n", namespace]);
                String::from_utf8(decode(&s["data"])[str_of(&r["key"], "key")].clone()).unwrap()
            } else {
                panic!("env {key}: only value, fieldRef and secretKeyRef are known: {e}")
            };
            cmd.env(key, value);
        }
        cmd.env("KUBECONFIG", &kubeconfig);
        if let Some(uid) = uid {
            // Everything the process reads must be readable by that uid, as in a pod.
            for path in walk(dir.path()) {
                let mode = if path.is_dir() { 0o755 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            std::os::unix::process::CommandExt::uid(&mut cmd, uid as u32);
            std::os::unix::process::CommandExt::gid(&mut cmd, uid as u32);
        }
        // A sidecar has no readinessProbe (it would take its host pod out of service);
        // its livenessProbe then says when it runs.
        let probe_spec = match &container["readinessProbe"] {
            Value::Null => &container["livenessProbe"],
            readiness => readiness,
        };
        let probe = probe_spec["httpGet"].as_object().map(|g| {
            let port = match &g["port"] {
                Value::String(n) => *ports
                    .get(n)
                    .unwrap_or_else(|| panic!("probe port {n} is not a named container port")),
                Value::Number(n) => numbers[&n.as_u64().unwrap()],
                other => panic!("probe port {other}"),
            };
            (str_of(&g["path"], "probe path").to_string(), port)
        });
        let log = dir.path().join(format!("{name}.log"));
        let child = ManagedChild::spawn(&name, cmd, log).expect("spawn the container's process");
        PodProcess {
            name,
            child,
            ports,
            probe,
            _dir: dir,
        }
    }

    /// The local port of a named container port.
    pub fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }

    /// Everything the process logged.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// Whether the log shows `needle` within five seconds ([`ManagedChild::logged`]).
    pub async fn logged(&self, needle: &str) -> bool {
        self.child.logged(needle).await
    }

    /// Waits until the readinessProbe (else the livenessProbe) answers 2xx, as the
    /// kubelet would judge it.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let (path, port) = self
            .probe
            .clone()
            .expect("a readinessProbe or livenessProbe");
        let url = format!("http://127.0.0.1:{port}{path}");
        let deadline = Instant::now() + timeout;
        loop {
            if let Err(e) = self.child.check_running() {
                panic!("{} exited: {e}", self.name);
            }
            if let Ok(r) = reqwest::get(&url).await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready at {url} after {timeout:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
