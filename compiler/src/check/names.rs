//! Names: Kubernetes name and label rules, and resolving service references.
//!
//! Accepts names Kubernetes accepts and rejects the rest before they reach a document:
//! ```text
//! service cart-v2 in shop { pods app = "cart" }      // accepted
//! service Cart_V2 in shop { pods app = "cart!" }     // E0109 (name), E0110 (label value)
//! ```

use super::Checker;
use crate::ast::{Ident, ServiceRef};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{self, ServiceId};
use std::collections::BTreeMap;

/// A DNS-1123 label: what Kubernetes requires of namespace names and what warden requires of
/// every name that becomes part of an object name or a file name.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The name part of a label key, and every non-empty label value.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
}

pub fn label_key_problem(key: &str) -> Option<&'static str> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns_subdomain(p)
    {
        return Some(
            "the prefix before `/` must be a DNS subdomain: lowercase letters, digits, `-` and `.`, at most 253 characters",
        );
    }
    if !is_label_name(name) {
        return Some(
            "the name must be 1 to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
        );
    }
    None
}

pub fn label_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() || is_label_name(value) {
        None
    } else {
        Some(
            "a label value must be at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
        )
    }
}

impl Checker<'_> {
    /// Reports a name that cannot be a Kubernetes object or namespace name.
    pub(super) fn check_dns_label(&mut self, name: &Ident, what: &str) -> bool {
        if is_dns_label(&name.text) {
            return true;
        }
        let lower: String = name
            .text
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == '_' { '-' } else { c })
            .collect();
        let headline = format!("`{}` is not a valid {what} name", name.text);
        let note = "Kubernetes names are 1 to 63 lowercase letters, digits and `-`, starting and ending with a letter or digit";
        let mut d = Diagnostic::error("E0109", headline)
            .primary(name.span, "not a DNS-1123 label")
            .note(note);
        if is_dns_label(&lower) {
            d = d.help(format!("write `{lower}`"));
        }
        self.diags.push(d);
        false
    }

    /// Resolves `name` or `ns/name`. Without a namespace the service's own namespace is tried
    /// first, then the whole program, where the name must be unique.
    pub(super) fn resolve_service(
        &mut self,
        r: &ServiceRef,
        context_ns: Option<&str>,
    ) -> Option<ir::ServiceRef> {
        if let Some(ns) = &r.namespace {
            if let Some(found) = super::service(self.index, &self.services, &ns.text, &r.name.text)
            {
                return Some(found);
            }
            self.unknown_service(r);
            return None;
        }
        if let Some(ns) = context_ns
            && let Some(found) = super::service(self.index, &self.services, ns, &r.name.text)
        {
            return Some(found);
        }
        // An index, not a pass over every service: a program whose services name others
        // without their namespace would otherwise take time growing with the square of its size.
        let by_name = self.by_name.get_or_init(|| {
            let mut index: BTreeMap<String, Vec<(ir::ServiceRef, ServiceId)>> = BTreeMap::new();
            for (found, s) in self.services.iter() {
                index
                    .entry(s.id.name.clone())
                    .or_default()
                    .push((found, s.id.clone()));
            }
            index
        });
        let found = by_name.get(&r.name.text).map_or(&[][..], Vec::as_slice);
        match found {
            [(one, _)] => Some(*one),
            [] => {
                self.unknown_service(r);
                None
            }
            many => {
                let list: Vec<String> = many.iter().map(|(_, id)| format!("`{id}`")).collect();
                self.diags.push(
                    Diagnostic::error(
                        "E0108",
                        format!("`{}` names services in several namespaces", r.name.text),
                    )
                    .primary(r.span, "which one?")
                    .note(format!("candidates: {}", list.join(", ")))
                    .help(format!(
                        "qualify it with its namespace, e.g. `{}`",
                        many.first().map(|(_, m)| m.to_string()).unwrap_or_default()
                    )),
                );
                None
            }
        }
    }

    fn unknown_service(&mut self, r: &ServiceRef) {
        let written = match &r.namespace {
            Some(ns) => format!("{}/{}", ns.text, r.name.text),
            None => r.name.text.clone(),
        };
        let mut d = Diagnostic::error("E0102", format!("unknown service `{written}`"))
            .primary(r.span, "no service has this name");
        if self.may_suggest() {
            let candidates: Vec<String> = self
                .services
                .keys()
                .flat_map(|id| [id.name.clone(), id.to_string()])
                .collect();
            if let Some(hint) = did_you_mean(&written, candidates.iter().map(String::as_str)) {
                d = d.help(hint);
            }
        }
        self.diags.push(d);
    }
}
