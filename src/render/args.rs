//! The arguments of `portcullis render`.

use std::path::PathBuf;

/// Arguments of `portcullis render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Manifest files or directories (multi-document YAML; `.yaml`/`.yml`/`.json`).
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Print generated secret values instead of `<redacted>`.
    #[arg(long)]
    pub show_secrets: bool,
    /// Also fail (exit 3) when an object would not become Ready: a missing Secret,
    /// provider or client, a refused reference. For CI pipelines.
    #[arg(long)]
    pub strict: bool,
    /// Probe each provider's IdP (discovery, JWKS, issuer, clock) as the operator does,
    /// and show the conditions the operator would publish, instead of Unknown. Needs
    /// network access to the IdPs; a CA bundle is read from a Secret among the
    /// manifests.
    #[arg(long)]
    pub probe: bool,
    /// Namespace of objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Namespace the operator writes the compiled outpost configuration to.
    #[arg(
        long,
        default_value = "portcullis-system",
        env = "PORTCULLIS_OPERATOR_NAMESPACE"
    )]
    pub operator_namespace: String,
}
