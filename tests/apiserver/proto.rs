//! Decoding of `application/vnd.kubernetes.protobuf` request bodies into JSON, for
//! the built-in kinds kubectl's generators send that way (`kubectl create namespace`,
//! `create configmap`, `create secret`, `create deployment`, `create service`).
//! Field tables come from proto_schema.tsv (see gen_proto_schema.py). Zero scalars
//! are dropped, as Go's `omitempty` JSON would.

use super::util::format_rfc3339;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;

struct Field {
    json: String,
    kind: String,
    repeated: bool,
    target: String,
}

type Schema = HashMap<String, HashMap<u64, Field>>;

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut out: Schema = HashMap::new();
        for line in include_str!("proto_schema.tsv")
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 6 {
                continue;
            }
            let field = Field {
                json: cols[2].into(),
                kind: cols[3].into(),
                repeated: cols[4] == "r",
                target: cols[5].into(),
            };
            let tag = cols[1].parse().unwrap_or(0);
            out.entry(cols[0].into()).or_default().insert(tag, field);
        }
        out
    })
}

fn root_message(api_version: &str, kind: &str) -> Option<&'static str> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => "api.core.v1.Namespace",
        ("v1", "ConfigMap") => "api.core.v1.ConfigMap",
        ("v1", "Secret") => "api.core.v1.Secret",
        ("v1", "Service") => "api.core.v1.Service",
        ("v1", "Event") => "api.core.v1.Event",
        ("apps/v1", "Deployment") => "api.apps.v1.Deployment",
        ("coordination.k8s.io/v1", "Lease") => "api.coordination.v1.Lease",
        ("events.k8s.io/v1", "Event") => "api.events.v1.Event",
        _ => return None,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()? as usize;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or("truncated field")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn skip(&mut self, wire: u64) -> Result<(), String> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => {
                self.pos += 8;
                Ok(())
            }
            2 => self.bytes().map(|_| ()),
            5 => {
                self.pos += 4;
                Ok(())
            }
            w => Err(format!("unsupported wire type {w}")),
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

/// Fields of a message as (tag, wire type, varint or bytes).
/// One decoded field: tag, wire type, varint value, bytes value.
type RawField<'a> = (u64, u64, u64, &'a [u8]);

fn fields(buf: &[u8]) -> Result<Vec<RawField<'_>>, String> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = vec![];
    while !r.done() {
        let key = r.varint()?;
        let (tag, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((tag, wire, r.varint()?, &[][..])),
            2 => out.push((tag, wire, 0, r.bytes()?)),
            w => r.skip(w)?,
        }
    }
    Ok(out)
}

fn special(name: &str, buf: &[u8]) -> Result<Option<Value>, String> {
    let f = || fields(buf);
    let str_of = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok(Some(match name.rsplit('.').next().unwrap_or_default() {
        "Time" | "MicroTime" if name.starts_with("apimachinery") => {
            let secs = f()?
                .iter()
                .find(|x| x.0 == 1)
                .map(|x| x.2 as i64)
                .unwrap_or(0);
            if secs <= 0 {
                Value::Null
            } else {
                json!(format_rfc3339(secs))
            }
        }
        "IntOrString" => {
            let fs = f()?;
            let ty = fs.iter().find(|x| x.0 == 1).map(|x| x.2).unwrap_or(0);
            if ty == 1 {
                json!(
                    fs.iter()
                        .find(|x| x.0 == 3)
                        .map(|x| str_of(x.3))
                        .unwrap_or_default()
                )
            } else {
                json!(
                    fs.iter()
                        .find(|x| x.0 == 2)
                        .map(|x| x.2 as i32)
                        .unwrap_or(0)
                )
            }
        }
        "Quantity" => json!(
            f()?.iter()
                .find(|x| x.0 == 1)
                .map(|x| str_of(x.3))
                .unwrap_or_default()
        ),
        "RawExtension" | "FieldsV1" => {
            let raw = f()?
                .iter()
                .find(|x| x.0 == 1)
                .map(|x| x.3.to_vec())
                .unwrap_or_default();
            serde_json::from_slice(&raw).unwrap_or(Value::Null)
        }
        "Duration" if name.starts_with("apimachinery") => {
            let ns = f()?
                .iter()
                .find(|x| x.0 == 1)
                .map(|x| x.2 as i64)
                .unwrap_or(0);
            json!(format!("{}s", ns / 1_000_000_000))
        }
        _ => return Ok(None),
    }))
}

fn scalar(kind: &str, v: u64, b: &[u8]) -> Value {
    match kind {
        "string" => json!(String::from_utf8_lossy(b)),
        "bytes" => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        "int32" => json!(v as i64 as i32),
        "int64" => json!(v as i64),
        "bool" => json!(v != 0),
        _ => Value::Null,
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn decode_msg(buf: &[u8], name: &str) -> Result<Value, String> {
    if let Some(v) = special(name, buf)? {
        return Ok(v);
    }
    let table = schema()
        .get(name)
        .ok_or_else(|| format!("no protobuf schema for {name}"))?;
    let mut obj = Map::new();
    for (tag, wire, v, b) in fields(buf)? {
        let Some(f) = table.get(&tag) else { continue };
        let value = match f.kind.as_str() {
            "msg" => decode_msg(b, &f.target)?,
            k if k.starts_with("map_") => {
                let mut key = String::new();
                let mut val = Value::Null;
                for (t, _, ev, eb) in fields(b)? {
                    match (t, &k[4..]) {
                        (1, _) => key = String::from_utf8_lossy(eb).into_owned(),
                        (2, "msg") => val = decode_msg(eb, &f.target)?,
                        (2, vk) => val = scalar(vk, ev, eb),
                        _ => {}
                    }
                }
                if val.is_null() {
                    val = scalar(&k[4..], 0, &[]);
                }
                let map = obj.entry(f.json.clone()).or_insert_with(|| json!({}));
                map[key] = val;
                continue;
            }
            k if wire == 2 && f.repeated && k.starts_with("int") => {
                // Packed repeated integers.
                let mut r = Reader { buf: b, pos: 0 };
                let arr = obj.entry(f.json.clone()).or_insert_with(|| json!([]));
                while !r.done() {
                    let x = r.varint()?;
                    if let Some(a) = arr.as_array_mut() {
                        a.push(scalar(k, x, &[]));
                    }
                }
                continue;
            }
            k => scalar(k, v, b),
        };
        if f.repeated {
            let arr = obj.entry(f.json.clone()).or_insert_with(|| json!([]));
            if let Some(a) = arr.as_array_mut() {
                a.push(value);
            }
        } else if !is_zero(&value) {
            obj.insert(f.json.clone(), value);
        }
    }
    Ok(Value::Object(obj))
}

/// Decodes a `k8s\0`-prefixed runtime.Unknown envelope into the JSON object.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or("missing protobuf magic")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (tag, _, _, b) in fields(rest)? {
        match tag {
            1 => {
                for (t, _, _, tb) in fields(b)? {
                    match t {
                        1 => api_version = String::from_utf8_lossy(tb).into_owned(),
                        2 => kind = String::from_utf8_lossy(tb).into_owned(),
                        _ => {}
                    }
                }
            }
            2 => raw = b,
            _ => {}
        }
    }
    let root = root_message(&api_version, &kind)
        .ok_or_else(|| format!("protobuf is not supported for {api_version}, Kind={kind}"))?;
    let mut obj = decode_msg(raw, root)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}
