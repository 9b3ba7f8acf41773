//! `require cel "…"` rules evaluated as the API server evaluates them: by a CEL engine (the
//! `cel` crate, which `check` already parses them with), over the variables the generated
//! policy defines. The object is the one the manifest describes as far as admission reads it
//! (kind, metadata, the pod template where the kind keeps it); the request is a `CREATE`.

use super::rules::{PodView, image_matches};
use crate::manifests::yaml::{Node, Value as Yaml};
use cel::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A YAML node as the JSON the API server would hand CEL: a plain scalar is a null, a boolean
/// or a number where it reads as one, anything quoted a string.
fn value(node: &Node) -> Value {
    match &node.value {
        Yaml::Scalar(s, plain) => {
            if *plain {
                match s.as_str() {
                    "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
                    "true" | "True" | "TRUE" => return Value::Bool(true),
                    "false" | "False" | "FALSE" => return Value::Bool(false),
                    _ => {}
                }
                if let Ok(i) = s.parse::<i64>() {
                    return Value::Int(i);
                }
                if let Ok(f) = s.parse::<f64>() {
                    return Value::Float(f);
                }
            }
            Value::String(Arc::new(s.clone()))
        }
        Yaml::Seq(items) => Value::List(Arc::new(items.iter().map(value).collect())),
        Yaml::Map(entries) => map(entries
            .iter()
            // The API server drops a null field: CEL's `has()` does not see it.
            .filter(|(_, v)| !matches!(value(v), Value::Null))
            .map(|(k, v)| (k.clone(), value(v)))),
    }
}

fn map(entries: impl Iterator<Item = (String, Value)>) -> Value {
    let m: HashMap<String, Value> = entries.collect();
    Value::Map(m.into())
}

fn strings(m: &std::collections::BTreeMap<String, String>) -> Value {
    map(m
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(Arc::new(v.clone())))))
}

/// Whether `expression` holds for `pod`: `Err` with the engine's words where it cannot be
/// evaluated (the API server then refuses the object, its policies failing closed).
pub fn holds(
    expression: &str,
    pod: PodView<'_>,
    exempt: &[(String, String)],
) -> Result<bool, String> {
    let program = cel::Program::compile(expression).map_err(|e| format!("{e:?}"))?;
    let spec = value(pod.spec);
    let kept = |kinds: &[&str]| -> Value {
        let list: Vec<Value> = kinds
            .iter()
            .flat_map(|k| pod.spec.get(k).map(Node::seq).unwrap_or_default())
            .filter(|c| {
                let image = c.get("image").and_then(Node::str).unwrap_or_default();
                !exempt.iter().any(|(p, _)| image_matches(p, image))
            })
            .map(value)
            .collect();
        Value::List(Arc::new(list))
    };
    let mut meta = vec![("labels".to_string(), strings(pod.labels))];
    if !pod.annotations.is_empty() {
        meta.push(("annotations".to_string(), strings(pod.annotations)));
    }
    let pod_meta = map(meta.clone().into_iter());
    let variables = map([
        ("podSpec".to_string(), spec.clone()),
        (
            "containers".to_string(),
            kept(&["containers", "initContainers", "ephemeralContainers"]),
        ),
        (
            "workloadContainers".to_string(),
            kept(&["containers", "initContainers"]),
        ),
        ("podMeta".to_string(), pod_meta.clone()),
    ]
    .into_iter());
    let s = |v: &str| Value::String(Arc::new(v.to_string()));
    let template = map([
        ("metadata".to_string(), pod_meta.clone()),
        ("spec".to_string(), spec.clone()),
    ]
    .into_iter());
    let object_spec = match pod.kind {
        "Pod" => spec,
        "CronJob" => map(std::iter::once((
            "jobTemplate".to_string(),
            map(std::iter::once((
                "spec".to_string(),
                map(std::iter::once(("template".to_string(), template))),
            ))),
        ))),
        _ => map(std::iter::once(("template".to_string(), template))),
    };
    let mut object_meta = vec![
        ("name".to_string(), s(pod.name)),
        ("namespace".to_string(), s(pod.namespace)),
    ];
    if pod.kind == "Pod" {
        object_meta.extend(meta);
    }
    let object = map([
        ("kind".to_string(), s(pod.kind)),
        ("metadata".to_string(), map(object_meta.into_iter())),
        ("spec".to_string(), object_spec),
    ]
    .into_iter());
    let mut ctx = cel::Context::default();
    ctx.add_variable_from_value("object", object);
    ctx.add_variable_from_value("oldObject", Value::Null);
    ctx.add_variable_from_value(
        "request",
        map(std::iter::once(("operation".to_string(), s("CREATE")))),
    );
    ctx.add_variable_from_value("variables", variables);
    match program.execute(&ctx) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("the expression gives {other:?}, not a boolean")),
        Err(e) => Err(format!("{e:?}")),
    }
}
