//! The container image, assembled without a Docker engine by `scripts/image`: two builds
//! are byte-identical, and the binary runs from the unpacked root filesystem as the
//! image's non-root user (chroot), answering `--version` and the outpost's `/healthz`.

use crate::e2e::process::{ManagedChild, free_port, in_ci};
use crate::e2e::{portcullis_binary, repo_root};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn build(out: &Path) -> String {
    let run = Command::new(repo_root().join("scripts/image"))
        .arg("--binary")
        .arg(portcullis_binary())
        .arg("--out")
        .arg(out)
        .output()
        .expect("scripts/image");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(out.join("index.json")).expect("index.json")
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    std::fs::read(layout.join("blobs/sha256").join(hex)).expect("blob")
}

#[tokio::test]
async fn the_image_is_reproducible_and_runs_as_non_root_from_its_own_root() {
    // chroot needs root; CI runs as root, so there a missing privilege is a failure.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n");
    if root.ok() != Some(true) {
        assert!(!in_ci(), "the image test needs root for chroot");
        eprintln!("SKIPPED: the image test needs root (chroot)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let index = build(&a);
    assert_eq!(index, build(&b), "two builds give the same image");
    for (x, y) in std::fs::read_dir(a.join("blobs/sha256"))
        .unwrap()
        .zip(std::fs::read_dir(b.join("blobs/sha256")).unwrap())
    {
        let (x, y) = (x.unwrap().path(), y.unwrap().path());
        assert_eq!(
            std::fs::read(&x).unwrap(),
            std::fs::read(&y).unwrap(),
            "{x:?}"
        );
    }

    // Unpack as a runtime would: index -> manifest -> config and layers.
    let index: Value = serde_json::from_str(&index).unwrap();
    let manifest: Value =
        serde_json::from_slice(&blob(&a, index["manifests"][0]["digest"].as_str().unwrap()))
            .unwrap();
    let config: Value =
        serde_json::from_slice(&blob(&a, manifest["config"]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(config["config"]["User"], "65532:65532");
    let entrypoint = config["config"]["Entrypoint"][0]
        .as_str()
        .unwrap()
        .to_string();
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    for l in manifest["layers"].as_array().unwrap() {
        let path = dir.path().join("layer.tar.gz");
        std::fs::write(&path, blob(&a, l["digest"].as_str().unwrap())).unwrap();
        let untar = Command::new("tar")
            .arg("-xzf")
            .arg(&path)
            .arg("-C")
            .arg(&rootfs)
            .status()
            .unwrap();
        assert!(untar.success());
    }
    let chroot = |args: &[&str]| {
        let mut c = Command::new("/usr/sbin/chroot");
        c.arg("--userspec=65532:65532")
            .arg(&rootfs)
            .arg(&entrypoint)
            .args(args)
            .env_clear();
        c
    };
    let version = chroot(&["--version"]).output().unwrap();
    assert!(
        version.status.success() && String::from_utf8_lossy(&version.stdout).contains("portcullis"),
        "{version:?}"
    );

    // The outpost starts from the image's root as uid 65532 and answers /healthz.
    let tmp = rootfs.join("tmp");
    std::fs::write(tmp.join("config.yaml"), "providers: {}\nroutes: []\n").unwrap();
    std::fs::write(
        tmp.join("cookie-secret"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let (port, admin) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{port}");
    let admin_listen = format!("127.0.0.1:{admin}");
    let cmd = chroot(&[
        "outpost",
        "--config",
        "/tmp/config.yaml",
        "--cookie-secret-file",
        "/tmp/cookie-secret",
        "--listen",
        &listen,
        "--admin-listen",
        &admin_listen,
    ]);
    let mut outpost =
        ManagedChild::spawn("image-outpost", cmd, dir.path().join("outpost.log")).unwrap();
    outpost
        .wait_for_port(admin_listen.parse().unwrap(), Duration::from_secs(20))
        .expect("the outpost from the image listens");
    let health = reqwest::get(format!("http://{admin_listen}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200, "{}", outpost.log());
    let size: u64 = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .sum();
    eprintln!(
        "image layer: {size} bytes compressed (from {:?})",
        portcullis_binary()
    );
}
