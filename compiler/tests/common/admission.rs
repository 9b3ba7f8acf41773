//! Admission documents read back the way their engines read them: where a block applies (the
//! binding's namespace selector, Kyverno's `match`/`exclude`, Gatekeeper's `match`), the CEL of a
//! ValidatingAdmissionPolicy or Kyverno ClusterPolicy run by the `cel` crate (match conditions,
//! variables in order, validations, message expressions), and a Gatekeeper template's Rego run by
//! regorus as Gatekeeper calls it.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

pub type Labels = BTreeMap<String, String>;

/// A Kubernetes LabelSelector (`matchLabels`, `matchExpressions`), as the API server evaluates it.
pub fn selects(selector: &Value, labels: &Labels) -> bool {
    let by_label = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let by_expression = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap();
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap())
                .collect();
            let value = labels.get(key).map(String::as_str);
            match e["operator"].as_str().unwrap() {
                "In" => value.is_some_and(|v| values.contains(&v)),
                "NotIn" => value.is_none_or(|v| !values.contains(&v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("operator {other}"),
            }
        });
    by_label && by_expression
}

/// Gatekeeper's (and Kyverno's) namespace patterns: a name, with `*` allowed at either end.
pub fn name_pattern(pattern: &str, name: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => name.contains(rest.trim_end_matches('*')),
        (Some(rest), _) => name.ends_with(rest),
        (_, Some(rest)) => name.starts_with(rest),
        _ => pattern == name,
    }
}

fn names(v: &Value) -> Option<Vec<&str>> {
    v.as_array()
        .map(|a| a.iter().map(|n| n.as_str().unwrap()).collect())
}

/// Whether block `block` applies in namespace `name` with `labels`, as [vap, kyverno, gatekeeper]
/// read their documents in `docs` (by output path).
pub fn applies_in(
    docs: &BTreeMap<String, Value>,
    block: &str,
    name: &str,
    labels: &Labels,
) -> [bool; 3] {
    let bindings: Vec<bool> = vap_bound(docs, block)
        .iter()
        .map(
            |(binding, _)| match &binding["spec"]["matchResources"]["namespaceSelector"] {
                Value::Null => true,
                sel => selects(sel, labels),
            },
        )
        .collect();
    // A block's bindings apply where the block does, every one of them.
    assert!(
        bindings.windows(2).all(|w| w[0] == w[1]),
        "{block}: {bindings:?}"
    );
    let vap = bindings[0];

    let policy = &docs[&format!("kyverno/{block}.yaml")];
    let rule = &policy["spec"]["rules"][0];
    let filter_holds = |f: &Value| {
        let r = &f["resources"];
        names(&r["namespaces"]).is_none_or(|n| n.iter().any(|p| name_pattern(p, name)))
            && (r["namespaceSelector"].is_null() || selects(&r["namespaceSelector"], labels))
    };
    let matched = rule["match"]["any"]
        .as_array()
        .unwrap()
        .iter()
        .any(filter_holds);
    let excluded = rule["exclude"]["any"]
        .as_array()
        .into_iter()
        .flatten()
        .any(filter_holds);
    let kyverno = matched && !excluded;

    let constraints: Vec<bool> = gatekeeper_bound(docs, block)
        .iter()
        .map(|(constraint, _)| {
            let m = &constraint["spec"]["match"];
            names(&m["namespaces"]).is_none_or(|n| n.iter().any(|p| name_pattern(p, name)))
                && !names(&m["excludedNamespaces"])
                    .is_some_and(|n| n.iter().any(|p| name_pattern(p, name)))
                && (m["namespaceSelector"].is_null() || selects(&m["namespaceSelector"], labels))
        })
        .collect();
    assert!(
        constraints.windows(2).all(|w| w[0] == w[1]),
        "{block}: {constraints:?}"
    );
    let gatekeeper = constraints[0];
    [vap, kyverno, gatekeeper]
}

