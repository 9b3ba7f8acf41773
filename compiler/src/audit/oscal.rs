//! The report as an OSCAL component definition (OSCAL 1.1.2): the program as one software
//! component, with an implemented requirement for each NIST SP 800-53 control that its claims
//! implement, each linking to its evidence: the declarations (the source files, with their sha256)
//! and the generated files (with theirs), as resources of the back matter.
//!
//! UUIDs are derived from the content (name-based, version 5 layout over SHA-256), so the same
//! program gives the same document.

use super::Report;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const OSCAL_VERSION: &str = "1.1.2";
/// NIST's SP 800-53 rev. 5 catalog, which the control ids are from.
pub const NIST_CATALOG: &str = "https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/NIST_SP-800-53_rev5_catalog.json";

const UNCLAIMED: &str = "no compliance block claims `nist-800-53`: an OSCAL component definition states the NIST SP 800-53 controls a program implements; add `framework nist-800-53` to a compliance block";

const IMPLEMENTATION: &str = "The NIST SP 800-53 rev. 5 controls the program's compliance claims implement, as warden's control catalog (compiler/catalog/controls/nist-800-53.yaml) maps its rules to them.";

/// Sets `key` of a JSON object.
fn put(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(key.to_string(), value);
    }
}

/// A link from an implemented requirement to a resource of the back matter.
fn link(resource: &str, text: &str) -> Value {
    json!({ "href": format!("#{resource}"), "rel": "reference", "text": text })
}

/// A UUID in the version 5 layout from a SHA-256 of `seed`: stable for the same content.
pub fn uuid(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut b: Vec<u8> = digest.iter().take(16).copied().collect();
    if let Some(v) = b.get_mut(6) {
        *v = (*v & 0x0f) | 0x50;
    }
    if let Some(v) = b.get_mut(8) {
        *v = (*v & 0x3f) | 0x80;
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or(""),
        hex.get(8..12).unwrap_or(""),
        hex.get(12..16).unwrap_or(""),
        hex.get(16..20).unwrap_or(""),
        hex.get(20..32).unwrap_or("")
    )
}

