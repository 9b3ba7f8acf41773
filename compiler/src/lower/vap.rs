//! Target `vap`: a ValidatingAdmissionPolicy and its binding per `admission` block, and one
//! policy per Pod Security level, version and exemptions that the blocks asking for it bind (see
//! `targets/vap/README.md`).
//!
//! The policy matches Pods and the workload kinds that carry a pod template; variables find the pod
//! spec wherever the kind keeps it, so every validation is written once over `variables.podSpec`
//! and `variables.containers` (init, regular and ephemeral containers).

use super::pss_cel::{Cel, name_first};
use super::{Document, Lowering, Schema, VERSION};
use crate::catalog::pod_security::{Level, Version};
use crate::ir::{Admission, AdmissionRule, IdField, Mode};
use crate::span::Span;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

#[derive(Clone, Serialize)]
pub(super) struct Variable {
    name: Cow<'static, str>,
    expression: String,
}

#[derive(Clone, Serialize)]
pub(super) struct Validation {
    expression: String,
    message: String,
    /// Names the first failing container, where the rule is about containers.
    message_expression: Option<String>,
}

/// A rule's validation before its place in a policy is known: a rule about containers lists the
/// ones that fail it in a variable, which takes its name from that place.
struct Check {
    cel: Cel,
    /// Where the rule does not apply at all (Windows pods, user namespaces).
    relaxed: Option<String>,
    message: String,
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
pub(super) struct MatchCondition {
    name: &'static str,
    expression: String,
}

pub(super) fn match_conditions() -> Vec<MatchCondition> {
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
/// level at one place, and making its few dozen checks again for every block was about half of
/// what `vap` and `kyverno` spent on a block.
pub(super) type PodSecurityCel = Mutex<BTreeMap<AdmissionRule, BTreeMap<usize, Vec<Placed>>>>;

/// A validation at its place in a policy, and the variable it reads.
pub(super) type Placed = (Validation, Option<Variable>);

/// The validations of `checks`, the first at position `first` of the policy.
fn placed(checks: &[Check], first: usize) -> Vec<Placed> {
    checks
        .iter()
        .enumerate()
        .map(|(i, check)| check.validation(first + i))
        .collect()
}

/// The CEL of an admission block: the variables, then one validation per rule (per check for
/// Pod Security). `kyverno` writes the same CEL into a ClusterPolicy.
pub(super) fn cel(cx: &Lowering<'_>, adm: &Admission) -> (Vec<Variable>, Vec<Validation>) {
    cel_of(cx, &adm.exempt_images, adm.rules.iter().map(|(r, _)| r))
}

/// The variables and validations of `rules`, with the containers of `exempt_images` left out.
fn cel_of<'r>(
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

/// The exempted Pod Security checks and images and why, as one annotation value.
pub(super) fn exemptions(adm: &Admission) -> String {
    exemptions_of(adm.rules.iter().map(|(r, _)| r), &adm.exempt_images)
}

/// `exemptions` of the Pod Security checks `rules` exempt and of `images`.
pub(super) fn exemptions_of<'r>(
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

#[derive(Serialize)]
struct PolicyView<'a> {
    name: &'a str,
    source: String,
    /// The exempted Pod Security checks and why, for whoever audits the policy.
    exemptions: String,
    version: &'static str,
    match_conditions: Vec<MatchCondition>,
    variables: Vec<Variable>,
    validations: Vec<Validation>,
}

#[derive(Serialize)]
struct BindingView<'a> {
    name: &'a str,
    /// The policy bound: the block's own, or the Pod Security policy it shares.
    policy: &'a str,
    /// Why the block exempts what the shared policy leaves out.
    exemptions: String,
    source: String,
    version: &'static str,
    actions: Vec<&'static str>,
    scope: super::views::ScopeView<'a>,
}

