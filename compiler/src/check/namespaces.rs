//! Namespaces: isolation and DNS.
//!
//! ```text
//! namespace shop { isolate  allow dns }          // accepted
//! namespace shop { allow dns }                   // W0701: dns allowed but egress is not isolated
//! ```

use super::Checker;
use crate::ast;
use crate::diag::Diagnostic;
use crate::ir;

impl Checker<'_> {
    pub(super) fn declare_namespace(&mut self, ns: &ast::Namespace) {
        if let Some(first) = self.namespaces.get(&ns.name.text) {
            let first = first.span;
            self.duplicate(
                "E0103",
                "namespace",
                &ns.name.text.clone(),
                ns.name.clone(),
                first,
            );
            return;
        }
        self.check_dns_label(&ns.name, "namespace");
        let mut labels = std::collections::BTreeMap::new();
        for label in &ns.labels {
            self.check_label(label);
            if label.key.text == "kubernetes.io/metadata.name" {
                self.diags.push(
                    Diagnostic::error(
                        "E0113",
                        "`kubernetes.io/metadata.name` is set by Kubernetes",
                    )
                    .primary(
                        label.key.span,
                        "the API server sets it to the namespace's name",
                    )
                    .help("remove it; warden selects namespaces by name with this label already"),
                );
            } else if labels
                .insert(label.key.text.clone(), label.value.text.clone())
                .is_some()
            {
                self.diags.push(
                    Diagnostic::error(
                        "E0111",
                        format!("label `{}` is given twice", label.key.text),
                    )
                    .primary(label.key.span, "again here"),
                );
            }
        }
        let mut out = ir::Namespace {
            name: ns.name.text.clone(),
            labels,
            isolate_ingress: false,
            isolate_egress: false,
            allow_dns: !ns.allow_dns.is_empty(),
            accepted: super::accepts::annotation(&ns.accepts),
            span: ns.name.span,
        };
        for (dir, _) in &ns.isolate {
            match dir {
                None => {
                    out.isolate_ingress = true;
                    out.isolate_egress = true;
                }
                Some(ast::Direction::Ingress) => out.isolate_ingress = true,
                Some(ast::Direction::Egress) => out.isolate_egress = true,
            }
        }
        if out.isolate_egress && ns.allow_dns.is_empty() {
            let span = ns.isolate.first().map(|(_, s)| *s).unwrap_or(ns.name.span);
            self.diags.push(
                Diagnostic::warning(
                    "W0702",
                    format!("pods in namespace `{}` cannot resolve names", ns.name.text),
                )
                .primary(span, "egress is isolated and DNS is not allowed")
                .note("default-deny egress blocks the cluster DNS too, so every lookup times out")
                .help("add `allow dns`, unless these pods never look a name up"),
            );
        }
        self.namespaces.to_mut().insert(ns.name.text.clone(), out);
    }

    /// `allow dns` only matters where some pod of the namespace is isolated for egress, by the
    /// namespace or by a service; elsewhere all egress, DNS included, is already allowed.
    pub(super) fn lint_allow_dns(&mut self, ns: &ast::Namespace) {
        let Some(span) = ns.allow_dns.first() else {
            return;
        };
        let isolated = self
            .namespaces
            .get(&ns.name.text)
            .is_some_and(|n| n.isolate_egress)
            || self
                .services
                .in_namespace(&ns.name.text)
                .iter()
                .any(|s| s.isolate_egress);
        if !isolated {
            self.diags.push(
                Diagnostic::warning(
                    "W0701",
                    format!("`allow dns` has no effect in namespace `{}`", ns.name.text),
                )
                .primary(*span, "egress is not isolated, so DNS is already allowed")
                .help("add `isolate` or `isolate egress`, or remove `allow dns`"),
            );
        }
    }

    /// Looks a namespace up, reporting it with a suggestion when it is unknown.
    pub(super) fn known_namespace(&mut self, name: &ast::Ident) -> bool {
        if self.namespaces.contains_key(&name.text) {
            return true;
        }
        let mut d = Diagnostic::error("E0101", format!("unknown namespace `{}`", name.text))
            .primary(name.span, "no namespace has this name");
        let hint = if self.may_suggest() {
            crate::diag::did_you_mean(&name.text, self.namespaces.keys().map(String::as_str))
        } else {
            None
        };
        d = match hint {
            Some(hint) => d.help(hint),
            None => d.help(format!(
                "declare it: `namespace {} {{ isolate }}`",
                name.text
            )),
        };
        self.diags.push(d);
        false
    }
}
