//! Printing the compiled result as YAML, with secret values redacted by default.

use super::Loaded;
use crate::api::{ClientMode, OAuthClient, SecretPreset};
use crate::reconcile::client::{CLIENT_LABEL, STATE_COOKIE_KEY, STATE_SECRET_KEY};
use crate::reconcile::compile::Compiled;
use crate::reconcile::conditions::{ConditionExt, ConditionReason, ConditionType, find};
use crate::reconcile::index::needed_backchannel_logout_uri;
use crate::reconcile::registration;
use crate::reconcile::rotation::{Outlook, TARGET_PREVIOUS_KEY};
use crate::reconcile::{Desired, key::ObjectKey, presets};
use k8s_openapi::api::core::v1::Secret;
use std::collections::{BTreeMap, BTreeSet};

/// What redacted values print as.
pub(crate) const REDACTED: &str = "<redacted>";

/// The YAML stream `render` prints: created objects, then each resource with status.
pub fn render(loaded: &Loaded, compiled: &Compiled, show_secrets: bool) -> String {
    let sensitive = sensitive_values(&compiled.objects);
    let mut out = String::from(
        "# Rendered by `portcullis render`: objects the operator would write, then each resource with the status it would get.\n",
    );
    if loaded.ignored > 0 {
        out.push_str(&format!(
            "# {} document(s) of other kinds were read and left alone.\n",
            loaded.ignored
        ));
    }
    for object in &compiled.objects {
        let value = match object {
            Desired::Secret(s) => secret_for_display(s, &sensitive, show_secrets),
            Desired::ConfigMap(c) => {
                let mut v = serde_json::to_value(c).expect("serialises");
                v["apiVersion"] = "v1".into();
                v["kind"] = "ConfigMap".into();
                reorder(v)
            }
        };
        push_doc(&mut out, &value);
    }
    for p in &loaded.world.providers {
        let mut p = p.clone();
        p.status = compiled.provider_status.get(&ObjectKey::of(&p)).cloned();
        push_doc(&mut out, &serde_json::to_value(&p).expect("serialises"));
    }
    for c in &loaded.world.clients {
        let mut c = c.clone();
        let key = ObjectKey::of(&c);
        c.status = compiled.client_status.get(&key).cloned();
        // The rotation outlook heads the client's document, where people read its status.
        out.push_str("---\n");
        let rotation = compiled.client_rotation.get(&key);
        let lines = rotation
            .and_then(rotation_line)
            .into_iter()
            .chain(restart_line(&c, rotation))
            .chain(registration_line(loaded, compiled, &c));
        for line in lines {
            out.push_str(&format!("# OAuthClient {key}: {line}\n"));
        }
        out.push_str(
            &serde_yaml::to_string(&serde_json::to_value(&c).expect("serialises"))
                .expect("YAML serialises"),
        );
    }
    for r in &loaded.world.routes {
        let mut r = r.clone();
        r.status = compiled.route_status.get(&ObjectKey::of(&r)).cloned();
        push_doc(&mut out, &serde_json::to_value(&r).expect("serialises"));
    }
    out
}

/// What the operator would do about a client's secret rotation, in one sentence:
/// `None` when it has nothing to do (no period, no previous secret published).
pub(crate) fn rotation_line(outlook: &Outlook) -> Option<String> {
    let next = outlook.next_due.map(|t| format!("next due {t}"));
    let line = match (outlook.rotating_because, outlook.previous_until) {
        (Some(why), until) => format!(
            "secret rotation due now ({why}): a new secret would be minted, the previous kept until {}{}",
            until.map_or_else(|| "the grace period ends".to_string(), |t| t.to_string()),
            next.map(|n| format!("; {n}")).unwrap_or_default()
        ),
        (None, Some(until)) => format!(
            "secret rotation: the previous secret is kept until {until}{}",
            next.map(|n| format!("; {n}")).unwrap_or_default()
        ),
        (None, None) => format!("secret rotation: {}", next?),
    };
    Some(line)
}

/// The workloads `spec.restartOnRotation` names, and whether this reconcile restarts
/// them (it does when it rotates the secret): `None` when none are named.
pub(crate) fn restart_line(client: &OAuthClient, outlook: Option<&Outlook>) -> Option<String> {
    let workloads: Vec<String> = client
        .spec
        .restart_on_rotation
        .iter()
        .flatten()
        .map(|w| format!("{:?} {}", w.kind, w.name))
        .collect();
    if workloads.is_empty() {
        return None;
    }
    let workloads = workloads.join(", ");
    Some(match outlook.and_then(|o| o.rotating_because) {
        Some(_) => {
            format!("would restart {workloads} now, as the secret rotates (spec.restartOnRotation)")
        }
        None => format!(
            "restarts {workloads} whenever a rotation changes the secret (spec.restartOnRotation)"
        ),
    })
}

