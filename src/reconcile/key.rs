//! [`ObjectKey`]: a namespaced object's identity, `namespace/name`. Built once from an
//! object (or a reference), compared and used as a map key as it is, written as
//! `namespace/name` only where text is wanted (status messages, logs, render output,
//! the outposts' configuration), and parsed back with an error that says what is wrong.

use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// `namespace/name` of a namespaced object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// The namespace (empty for input with none, as `render` may read).
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key of `name` in `namespace`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of an object.
    pub(crate) fn of<K: ResourceExt>(object: &K) -> Self {
        Self::new(object.namespace().unwrap_or_default(), object.name_any())
    }

    /// The reflector reference of the object of kind `K` with this key (what a
    /// controller is told to reconcile).
    pub(crate) fn object_ref<K: Resource<DynamicType = ()>>(&self) -> ObjectRef<K> {
        ObjectRef::new(&self.name).within(&self.namespace)
    }

    /// The key as text sorts: byte by byte over `namespace/name`. Keys sort in this
    /// order (not field by field) so every order the operator derives from them, the
    /// oldest-claimant tie-break and render's listing among them, stays the one it has
    /// always had when keys were text (`a-b/x` before `a/x`, as `-` < `/`).
    fn text_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.namespace
            .bytes()
            .chain(std::iter::once(b'/'))
            .chain(self.name.bytes())
    }
}

impl Ord for ObjectKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text_bytes().cmp(other.text_bytes())
    }
}

impl PartialOrd for ObjectKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Text that is not `namespace/name`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an object key: {problem}; write it as namespace/name, e.g. auth/corp")]
pub struct ObjectKeyError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl FromStr for ObjectKey {
    type Err = ObjectKeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem| ObjectKeyError {
            text: text.to_string(),
            problem,
        };
        let (namespace, name) = text.split_once('/').ok_or_else(|| fail("no '/'"))?;
        if name.contains('/') {
            return Err(fail("more than one '/'"));
        }
        if name.is_empty() {
            return Err(fail("the name after '/' is empty"));
        }
        Ok(Self::new(namespace, name))
    }
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
