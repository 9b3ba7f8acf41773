//! Target `spo`: a Security Profiles Operator `SeccompProfile` per service with a `syscalls`
//! block (see `targets/spo/README.md`), the same rules as target `seccomp` in the operator's
//! form: an `architectures` list instead of `archMap`, and no `includes`/`excludes`, so the base
//! profile's conditional rules are resolved here for containerd's default capabilities on a
//! kernel of 4.8 or newer.

use super::render::{push_object_head, push_quoted};
use super::seccomp::{RuleView, confined, profiles};
use super::{Document, Lowering, Schema};
use crate::ir::SeccompAction;

/// The capabilities containerd and CRI-O give a container unless told otherwise (Docker's set).
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Go's names of the architectures warden's profiles cover, as Docker's `arches` writes them.
const ARCHES: [&str; 5] = ["amd64", "x32", "386", "arm64", "arm"];

/// The oldest kernel the resolution assumes: every `minKernel` of Docker's profile at or below it.
const KERNEL: (u32, u32) = (4, 8);

/// A SeccompProfile as it is written; `write` turns it into YAML.
struct View<'a> {
    name: &'a str,
    namespace: &'a str,
    source: String,
    accepted: &'a str,
    default_action: &'static str,
    architectures: Vec<&'a str>,
    rules: Vec<&'a RuleView>,
}

/// Whether a Docker `includes` (all must hold) or `excludes` (any excludes) condition holds for
/// the default capabilities, the covered architectures and KERNEL.
fn holds(cond: &serde_json::Value, all: bool) -> bool {
    let mut parts = Vec::new();
    if let Some(caps) = cond["caps"].as_array() {
        let have = |c: &serde_json::Value| c.as_str().is_some_and(|c| DEFAULT_CAPS.contains(&c));
        parts.push(if all {
            caps.iter().all(have)
        } else {
            caps.iter().any(have)
        });
    }
    if let Some(arches) = cond["arches"].as_array() {
        parts.push(
            arches
                .iter()
                .any(|a| a.as_str().is_some_and(|a| ARCHES.contains(&a))),
        );
    }
    if let Some(min) = cond["minKernel"].as_str() {
        let v: Vec<u32> = min.split('.').filter_map(|p| p.parse().ok()).collect();
        parts.push(match v.as_slice() {
            [a, b, ..] => (*a, *b) <= KERNEL,
            _ => false,
        });
    }
    if all {
        parts.iter().all(|p| *p)
    } else {
        parts.iter().any(|p| *p)
    }
}

/// Why a program cannot be said as SeccompProfiles: the operator's profile has no default errno.
pub(super) fn limits(program: &crate::ir::Program) -> Vec<crate::diag::Diagnostic> {
    let mut out = Vec::new();
    for svc in program.services.values() {
        if let Some(p) = &svc.syscalls
            && let SeccompAction::Errno(n) = p.default
            && n != 1
        {
            let headline = format!(
                "target `spo` cannot give service `{}` a default errno other than EPERM",
                svc.id
            );
            out.push(
                crate::diag::Diagnostic::error("E0905", headline)
                .primary(p.span, "its `default` answers with another errno")
                .note("the operator's SeccompProfile has no defaultErrnoRet: a runtime answers its default with EPERM")
                .help("use `default deny` (EPERM) or another action, or build for `seccomp` (the kubelet `localhost/` profile)"),
            );
        }
    }
    out
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let confined = confined(cx.program);
    let services: Vec<_> = confined.iter().zip(profiles(&confined)?).collect();
    crate::parallel::map(&services, |&(&(svc, policy), ref view)| {
        let mut architectures: Vec<&str> = view
            .arch_map
            .iter()
            .flat_map(|a| std::iter::once(&a.architecture).chain(&a.sub))
            .map(String::as_str)
            .collect();
        architectures.sort();
        architectures.dedup();
        // The operator's form has no conditions: each conditional rule is in or out here.
        let rules = view
            .rules
            .iter()
            .filter(|r| r.includes.as_ref().is_none_or(|c| holds(c, true)))
            .filter(|r| r.excludes.as_ref().is_none_or(|c| !holds(c, false)))
            .collect();
        let spo = View {
            name: &svc.id.name,
            namespace: &svc.id.namespace,
            source: cx.location(policy.span),
            accepted: &svc.accepted,
            default_action: view.default_action,
            architectures,
            rules,
        };
        Ok(Document {
            path: format!("spo/{}/{}.yaml", svc.id.namespace, svc.id.name),
            text: write(&spo),
            schema: Schema::SpoSeccompProfile,
            sources: vec![cx.file(policy.span)],
            origin: Some(policy.span),
        })
    })
    .into_iter()
    .collect()
}

// One per service, like the `seccomp` target's profiles, and written here for the same reason
// (see `seccomp::write`); `validate` checks each against the operator's CRD schema.

/// The SeccompProfile as YAML, ending with one newline.
fn write(v: &View<'_>) -> String {
    use std::fmt::Write;
    let q = |out: &mut String, s: &str| push_quoted(out, s, true);
    let mut o = String::with_capacity(4096);
    push_object_head(
        &mut o,
        "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile",
        v.name,
        v.namespace,
        &v.source,
        "",
        v.accepted,
    );
    o.push_str("\nspec:\n  defaultAction: ");
    q(&mut o, v.default_action);
    o.push_str("\n  architectures:");
    for a in &v.architectures {
        o.push_str("\n  - ");
        q(&mut o, a);
    }
    // A block may decide nothing itself (`default kill-process` alone): an empty list, not a key
    // without a value.
    o.push_str(if v.rules.is_empty() {
        "\n  syscalls: []"
    } else {
        "\n  syscalls:"
    });
    for r in &v.rules {
        o.push_str("\n  - action: ");
        q(&mut o, r.action);
        if let Some(errno) = r.errno {
            let _ = write!(o, "\n    errnoRet: {errno}");
        }
        if !r.args.is_empty() {
            o.push_str("\n    args:");
            for a in &r.args {
                let _ = write!(
                    o,
                    "\n    - {{\"index\": {}, \"value\": {}, \"valueTwo\": {}, \"op\": ",
                    a.index, a.value, a.value_two
                );
                q(&mut o, a.op);
                o.push('}');
            }
        }
        o.push_str("\n    names:");
        for n in &r.names {
            o.push_str("\n    - ");
            q(&mut o, n);
        }
    }
    o.push('\n');
    o
}
