//! The resource types the emulator serves: built-ins and CRD-registered ones.

use serde_json::Value;

/// One served group/version/resource.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    /// API group ("" for core).
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Plural resource name.
    pub plural: String,
    /// Singular resource name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names for kubectl.
    pub short_names: Vec<String>,
    /// Categories (`all`, ...).
    pub categories: Vec<String>,
    /// Whether a `/status` subresource exists.
    pub status_subresource: bool,
    /// The OpenAPI v3 schema of a CRD version.
    pub schema: Option<Value>,
    /// `additionalPrinterColumns` of a CRD version.
    pub printer_columns: Vec<Value>,
    /// Whether the objects come from a CRD.
    pub custom: bool,
    /// Whether this version is the CRD's storage version.
    pub storage: bool,
}

impl ResourceInfo {
    fn builtin(group: &str, version: &str, plural: &str, kind: &str, namespaced: bool) -> Self {
        ResourceInfo {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            kind: kind.into(),
            namespaced,
            short_names: vec![],
            categories: vec![],
            status_subresource: false,
            schema: None,
            printer_columns: vec![],
            custom: false,
            storage: true,
        }
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    fn with_status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (or `plural` for core) as used in error messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Where objects of this type are stored (group, plural): events.k8s.io Events
    /// share core Events' storage.
    pub fn store_at(&self) -> (&str, &str) {
        if self.group == "events.k8s.io" && self.kind == "Event" {
            ("", "events")
        } else {
            (&self.group, &self.plural)
        }
    }

    /// Whether writes bump `metadata.generation` and it is shown.
    pub fn has_generation(&self) -> bool {
        self.custom
            || matches!(
                self.kind.as_str(),
                "Deployment" | "CustomResourceDefinition"
            )
    }

    /// Top-level fields a built-in kind knows, for strict field validation.
    pub fn known_top_level(&self) -> Option<&'static [&'static str]> {
        let fields: &'static [&'static str] = match self.kind.as_str() {
            "Secret" => &["data", "stringData", "type", "immutable"],
            "ConfigMap" => &["data", "binaryData", "immutable"],
            "Namespace" | "Service" | "Deployment" | "CustomResourceDefinition" => {
                &["spec", "status"]
            }
            "Lease" => &["spec"],
            "Event" if self.group.is_empty() => &[
                "involvedObject",
                "reason",
                "message",
                "source",
                "firstTimestamp",
                "lastTimestamp",
                "count",
                "type",
                "eventTime",
                "series",
                "action",
                "related",
                "reportingComponent",
                "reportingInstance",
            ],
            "Event" => &[
                "eventTime",
                "series",
                "reportingController",
                "reportingInstance",
                "action",
                "reason",
                "regarding",
                "related",
                "note",
                "type",
                "deprecatedSource",
                "deprecatedFirstTimestamp",
                "deprecatedLastTimestamp",
                "deprecatedCount",
            ],
            _ => return None,
        };
        Some(fields)
    }

    /// The list-type of a list at `path` in a built-in object (by field name).
    pub fn builtin_list_key(field: &str) -> Option<&'static [&'static str]> {
        Some(match field {
            "containers" | "initContainers" | "env" | "volumes" | "imagePullSecrets" => &["name"],
            "ports" => &["port", "containerPort"],
            "volumeMounts" => &["mountPath"],
            "conditions" => &["type"],
            "ownerReferences" => &["uid"],
            _ => return None,
        })
    }
}

/// The built-in resources every emulator serves.
pub fn builtins() -> Vec<ResourceInfo> {
    let mut crd = ResourceInfo::builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    )
    .short(&["crd", "crds"])
    .with_status();
    crd.singular = "customresourcedefinition".into();
    let mut events_new =
        ResourceInfo::builtin("events.k8s.io", "v1", "events", "Event", true).short(&["ev"]);
    events_new.singular = "event".into();
    let mut deploy =
        ResourceInfo::builtin("apps", "v1", "deployments", "Deployment", true).short(&["deploy"]);
    deploy.categories = vec!["all".into()];
    deploy.status_subresource = true;
    let mut ingress =
        ResourceInfo::builtin("networking.k8s.io", "v1", "ingresses", "Ingress", true)
            .short(&["ing"]);
    ingress.status_subresource = true;
    let mut svc = ResourceInfo::builtin("", "v1", "services", "Service", true).short(&["svc"]);
    svc.categories = vec!["all".into()];
    svc.status_subresource = true;
    vec![
        ResourceInfo::builtin("", "v1", "namespaces", "Namespace", false)
            .short(&["ns"])
            .with_status(),
        ResourceInfo::builtin("", "v1", "secrets", "Secret", true),
        ResourceInfo::builtin("", "v1", "configmaps", "ConfigMap", true).short(&["cm"]),
        ResourceInfo::builtin("", "v1", "events", "Event", true).short(&["ev"]),
        svc,
        deploy,
        ingress,
        ResourceInfo::builtin("coordination.k8s.io", "v1", "leases", "Lease", true),
        events_new,
        crd,
    ]
}

/// The resource infos a CRD object registers (one per served version).
pub fn from_crd(crd: &Value) -> Vec<ResourceInfo> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let kind = s(&names["kind"]);
    let singular = names["singular"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    let mut out = vec![];
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["served"].as_bool() == Some(false) {
            continue;
        }
        out.push(ResourceInfo {
            group: s(&spec["group"]),
            version: s(&v["name"]),
            plural: s(&names["plural"]),
            singular: singular.clone(),
            kind: kind.clone(),
            namespaced: spec["scope"].as_str() != Some("Cluster"),
            short_names: list(&names["shortNames"]),
            categories: list(&names["categories"]),
            status_subresource: v["subresources"]["status"].is_object(),
            schema: v["schema"].get("openAPIV3Schema").cloned(),
            printer_columns: v["additionalPrinterColumns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            custom: true,
            storage: v["storage"].as_bool().unwrap_or(false),
        });
    }
    out
}
