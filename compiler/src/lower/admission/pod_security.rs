//! Which blocks share one Pod Security policy (or Gatekeeper template): those asking for the same
//! level at the same version with the same exemptions share one, each binding it with its own scope
//! and its reasons; and the exemptions as the annotation an auditor reads.
//!
//! ```text
//! admission a { … pod-security restricted }   // both bind vap/pod-security/restricted.v1.37
//! admission b { … pod-security restricted }
//! ```

use crate::catalog::pod_security::{Level, Version};
use crate::ir::{Admission, AdmissionRule};
use crate::lower::Lowering;
use crate::span::Span;
use std::collections::{BTreeMap, BTreeSet};

/// The exempted Pod Security checks and images and why, as one annotation value.
pub(in crate::lower) fn exemptions(adm: &Admission) -> String {
    exemptions_of(adm.rules.iter().map(|(r, _)| r), &adm.exempt_images)
}

/// `exemptions` of the Pod Security checks `rules` exempt and of `images`.
pub(in crate::lower) fn exemptions_of<'r>(
    rules: impl Iterator<Item = &'r AdmissionRule>,
    images: &[(String, String)],
) -> String {
    let checks = rules
        .filter_map(|r| match r {
            AdmissionRule::PodSecurity { exempt, .. } => Some(exempt),
            _ => None,
        })
        .flatten()
        .map(|(check, reason)| format!("{check}: {reason}"));
    let images = images
        .iter()
        .map(|(pattern, reason)| format!("image {pattern}: {reason}"));
    checks.chain(images).collect::<Vec<_>>().join("; ")
}

/// What a shared Pod Security policy checks: a level at a version, less the exempted checks and
/// the containers of the exempted images (as written; the reasons are each block's, on its
/// binding). `gatekeeper` shares a template the same way.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::lower) struct SharedKey<'a> {
    pub(in crate::lower) level: Level,
    pub(in crate::lower) version: Version,
    checks: Vec<&'a str>,
    images: Vec<&'a str>,
}

impl<'a> SharedKey<'a> {
    /// The key of the block's Pod Security rule, the rule and where it is written; `None` for a
    /// block without one.
    pub(in crate::lower) fn of(
        adm: &'a Admission,
    ) -> Option<(SharedKey<'a>, &'a AdmissionRule, Span)> {
        let (rule, span) = adm
            .rules
            .iter()
            .find(|(r, _)| matches!(r, AdmissionRule::PodSecurity { .. }))?;
        let AdmissionRule::PodSecurity {
            level,
            version,
            exempt,
        } = rule
        else {
            return None;
        };
        let key = SharedKey {
            level: *level,
            version: *version,
            checks: exempt.iter().map(|(c, _)| c.name()).collect(),
            images: adm.exempt_images.iter().map(|(p, _)| p.as_str()).collect(),
        };
        Some((key, rule, *span))
    }

    /// A digest of what is exempted, when anything is: 16 hex digits of the SHA-256 of the
    /// checks and images as JSON (not joined text: no pattern can pass for a check in it).
    pub(in crate::lower) fn digest(&self) -> Option<String> {
        use sha2::Digest;
        if self.checks.is_empty() && self.images.is_empty() {
            return None;
        }
        let key = serde_json::to_string(&(&self.checks, &self.images)).unwrap_or_default();
        let digest = sha2::Sha256::digest(key.as_bytes());
        Some(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }

    /// The policy's name and its path's file name (below `vap/pod-security/`, and
    /// `gatekeeper/pod-security/` for the template): `LEVEL.VERSION`, plus `.DIGEST` when
    /// anything is exempted, so that both change only with what the policy checks; the name is
    /// `warden-pod-security.` and that. Dots keep it apart from every admission block's name (DNS
    /// labels).
    pub(in crate::lower) fn name(&self) -> (String, String) {
        let mut file = format!("{}.{}", self.level.name(), self.version);
        if let Some(digest) = self.digest() {
            file.push('.');
            file.push_str(&digest);
        }
        (format!("warden-pod-security.{file}"), file)
    }

    /// What the policy leaves out, for whoever audits it (why: on each block's binding).
    pub(in crate::lower) fn exemptions(&self) -> String {
        let images = self.images.iter().map(|p| format!("image {p}"));
        self.checks
            .iter()
            .map(|c| c.to_string())
            .chain(images)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A shared Pod Security policy: what it checks, the rule of its first block (the CEL depends on
/// the key alone) and the blocks that bind it, each with the place of its `pod-security` line.
pub(in crate::lower) struct Shared<'a> {
    pub(in crate::lower) key: SharedKey<'a>,
    pub(in crate::lower) rule: &'a AdmissionRule,
    users: Vec<(&'a Admission, Span)>,
}

impl Shared<'_> {
    /// The images the policy exempts, with the first block's reasons (the CEL and Rego read only
    /// the patterns, which every block of the key shares).
    pub(in crate::lower) fn exempt_images(&self) -> &[(String, String)] {
        self.users
            .first()
            .map_or(&[][..], |(adm, _)| &adm.exempt_images)
    }

    /// The first block's `pod-security` line: what an error about the policy points at.
    pub(in crate::lower) fn origin(&self) -> Option<Span> {
        self.users.first().map(|(_, span)| *span)
    }

    /// The files of the blocks that bind it, sorted, each once.
    pub(in crate::lower) fn sources(&self, cx: &Lowering<'_>) -> Vec<String> {
        let files: BTreeSet<String> = self
            .users
            .iter()
            .map(|(adm, _)| cx.file(adm.span))
            .collect();
        files.into_iter().collect()
    }

    /// Where it comes from: the `pod-security` lines of the first blocks that ask for it and how
    /// many more do (each binding names its own block; a list of thousands would pass the API
    /// server's limit on annotations).
    pub(in crate::lower) fn source(&self, cx: &Lowering<'_>) -> String {
        const LISTED: usize = 3;
        let lines: Vec<String> = self
            .users
            .iter()
            .take(LISTED)
            .map(|(_, span)| cx.location(*span))
            .collect();
        let mut source = lines.join(", ");
        if self.users.len() > LISTED {
            source.push_str(&format!(" and {} more", self.users.len() - LISTED));
        }
        source
    }
}

/// The Pod Security policies the program's blocks share, in the order of their keys.
pub(in crate::lower) fn shared_pod_security<'a>(admissions: &[&'a Admission]) -> Vec<Shared<'a>> {
    let mut shared: BTreeMap<SharedKey<'a>, Shared<'a>> = BTreeMap::new();
    for adm in admissions {
        if let Some((key, rule, span)) = SharedKey::of(adm) {
            shared
                .entry(key)
                .or_insert_with_key(|key| Shared {
                    key: key.clone(),
                    rule,
                    users: Vec::new(),
                })
                .users
                .push((adm, span));
        }
    }
    shared.into_values().collect()
}

/// The block's rules besides `pod-security`: what its own policy (or template) holds.
pub(in crate::lower) fn own_rules(adm: &Admission) -> impl Iterator<Item = &AdmissionRule> + Clone {
    adm.rules
        .iter()
        .map(|(r, _)| r)
        .filter(|r| !matches!(r, AdmissionRule::PodSecurity { .. }))
}
