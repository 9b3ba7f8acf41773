//! Validation: every rendered document is parsed back and checked against its schema before
//! anything is written.
//!
//! Accepts a document that parses as exactly one YAML/JSON document satisfying its schema, with
//! the `apiVersion` and `kind` its schema is for; rejects anything else. A rejection is a defect of
//! warden (a template or a missing check), so it is reported as such and nothing is written.

pub mod reader;
pub mod sizes;
pub mod tree;

use crate::document::{Document, Schema};
use jsonschema::Validator;
use jsonschema::json::Json;
use serde_json::Value;
use std::sync::OnceLock;
use tree::{Item, Tree};

fn schema_text(schema: Schema) -> &'static str {
    match schema {
        Schema::NetworkPolicy => {
            include_str!("../../../targets/netpol/schema/networkpolicy-networking-v1.json")
        }
        Schema::CiliumNetworkPolicy => {
            include_str!("../../../targets/cilium/schema/ciliumnetworkpolicy-v2.json")
        }
        Schema::ValidatingAdmissionPolicy => {
            include_str!(
                "../../../targets/vap/schema/validatingadmissionpolicy-admissionregistration-v1.json"
            )
        }
        Schema::ValidatingAdmissionPolicyBinding => {
            include_str!(
                "../../../targets/vap/schema/validatingadmissionpolicybinding-admissionregistration-v1.json"
            )
        }
        Schema::KyvernoClusterPolicy => {
            include_str!("../../../targets/kyverno/schema/clusterpolicy-v1.json")
        }
        Schema::GatekeeperConstraintTemplate => {
            include_str!("../../../targets/gatekeeper/schema/constrainttemplate-v1.json")
        }
        Schema::GatekeeperConstraint => {
            include_str!("../../../targets/gatekeeper/schema/constraint.json")
        }
        Schema::SeccompProfile => {
            include_str!("../../../targets/seccomp/schema/seccomp-profile.json")
        }
        Schema::SpoSeccompProfile => {
            include_str!("../../../targets/spo/schema/seccompprofile-v1.json")
        }
        Schema::Namespace => {
            include_str!("../../../targets/seccomp-installer/schema/namespace-v1.json")
        }
        Schema::ConfigMap => {
            include_str!("../../../targets/seccomp-installer/schema/configmap-v1.json")
        }
        Schema::DaemonSet => {
            include_str!("../../../targets/seccomp-installer/schema/daemonset-apps-v1.json")
        }
        Schema::Kustomization => include_str!("../../../targets/kustomization.schema.json"),
    }
}

/// The `apiVersion` and `kind` a document of this schema must declare; the Kubernetes schemas
/// admit any string there.
fn kind(schema: Schema) -> Option<(&'static str, &'static str)> {
    match schema {
        Schema::NetworkPolicy => Some(("networking.k8s.io/v1", "NetworkPolicy")),
        Schema::CiliumNetworkPolicy => Some(("cilium.io/v2", "CiliumNetworkPolicy")),
        Schema::KyvernoClusterPolicy => Some(("kyverno.io/v1", "ClusterPolicy")),
        Schema::SpoSeccompProfile => {
            Some(("security-profiles-operator.x-k8s.io/v1", "SeccompProfile"))
        }
        Schema::GatekeeperConstraintTemplate => {
            Some(("templates.gatekeeper.sh/v1", "ConstraintTemplate"))
        }
        // Its kind is the template's: the schema checks it.
        Schema::GatekeeperConstraint => None,
        Schema::ValidatingAdmissionPolicy => Some((
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicy",
        )),
        Schema::ValidatingAdmissionPolicyBinding => Some((
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicyBinding",
        )),
        Schema::Namespace => Some(("v1", "Namespace")),
        Schema::ConfigMap => Some(("v1", "ConfigMap")),
        Schema::DaemonSet => Some(("apps/v1", "DaemonSet")),
        Schema::SeccompProfile | Schema::Kustomization => None,
    }
}

const SCHEMAS: usize = 13;

/// A validator per schema for the representation `F`, each built the first time a document
/// needs it: a run that writes no CiliumNetworkPolicy never compiles Cilium's large schema.
type Validators<F> = [OnceLock<Result<Validator<F>, String>>; SCHEMAS];

