//! Reading manifests from disk into a [`World`], with errors that name the file, the
//! document and the field.

use crate::api::Validate;
use crate::reconcile::World;
use k8s_openapi::api::core::v1::Secret;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why manifests could not be read.
#[derive(Debug, Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A document is not valid YAML, or a field does not fit the schema.
    #[error("{path}: document {doc}: {field}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based index of the document in the file.
        doc: usize,
        /// Field path, e.g. `spec.hosts[0]`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// What was read: the world and how many documents of other kinds were passed over.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The objects Portcullis reads.
    pub world: World,
    /// Documents of kinds the operator does not read (Deployments, Ingresses...).
    pub ignored: usize,
}

/// Lists manifest files under the given paths (directories recursively, sorted).
pub(crate) fn manifest_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    Ok(files)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir()
                || matches!(
                    entry.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            {
                collect(&entry, files)?;
            }
        }
    } else {
        std::fs::metadata(path).map_err(io)?;
        files.push(path.to_path_buf());
    }
    Ok(())
}

/// Reads every document of every file; objects without a namespace get `namespace`.
pub fn load(paths: &[PathBuf], namespace: &str) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for file in manifest_files(paths)? {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|source| LoadError::Io {
            path: name.clone(),
            source,
        })?;
        load_text(&text, &name, namespace, &mut loaded)?;
    }
    Ok(loaded)
}

/// Reads the documents of one YAML stream.
pub fn load_text(
    text: &str,
    origin: &str,
    namespace: &str,
    loaded: &mut Loaded,
) -> Result<(), LoadError> {
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        let invalid = |field: &str, message: String| LoadError::Invalid {
            path: origin.to_string(),
            doc: index,
            field: field.to_string(),
            message,
        };
        let value: serde_json::Value = match serde_path_to_error::deserialize(doc) {
            Ok(v) => v,
            Err(e) => {
                return Err(invalid(
                    &display_path(&e.path().to_string()),
                    e.into_inner().to_string(),
                ));
            }
        };
        if value.is_null() {
            continue; // an empty document between `---` separators
        }
        load_value(value, &invalid, namespace, loaded)?;
    }
    Ok(())
}

fn load_value(
    value: serde_json::Value,
    invalid: &dyn Fn(&str, String) -> LoadError,
    namespace: &str,
    loaded: &mut Loaded,
) -> Result<(), LoadError> {
    let api_version = value
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let kind = value
        .get("kind")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    if kind.is_empty() {
        return Err(invalid(
            "kind",
            "missing; every manifest needs apiVersion and kind".into(),
        ));
    }
    if kind == "List" {
        let items = value
            .get("items")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        for (i, item) in items.into_iter().enumerate() {
            let nested =
                |field: &str, message: String| invalid(&format!("items[{i}].{field}"), message);
            load_value(item, &nested, namespace, loaded)?;
        }
        return Ok(());
    }
    let ours = api_version.starts_with(&format!("{}/", crate::api::GROUP));
    if ours
        && matches!(
            kind.as_str(),
            "OIDCProvider" | "OAuthClient" | "ForwardAuthRoute"
        )
    {
        // What the API server checks before anything of ours runs: the served version
        // and the schema with strict field validation. `Validate` (in `typed`) then
        // evaluates the schema's CEL rules, as admission would, and the operator's own.
        let field_error = |(field, message): crate::api::FieldError| invalid(&field, message);
        let schema = super::schema::for_kind(&api_version, &kind).map_err(field_error)?;
        super::schema::check(&value, &schema).map_err(field_error)?;
    }
    match (ours, kind.as_str()) {
        (true, "OIDCProvider") => loaded
            .world
            .providers
            .push(typed(value, namespace, invalid)?),
        (true, "OAuthClient") => loaded.world.clients.push(typed(value, namespace, invalid)?),
        (true, "ForwardAuthRoute") => loaded.world.routes.push(typed(value, namespace, invalid)?),
        (true, other) => {
            return Err(invalid(
                "kind",
                format!(
                    "{other:?} is not a {} kind (OIDCProvider, OAuthClient, ForwardAuthRoute)",
                    crate::api::GROUP
                ),
            ));
        }
        (false, "Secret") if api_version == "v1" => loaded
            .world
            .secrets
            .push(as_stored(typed(value, namespace, invalid)?)),
        _ => loaded.ignored += 1,
    }
    Ok(())
}

/// A Secret as the API server stores it, so as the operator's cache holds it:
/// `stringData` folded into `data` (`stringData` wins).
fn as_stored(mut secret: Secret) -> Secret {
    if let Some(strings) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (k, v) in strings {
            data.insert(k, k8s_openapi::ByteString(v.into_bytes()));
        }
    }
    secret
}

/// Deserialises a document into its type, defaulting the namespace and checking it as
/// the cluster would ([`Validate`]: the CRD's CEL rules, then the operator's own).
fn typed<K>(
    mut value: serde_json::Value,
    namespace: &str,
    invalid: &dyn Fn(&str, String) -> LoadError,
) -> Result<K, LoadError>
where
    K: DeserializeOwned + kube::Resource + Validate,
{
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.entry("namespace").or_insert_with(|| namespace.into());
    } else {
        return Err(invalid(
            "metadata",
            "missing; every object needs metadata.name".into(),
        ));
    }
    let object: K = serde_path_to_error::deserialize(value).map_err(|e| {
        invalid(
            &display_path(&e.path().to_string()),
            e.into_inner().to_string(),
        )
    })?;
    if object.meta().name.as_deref().unwrap_or_default().is_empty() {
        return Err(invalid("metadata.name", "missing".into()));
    }
    object
        .validate()
        .map_err(|(field, message)| invalid(&field, message))?;
    Ok(object)
}

/// serde_path_to_error prints `.` for the root; say `(document)` instead.
fn display_path(path: &str) -> String {
    if path == "." || path.is_empty() {
        "(document)".into()
    } else {
        path.to_string()
    }
}