/// The component definition; `Err` if no compliance block claims NIST SP 800-53.
pub fn component_definition(report: &Report, name: &str) -> Result<String, String> {
    let program_hash: String = {
        let mut h = Sha256::new();
        for f in &report.program.files {
            h.update(f.path.as_bytes());
            h.update([0]);
            h.update(f.sha256.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    };
    // Resources: each source file and each generated file, once.
    let mut resources: BTreeMap<String, Value> = BTreeMap::new();
    let mut resource = |kind: &str, path: &str, sha256: &str| -> String {
        let id = uuid(&format!("{program_hash}/{kind}/{path}"));
        resources.entry(id.clone()).or_insert_with(|| {
            json!({
                "uuid": id,
                "title": format!("{kind} {path}"),
                "rlinks": [{"href": path, "hashes": [{"algorithm": "SHA-256", "value": sha256}]}],
            })
        });
        id
    };
    let sources: BTreeMap<&str, &str> = report
        .program
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let mut requirements: BTreeMap<String, Value> = BTreeMap::new();
    let mut waived: Vec<String> = Vec::new();
    let mut claimed = false;
    for block in &report.compliance {
        for fw in block.frameworks.iter().filter(|f| f.id == "nist-800-53") {
            claimed = true;
            for c in &fw.controls {
                let Some(control_id) = crate::catalog::controls::framework(&fw.id)
                    .and_then(|f| f.control(&c.id))
                    .and_then(|c| c.oscal.clone())
                else {
                    continue;
                };
                if c.status == "waived" {
                    for n in &c.namespaces {
                        if let Some(w) = &n.waiver {
                            waived.push(format!(
                                "{} in namespace {} (block {}): waived by {} until {}: {}",
                                c.id,
                                n.namespace,
                                block.name,
                                w.owner.as_deref().unwrap_or(""),
                                w.until.as_deref().unwrap_or(""),
                                w.reason
                            ));
                        }
                    }
                }
                if c.status != "implemented" {
                    continue;
                }
                let mut lines = Vec::new();
                let mut links: Vec<Value> = Vec::new();
                for n in &c.namespaces {
                    let mut said: Vec<String> = Vec::new();
                    for e in &n.evidence {
                        said.push(format!("{} ({})", e.description, e.declarations.join(", ")));
                        for d in &e.declarations {
                            let file = d.rsplit_once(':').map_or(d.as_str(), |(f, _)| f);
                            if let Some(sha) = sources.get(file) {
                                let id = resource("source", file, sha);
                                links.push(link(&id, d));
                            }
                        }
                        for g in &e.generated {
                            let id = resource("generated", &g.path, &g.sha256);
                            links.push(link(&id, &g.path));
                        }
                    }
                    lines.push(format!("Namespace {}: {}.", n.namespace, said.join("; ")));
                    for x in &n.expects {
                        lines.push(format!("Expectation holding in {}: {x}.", n.namespace));
                    }
                }
                links.sort_by_key(|l| l["href"].as_str().map(str::to_string));
                links.dedup_by(|a, b| a["href"] == b["href"]);
                let entry = requirements.entry(control_id.clone()).or_insert_with(|| {
                    json!({
                        "uuid": uuid(&format!("{program_hash}/requirement/{control_id}")),
                        "control-id": control_id,
                        "description": "",
                        "links": [],
                    })
                });
                let before = entry["description"].as_str().unwrap_or("");
                let gap = if before.is_empty() { "" } else { "\n\n" };
                let description = format!(
                    "{before}{gap}{} ({}) by compliance block {}. {}",
                    c.id,
                    c.title,
                    block.name,
                    lines.join(" ")
                );
                entry["description"] = Value::String(description);
                if let Some(list) = entry["links"].as_array_mut() {
                    list.extend(links);
                    list.sort_by_key(|l| l["href"].as_str().map(str::to_string));
                    list.dedup_by(|a, b| a["href"] == b["href"]);
                }
            }
        }
    }
    if !claimed {
        return Err(UNCLAIMED.to_string());
    }
    let mut requirements: Vec<Value> = requirements.into_values().collect();
    for r in &mut requirements {
        if r["links"].as_array().is_some_and(Vec::is_empty)
            && let Some(obj) = r.as_object_mut()
        {
            obj.remove("links");
        }
    }
    let mut component = json!({
        "uuid": uuid(&format!("{program_hash}/component")),
        "type": "software",
        "title": format!("warden program {name}"),
        "description": format!(
            "The security policy of {name} as a warden program ({} source files, sha256 of sources {}), compiled into NetworkPolicies, seccomp profiles and admission policies by {}.",
            report.program.files.len(),
            &program_hash,
            report.generator
        ),
    });
    if !requirements.is_empty() {
        put(
            &mut component,
            "control-implementations",
            json!([{
                "uuid": uuid(&format!("{program_hash}/implementation")),
                "source": NIST_CATALOG,
                "description": IMPLEMENTATION,
                "implemented-requirements": requirements,
            }]),
        );
    }
    if !waived.is_empty() {
        let remarks = Value::String(format!("Waived: {}", waived.join(" | ")));
        put(&mut component, "remarks", remarks);
    }
    let mut definition = json!({
        "uuid": uuid(&format!("{program_hash}/definition/{}", report.date)),
        "metadata": {
            "title": format!("{name}: the controls its warden program implements"),
            "last-modified": format!("{}T00:00:00+00:00", report.date),
            "version": program_hash.get(..12).unwrap_or(""),
            "oscal-version": OSCAL_VERSION,
        },
        "components": [component],
    });
    if !resources.is_empty() {
        let resources: Vec<Value> = resources.into_values().collect();
        put(
            &mut definition,
            "back-matter",
            json!({ "resources": resources }),
        );
    }
    let mut out = serde_json::to_string_pretty(&json!({ "component-definition": definition }))
        .map_err(|e| e.to_string())?;
    out.push('\n');
    Ok(out)
}
