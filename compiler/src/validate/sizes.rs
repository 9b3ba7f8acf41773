//! Kubernetes' size limits: a generated object the API server or etcd would refuse is an error
//! about the declaration it came from, before anything is written, not a failed `kubectl apply`.
//!
//! Accepts objects up to 1.5 MiB (etcd's default request limit, the smallest a cluster has
//! unless its operators raised it) whose annotations, keys and values together, take at most
//! 256 KiB (the API server's `TotalAnnotationSizeLimitB`); rejects larger ones (E0906):
//! ```text
//! service api in shop { … to cidr 10.0.0.0/8 except <100,000 CIDRs> }   // E0906: 4.3 MiB
//! service api in shop { … to cidr 10.0.0.0/8 except 10.1.0.0/16 }       // accepted
//! ```

use crate::diag::Diagnostic;
use crate::document::Document;
use serde_json::Value;

/// etcd's default `--max-request-bytes`.
pub const MAX_OBJECT: usize = 1_572_864;
/// The API server's limit on all of an object's annotations.
pub const MAX_ANNOTATIONS: usize = 262_144;

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

fn kib(bytes: usize) -> String {
    format!("{} KiB", bytes.div_ceil(1024))
}

/// One error per Kubernetes object over a limit.
pub fn check(docs: &[Document]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for doc in docs.iter().filter(|d| d.is_kubernetes()) {
        // Annotations are part of the object: only an object over their limit can hold too many.
        let annotations = if doc.text.len() > MAX_ANNOTATIONS {
            annotation_bytes(doc)
        } else {
            0
        };
        let problem = if doc.text.len() > MAX_OBJECT {
            Some((
                format!(
                    "generated object `{}` is {}; Kubernetes stores at most {}",
                    doc.path,
                    mib(doc.text.len()),
                    mib(MAX_OBJECT)
                ),
                "the object generated from this declaration",
            ))
        } else if annotations > MAX_ANNOTATIONS {
            Some((
                format!(
                    "the annotations of generated object `{}` take {}; Kubernetes allows {}",
                    doc.path,
                    kib(annotations),
                    kib(MAX_ANNOTATIONS)
                ),
                "the object generated from this declaration",
            ))
        } else {
            None
        };
        if let Some((message, label)) = problem {
            let mut d = Diagnostic::error("E0906", message)
                .note("the API server or etcd would refuse it, and the cluster would keep the old policy")
                .help("split the declaration: fewer flows, peers or exceptions in one service or admission block");
            if let Some(span) = doc.origin {
                d = d.primary(span, label);
            }
            out.push(d);
        }
    }
    out
}

/// The bytes of an object's annotation keys and values, as the API server counts them.
fn annotation_bytes(doc: &Document) -> usize {
    let Ok(value) = crate::validate::parse(doc) else {
        return 0;
    };
    value
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                .sum()
        })
        .unwrap_or(0)
}
