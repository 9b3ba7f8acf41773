//! Every admission rule as CEL, for `vap` and `kyverno` alike: a policy's variables (the pod
//! spec wherever the kind keeps it, its containers), then one validation per rule, or per check of
//! a Pod Security level. A rule about containers lists the ones that fail it in a variable, so that
//! its message names the first.
//!
//! ```text
//! forbid privileged      // variables.containers.all(c, !(has(c.securityContext) && …))
//! require labels app     // has(variables.podMeta.labels) && ["app"].all(k, k in …)
//! ```

use super::cel_rules::checks;
use super::pss_cel::Cel;
use crate::catalog::pod_security::CheckId;
use crate::ir::{Admission, AdmissionRule};
use crate::lower::Lowering;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

#[derive(Clone, Serialize)]
pub(in crate::lower) struct Variable {
    pub(super) name: Cow<'static, str>,
    pub(super) expression: String,
}

#[derive(Clone, Serialize)]
pub(in crate::lower) struct Validation {
    pub(super) expression: String,
    pub(super) message: String,
    /// Names the first failing container, where the rule is about containers.
    pub(super) message_expression: Option<String>,
}

/// A rule's validation before its place in a policy is known: a rule about containers lists the
/// ones that fail it in a variable, which takes its name from that place.
pub(super) struct Check {
    pub(super) cel: Cel,
    /// Where the rule does not apply at all (Windows pods, user namespaces).
    pub(super) relaxed: Option<String>,
    pub(super) message: String,
}

impl Check {
    /// The validation at position `n` (from 1) of a policy, and the variable it reads.
    fn validation(&self, n: usize) -> (Validation, Option<Variable>) {
        let name = format!("failing{n}");
        let failing = format!("variables.{name}");
        let rule = self.cel.expression(&failing);
        let validation = Validation {
            expression: match &self.relaxed {
                None => rule,
                Some(r) => format!("{r} || ({rule})"),
            },
            message_expression: self.cel.message_expression(&self.message, &failing),
            message: self.message.clone(),
        };
        let variable = self.cel.failing().map(|expression| Variable {
            name: Cow::Owned(name),
            expression,
        });
        (validation, variable)
    }
}

/// The condition under which a policy looks at a request at all: not a Pod update that leaves
/// every image as it was. Like Pod Security Admission, an update of a pod's metadata or of the few
/// mutable spec fields is not checked again (its securityContext cannot change); a new image or a
/// new ephemeral container is. A review without the old object (only test harnesses send one) is
/// taken as unchanged.
#[derive(Serialize)]
pub(in crate::lower) struct MatchCondition {
    name: &'static str,
    expression: String,
}

pub(in crate::lower) fn match_conditions() -> Vec<MatchCondition> {
    let images = |o: &str| {
        format!(
            "(has({o}.spec.containers) ? {o}.spec.containers.map(c, c.image) : []) + (has({o}.spec.initContainers) ? {o}.spec.initContainers.map(c, c.image) : []) + (has({o}.spec.ephemeralContainers) ? {o}.spec.ephemeralContainers.map(c, c.image) : [])"
        )
    };
    vec![MatchCondition {
        name: "not-an-unchanged-pod-update",
        expression: format!(
            "request.operation != 'UPDATE' || object.kind != 'Pod' || (oldObject != null && {} != {})",
            images("object"),
            images("oldObject")
        ),
    }]
}

/// The validations of Pod Security rules already made, by rule and by the position of their first
/// validation in the policy (which names their variables). A program's blocks mostly ask for one
/// level at one place, and its few dozen checks need not be made again for every block.
pub(in crate::lower) type PodSecurityCel =
    Mutex<BTreeMap<AdmissionRule, BTreeMap<usize, Vec<Placed>>>>;

/// A validation at its place in a policy, and the variable it reads.
pub(in crate::lower) type Placed = (Validation, Option<Variable>);

/// The validations of `checks`, the first at position `first` of the policy.
pub(in crate::lower) fn placed(checks: &[Check], first: usize) -> Vec<Placed> {
    checks
        .iter()
        .enumerate()
        .map(|(i, check)| check.validation(first + i))
        .collect()
}

/// The CEL of an admission block: the variables, then one validation per rule (per check for
/// Pod Security). `kyverno` writes the same CEL into a ClusterPolicy.
pub(in crate::lower) fn cel(
    cx: &Lowering<'_>,
    adm: &Admission,
) -> (Vec<Variable>, Vec<Validation>) {
    cel_of(cx, &adm.exempt_images, adm.rules.iter().map(|(r, _)| r))
}