/// The Pod Security check ids a list of messages names, sorted, each once.
pub fn checks_named(messages: &[String]) -> Vec<String> {
    let mut out: Vec<String> = messages
        .iter()
        .filter_map(|m| m.split("check ").nth(1))
        .filter_map(|m| m.split(' ').next())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An admission request as the engines see it.
pub struct Request {
    pub operation: &'static str,
    pub object: Value,
    pub old_object: Option<Value>,
}

impl Request {
    pub fn create(object: Value) -> Request {
        Request {
            operation: "CREATE",
            object,
            old_object: None,
        }
    }
}

pub struct CelValidation {
    pub expression: String,
    pub message: String,
    pub message_expression: Option<String>,
}

/// The CEL of a ValidatingAdmissionPolicy, or of a Kyverno ClusterPolicy's one rule.
pub struct CelPolicy {
    pub match_conditions: Vec<String>,
    pub variables: Vec<(String, String)>,
    pub validations: Vec<CelValidation>,
}

pub fn cel_policy(doc: &Value) -> CelPolicy {
    let kyverno = doc["kind"] == "ClusterPolicy";
    let (spec, conditions, validations) = if kyverno {
        let rule = &doc["spec"]["rules"][0];
        (
            &rule["validate"]["cel"],
            &rule["celPreconditions"],
            &rule["validate"]["cel"]["expressions"],
        )
    } else {
        (
            &doc["spec"],
            &doc["spec"]["matchConditions"],
            &doc["spec"]["validations"],
        )
    };
    let s = |v: &Value| v.as_str().unwrap().to_string();
    CelPolicy {
        match_conditions: conditions
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| s(&c["expression"]))
            .collect(),
        variables: spec["variables"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| (s(&v["name"]), s(&v["expression"])))
            .collect(),
        validations: validations
            .as_array()
            .unwrap()
            .iter()
            .map(|v| CelValidation {
                expression: s(&v["expression"]),
                message: s(&v["message"]),
                message_expression: v["messageExpression"].as_str().map(str::to_string),
            })
            .collect(),
    }
}

/// The bindings of block `block` (its own policy's, `vap/BLOCK.binding.yaml`, and the Pod Security
/// policy's it shares, `vap/BLOCK.pod-security.binding.yaml`) with the policy each names by
/// `policyName`, found among `docs` as the API server finds it: by name.
pub fn vap_bound<'a>(
    docs: &'a BTreeMap<String, Value>,
    block: &str,
) -> Vec<(&'a Value, &'a Value)> {
    let bound: Vec<(&Value, &Value)> = [
        format!("vap/{block}.binding.yaml"),
        format!("vap/{block}.pod-security.binding.yaml"),
    ]
    .iter()
    .filter_map(|path| docs.get(path))
    .map(|binding| {
        let name = &binding["spec"]["policyName"];
        let policies: Vec<&Value> = docs
            .values()
            .filter(|d| d["kind"] == "ValidatingAdmissionPolicy" && d["metadata"]["name"] == *name)
            .collect();
        assert_eq!(
            policies.len(),
            1,
            "{block}: policy {name} is generated once"
        );
        (binding, policies[0])
    })
    .collect();
    assert!(!bound.is_empty(), "block {block} has no binding");
    bound
}

/// The CEL of every policy bound to block `block`, as one policy: their match conditions and
/// variables must be the same (then evaluating them apart and together says the same), their
/// validations follow each other, the block's own first, as the rules' order puts Pod Security
/// last in Kyverno's rule.
pub fn vap_policy(docs: &BTreeMap<String, Value>, block: &str) -> CelPolicy {
    let mut merged: Option<CelPolicy> = None;
    for (binding, policy) in vap_bound(docs, block) {
        let mut p = cel_policy(policy);
        let Some(m) = &mut merged else {
            merged = Some(p);
            continue;
        };
        assert_eq!(
            m.match_conditions, p.match_conditions,
            "{block}: match conditions"
        );
        assert_eq!(
            binding["spec"]["validationActions"],
            docs[&format!("vap/{block}.binding.yaml")]["spec"]["validationActions"],
            "{block}: both bindings act alike"
        );
        for v in &p.variables {
            match m.variables.iter().find(|(name, _)| *name == v.0) {
                Some(same) => assert_eq!(same, v, "{block}: variable {}", v.0),
                None => m.variables.push(v.clone()),
            }
        }
        m.validations.append(&mut p.validations);
    }
    merged.expect("a bound policy")
}

fn eval(
    env: &Arc<cel::Env>,
    expr: &str,
    req: &Request,
    vars: &serde_json::Map<String, Value>,
) -> cel::Value {
    let program = env
        .compile(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e:?}"));
    let mut ctx = cel::Context::with_env(env.clone());
    ctx.add_variable("object", req.object.clone()).unwrap();
    ctx.add_variable("oldObject", req.old_object.clone().unwrap_or(Value::Null))
        .unwrap();
    ctx.add_variable("request", json!({"operation": req.operation}))
        .unwrap();
    ctx.add_variable("variables", Value::Object(vars.clone()))
        .unwrap();
    program
        .execute(&ctx)
        .unwrap_or_else(|e| panic!("{expr} on {}: {e:?}", req.object))
}