/// The validator of one schema for documents read as `F`.
fn validator<F: Json>(
    validators: &'static Validators<F>,
    schema: Schema,
) -> Result<&'static Validator<F>, String> {
    let slot = match schema {
        Schema::NetworkPolicy => 0,
        Schema::CiliumNetworkPolicy => 1,
        Schema::ValidatingAdmissionPolicy => 2,
        Schema::ValidatingAdmissionPolicyBinding => 3,
        Schema::SeccompProfile => 4,
        Schema::Kustomization => 5,
        Schema::KyvernoClusterPolicy => 6,
        Schema::GatekeeperConstraintTemplate => 7,
        Schema::GatekeeperConstraint => 8,
        Schema::SpoSeccompProfile => 9,
        Schema::Namespace => 10,
        Schema::ConfigMap => 11,
        Schema::DaemonSet => 12,
    };
    validators
        .get(slot)
        .ok_or_else(|| format!("schema {schema:?}: no slot"))?
        .get_or_init(|| {
            let json: Value = serde_json::from_str(schema_text(schema))
                .map_err(|e| format!("schema {schema:?}: {e}"))?;
            jsonschema::options_for::<F>()
                .build(&json)
                .map_err(|e| format!("schema {schema:?}: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Parses a document: JSON for seccomp profiles, warden's YAML (see `reader`) otherwise.
pub fn parse(doc: &Document) -> Result<Value, String> {
    if doc.schema == Schema::SeccompProfile {
        return serde_json::from_str(&doc.text).map_err(|e| e.to_string());
    }
    reader::read(&doc.text)
}

/// The schema check of a `serde_json::Value`: what the tree's is compared with in the tests.
#[cfg(test)]
static JSON: Validators<jsonschema::json::SerdeJson> = [const { OnceLock::new() }; SCHEMAS];
static YAML: Validators<Tree> = [const { OnceLock::new() }; SCHEMAS];

/// Checks one document; the error names the document and every violation.
pub fn validate(doc: &Document) -> Result<(), String> {
    let parsed = |e: String| format!("{}: does not parse: {e}", doc.path);
    let problems = tree::with_arena(|arena| {
        let tree = read_tree(arena, doc).map_err(parsed)?;
        tree_problems(&tree, doc.schema)
    })?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", doc.path, problems.join("; ")))
    }
}

/// A document as a tree in `arena`: JSON for seccomp profiles, warden's YAML otherwise.
fn read_tree<'a>(arena: &'a bumpalo::Bump, doc: &'a Document) -> Result<Item<'a>, String> {
    if doc.schema == Schema::SeccompProfile {
        tree::json(arena, &doc.text).map_err(|e| e.to_string())
    } else {
        reader::tree(arena, &doc.text)
    }
}

/// `problems` of a document read as a `serde_json::Value`.
#[cfg(test)]
fn value_problems(value: &Value, schema: Schema) -> Result<Vec<String>, String> {
    let field = |key| value.get(key).and_then(Value::as_str);
    let declared = (field("apiVersion"), field("kind"));
    Ok(problems(validator(&JSON, schema)?, value, schema, declared))
}

/// `problems` of a document read as a tree.
fn tree_problems(item: &Item<'_>, schema: Schema) -> Result<Vec<String>, String> {
    let field = |key| item.get(key).and_then(Item::as_str);
    let declared = (field("apiVersion"), field("kind"));
    Ok(problems(validator(&YAML, schema)?, item, schema, declared))
}

/// Every violation of the schema by `document`, and a wrong `apiVersion` or `kind` (as the
/// document declares them).
fn problems<'d, F: Json>(
    validator: &'d Validator<F>,
    document: F::Node<'d>,
    schema: Schema,
    declared: (Option<&str>, Option<&str>),
) -> Vec<String> {
    // `is_valid` stops at the first violation and builds no error: the common case, and the
    // cheaper one; only a document that fails is walked again for every violation.
    let mut problems: Vec<String> = if validator.is_valid(document.clone()) {
        Vec::new()
    } else {
        validator
            .iter_errors(document)
            .map(|e| format!("{} at `{}`", e, e.instance_path()))
            .collect()
    };
    if let Some((api, kind)) = kind(schema)
        && declared != (Some(api), Some(kind))
    {
        problems.push(format!("expected apiVersion `{api}` and kind `{kind}`"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Target;

    /// Every YAML document warden writes for the examples, with every target that compiles them.
    fn documents() -> Vec<Document> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut dirs = Vec::new();
        let mut todo = vec![root];
        while let Some(dir) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            entries.sort();
            if entries
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "warden"))
            {
                dirs.push(dir);
            } else {
                todo.extend(entries.into_iter().filter(|p| p.is_dir()));
            }
        }
        // `netpol` refuses what only `cilium` can say (host names, HTTP rules): a program is
        // compiled without each of the two in turn.
        let all_but =
            |t: Target| -> Vec<Target> { Target::ALL.into_iter().filter(|&x| x != t).collect() };
        let mut docs = Vec::new();
        for dir in dirs {
            for targets in [all_but(Target::Cilium), all_but(Target::Netpol)] {
                let Ok(sources) = crate::load::load(std::slice::from_ref(&dir)) else {
                    continue;
                };
                if let Some(d) = crate::compile(sources, &targets).documents {
                    docs.extend(d);
                }
            }
        }
        docs
    }

    /// What checking the document's text as a `serde_json::Value` finds (the representation the
    /// schema check used before the tree); `None` if the text does not parse.
    fn problems_of_value(doc: &Document) -> Option<Vec<String>> {
        let value = parse(doc).ok()?;
        Some(value_problems(&value, doc.schema).expect("the schema compiles"))
    }

    fn problems_of_tree(doc: &Document) -> Vec<String> {
        let arena = bumpalo::Bump::new();
        let item = read_tree(&arena, doc).expect("the value was read");
        tree_problems(&item, doc.schema).expect("the schema compiles")
    }

    /// The tree and `serde_json`'s value are two representations of one document: the schema
    /// check must find the same problems in both, in every document warden writes and in each
    /// of them with a value replaced by one of another type, range or spelling, or a line gone.
    #[test]
    fn the_tree_is_checked_as_its_value_would_be() {
        const VALUES: [&str; 12] = [
            "\"x\"",
            "\"\"",
            "0",
            "-1",
            "65536",
            "true",
            "[]",
            "{}",
            "[\"x\"]",
            "\"TCP\"",
            "\"Ingress\"",
            "\"10.0.0.0/8\"",
        ];
        let docs = documents();
        assert!(docs.len() > 50, "only {} documents", docs.len());
        let (mut checked, mut invalid) = (0, 0);
        for (n, doc) in docs.iter().enumerate() {
            let lines: Vec<&str> = doc.text.lines().collect();
            let mut variants = vec![doc.text.clone()];
            for (i, line) in lines.iter().enumerate() {
                let mut edited = lines.clone();
                edited.remove(i);
                variants.push(edited.join("\n") + "\n");
                if let Some((key, _)) = line.split_once(": ") {
                    // One replacement a line, in turn, keeps the test quick.
                    let value = VALUES[(n + i) % VALUES.len()];
                    let mut edited = lines.clone();
                    // A JSON member keeps its comma.
                    let comma = if line.ends_with(',') { "," } else { "" };
                    let replaced = format!("{key}: {value}{comma}");
                    edited[i] = &replaced;
                    variants.push(edited.join("\n") + "\n");
                }
            }
            for text in variants {
                let variant = Document {
                    text,
                    ..doc.clone()
                };
                let Some(expected) = problems_of_value(&variant) else {
                    continue;
                };
                let found = problems_of_tree(&variant);
                // Where each problem is: a message may list property names in another order (the
                // tree keeps the document's, a `Value` sorts them).
                let at = |problems: &[String]| -> Vec<String> {
                    problems
                        .iter()
                        .map(|p| {
                            p.rsplit_once(" at `")
                                .map_or(p.as_str(), |(_, at)| at)
                                .to_string()
                        })
                        .collect()
                };
                assert_eq!(
                    at(&found),
                    at(&expected),
                    "{}:\n{}",
                    variant.path,
                    variant.text
                );
                assert_eq!(validate(&variant).is_ok(), found.is_empty());
                checked += 1;
                invalid += usize::from(!found.is_empty());
            }
        }
        // A good share of the edits must break the schema, or the comparison would say little
        // (the rest remove or retype what the schema leaves free, such as labels).
        assert!(invalid * 3 > checked, "{invalid} invalid of {checked}");
    }
}