const POD_SPEC: &str = "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";
const POD_META: &str = "object.kind == 'Pod' ? object.metadata : (object.kind == 'CronJob' ? (has(object.spec.jobTemplate.spec.template.metadata) ? object.spec.jobTemplate.spec.template.metadata : {}) : (has(object.spec.template.metadata) ? object.spec.template.metadata : {}))";
/// The containers that may carry resources: ephemeral ones cannot. (The API server requires
/// `containers`; a review of a pod spec without them is still read, as Gatekeeper reads it.)
const WORKLOAD_CONTAINERS: &str = "(has(variables.podSpec.containers) ? variables.podSpec.containers : []) + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : [])";
const CONTAINERS: &str = "(has(variables.podSpec.containers) ? variables.podSpec.containers : []) + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []) + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])";

/// Each container's name and the `localhost/` profile it runs with: its own seccomp profile's, else
/// the pod's; `''` where that profile is not `Localhost` with a path (no service's path is empty).
const SECCOMP_PROFILES: &str = "variables.containers.map(c, {'name': c.name, 'profile': has(c.securityContext) && has(c.securityContext.seccompProfile) ? (c.securityContext.seccompProfile.type == 'Localhost' && has(c.securityContext.seccompProfile.localhostProfile) ? c.securityContext.seccompProfile.localhostProfile : '') : (has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.seccompProfile) && variables.podSpec.securityContext.seccompProfile.type == 'Localhost' && has(variables.podSpec.securityContext.seccompProfile.localhostProfile) ? variables.podSpec.securityContext.seccompProfile.localhostProfile : '')})";

/// The kubelet `localhost/` path of a service's profile: below the kubelet's seccomp root, where
/// the output's `seccomp/` directory is copied (`targets/seccomp/README.md`).
pub(super) fn localhost_profile(id: &crate::ir::ServiceId) -> String {
    format!("{}/{}.json", id.namespace, id.name)
}

