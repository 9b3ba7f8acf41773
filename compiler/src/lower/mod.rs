//! Lowering: the IR to one set of documents per target.
//!
//! Each target module builds plain views of the IR (no AST, no policy decisions: those were made
//! in `check` and live in the IR) and renders them with the target's templates, or, for the
//! targets of one document per service (`netpol`, `cilium`, `seccomp`, `spo`), writes them itself.
//! The documents are then validated (`validate`) and written (`emit`).

mod admission;
mod cilium;
mod gatekeeper;
pub mod installer;
mod kyverno;
mod netpol;
mod plan;
mod render;
mod seccomp;
pub mod spo;
mod vap;
mod views;

use crate::document::{Document, Layout, Schema, Target, VERSION};
use crate::ir::{IpBlock, Peer, Program, Service, ServiceRef};
use crate::span::{SourceMap, Span};
use ipnet::IpNet;

pub(crate) struct Lowering<'a> {
    pub program: &'a Program,
    pub sources: &'a SourceMap,
    /// The CEL of each Pod Security rule, made once for every block that asks for it and for
    /// `vap` and `kyverno` alike (see `admission::cel`).
    pod_security: admission::PodSecurityCel,
    /// The text of every address block the flows name, made once: a block is written in every
    /// rule that names it.
    cidrs: std::sync::OnceLock<std::collections::HashMap<&'a IpNet, String>>,
}

impl<'a> Lowering<'a> {
    /// The service `r` refers to.
    fn service(&self, r: ServiceRef) -> Option<&'a Service> {
        self.program.services.at(r)
    }

    /// An external peer's address blocks as text (none for a peer inside the cluster).
    fn ip_blocks(&self, peer: &Peer) -> Vec<views::IpBlockView<'_>> {
        use std::borrow::Cow;
        match peer {
            Peer::World => crate::ir::WORLD
                .into_iter()
                .map(|cidr| views::IpBlockView {
                    cidr: Cow::Borrowed(cidr),
                    except: Vec::new(),
                })
                .collect(),
            Peer::Ip(block) => vec![self.ip_block(block)],
            _ => Vec::new(),
        }
    }

    fn ip_block(&self, block: &IpBlock) -> views::IpBlockView<'_> {
        views::IpBlockView {
            cidr: self.cidr(&block.cidr),
            except: block.except.iter().map(|e| self.cidr(e)).collect(),
        }
    }

    fn cidr(&self, net: &IpNet) -> std::borrow::Cow<'_, str> {
        let program: &'a Program = self.program;
        let texts = self.cidrs.get_or_init(|| {
            let mut texts = std::collections::HashMap::new();
            for flow in &program.flows {
                for peer in [&flow.client, &flow.server] {
                    if let Peer::Ip(block) = peer {
                        for net in std::iter::once(&block.cidr).chain(&block.except) {
                            texts.entry(net).or_insert_with(|| net.to_string());
                        }
                    }
                }
            }
            texts
        });
        match texts.get(net) {
            Some(text) => std::borrow::Cow::Borrowed(text),
            None => std::borrow::Cow::Owned(net.to_string()),
        }
    }

    pub fn location(&self, span: Span) -> String {
        self.sources.location(span)
    }

    pub fn file(&self, span: Span) -> String {
        self.sources.name(span.file).to_string()
    }
}

/// The documents `f` makes of each item, on every core, in the items' order; the first error in
/// that order is the result.
fn each<T: Sync>(
    items: &[T],
    f: impl Fn(&T) -> Result<Vec<Document>, String> + Sync,
) -> Result<Vec<Document>, String> {
    let mut docs = Vec::new();
    for part in crate::parallel::map(items, f) {
        docs.extend(part?);
    }
    Ok(docs)
}

/// The documents of `netpol` and of `cilium`, each policy written in both forms at once: what a
/// policy reads of the program (its flows' peers, their services' selectors, scattered over the
/// heap) is then still in the cache for the second form, where target by target each would read
/// it from memory again. Where the policy comes from is worked out once for both, too.
fn network_policies(cx: &Lowering<'_>) -> Result<(Vec<Document>, Vec<Document>), String> {
    let resolving = cilium::namespaces_resolving_hosts(cx.program);
    let pairs = plan::each(cx, |policy| -> Result<_, String> {
        let described = policy.described(cx);
        Ok((
            netpol::document(cx, policy, &described)?,
            cilium::document(cx, policy, &described, &resolving)?,
        ))
    });
    let mut netpol = Vec::with_capacity(pairs.len());
    let mut cilium = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (n, c) = pair?;
        netpol.push(n);
        cilium.push(c);
    }
    Ok((netpol, cilium))
}