/// The messages of the validations that fail, as the API server reports them (the message
/// expression's value where there is one); none when a match condition leaves the request out.
pub fn cel_violations(p: &CelPolicy, req: &Request) -> Vec<String> {
    let env = Arc::new(cel::Env::stdlib());
    let none = serde_json::Map::new();
    for c in &p.match_conditions {
        match eval(&env, c, req, &none) {
            cel::Value::Bool(true) => {}
            cel::Value::Bool(false) => return Vec::new(),
            other => panic!("match condition {c}: {other:?}"),
        }
    }
    let mut vars = serde_json::Map::new();
    for (name, expr) in &p.variables {
        let value = eval(&env, expr, req, &vars);
        vars.insert(name.clone(), value.json().unwrap());
    }
    let mut failed = Vec::new();
    for v in &p.validations {
        match eval(&env, &v.expression, req, &vars) {
            cel::Value::Bool(true) => {}
            cel::Value::Bool(false) => failed.push(match &v.message_expression {
                None => v.message.clone(),
                Some(m) => match eval(&env, m, req, &vars) {
                    cel::Value::String(s) => s.to_string(),
                    other => panic!("messageExpression {m}: {other:?}"),
                },
            }),
            other => panic!("{} on {}: {other:?}", v.expression, req.object),
        }
    }
    failed
}

/// Gatekeeper templates' Rego, loaded into regorus the way Gatekeeper runs it: Rego v0,
/// `input.review`, `input.parameters`, the `violation` set; one engine per template.
pub struct Rego {
    parts: Vec<(regorus::Engine, String)>,
}

pub fn rego(template: &Value) -> Rego {
    let rego = template["spec"]["targets"][0]["rego"]
        .as_str()
        .unwrap()
        .to_string();
    let package = rego
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("package "))
        .unwrap()
        .to_string();
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    engine
        .add_policy("template.rego".to_string(), rego.clone())
        .unwrap_or_else(|e| panic!("the Rego does not compile: {e}\n{rego}"));
    Rego {
        parts: vec![(engine, format!("data.{package}.violation"))],
    }
}

/// The constraints of block `block` (its own template's, `gatekeeper/BLOCK.constraint.yaml`,
/// and the shared Pod Security template's, `gatekeeper/BLOCK.pod-security.constraint.yaml`)
/// with the template each is of, found among `docs` as Gatekeeper finds it: by kind.
pub fn gatekeeper_bound<'a>(
    docs: &'a BTreeMap<String, Value>,
    block: &str,
) -> Vec<(&'a Value, &'a Value)> {
    let bound: Vec<(&Value, &Value)> = [
        format!("gatekeeper/{block}.constraint.yaml"),
        format!("gatekeeper/{block}.pod-security.constraint.yaml"),
    ]
    .iter()
    .filter_map(|path| docs.get(path))
    .map(|constraint| {
        let kind = &constraint["kind"];
        let templates: Vec<&Value> = docs
            .values()
            .filter(|d| {
                d["kind"] == "ConstraintTemplate"
                    && d["spec"]["crd"]["spec"]["names"]["kind"] == *kind
            })
            .collect();
        assert_eq!(
            templates.len(),
            1,
            "{block}: template of kind {kind} is generated once"
        );
        // Gatekeeper requires the template's name to be its kind in lowercase.
        assert_eq!(
            templates[0]["metadata"]["name"].as_str().unwrap(),
            kind.as_str().unwrap().to_lowercase()
        );
        assert_eq!(constraint["metadata"]["name"].as_str().unwrap(), block);
        (constraint, templates[0])
    })
    .collect();
    assert!(!bound.is_empty(), "block {block} has no constraint");
    bound
}

/// The Rego of every template block `block`'s constraints are of: Gatekeeper reports the
/// violations of each (the constraints must act alike).
pub fn gatekeeper_rego(docs: &BTreeMap<String, Value>, block: &str) -> Rego {
    let bound = gatekeeper_bound(docs, block);
    let actions: Vec<&Value> = bound
        .iter()
        .map(|(c, _)| &c["spec"]["enforcementAction"])
        .collect();
    assert!(
        actions.windows(2).all(|w| w[0] == w[1]),
        "{block}: {actions:?}"
    );
    Rego {
        parts: bound
            .into_iter()
            .flat_map(|(_, template)| rego(template).parts)
            .collect(),
    }
}

/// The messages of the violations Gatekeeper would report, sorted.
pub fn rego_violations(r: &mut Rego, req: &Request) -> Vec<String> {
    let mut review = json!({"operation": req.operation, "object": req.object});
    if let Some(old) = &req.old_object {
        review["oldObject"] = old.clone();
    }
    let input = json!({"review": review, "parameters": {}});
    let mut out = Vec::new();
    for (engine, rule) in &mut r.parts {
        engine.set_input(regorus::Value::from_json_str(&input.to_string()).unwrap());
        let result = engine
            .eval_rule(rule.clone())
            .unwrap_or_else(|e| panic!("{rule} on {}: {e}", req.object));
        out.extend(messages(&result));
    }
    out.sort();
    out
}

fn messages(result: &regorus::Value) -> Vec<String> {
    let json: Value = serde_json::from_str(&result.to_json_str().unwrap()).unwrap();
    json.as_array()
        .map(|a| {
            a.iter()
                .map(|v| v["msg"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}
