//! The CRDs' own CEL rules (`x-kubernetes-validations`), evaluated as the API server
//! evaluates them: at the schema node where each sits, with `self` bound to that node's
//! value, and refused with the API server's words (`spec: Invalid value: mode Static
//! needs credentialsSecretRef`, `spec.authURL: Invalid value: "http://a": must be ...`). The rules are read from the schema `portcullis
//! crd` prints, so the cluster and `render` apply one definition; the operator applies it
//! again at reconcile time ([`check_object`]) for objects stored before a rule existed. The functions are
//! kube-cel's Kubernetes libraries, with the URL library replaced by a port of the API
//! server's ([`super::k8s_url`]).

use crate::api::FieldError;
use kube_cel::KubeCelExt;
use kube_cel::cel::objects::{Key, Map};
use kube_cel::cel::{Context, Program, Value as Cel};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The functions a rule may call: the Kubernetes libraries, URLs as the API server has
/// them.
fn context() -> Context<'static> {
    let mut ctx = Context::default();
    ctx.register_all();
    super::k8s_url::register(&mut ctx);
    ctx
}

/// Every rule of `schema` on `value` (a whole object): the first refusal, as the API
/// server words it. A rule that does not compile or cannot be evaluated refuses too
/// (fail closed), naming the rule.
pub fn check(value: &Value, schema: &Value) -> Result<(), FieldError> {
    static BASE: std::sync::OnceLock<Context<'static>> = std::sync::OnceLock::new();
    walk(value, schema, "", BASE.get_or_init(context))
}

/// `text` compiled, once per distinct text (the operator checks every object at every
/// reconcile; our CRDs hold a handful of rules).
fn compiled(text: &str) -> Result<Arc<Program>, String> {
    static PROGRAMS: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Arc<Program>>>> =
        std::sync::OnceLock::new();
    let programs = PROGRAMS.get_or_init(Default::default);
    if let Some(p) = programs.lock().unwrap_or_else(|e| e.into_inner()).get(text) {
        return Ok(p.clone());
    }
    let program = Arc::new(Program::compile(text).map_err(|e| format!("compilation failed: {e}"))?);
    programs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(text.to_string(), program.clone());
    Ok(program)
}

/// The CRD's CEL rules on a typed object, from the schema of its kind's served version:
/// what the API server checks at admission, checked again by the operator at reconcile
/// time because an object stored before a rule was added (or tightened) is not checked
/// again until it changes, and CRD validation ratcheting lets an unchanged field stay.
pub fn check_object<K>(object: &K) -> Result<(), FieldError>
where
    K: kube::Resource<DynamicType = ()> + serde::Serialize,
{
    let kind = K::kind(&());
    let Some(schema) = schemas().get(kind.as_ref()) else {
        return Ok(()); // not one of our kinds: no rules
    };
    let value = serde_json::to_value(object).map_err(|e| {
        (
            "(object)".to_string(),
            format!("cannot be read as JSON: {e}"),
        )
    })?;
    check(&value, schema).map_err(|(field, message)| {
        let field = if field.is_empty() {
            "(object)".into()
        } else {
            field
        };
        (field, message)
    })
}

/// The `openAPIV3Schema` of each of our kinds (the served version), built once.
fn schemas() -> &'static HashMap<String, Value> {
    static SCHEMAS: std::sync::OnceLock<HashMap<String, Value>> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| {
        super::crds()
            .into_iter()
            .filter_map(|crd| {
                let version = crd.spec.versions.iter().find(|v| v.served)?;
                let schema = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
                Some((
                    crd.spec.names.kind.clone(),
                    serde_json::to_value(schema).expect("a schema serialises"),
                ))
            })
            .collect()
    })
}

/// Compiles every rule of `schema`; the rules that do not compile, with the parser's
/// message.
pub fn compile_errors(schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    each_rule(schema, &mut |rule| {
        for expr in [rule["rule"].as_str(), rule["messageExpression"].as_str()]
            .into_iter()
            .flatten()
        {
            if let Err(e) = Program::compile(expr) {
                errors.push(format!("{expr}: {e}"));
            }
        }
    });
    errors
}

