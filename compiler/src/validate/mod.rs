//! Validation: every rendered document is parsed back and checked against its schema before
//! anything is written.
//!
//! Accepts a document that parses as exactly one YAML/JSON document satisfying its schema, with
//! the `apiVersion` and `kind` its schema is for; rejects anything else. A rejection is a defect of
//! warden (a template or a missing check), so it is reported as such and nothing is written.

pub mod reader;
pub mod sizes;

use crate::lower::{Document, Schema};
use jsonschema::Validator;
use serde_json::Value;
use std::sync::OnceLock;

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
        Schema::SeccompProfile | Schema::Kustomization => None,
    }
}

/// The validator of one schema, built the first time a document needs it: a run that writes no
/// CiliumNetworkPolicy never compiles Cilium's large schema.
fn validator(schema: Schema) -> Result<&'static Validator, String> {
    const SCHEMAS: usize = 10;
    static VALIDATORS: [OnceLock<Result<Validator, String>>; SCHEMAS] =
        [const { OnceLock::new() }; SCHEMAS];
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
    };
    VALIDATORS
        .get(slot)
        .ok_or_else(|| format!("schema {schema:?}: no slot"))?
        .get_or_init(|| {
            let json: Value = serde_json::from_str(schema_text(schema))
                .map_err(|e| format!("schema {schema:?}: {e}"))?;
            jsonschema::validator_for(&json).map_err(|e| format!("schema {schema:?}: {e}"))
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

/// Checks one document; the error names the document and every violation.
pub fn validate(doc: &Document) -> Result<(), String> {
    let value = parse(doc).map_err(|e| format!("{}: does not parse: {e}", doc.path))?;
    let validator = validator(doc.schema)?;
    // `is_valid` stops at the first violation and builds no error: the common case, and the
    // cheaper one; only a document that fails is walked again for every violation.
    let mut problems: Vec<String> = if validator.is_valid(&value) {
        Vec::new()
    } else {
        validator
            .iter_errors(&value)
            .map(|e| format!("{} at `{}`", e, e.instance_path()))
            .collect()
    };
    if let Some((api, kind)) = kind(doc.schema)
        && (value.get("apiVersion").and_then(Value::as_str) != Some(api)
            || value.get("kind").and_then(Value::as_str) != Some(kind))
    {
        problems.push(format!("expected apiVersion `{api}` and kind `{kind}`"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", doc.path, problems.join("; ")))
    }
}