/// A label selector as a CEL condition on the pod's labels (`variables.podMeta`).
fn selector_cel(sel: &crate::ir::Selector) -> String {
    use crate::ir::Operator;
    let labels = "variables.podMeta.labels";
    let mut parts = vec![format!("has({labels})")];
    for (k, v) in &sel.match_labels {
        let k = cel_string(k);
        parts.push(format!(
            "{k} in {labels} && {labels}[{k}] == {}",
            cel_string(v)
        ));
    }
    for e in &sel.expressions {
        let k = cel_string(&e.key);
        let values = e
            .values
            .iter()
            .map(|v| cel_string(v))
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(match e.operator {
            Operator::In => format!("{k} in {labels} && {labels}[{k}] in [{values}]"),
            Operator::NotIn => format!("!({k} in {labels}) || !({labels}[{k}] in [{values}])"),
            Operator::Exists => format!("{k} in {labels}"),
            Operator::DoesNotExist => format!("!({k} in {labels})"),
        });
    }
    parts
        .into_iter()
        .map(|p| format!("({p})"))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// For each namespace with services that have a `syscalls` block, a policy and binding that
/// require each such service's pods (and the pod templates of its workloads) to run every
/// container with its profile: a profile nobody references protects nothing. One validation per
/// service; one document pair per namespace keeps a cluster's policy count down.
fn seccomp_wiring(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let mut by_namespace: std::collections::BTreeMap<&str, Vec<&crate::ir::Service>> =
        std::collections::BTreeMap::new();
    for svc in cx.program.services.values() {
        if svc.syscalls.is_some() {
            by_namespace.entry(&svc.id.namespace).or_default().push(svc);
        }
    }
    let by_namespace: Vec<(&str, Vec<&crate::ir::Service>)> = by_namespace.into_iter().collect();
    super::each(&by_namespace, |(namespace, services)| {
        let mut docs = Vec::new();
        // Dots keep these names apart from every admission block's (DNS labels, no dots).
        let name = format!("warden-seccomp.{namespace}");
        let mut validations = Vec::new();
        let mut sources = BTreeSet::new();
        let mut spans = Vec::new();
        // The namespace's documents point at its first service with a `syscalls` block.
        let origin = services
            .iter()
            .find_map(|s| s.syscalls.as_ref())
            .map(|p| p.span);
        for svc in services {
            let Some(policy) = &svc.syscalls else {
                continue;
            };
            sources.insert(cx.file(policy.span));
            spans.push(cx.location(policy.span));
            let profile = cel_string(&localhost_profile(&svc.id));
            let sel = selector_cel(&svc.selector);
            let message = format!(
                "pods of service {} must run every container with its seccomp profile: securityContext.seccompProfile {{type: Localhost, localhostProfile: {}}}",
                svc.id,
                localhost_profile(&svc.id)
            );
            // Only the service's own pods: others are not its to constrain.
            validations.push(Validation {
                expression: format!(
                    "!({sel}) || variables.seccompProfiles.all(p, p.profile == {profile})"
                ),
                message_expression: Some(name_first(
                    &message,
                    &format!("variables.seccompProfiles.filter(p, p.profile != {profile})"),
                    "name",
                )),
                message,
            });
        }
        let source = spans.join(", ");
        let sources: Vec<String> = sources.into_iter().collect();
        let view = PolicyView {
            name: &name,
            source: source.clone(),
            exemptions: String::new(),
            version: VERSION,
            match_conditions: match_conditions(),
            variables: vec![
                Variable {
                    name: Cow::Borrowed("podSpec"),
                    expression: POD_SPEC.to_string(),
                },
                Variable {
                    name: Cow::Borrowed("containers"),
                    expression: CONTAINERS.to_string(),
                },
                Variable {
                    name: Cow::Borrowed("podMeta"),
                    expression: POD_META.to_string(),
                },
                // Worked out once for the namespace's services: each validation only compares.
                Variable {
                    name: Cow::Borrowed("seccompProfiles"),
                    expression: SECCOMP_PROFILES.to_string(),
                },
            ],
            validations,
        };
        docs.push(Document {
            path: format!("vap/seccomp/{namespace}.policy.yaml"),
            text: crate::render::render("vap/policy.yaml", &view)?,
            schema: Schema::ValidatingAdmissionPolicy,
            sources: sources.clone(),
            origin,
        });
        let scope = crate::ir::AdmissionScope {
            names: Some(BTreeSet::from([namespace.to_string()])),
            labels: crate::ir::Selector::default(),
            except_names: BTreeSet::new(),
            except_labels: Vec::new(),
        };
        let binding = BindingView {
            name: &name,
            policy: &name,
            exemptions: String::new(),
            source,
            version: VERSION,
            actions: vec!["Deny"],
            scope: super::views::scope_view(&scope),
        };
        docs.push(Document {
            path: format!("vap/seccomp/{namespace}.binding.yaml"),
            text: crate::render::render("vap/binding.yaml", &binding)?,
            schema: Schema::ValidatingAdmissionPolicyBinding,
            sources,
            origin,
        });
        Ok(docs)
    })
}

/// What a shared Pod Security policy checks: a level at a version, less the exempted checks and
/// the containers of the exempted images (as written; the reasons are each block's, on its
/// binding). `gatekeeper` shares a template the same way.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct SharedKey<'a> {
    pub(super) level: Level,
    pub(super) version: Version,
    checks: Vec<&'a str>,
    images: Vec<&'a str>,
}

