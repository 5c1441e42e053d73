//! Stamps the binary with the commit it was built from, so `portcullis --version` and
//! each role's start-up line say exactly which build runs (a bug report, a benchmark and
//! a pod's log can be matched to the code). The commit is `PORTCULLIS_COMMIT` when set
//! (an image built from a tree without `.git`), else what `git rev-parse HEAD` says of
//! this checkout, else `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PORTCULLIS_COMMIT");
    let commit = std::env::var("PORTCULLIS_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_head)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PORTCULLIS_COMMIT={}", commit.trim());
}

/// HEAD's commit, short (12 hex digits), and the files whose change means a new HEAD:
/// `HEAD` itself, the branch it names, and `packed-refs` (where `git gc` moves it).
fn git_head() -> Option<String> {
    let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    rerun_if_changed(&git_dir.join("HEAD"));
    rerun_if_changed(&git_dir.join("packed-refs"));
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        rerun_if_changed(&git_dir.join(branch));
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}

fn rerun_if_changed(path: &Path) {
    // Only existing files: cargo takes a path that does not exist for one that changed,
    // and would rerun this (and rebuild the crate) on every build.
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `git args` in this crate's directory, its trimmed output when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}
