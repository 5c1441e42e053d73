//! `portcullis reasons`: what a reason code in a log line, metric or page means, and
//! what to do about it, without a cluster or a browser.

use crate::reason::{Reason, reference_markdown};
use std::process::ExitCode;

/// Arguments of `portcullis reasons`.
#[derive(Debug, clap::Args)]
pub struct ReasonsArgs {
    /// Explain only these codes (as logged, e.g. `session_cookie_duplicated`).
    pub codes: Vec<String>,
    /// Print the whole table as Markdown (`docs/reference/reasons.md`).
    #[arg(long, conflicts_with = "codes")]
    pub markdown: bool,
}

/// Prints the explanation (and fix) of each code, or all of them.
pub fn run(args: &ReasonsArgs) -> ExitCode {
    if args.markdown {
        print!("{}", reference_markdown());
        return ExitCode::SUCCESS;
    }
    if args.codes.is_empty() {
        for reason in Reason::all() {
            println!("{:<32} {}", reason.code(), reason.explain());
        }
        return ExitCode::SUCCESS;
    }
    let mut status = ExitCode::SUCCESS;
    for code in &args.codes {
        match explain(code) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("error: {error}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}

/// One code's entry, or an error naming the closest known code.
pub fn explain(code: &str) -> Result<String, String> {
    let wanted = code.trim().to_ascii_lowercase().replace('-', "_");
    if let Some(reason) = Reason::from_code(&wanted) {
        let mut text = format!("{}: {}", reason.code(), reason.explain());
        if let Some(fix) = reason.fix() {
            text.push_str(&format!("\n  what to do: {fix}"));
        }
        return Ok(text);
    }
    let nearest = Reason::all()
        .map(|r| (strsim::levenshtein(&wanted, r.code()), r.code()))
        .min()
        .filter(|(distance, _)| *distance <= 4)
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_else(|| "; `portcullis reasons` lists every code".to_string());
    Err(format!("`{code}` is not a reason code{nearest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_explained_with_its_fix() {
        let text = explain("login_loop").unwrap();
        assert!(
            text.starts_with("login_loop: You signed in twice"),
            "{text}"
        );
        assert!(text.contains("what to do: The usual causes"), "{text}");
        assert!(
            explain("Session-Idle")
                .unwrap()
                .starts_with("session_idle: ")
        );
        assert!(!explain("authenticated").unwrap().contains("what to do"));
        assert!(
            explain("no_session")
                .unwrap()
                .contains("what to do: Sign in.")
        );
    }

    #[test]
    fn an_unknown_code_names_the_nearest_one() {
        let err = explain("sesion_expired").unwrap_err();
        assert_eq!(
            err,
            "`sesion_expired` is not a reason code; did you mean `session_expired`?"
        );
        let err = explain("completely_different_words").unwrap_err();
        assert!(
            err.ends_with("`portcullis reasons` lists every code"),
            "{err}"
        );
    }
}