/// What `targets` cannot say of the program, as errors naming the declaration, the target and
/// the way out. A program with none of them lowers to documents that mean what it says.
pub fn limits(program: &Program, targets: &[Target]) -> Vec<crate::diag::Diagnostic> {
    let mut out = Vec::new();
    if targets.contains(&Target::Netpol) {
        out.extend(netpol::limits(program));
    }
    if targets.contains(&Target::Cilium) {
        out.extend(cilium::limits(program));
    }
    if targets.contains(&Target::Gatekeeper) {
        out.extend(gatekeeper::limits(program));
    }
    if targets.contains(&Target::Spo) {
        out.extend(spo::limits(program));
    }
    out
}

/// Lowers and renders the program for `targets`, plus a `kustomization.yaml` listing every
/// Kubernetes document. Errors are defects of a template or writer, reported as compiler bugs.
pub fn lower(
    program: &Program,
    sources: &SourceMap,
    targets: &[Target],
    layout: Layout,
) -> Result<Vec<Document>, String> {
    let cx = Lowering {
        program,
        sources,
        pod_security: Default::default(),
        cidrs: std::sync::OnceLock::new(),
    };
    let mut network = if targets.contains(&Target::Netpol) && targets.contains(&Target::Cilium) {
        Some(network_policies(&cx)?)
    } else {
        None
    };
    // The installer carries the `seccomp` target's profiles byte for byte: made once for both.
    let profiles = if targets.contains(&Target::Installer) {
        Some(seccomp::lower(&cx)?)
    } else {
        None
    };
    let mut docs = Vec::new();
    for target in targets {
        let lowered = match (target, &mut network) {
            (Target::Netpol, Some((netpol, _))) => std::mem::take(netpol),
            (Target::Cilium, Some((_, cilium))) => std::mem::take(cilium),
            (Target::Netpol, None) => netpol::lower(&cx)?,
            (Target::Cilium, None) => cilium::lower(&cx)?,
            (Target::Seccomp, _) => match &profiles {
                Some(profiles) => profiles.clone(),
                None => seccomp::lower(&cx)?,
            },
            (Target::Vap, _) => vap::lower(&cx)?,
            (Target::Kyverno, _) => kyverno::lower(&cx)?,
            (Target::Gatekeeper, _) => gatekeeper::lower(&cx)?,
            (Target::Spo, _) => spo::lower(&cx)?,
            (Target::Installer, _) => installer::lower(profiles.as_deref().unwrap_or_default())?,
        };
        // The first target's documents are kept, not copied into a new vector (one target, as in
        // a pre-commit hook for NetworkPolicies, is the common case).
        if docs.is_empty() {
            docs = lowered;
        } else {
            docs.extend(lowered);
        }
    }
    // Stable, not unstable: each target's documents come in long sorted runs, which a stable
    // sort merges and an unstable one sorts again.
    docs.sort_by(|a, b| a.path.cmp(&b.path));
    let mut resources: Vec<std::borrow::Cow<'_, str>> = docs
        .iter()
        .filter(|d| d.is_kubernetes())
        .map(|d| layout.file_of(&d.path, d.schema))
        .collect();
    resources.dedup();
    let text = render::render(
        "kustomization.yaml",
        serde_json::json!({ "resources": resources, "version": VERSION }),
    )?;
    // Put in its place rather than sorting every document again.
    let path = "kustomization.yaml";
    let at = docs.partition_point(|d| d.path.as_str() < path);
    docs.insert(
        at,
        Document {
            path: path.to_string(),
            text,
            schema: Schema::Kustomization,
            sources: Vec::new(),
            origin: None,
        },
    );
    // INVARIANT: paths are unique by construction (checked names, reserved names refused); two
    // documents at one path would silently lose one, so it is caught here as a compiler bug.
    if let Some(pair) = docs
        .windows(2)
        .find(|w| w.first().map(|d| &d.path) == w.get(1).map(|d| &d.path))
    {
        let path = pair.first().map(|d| d.path.as_str()).unwrap_or("");
        return Err(format!("two documents would be written to `{path}`"));
    }
    Ok(docs)
}