/// The variables and validations of `rules`, with the containers of `exempt_images` left out.
pub(in crate::lower) fn cel_of<'r>(
    cx: &Lowering<'_>,
    exempt_images: &[(String, String)],
    rules: impl Iterator<Item = &'r AdmissionRule>,
) -> (Vec<Variable>, Vec<Validation>) {
    // Containers whose image the block exempts are left out of every container rule.
    let exempt: Vec<String> = exempt_images.iter().map(|(p, _)| image_match(p)).collect();
    let unless_exempt = |list: &str| {
        if exempt.is_empty() {
            list.to_string()
        } else {
            format!("({list}).filter(c, !({}))", exempt.join(" || "))
        }
    };
    let mut variables = vec![
        Variable {
            name: Cow::Borrowed("podSpec"),
            expression: POD_SPEC.to_string(),
        },
        Variable {
            name: Cow::Borrowed("containers"),
            expression: unless_exempt(CONTAINERS),
        },
    ];
    let mut validations = Vec::new();
    let mut failing = Vec::new();
    for rule in rules {
        let first = validations.len() + 1;
        let made = match rule {
            AdmissionRule::PodSecurity { .. } => pod_security(cx, rule, first),
            _ => placed(&checks(rule), first),
        };
        for (validation, variable) in made {
            validations.push(validation);
            failing.extend(variable);
        }
    }
    let uses = |name: &str| {
        failing.iter().any(|v| v.expression.contains(name))
            || validations.iter().any(|v| {
                v.expression.contains(name)
                    || v.message_expression
                        .as_ref()
                        .is_some_and(|m| m.contains(name))
            })
    };
    if uses("variables.workloadContainers") {
        variables.push(Variable {
            name: Cow::Borrowed("workloadContainers"),
            expression: unless_exempt(WORKLOAD_CONTAINERS),
        });
    }
    // Labels and the AppArmor annotations are in the pod's metadata.
    if uses("variables.podMeta") {
        variables.push(Variable {
            name: Cow::Borrowed("podMeta"),
            expression: POD_META.to_string(),
        });
    }
    // After the variables they read: a variable may refer only to those before it.
    variables.extend(failing);
    (variables, validations)
}

pub(super) const POD_SPEC: &str = "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";
pub(super) const POD_META: &str = "object.kind == 'Pod' ? object.metadata : (object.kind == 'CronJob' ? (has(object.spec.jobTemplate.spec.template.metadata) ? object.spec.jobTemplate.spec.template.metadata : {}) : (has(object.spec.template.metadata) ? object.spec.template.metadata : {}))";
/// The containers that may carry resources: ephemeral ones cannot. (The API server requires
/// `containers`; a review of a pod spec without them is still read, as Gatekeeper reads it.)
pub(super) const WORKLOAD_CONTAINERS: &str = "(has(variables.podSpec.containers) ? variables.podSpec.containers : []) + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : [])";
pub(super) const CONTAINERS: &str = "(has(variables.podSpec.containers) ? variables.podSpec.containers : []) + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []) + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])";

/// A CEL string literal. User values reach CEL only through here (and are restricted by `check`
/// to a safe alphabet before), so no pattern or label key can change an expression.
pub(in crate::lower) fn cel_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            // `\u` takes exactly four digits: a character beyond U+FFFF needs `\U` and eight.
            c if u32::from(c) > 0xFFFF => out.push_str(&format!("\\U{:08x}", u32::from(c))),
            c => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// An RE2 pattern matching exactly `glob`, where `*` stands for any characters.
pub(in crate::lower) fn glob_regex(glob: &str) -> String {
    let mut re = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => re.push_str(".*"),
            c if c.is_ascii_alphanumeric() => re.push(c),
            c => {
                re.push('\\');
                re.push(c);
            }
        }
    }
    re.push('$');
    re
}

pub(in crate::lower) fn image_match(pattern: &str) -> String {
    match pattern.find('*') {
        None => format!("c.image == {}", cel_string(pattern)),
        Some(i) if i + 1 == pattern.len() => {
            format!(
                "c.image.startsWith({})",
                cel_string(pattern.get(..i).unwrap_or(""))
            )
        }
        Some(_) => format!("c.image.matches({})", cel_string(&glob_regex(pattern))),
    }
}

/// A Pod Security check as a rule of its own: its first implementation, without relaxations.
pub(in crate::lower) fn pss_check(id: CheckId) -> Cel {
    super::pss_cel::check(id, &Default::default())
}

pub(in crate::lower) fn sc(field: &str) -> String {
    format!("has(c.securityContext) && has(c.securityContext.{field})")
}

pub(in crate::lower) fn pod_sc(field: &str) -> String {
    format!(
        "has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.{field})"
    )
}

pub(in crate::lower) fn each(each: String) -> Cel {
    Cel {
        each: Some(each),
        ..Cel::default()
    }
}

/// `ranges` as a CEL condition on the id `v`.
pub(in crate::lower) fn in_ranges(v: &str, ranges: &[(u64, u64)]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|(a, b)| {
            if a == b {
                format!("{v} == {a}")
            } else {
                format!("({v} >= {a} && {v} <= {b})")
            }
        })
        .collect();
    parts.join(" || ")
}

pub(in crate::lower) fn ranges_text(ranges: &[(u64, u64)]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    parts.join(", ")
}

/// The validations of a Pod Security rule from position `first` on, made once per rule and
/// position (see `PodSecurityCel`).
pub(in crate::lower) fn pod_security(
    cx: &Lowering<'_>,
    rule: &AdmissionRule,
    first: usize,
) -> Vec<Placed> {
    let made = |cache: &PodSecurityCel| {
        let cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(rule).and_then(|at| at.get(&first)).cloned()
    };
    if let Some(found) = made(&cx.pod_security) {
        return found;
    }
    let new = placed(&checks(rule), first);
    let mut cache = cx
        .pod_security
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    cache
        .entry(rule.clone())
        .or_default()
        .entry(first)
        .or_insert_with(|| new.clone());
    new
}