impl<'a> SharedKey<'a> {
    /// The key of the block's Pod Security rule, the rule and where it is written; `None` for a
    /// block without one.
    pub(super) fn of(adm: &'a Admission) -> Option<(SharedKey<'a>, &'a AdmissionRule, Span)> {
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
            checks: exempt.iter().map(|(c, _)| c.as_str()).collect(),
            images: adm.exempt_images.iter().map(|(p, _)| p.as_str()).collect(),
        };
        Some((key, rule, *span))
    }

    /// A digest of what is exempted, when anything is: 16 hex digits of the SHA-256 of the
    /// checks and images as JSON (not joined text: no pattern can pass for a check in it).
    pub(super) fn digest(&self) -> Option<String> {
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
    pub(super) fn name(&self) -> (String, String) {
        let mut file = format!("{}.{}", self.level.name(), self.version);
        if let Some(digest) = self.digest() {
            file.push('.');
            file.push_str(&digest);
        }
        (format!("warden-pod-security.{file}"), file)
    }

    /// What the policy leaves out, for whoever audits it (why: on each block's binding).
    pub(super) fn exemptions(&self) -> String {
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
pub(super) struct Shared<'a> {
    pub(super) key: SharedKey<'a>,
    pub(super) rule: &'a AdmissionRule,
    users: Vec<(&'a Admission, Span)>,
}

impl Shared<'_> {
    /// The images the policy exempts, with the first block's reasons (the CEL and Rego read only
    /// the patterns, which every block of the key shares).
    pub(super) fn exempt_images(&self) -> &[(String, String)] {
        self.users
            .first()
            .map_or(&[][..], |(adm, _)| &adm.exempt_images)
    }

    /// The first block's `pod-security` line: what an error about the policy points at.
    pub(super) fn origin(&self) -> Option<Span> {
        self.users.first().map(|(_, span)| *span)
    }

    /// The files of the blocks that bind it, sorted, each once.
    pub(super) fn sources(&self, cx: &Lowering<'_>) -> Vec<String> {
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
    pub(super) fn source(&self, cx: &Lowering<'_>) -> String {
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
pub(super) fn shared_pod_security<'a>(admissions: &[&'a Admission]) -> Vec<Shared<'a>> {
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
pub(super) fn own_rules(adm: &Admission) -> impl Iterator<Item = &AdmissionRule> + Clone {
    adm.rules
        .iter()
        .map(|(r, _)| r)
        .filter(|r| !matches!(r, AdmissionRule::PodSecurity { .. }))
}

/// The binding of block `adm` named `name` to `policy`, with the block's scope and mode.
fn binding(
    cx: &Lowering<'_>,
    adm: &Admission,
    name: &str,
    policy: &str,
    exemptions: String,
) -> Result<Document, String> {
    let view = BindingView {
        name,
        policy,
        exemptions,
        source: cx.location(adm.span),
        version: VERSION,
        actions: actions(adm),
        scope: super::views::scope_view(&adm.scope),
    };
    Ok(Document {
        path: format!("vap/{name}.binding.yaml"),
        text: crate::render::render("vap/binding.yaml", &view)?,
        schema: Schema::ValidatingAdmissionPolicyBinding,
        sources: vec![cx.file(adm.span)],
        origin: Some(adm.span),
    })
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let mut docs = seccomp_wiring(cx)?;
    let admissions: Vec<&Admission> = cx.program.admissions.values().collect();
    let shared = shared_pod_security(&admissions);
    docs.extend(super::each(&shared, |shared| {
        let (name, file) = shared.key.name();
        let (variables, validations) =
            cel_of(cx, shared.exempt_images(), std::iter::once(shared.rule));
        let policy = PolicyView {
            name: &name,
            source: shared.source(cx),
            exemptions: shared.key.exemptions(),
            version: VERSION,
            match_conditions: match_conditions(),
            variables,
            validations,
        };
        Ok(vec![Document {
            path: format!("vap/pod-security/{file}.policy.yaml"),
            text: crate::render::render("vap/policy.yaml", &policy)?,
            schema: Schema::ValidatingAdmissionPolicy,
            sources: shared.sources(cx),
            origin: shared.origin(),
        }])
    })?);
    docs.extend(super::each(&admissions, |adm| {
        let mut docs = Vec::new();
        let own = own_rules(adm);
        // A block with nothing but `pod-security` has only the shared policy's binding.
        if own.clone().next().is_some() {
            let (variables, validations) = cel_of(cx, &adm.exempt_images, own);
            let policy = PolicyView {
                name: &adm.name,
                source: cx.location(adm.span),
                exemptions: exemptions_of(std::iter::empty(), &adm.exempt_images),
                version: VERSION,
                match_conditions: match_conditions(),
                variables,
                validations,
            };
            docs.push(Document {
                // Names are DNS labels, without dots, so these paths cannot collide with another
                // block's.
                path: format!("vap/{}.policy.yaml", adm.name),
                text: crate::render::render("vap/policy.yaml", &policy)?,
                schema: Schema::ValidatingAdmissionPolicy,
                sources: vec![cx.file(adm.span)],
                origin: Some(adm.span),
            });
            docs.push(binding(cx, adm, &adm.name, &adm.name, String::new())?);
        }
        if let Some((key, rule, _)) = SharedKey::of(adm) {
            let name = format!("{}.pod-security", adm.name);
            let exemptions = exemptions_of(std::iter::once(rule), &adm.exempt_images);
            docs.push(binding(cx, adm, &name, &key.name().0, exemptions)?);
        }
        Ok(docs)
    })?);
    Ok(docs)
}

fn actions(adm: &Admission) -> Vec<&'static str> {
    match adm.mode {
        Mode::Deny => vec!["Deny"],
        Mode::Warn => vec!["Warn"],
        Mode::Audit => vec!["Audit"],
    }
}

/// A CEL string literal. User values reach CEL only through here (and are restricted by `check`
/// to a safe alphabet before), so no pattern or label key can change an expression.
pub(super) fn cel_string(s: &str) -> String {
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
pub(super) fn glob_regex(glob: &str) -> String {
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

fn image_match(pattern: &str) -> String {
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
fn pss_check(id: &str) -> Cel {
    super::pss_cel::check(id, &Default::default())
}

fn sc(field: &str) -> String {
    format!("has(c.securityContext) && has(c.securityContext.{field})")
}

fn pod_sc(field: &str) -> String {
    format!(
        "has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.{field})"
    )
}

fn each(each: String) -> Cel {
    Cel {
        each: Some(each),
        ..Cel::default()
    }
}

/// `ranges` as a CEL condition on the id `v`.
fn in_ranges(v: &str, ranges: &[(u64, u64)]) -> String {
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

pub(super) fn ranges_text(ranges: &[(u64, u64)]) -> String {
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
fn pod_security(cx: &Lowering<'_>, rule: &AdmissionRule, first: usize) -> Vec<Placed> {
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

fn checks(rule: &AdmissionRule) -> Vec<Check> {
    let (cel, message) = match rule {
        AdmissionRule::PodSecurity {
            level,
            version,
            exempt,
        } => {
            return super::pss_cel::validations(*level, *version, exempt)
                .into_iter()
                .map(|(id, cel, relaxed, fields)| Check {
                    cel,
                    relaxed,
                    message: format!(
                        "Pod Security {} {version}: check {id} fails ({fields})",
                        level.name()
                    ),
                })
                .collect();
        }
        AdmissionRule::ForbidPrivileged => (
            pss_check("privileged"),
            "privileged containers are forbidden: every container must leave securityContext.privileged unset or false".to_string(),
        ),
        AdmissionRule::ForbidHostNamespaces => (
            pss_check("hostNamespaces"),
            "sharing the host's namespaces is forbidden: spec.hostNetwork, spec.hostPID and spec.hostIPC must be unset or false".to_string(),
        ),
        AdmissionRule::ForbidHostField(field) => (
            Cel {
                pod: vec![format!("!(has(variables.podSpec.{field}) && variables.podSpec.{field} == true)")],
                ..Cel::default()
            },
            format!("sharing the host's namespace is forbidden: spec.{field} must be unset or false"),
        ),
        AdmissionRule::ForbidPrivilegeEscalation => (
            pss_check("allowPrivilegeEscalation"),
            "privilege escalation is forbidden: every container must set securityContext.allowPrivilegeEscalation to false".to_string(),
        ),
        AdmissionRule::RequireRunAsNonRoot => (
            Cel {
                pod: vec![format!("!({} && variables.podSpec.securityContext.runAsUser == 0)", pod_sc("runAsUser"))],
                each: Some(format!(
                    "(({}) ? c.securityContext.runAsNonRoot == true : ({} && variables.podSpec.securityContext.runAsNonRoot == true)) && !({} && c.securityContext.runAsUser == 0)",
                    sc("runAsNonRoot"),
                    pod_sc("runAsNonRoot"),
                    sc("runAsUser")
                )),
                workload_only: false,
            },
            "containers must run as non-root: set securityContext.runAsNonRoot to true on the pod or on every container, and no runAsUser 0".to_string(),
        ),
        AdmissionRule::RunAsUserNonRoot => (
            each(format!(
                "({sc_user}) ? c.securityContext.runAsUser != 0 : (({pod_user}) ? variables.podSpec.securityContext.runAsUser != 0 : (({sc_nonroot}) ? c.securityContext.runAsNonRoot == true : ({pod_nonroot} && variables.podSpec.securityContext.runAsNonRoot == true)))",
                sc_user = sc("runAsUser"),
                pod_user = pod_sc("runAsUser"),
                sc_nonroot = sc("runAsNonRoot"),
                pod_nonroot = pod_sc("runAsNonRoot"),
            )),
            "containers must run as a user other than root: securityContext.runAsUser must be set and not 0, or runAsNonRoot true (the container's setting wins over the pod's)".to_string(),
        ),
        AdmissionRule::Ids { field, ranges } => {
            let f = field.k8s();
            let text = ranges_text(ranges);
            if field.per_container() {
                (
                    each(format!(
                        "({}) ? ({}) : ({} && ({}))",
                        sc(f),
                        in_ranges(&format!("c.securityContext.{f}"), ranges),
                        pod_sc(f),
                        in_ranges(&format!("variables.podSpec.securityContext.{f}"), ranges)
                    )),
                    format!("securityContext.{f} must be set, on the container or the pod, to an id in {text}"),
                )
            } else if *field == IdField::SupplementalGroups {
                (
                    Cel {
                        pod: vec![format!(
                            "{} && size(variables.podSpec.securityContext.{f}) > 0 && variables.podSpec.securityContext.{f}.all(g, {})",
                            pod_sc(f),
                            in_ranges("g", ranges)
                        )],
                        ..Cel::default()
                    },
                    format!("spec.securityContext.{f} must be set, each id in {text}"),
                )
            } else {
                (
                    Cel {
                        pod: vec![format!(
                            "{} && ({})",
                            pod_sc(f),
                            in_ranges(&format!("variables.podSpec.securityContext.{f}"), ranges)
                        )],
                        ..Cel::default()
                    },
                    format!("spec.securityContext.{f} must be set to an id in {text}"),
                )
            }
        }
        AdmissionRule::RequireDropAllCapabilities => (
            each(format!(
                "{} && has(c.securityContext.capabilities.drop) && c.securityContext.capabilities.drop.exists(d, d == 'ALL')",
                sc("capabilities")
            )),
            "every container must drop all capabilities: securityContext.capabilities.drop must contain ALL".to_string(),
        ),
        AdmissionRule::AllowCapabilities(caps) => (
            each(format!(
                "!({} && has(c.securityContext.capabilities.add)) || c.securityContext.capabilities.add.all(a, a in [{}])",
                sc("capabilities"),
                caps.iter().map(|c| cel_string(c)).collect::<Vec<_>>().join(", ")
            )),
            format!("securityContext.capabilities.add may only hold: {}", caps.join(", ")),
        ),
        AdmissionRule::RequireReadOnlyRootFilesystem => (
            each(format!("{} && c.securityContext.readOnlyRootFilesystem == true", sc("readOnlyRootFilesystem"))),
            "every container must set securityContext.readOnlyRootFilesystem to true".to_string(),
        ),
        AdmissionRule::AllowVolumes(kinds) => {
            let denied: Vec<String> = crate::catalog::pod_spec::VOLUME_KINDS
                .iter()
                .filter(|k| !kinds.iter().any(|a| a == *k))
                .map(|k| format!("!has(v.{k})"))
                .collect();
            (
                Cel {
                    pod: vec![format!(
                        "!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, {})",
                        if denied.is_empty() { "true".to_string() } else { denied.join(" && ") }
                    )],
                    ..Cel::default()
                },
                format!("spec.volumes may only be of the kinds: {}", kinds.join(", ")),
            )
        }
        AdmissionRule::ForbidHostPaths(paths) => {
            let under: Vec<String> = paths
                .iter()
                .map(|p| {
                    if p.is_empty() {
                        "true".to_string()
                    } else {
                        format!(
                            "v.hostPath.path == {} || v.hostPath.path.startsWith({})",
                            cel_string(p),
                            cel_string(&format!("{p}/"))
                        )
                    }
                })
                .collect();
            let shown: Vec<&str> = paths.iter().map(|p| if p.is_empty() { "/" } else { p.as_str() }).collect();
            (
                Cel {
                    pod: vec![format!(
                        "!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, !has(v.hostPath) || !({}))",
                        under.join(" || ")
                    )],
                    ..Cel::default()
                },
                format!("no hostPath volume may be at or below: {}", shown.join(", ")),
            )
        }
        AdmissionRule::RequireSeccompProfile => (
            Cel {
                pod: Vec::new(),
                each: Some(format!(
                    "({}) ? c.securityContext.seccompProfile.type in ['RuntimeDefault', 'Localhost'] : ({} && variables.podSpec.securityContext.seccompProfile.type in ['RuntimeDefault', 'Localhost'])",
                    sc("seccompProfile"),
                    pod_sc("seccompProfile")
                )),
                workload_only: false,
            },
            "a seccomp profile is required: set securityContext.seccompProfile.type to RuntimeDefault or Localhost on the pod or on every container".to_string(),
        ),
        AdmissionRule::ImagesFrom(patterns) => (
            each(patterns.iter().map(|p| image_match(p)).collect::<Vec<_>>().join(" || ")),
            format!("every container image must match one of: {}", patterns.join(", ")),
        ),
        AdmissionRule::ForbidLatestTag => (
            each("c.image.contains('@') || (c.image.matches(':[^/:]+$') && !c.image.endsWith(':latest'))".to_string()),
            "images must carry a tag other than latest, or a digest: no container image may be untagged or :latest".to_string(),
        ),
        AdmissionRule::RequireImageDigest => (
            each("c.image.matches('@sha256:[0-9a-f]{64}$')".to_string()),
            "every container image must be pinned by digest: IMAGE@sha256:…".to_string(),
        ),
        AdmissionRule::RequireResourceLimits | AdmissionRule::RequireResourceRequests => {
            let which = if matches!(rule, AdmissionRule::RequireResourceLimits) { "limits" } else { "requests" };
            (
                Cel {
                    pod: Vec::new(),
                    each: Some(format!("has(c.resources) && has(c.resources.{which}) && 'cpu' in c.resources.{which} && 'memory' in c.resources.{which}")),
                    workload_only: true,
                },
                format!("every container and init container must set resources.{which}.cpu and resources.{which}.memory"),
            )
        }
        AdmissionRule::RequireLabels(keys) => (
            Cel {
                pod: vec![format!(
                    "has(variables.podMeta.labels) && [{}].all(k, k in variables.podMeta.labels)",
                    keys.iter().map(|k| cel_string(k)).collect::<Vec<_>>().join(", ")
                )],
                ..Cel::default()
            },
            format!("pods must carry the labels: {}", keys.join(", ")),
        ),
        AdmissionRule::RequireAnnotations(keys) => (
            Cel {
                pod: vec![format!(
                    "has(variables.podMeta.annotations) && [{}].all(k, k in variables.podMeta.annotations)",
                    keys.iter().map(|k| cel_string(k)).collect::<Vec<_>>().join(", ")
                )],
                ..Cel::default()
            },
            format!("pods must carry the annotations: {}", keys.join(", ")),
        ),
        AdmissionRule::Cel { expression, message } => (
            Cel {
                pod: vec![expression.clone()],
                ..Cel::default()
            },
            message.clone(),
        ),
    };
    vec![Check {
        cel,
        relaxed: None,
        message,
    }]
}
