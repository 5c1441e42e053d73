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
