//! Target `seccomp`: one OCI seccomp profile per service with a `syscalls` block (see
//! `targets/seccomp/README.md`).
//!
//! Default action: fail with EPERM. One rule allows the resolved set, sorted. The profile names
//! x86_64 and aarch64 only, so 32-bit system calls on those machines hit the default action.

use super::{Document, Lowering, Schema, VERSION};
use crate::catalog::Arch;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Serialize)]
struct ProfileView<'a> {
    architectures: Vec<&'static str>,
    names: Vec<&'a str>,
    comment: String,
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let mut docs = Vec::new();
    for svc in cx.program.services.values() {
        let Some(policy) = &svc.syscalls else {
            continue;
        };
        let view = ProfileView {
            architectures: Arch::ALL.iter().map(|a| a.scmp()).collect(),
            names: policy.allowed.iter().map(String::as_str).collect(),
            comment: format!(
                "warden {VERSION}: system calls of service {} from {}",
                svc.id,
                cx.location(policy.span)
            ),
        };
        docs.push(Document {
            path: format!("seccomp/{}/{}.json", svc.id.namespace, svc.id.name),
            text: crate::render::render("seccomp/profile.json", &view)?,
            schema: Schema::SeccompProfile,
            sources: BTreeSet::from([cx.file(policy.span)]),
        });
    }
    Ok(docs)
}
