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
use std::collections::{BTreeMap, HashMap};

pub const OSCAL_VERSION: &str = "1.1.2";
/// NIST's SP 800-53 rev. 5 catalog, which the control ids are from.
pub const NIST_CATALOG: &str = "https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/NIST_SP-800-53_rev5_catalog.json";

const UNCLAIMED: &str = "no compliance block claims `nist-800-53`: an OSCAL component definition states the NIST SP 800-53 controls a program implements; add `framework nist-800-53` to a compliance block";

const IMPLEMENTATION: &str = "The NIST SP 800-53 rev. 5 controls the program's compliance claims implement, as warden's control catalog (compiler/catalog/controls/nist-800-53.yaml) maps its rules to them.";

/// A resource's link to its file, with the file's SHA-256.
fn rlink(path: &str, sha256: &str) -> Value {
    json!({ "href": path, "hashes": [{ "algorithm": "SHA-256", "value": sha256 }] })
}

/// Sets `key` of a JSON object. `json!` copies every value put in it, so the large ones (all the
/// resources and requirements) are moved in with this instead.
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
pub fn component_definition<'r>(report: &'r Report, name: &str) -> Result<String, String> {
    let program_hash: String = {
        let mut h = Sha256::new();
        for f in &report.program.files {
            h.update(f.path.as_bytes());
            h.update([0]);
            h.update(f.sha256.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    };
    // Resources: each source file and each generated file, once, by index; their UUIDs (each a
    // SHA-256) made once; and each link made, (resource, text), by its index in `table`.
    let mut resources: Vec<(String, Value)> = Vec::new();
    let mut ids: HashMap<(&'static str, &str), usize> = HashMap::new();
    let mut table: Vec<(usize, &str)> = Vec::new();
    let mut made_links: HashMap<(usize, &str), usize> = HashMap::new();
    let mut resource = |kind: &'static str, path: &'r str, sha256: &str, text: &'r str| -> usize {
        let at = *ids.entry((kind, path)).or_insert_with(|| {
            let id = uuid(&format!("{program_hash}/{kind}/{path}"));
            let value = json!({
                "uuid": id,
                "title": format!("{kind} {path}"),
                "rlinks": [rlink(path, sha256)],
            });
            resources.push((id, value));
            resources.len() - 1
        });
        *made_links.entry((at, text)).or_insert_with(|| {
            table.push((at, text));
            table.len() - 1
        })
    };
    let mut cache: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let sources: BTreeMap<&str, &str> = report
        .program
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let mut requirements: BTreeMap<String, (Value, Vec<usize>)> = BTreeMap::new();
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
                let mut links: Vec<usize> = Vec::new();
                for g in &c.groups {
                    let mut said: Vec<String> = Vec::new();
                    let mut declarations: Vec<&str> = Vec::new();
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
                    declarations.sort_unstable();
                    declarations.dedup();
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
                        declarations.join(", "),
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
                            Vec::new(),
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
        .map(|(mut r, mut links)| {
            if !links.is_empty() {
                // One link per resource, its text the first declaration or file naming it.
                links.sort_unstable();
                links.dedup();
                let mut seen = vec![false; resources.len()];
                let links: Vec<Value> = links
                    .iter()
                    .filter_map(|i| table.get(*i))
                    .filter(|(at, _)| {
                        seen.get_mut(*at)
                            .is_some_and(|s| !std::mem::replace(s, true))
                    })
                    .filter_map(|(at, text)| resources.get(*at).map(|(id, _)| link(id, text)))
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
        let mut implementation = json!({
            "uuid": uuid(&format!("{program_hash}/implementation")),
            "source": NIST_CATALOG,
            "description": IMPLEMENTATION,
        });
        put(
            &mut implementation,
            "implemented-requirements",
            Value::Array(requirements),
        );
        put(
            &mut component,
            "control-implementations",
            Value::Array(vec![implementation]),
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
    });
    put(&mut definition, "components", Value::Array(vec![component]));
    if !resources.is_empty() {
        // In the order of their UUIDs, whatever the order they were met in.
        resources.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut back_matter = Value::Object(serde_json::Map::new());
        put(
            &mut back_matter,
            "resources",
            Value::Array(resources.into_iter().map(|(_, v)| v).collect()),
        );
        put(&mut definition, "back-matter", back_matter);
    }
    let mut document = Value::Object(serde_json::Map::new());
    put(&mut document, "component-definition", definition);
    let mut out = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
    out.push('\n');
    Ok(out)
}