fn each_rule(schema: &Value, f: &mut dyn FnMut(&Value)) {
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        f(rule);
    }
    for sub in schema["properties"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        each_rule(sub, f);
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            each_rule(&schema[key], f);
        }
    }
}

fn walk(value: &Value, schema: &Value, path: &str, ctx: &Context) -> Result<(), FieldError> {
    if value.is_null() {
        return Ok(()); // the API server runs no rule on an absent or null value
    }
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        evaluate(rule, value, path, ctx)?;
    }
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                if let Some(sub) = schema["properties"].get(key) {
                    walk(field, sub, &child(path, key), ctx)?;
                } else if schema["additionalProperties"].is_object() {
                    walk(
                        field,
                        &schema["additionalProperties"],
                        &format!("{path}[{key}]"),
                        ctx,
                    )?;
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &schema["items"], &format!("{path}[{i}]"), ctx)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// One rule at one node: `Ok` when it holds, else the API server's error.
fn evaluate(rule: &Value, value: &Value, path: &str, ctx: &Context) -> Result<(), FieldError> {
    let text = rule["rule"].as_str().unwrap_or_default();
    // The field at fault: the node, or the rule's `fieldPath` below it (`.spec.x`).
    let at = match rule["fieldPath"].as_str() {
        Some(field) => format!("{path}{field}"),
        None => path.to_string(),
    };
    let at = at.trim_start_matches('.').to_string();
    let mut scope = ctx.new_inner_scope();
    scope.add_variable_from_value("self", to_cel(value));
    let outcome = compiled(text).and_then(|p| p.execute(&scope).map_err(|e| e.to_string()));
    match outcome {
        Ok(Cel::Bool(true)) => Ok(()),
        Ok(Cel::Bool(false)) => {
            let message = message(rule, &scope).unwrap_or_else(|| format!("failed rule: {text}"));
            Err((at, refusal(rule["reason"].as_str(), value, &message)))
        }
        Ok(other) => Err((
            at,
            format!("Internal error: rule {text:?} gave {other:?}, not a bool"),
        )),
        Err(e) => Err((
            at,
            format!("Internal error: rule evaluation error: {e} (rule: {text})"),
        )),
    }
}

/// `messageExpression` when it yields a non-empty one-line string, else `message`.
fn message(rule: &Value, scope: &Context) -> Option<String> {
    let evaluated = rule["messageExpression"].as_str().and_then(|expr| {
        match compiled(expr).ok()?.execute(scope).ok()? {
            Cel::String(s) if !s.trim().is_empty() && !s.contains('\n') => Some(s.to_string()),
            _ => None,
        }
    });
    evaluated.or_else(|| {
        rule["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .map(str::to_string)
    })
}

/// The API server's words for each `reason` (`field.Error`'s `ErrorBody`). An invalid
/// scalar is quoted (Go's `%q` for a string: JSON's escaping for what our fields hold),
/// an invalid object or list is not.
fn refusal(reason: Option<&str>, value: &Value, message: &str) -> String {
    match reason {
        Some("FieldValueForbidden") => format!("Forbidden: {message}"),
        Some("FieldValueRequired") => format!("Required value: {message}"),
        Some("FieldValueDuplicate") => format!("Duplicate value: {message}"),
        _ => match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                format!("Invalid value: {value}: {message}")
            }
            _ => format!("Invalid value: {message}"),
        },
    }
}

fn to_cel(value: &Value) -> Cel {
    match value {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cel::Int(i),
            (None, Some(u)) => Cel::UInt(u),
            _ => Cel::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(items) => Cel::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(fields) => {
            let map: HashMap<Key, Cel> = fields
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            Cel::Map(Map { map: Arc::new(map) })
        }
    }
}

#[cfg(test)]
#[path = "cel_tests.rs"]
mod tests;
