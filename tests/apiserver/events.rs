//! core/v1 and events.k8s.io/v1 Events share one storage (core form), as on a real
//! server: the events.k8s.io representation is converted on the way in and out, so
//! events a controller records through events.k8s.io show in `kubectl get events` and
//! `kubectl describe`.

use super::registry::ResourceInfo;
use super::util::{human_duration, now_secs, parse_rfc3339};
use serde_json::{Map, Value, json};

// (events.k8s.io/v1 name, core/v1 name) of the renamed fields.
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Whether `info` is events.k8s.io Event (stored in core form).
pub fn is_new_api(info: &ResourceInfo) -> bool {
    info.group == "events.k8s.io" && info.kind == "Event"
}

fn rename(obj: &Value, to_core: bool) -> Value {
    let Some(m) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        let renamed = RENAMES.iter().find_map(|(new, core)| {
            let (from, to) = if to_core { (new, core) } else { (core, new) };
            (k == from).then_some(*to)
        });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    Value::Object(out)
}

/// The stored (core) form of an object written through `info`.
pub fn to_storage(info: &ResourceInfo, obj: Value) -> Value {
    if is_new_api(info) {
        let mut v = rename(&obj, true);
        v["apiVersion"] = json!("v1");
        v
    } else {
        obj
    }
}

/// The form of a stored object as `info` serves it.
pub fn from_storage(info: &ResourceInfo, obj: &Value) -> Value {
    if is_new_api(info) {
        rename(obj, false)
    } else {
        obj.clone()
    }
}

/// Column names of `kubectl get events` (core/v1), as the real server prints them.
pub const CORE_COLUMNS: &[(&str, u8)] = &[
    ("Last Seen", 0),
    ("Type", 0),
    ("Reason", 0),
    ("Object", 0),
    ("Subobject", 1),
    ("Source", 1),
    ("Message", 0),
    ("First Seen", 1),
    ("Count", 1),
    ("Name", 1),
];

fn age_of(v: &Value) -> Option<String> {
    v.as_str()
        .and_then(parse_rfc3339)
        .map(|t| human_duration(now_secs() - t))
}

/// Cells for one core/v1 Event, matching [`CORE_COLUMNS`].
pub fn core_cells(e: &Value) -> Vec<Value> {
    let last = age_of(&e["series"]["lastObservedTime"])
        .or_else(|| age_of(&e["lastTimestamp"]))
        .or_else(|| age_of(&e["eventTime"]))
        .unwrap_or_else(|| "<unknown>".into());
    let first = age_of(&e["firstTimestamp"])
        .or_else(|| age_of(&e["eventTime"]))
        .unwrap_or_else(|| "<unknown>".into());
    let io = &e["involvedObject"];
    let object = format!(
        "{}/{}",
        io["kind"].as_str().unwrap_or_default().to_ascii_lowercase(),
        io["name"].as_str().unwrap_or_default()
    );
    let source = e["source"]["component"]
        .as_str()
        .or_else(|| e["reportingComponent"].as_str())
        .unwrap_or_default();
    let count = e["series"]["count"]
        .as_i64()
        .or_else(|| e["count"].as_i64())
        .unwrap_or(1);
    vec![
        json!(last),
        e["type"].clone(),
        e["reason"].clone(),
        json!(object),
        json!(io["fieldPath"].as_str().unwrap_or_default()),
        json!(source),
        e["message"].clone(),
        json!(first),
        json!(count),
        e["metadata"]["name"].clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_round_trip() {
        let new = json!({"apiVersion": "events.k8s.io/v1", "regarding": {"kind": "Widget", "name": "a"},
            "note": "hello", "reason": "Synced", "reportingController": "portcullis"});
        let core = rename(&new, true);
        assert_eq!(core["involvedObject"]["name"], "a");
        assert_eq!(core["message"], "hello");
        assert_eq!(core["reportingComponent"], "portcullis");
        assert_eq!(rename(&core, false), new);
        let cells = core_cells(&core);
        assert_eq!(cells[3], "widget/a");
        assert_eq!(cells[6], "hello");
    }
}