/// For a Dynamic client not registered yet: the registration request the operator would
/// send (RFC 7591), and where. `render` itself registers nothing.
fn registration_line(loaded: &Loaded, compiled: &Compiled, client: &OAuthClient) -> Option<String> {
    let status = client.status.as_ref()?;
    let awaiting = find(&status.conditions, ConditionType::Registered)
        .is_some_and(|c| c.has_reason(ConditionReason::AwaitingRegistration));
    if client.spec.mode != ClientMode::Dynamic || !awaiting {
        return None;
    }
    let world = &loaded.world;
    let own = ObjectKey::of(client);
    let provider_ns = client.spec.provider_ref.namespace_or(&own.namespace);
    let endpoint = compiled
        .provider_status
        .get(&ObjectKey::new(provider_ns, &client.spec.provider_ref.name))
        .and_then(|s| s.endpoints.as_ref())
        .and_then(|e| e.registration.clone())
        .unwrap_or_else(|| {
            "the provider's registration endpoint (run with --probe to discover it)".into()
        });
    let logout =
        needed_backchannel_logout_uri(&shared(&world.providers), &shared(&world.routes), client);
    let body = registration::metadata(client, &status.redirect_uris, logout.as_deref());
    Some(format!(
        "would register (RFC 7591) at {endpoint} with {body}"
    ))
}

/// Shared copies, as the operator's index functions take them from its reflectors.
fn shared<K: Clone>(items: &[K]) -> Vec<std::sync::Arc<K>> {
    items.iter().cloned().map(std::sync::Arc::new).collect()
}

fn push_doc(out: &mut String, value: &serde_json::Value) {
    out.push_str("---\n");
    out.push_str(&serde_yaml::to_string(value).expect("YAML serialises"));
}

/// Every value that must not be printed: minted and projected client secrets, cookie
/// secrets. A value that contains one (a template) is redacted too.
fn sensitive_values(objects: &[Desired]) -> BTreeSet<String> {
    let mut keys: BTreeSet<&str> = [
        SecretPreset::Generic,
        SecretPreset::Grafana,
        SecretPreset::Argocd,
        SecretPreset::OAuth2Proxy,
    ]
    .into_iter()
    .map(presets::secret_key)
    .collect();
    keys.extend([
        STATE_SECRET_KEY,
        TARGET_PREVIOUS_KEY,
        STATE_COOKIE_KEY,
        "OAUTH2_PROXY_COOKIE_SECRET",
    ]);
    let mut values = BTreeSet::new();
    for object in objects {
        if let Desired::Secret(s) = object
            && s.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(CLIENT_LABEL))
        {
            for (k, v) in crate::reconcile::client::secret_data(s) {
                if keys.contains(k.as_str()) && !v.is_empty() {
                    values.insert(v);
                }
            }
        }
    }
    values
}

/// A Secret as people read it: `stringData` in clear text, sensitive values redacted.
fn secret_for_display(
    secret: &Secret,
    sensitive: &BTreeSet<String>,
    show: bool,
) -> serde_json::Value {
    let data: BTreeMap<String, String> = crate::reconcile::client::secret_data(secret)
        .into_iter()
        .map(|(k, v)| {
            let hide = !show && sensitive.iter().any(|s| v.contains(s.as_str()));
            (k, if hide { REDACTED.to_string() } else { v })
        })
        .collect();
    let mut s = secret.clone();
    s.data = None;
    s.string_data = Some(data);
    let mut v = serde_json::to_value(&s).expect("serialises");
    v["apiVersion"] = "v1".into();
    v["kind"] = "Secret".into();
    reorder(v)
}

/// Puts `apiVersion` and `kind` first, as people expect to read manifests.
fn reorder(v: serde_json::Value) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    if let serde_json::Value::Object(o) = v {
        for k in ["apiVersion", "kind", "metadata"] {
            if let Some(x) = o.get(k) {
                map.insert(k.to_string(), x.clone());
            }
        }
        for (k, x) in o {
            map.entry(k).or_insert(x);
        }
    }
    serde_json::Value::Object(map)
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
