//! The reason codes people meet in logs, metrics and pages are all documented: the
//! reference table is generated from the `Reason` enum (so a code cannot lack an
//! explanation), and no code is written as a bare string the enum does not know.

use portcullis::reason::{Reason, reference_markdown};
use regex::Regex;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_reason_reference_is_generated_from_the_enum() {
    let path = root().join("docs/reference/reasons.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == reference_markdown(),
        "docs/reference/reasons.md differs from `portcullis reasons --markdown`; run scripts/regen docs"
    );
}

/// A log field or JSON value spelled as a string literal would bypass the enum (and so
/// the reference); every `reason` the product writes must come from a `Reason`.
#[test]
fn no_reason_is_written_as_a_string_literal() {
    let literal = Regex::new(r#"reason\s*[=:]\s*"|"reason"\s*:\s*""#).unwrap();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if name == "reason.rs" || name.contains("tests") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if literal.is_match(line) && !line.trim_start().starts_with("//") {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "use a Reason variant (src/reason.rs) instead of a string:\n{}",
        found.join("\n")
    );
}

/// Codes the guides name in backticks that look like outpost codes must exist, so a
/// renamed code cannot leave a guide pointing at nothing.
#[test]
fn codes_named_in_the_troubleshooting_guide_exist() {
    let text = std::fs::read_to_string(root().join("docs/troubleshooting.md")).unwrap();
    let code = Regex::new(r"`([a-z]+(?:_[a-z]+)+)`").unwrap();
    // Words in backticks that are not outpost codes: IdP error codes, claim and
    // discovery field names, flags, audit-line values.
    let not_codes = [
        "sign_out",
        "offline_access",
        "refresh_token",
        "error_description",
        "access_denied",
        "claims_supported",
        "login_required",
        "preferred_username",
        "redirect_uri",
    ];
    let unknown: Vec<&str> = code
        .captures_iter(&text)
        .map(|c| c.get(1).unwrap().as_str())
        .filter(|c| Reason::from_code(c).is_none() && !not_codes.contains(c))
        .filter(|c| !c.starts_with("portcullis_")) // metric names
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/troubleshooting.md names codes the outpost does not have: {unknown:?}"
    );
    assert!(
        text.contains("reference/reasons.md"),
        "the guide links the reason reference"
    );
}
