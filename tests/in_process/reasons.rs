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
        // A lint attribute's `reason = "..."` (`#[expect(lint, reason = ...)]`) is Rust's
        // syntax for why a lint is silenced, not a decision reason.
        let mut in_lint_attribute = false;
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("#[expect(") || trimmed.starts_with("#[allow(") {
                in_lint_attribute = true;
            }
            let lint_reason = in_lint_attribute;
            if trimmed.ends_with(")]") {
                in_lint_attribute = false;
            }
            if literal.is_match(line) && !trimmed.starts_with("//") && !lint_reason {
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

/// Every `spec.` field a reason's explanation or fix tells people to set, as a path in
/// one of the three CRDs' schemas.
fn crd_field_paths() -> std::collections::BTreeSet<String> {
    fn walk(
        schema: &serde_json::Value,
        prefix: &str,
        out: &mut std::collections::BTreeSet<String>,
    ) {
        let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
            if let Some(items) = schema.get("items") {
                walk(items, prefix, out);
            }
            return;
        };
        for (name, child) in properties {
            let path = format!("{prefix}.{name}");
            out.insert(path.clone());
            walk(child, &path, out);
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for crd in portcullis::api::crds() {
        for version in &crd.spec.versions {
            let schema = serde_json::to_value(&version.schema).unwrap();
            if let Some(spec) = schema.pointer("/openAPIV3Schema/properties/spec") {
                walk(spec, "spec", &mut out);
            }
        }
    }
    out
}

/// A fix that names a field the resources do not have sends people looking for nothing:
/// every `spec.…` a page text names is a field of an OIDCProvider, OAuthClient or
/// ForwardAuthRoute, and every `--flag` is one the outpost accepts.
#[test]
fn every_field_and_flag_a_reason_names_exists() {
    let fields = crd_field_paths();
    assert!(fields.contains("spec.session.cookieDomain"), "{fields:?}");
    let field = Regex::new(r"\bspec(\.[A-Za-z]+)+").unwrap();
    let flag = Regex::new(r"(?:^|[\s(])(--[a-z][a-z-]+)").unwrap();
    let help = {
        use clap::CommandFactory;
        let mut cli = portcullis::cli::Cli::command();
        let outpost = cli
            .find_subcommand_mut("outpost")
            .expect("outpost subcommand");
        outpost.render_long_help().to_string()
    };
    let mut wrong = Vec::new();
    for reason in Reason::all() {
        let texts = [reason.explain(), reason.fix().unwrap_or("")];
        for text in texts {
            for m in field.find_iter(text) {
                if !fields.contains(m.as_str()) {
                    wrong.push(format!("{}: {}", reason.code(), m.as_str()));
                }
            }
            for c in flag.captures_iter(text) {
                if !help.contains(&c[1]) {
                    wrong.push(format!("{}: {}", reason.code(), &c[1]));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "fields or flags that do not exist: {wrong:#?}"
    );
}

/// Every refusal and failure tells people what to do; only answers that are not
/// failures go without.
#[test]
fn every_refusal_has_a_fix() {
    let not_failures = [
        Reason::Authenticated,
        Reason::PublicPath,
        Reason::PublicMethod,
        Reason::CorsPreflight,
        Reason::SessionRefreshed,
        Reason::ExternalUrl,
        Reason::LoginStarted,
        Reason::SignedOut,
        Reason::BackchannelLogout,
        Reason::LogoutTokenReplayed,
    ];
    let missing: Vec<&str> = Reason::all()
        .filter(|r| r.fix().is_none() && !not_failures.contains(r))
        .map(Reason::code)
        .collect();
    assert!(missing.is_empty(), "reasons without a fix: {missing:?}");
}
