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
use std::collections::{BTreeMap, BTreeSet};

pub const OSCAL_VERSION: &str = "1.1.2";
/// NIST's SP 800-53 rev. 5 catalog, which the control ids are from.
pub const NIST_CATALOG: &str = "https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/NIST_SP-800-53_rev5_catalog.json";

const UNCLAIMED: &str = "no compliance block claims `nist-800-53`: an OSCAL component definition states the NIST SP 800-53 controls a program implements; add `framework nist-800-53` to a compliance block";

const IMPLEMENTATION: &str = "The NIST SP 800-53 rev. 5 controls the program's compliance claims implement, as warden's control catalog (compiler/catalog/controls/nist-800-53.yaml) maps its rules to them.";

/// A resource's link to its file, with the file's SHA-256.
fn rlink(path: &str, sha256: &str) -> Value {
    json!({ "href": path, "hashes": [{ "algorithm": "SHA-256", "value": sha256 }] })
}

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
    // By kind and path: the resource's UUID, made once (each is a SHA-256); and each link made,
    // (resource, text), by its index.
    let mut ids: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    let mut table: Vec<(String, String)> = Vec::new();
    let mut made_links: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut resource = |kind: &'static str, path: &str, sha256: &str, text: &str| -> usize {
        let id = match ids.get(&(kind, path.to_string())) {
            Some(id) => id.clone(),
            None => {
                let id = uuid(&format!("{program_hash}/{kind}/{path}"));
                ids.insert((kind, path.to_string()), id.clone());
                resources.insert(
                    id.clone(),
                    json!({
                        "uuid": id,
                        "title": format!("{kind} {path}"),
                        "rlinks": [rlink(path, sha256)],
                    }),
                );
                id
            }
        };
        *made_links
            .entry((id.clone(), text.to_string()))
            .or_insert_with(|| {
                table.push((id, text.to_string()));
                table.len() - 1
            })
    };
    let mut cache: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    let sources: BTreeMap<&str, &str> = report
        .program
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let mut requirements: BTreeMap<String, (Value, BTreeSet<usize>)> = BTreeMap::new();
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
                    for g in &c.groups {
                        if let Some(w) = &g.waiver {
                            waived.push(format!(
                                "{} in namespaces {} (block {}): waived by {} until {}: {}",
                                c.id,
                                g.namespaces.join(", "),
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
                // The links, as indices into `table`.
                let mut links: BTreeSet<usize> = BTreeSet::new();
                for g in &c.groups {
                    let mut said: Vec<String> = Vec::new();
                    let mut declarations: BTreeSet<&str> = BTreeSet::new();
                    for n in &g.namespaces {
                        for kind in &g.evidence {
                            let Some(e) = block.evidence.get(n).and_then(|m| m.get(kind)) else {
                                continue;
                            };
                            declarations.extend(e.declarations.iter().map(String::as_str));
                            let made =
                                cache.entry((n.as_str(), kind.as_str())).or_insert_with(|| {
                                    let mut out = Vec::new();
                                    for d in &e.declarations {
                                        let file =
                                            d.rsplit_once(':').map_or(d.as_str(), |(f, _)| f);
                                        if let Some(sha) = sources.get(file) {
                                            out.push(resource("source", file, sha, d));
                                        }
                                    }
                                    for f in &e.generated {
                                        out.push(resource(
                                            "generated",
                                            &f.path,
                                            &f.sha256,
                                            &f.path,
                                        ));
                                    }
                                    out
                                });
                            links.extend(made.iter().copied());
                        }
                    }
                    for kind in &g.evidence {
                        said.push(crate::check::compliance::describe_evidence(kind));
                    }
                    let expects: usize = g
                        .namespaces
                        .iter()
                        .filter_map(|n| block.expects.get(n))
                        .map(Vec::len)
                        .sum();
                    lines.push(format!(
                        "In namespace{} {}: {}, declared at {}{}.",
                        if g.namespaces.len() == 1 { "" } else { "s" },
                        g.namespaces.join(", "),
                        said.join("; "),
                        declarations.iter().copied().collect::<Vec<_>>().join(", "),
                        if expects > 0 {
                            format!("; {expects} expectations about them hold")
                        } else {
                            String::new()
                        }
                    ));
                }
                let (entry, all_links) =
                    requirements.entry(control_id.clone()).or_insert_with(|| {
                        (
                            json!({
                                "uuid": uuid(&format!("{program_hash}/requirement/{control_id}")),
                                "control-id": control_id,
                                "description": "",
                            }),
                            BTreeSet::new(),
                        )
                    });
                all_links.extend(links);
                let before = entry["description"].as_str().unwrap_or("");
                let gap = if before.is_empty() { "" } else { "\n\n" };
                let description = format!(
                    "{before}{gap}{} ({}) by compliance block {}. {}",
                    c.id,
                    c.title,
                    block.name,
                    lines.join(" ")
                );
                put(entry, "description", Value::String(description));
            }
        }
    }
    if !claimed {
        return Err(UNCLAIMED.to_string());
    }
    let requirements: Vec<Value> = requirements
        .into_values()
        .map(|(mut r, links)| {
            if !links.is_empty() {
                // One link per resource, its text the first declaration or file naming it.
                let mut seen = BTreeSet::new();
                let links: Vec<Value> = links
                    .iter()
                    .filter_map(|i| table.get(*i))
                    .filter(|(id, _)| seen.insert(id.clone()))
                    .map(|(id, text)| link(id, text))
                    .collect();
                put(&mut r, "links", Value::Array(links));
            }
            r
        })
        .collect();
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
