//! Where admission blocks apply, read back from what each engine is given: the
//! ValidatingAdmissionPolicyBinding's namespace selector, the Kyverno ClusterPolicy's `match` and
//! `exclude`, the Gatekeeper Constraint's `namespaces`, `excludedNamespaces` and
//! `namespaceSelector`, each read as its engine documents it. For seeded random scopes over a set of
//! labelled namespaces, every engine must select exactly the namespaces the program means, worked
//! out here from the program's own terms (not from warden's IR).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use crate::common::Rng;
use crate::common::admission::{Labels, applies_in};
use serde_json::Value;
use std::collections::BTreeMap;
use warden::document::Target;
use warden::span::SourceMap;

const NAMES: [&str; 6] = [
    "shop",
    "payments",
    "kube-system",
    "monitoring",
    "dev",
    "gatekeeper-system",
];
const KEYS: [&str; 3] = ["tier", "team", "warden.dev/exempt"];
const VALUES: [&str; 3] = ["a", "b", "c"];

/// A requirement as the test writes it in warden and evaluates it itself.
#[derive(Clone, Debug)]
enum Req {
    Eq(&'static str, &'static str),
    In(&'static str, Vec<&'static str>),
    NotIn(&'static str, Vec<&'static str>),
    Exists(&'static str),
    Absent(&'static str),
}

impl Req {
    fn random(rng: &mut Rng) -> Req {
        let key = *rng.pick(&KEYS);
        let values = || -> Vec<&'static str> { VALUES.iter().copied().take(2).collect() };
        match rng.below(5) {
            0 => Req::Eq(key, VALUES[rng.below(VALUES.len())]),
            1 => Req::In(key, values()),
            2 => Req::NotIn(key, values()),
            3 => Req::Exists(key),
            _ => Req::Absent(key),
        }
    }

    fn key(&self) -> &'static str {
        match self {
            Req::Eq(k, _) | Req::In(k, _) | Req::NotIn(k, _) | Req::Exists(k) | Req::Absent(k) => k,
        }
    }

    fn warden(&self) -> String {
        match self {
            Req::Eq(k, v) => format!("{k} = {v}"),
            Req::In(k, vs) => format!("{k} in ({})", vs.join(", ")),
            Req::NotIn(k, vs) => format!("{k} notin ({})", vs.join(", ")),
            Req::Exists(k) => k.to_string(),
            Req::Absent(k) => format!("!{k}"),
        }
    }

    fn holds(&self, labels: &Labels) -> bool {
        match self {
            Req::Eq(k, v) => labels.get(*k).map(String::as_str) == Some(*v),
            Req::In(k, vs) => labels.get(*k).is_some_and(|v| vs.contains(&v.as_str())),
            Req::NotIn(k, vs) => labels.get(*k).is_none_or(|v| !vs.contains(&v.as_str())),
            Req::Exists(k) => labels.contains_key(*k),
            Req::Absent(k) => !labels.contains_key(*k),
        }
    }
}

#[derive(Debug)]
enum Include {
    Names(Vec<&'static str>),
    Labels(Vec<Req>),
    All,
}

#[derive(Debug)]
struct Scope {
    include: Include,
    except_names: Vec<&'static str>,
    except_labels: Vec<Req>,
}

impl Scope {
    fn random(rng: &mut Rng) -> Scope {
        let declared = declared_names();
        let include = match rng.below(3) {
            0 => {
                let mut names: Vec<&str> = declared
                    .iter()
                    .copied()
                    .filter(|_| rng.chance(50))
                    .collect();
                if names.is_empty() {
                    names.push(declared[0]);
                }
                Include::Names(names)
            }
            1 => {
                let mut reqs: Vec<Req> = (0..1 + rng.below(2)).map(|_| Req::random(rng)).collect();
                reqs.sort_by_key(Req::key);
                reqs.dedup_by_key(|r| r.key());
                Include::Labels(reqs)
            }
            _ => Include::All,
        };
        let except_names = NAMES.iter().copied().filter(|_| rng.chance(25)).collect();
        let except_labels = (0..rng.below(3)).map(|_| Req::random(rng)).collect();
        Scope {
            include,
            except_names,
            except_labels,
        }
    }

    /// The block `name` with this scope and `rules`.
    fn warden(&self, name: &str, rules: &str) -> String {
        let applies = match &self.include {
            Include::Names(n) => format!("namespace {}", n.join(", ")),
            Include::Labels(reqs) => format!(
                "namespaces({})",
                reqs.iter().map(Req::warden).collect::<Vec<_>>().join(", ")
            ),
            Include::All => "all namespaces".to_string(),
        };
        let mut out = format!("admission {name} {{\n  applies to workloads in {applies}\n");
        // Excluding a namespace the block names is warned about (W0510), not refused.
        if !self.except_names.is_empty() {
            out.push_str(&format!(
                "  except namespace {}\n",
                self.except_names.join(", ")
            ));
        }
        for r in &self.except_labels {
            out.push_str(&format!("  except namespaces({})\n", r.warden()));
        }
        out.push_str(rules);
        out.push_str("}\n");
        out
    }

    /// What the program means, in its own terms.
    fn applies(&self, name: &str, labels: &Labels) -> bool {
        let included = match &self.include {
            Include::Names(n) => n.contains(&name),
            Include::Labels(reqs) => reqs.iter().all(|r| r.holds(labels)),
            Include::All => true,
        };
        included
            && !self.except_names.contains(&name)
            && !self.except_labels.iter().any(|r| r.holds(labels))
    }
}

/// The namespaces the programs declare (those an `applies to … namespace` line may name).
fn declared_names() -> Vec<&'static str> {
    vec!["shop", "payments", "dev"]
}

/// The rules of the `i`th block: with a policy of its own, with that and the Pod Security policy
/// it shares with others, or with only the shared one (each binding must apply where the block
/// does).
fn rules(i: usize) -> &'static str {
    match i % 3 {
        0 => "  forbid privileged\n",
        1 => "  forbid privileged\n  pod-security baseline\n",
        _ => "  pod-security baseline\n",
    }
}

#[test]
fn every_engine_applies_a_block_where_the_program_says() {
    let mut rng = Rng(0x5c09_e202_6112_6000);
    // Namespaces as the API server labels them: their name, and some of the test's labels.
    let mut namespaces: Vec<(&str, Labels)> = Vec::new();
    for name in NAMES {
        for variant in 0..4 {
            let mut labels = Labels::new();
            labels.insert("kubernetes.io/metadata.name".into(), name.into());
            for key in KEYS {
                if (variant + key.len()) % 3 != 0 || rng.chance(30) {
                    labels.insert(key.into(), rng.pick(&VALUES).to_string());
                }
            }
            namespaces.push((name, labels));
        }
    }
    let (mut programs, mut decisions, mut applying) = (0, 0, 0);
    for round in 0..200 {
        let scopes: Vec<Scope> = (0..5).map(|_| Scope::random(&mut rng)).collect();
        let mut text =
            String::from("namespace shop { }\nnamespace payments { }\nnamespace dev { }\n");
        for (i, s) in scopes.iter().enumerate() {
            text.push_str(&s.warden(&format!("block-{i}"), rules(i)));
        }
        let docs =
            common::parsed_program(&text, &[Target::Vap, Target::Kyverno, Target::Gatekeeper]);
        programs += 1;
        for (i, scope) in scopes.iter().enumerate() {
            for (name, labels) in &namespaces {
                let want = scope.applies(name, labels);
                let got = applies_in(&docs, &format!("block-{i}"), name, labels);
                assert_eq!(
                    got,
                    [want; 3],
                    "round {round}, block-{i} in {name} {labels:?} (want {want}; [vap, kyverno, gatekeeper]):\n{}",
                    scope.warden("b", rules(i))
                );
                decisions += 1;
                applying += usize::from(want);
            }
        }
    }
    println!(
        "{programs} programs, {decisions} block×namespace decisions ({applying} applying), 3 engines agree with the program"
    );
    assert!(
        applying > decisions / 10 && applying < decisions * 9 / 10,
        "{applying}/{decisions}: the cases should mix"
    );
}

#[test]
fn an_exclusion_takes_one_requirement() {
    let mut sources = SourceMap::new();
    sources.add(
        "p.warden".to_string(),
        "admission a {\n  applies to workloads in all namespaces\n  except namespaces(tier = a, team = b)\n  forbid privileged\n}\n".to_string(),
    );
    let c = warden::compile(sources, &[Target::Vap]);
    assert!(c.documents.is_none());
    let text = warden::diag::render::human(&c.sources, &c.diagnostics);
    assert!(
        text.contains("error[E0510]: an exclusion takes one label requirement"),
        "{text}"
    );
}

#[test]
fn blocks_that_check_the_same_share_one_pod_security_policy() {
    let block = |name: &str, namespace: &str, rules: &str| {
        format!("admission {name} {{\n  applies to workloads in namespace {namespace}\n{rules}}}\n")
    };
    let program = |reason: &str| {
        let mut text = String::from("namespace shop { }\nnamespace dev { }\nnamespace ops { }\n");
        text += &block("a", "shop", "  pod-security restricted\n  mode deny\n");
        text += &block(
            "b",
            "dev",
            "  pod-security restricted\n  forbid privileged\n  mode warn\n",
        );
        text += &block(
            "c",
            "ops",
            &format!("  pod-security restricted\n  exempt runAsUser \"{reason}\"\n"),
        );
        text += &block("d", "ops", "  pod-security baseline\n  mode audit\n");
        common::parsed_program(&text, &[Target::Vap, Target::Gatekeeper])
    };
    let docs = program("the vendor image drops root itself (ticket 1)");
    let binding = |docs: &'_ BTreeMap<String, Value>, block: &str| -> Value {
        docs[&format!("vap/{block}.pod-security.binding.yaml")].clone()
    };
    let policy = |docs: &BTreeMap<String, Value>, block: &str| {
        binding(docs, block)["spec"]["policyName"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let shared: Vec<&String> = docs
        .keys()
        .filter(|p| p.starts_with("vap/pod-security/"))
        .collect();
    assert_eq!(shared.len(), 3, "{shared:?}");
    assert_eq!(policy(&docs, "a"), "warden-pod-security.restricted.v1.37");
    assert_eq!(policy(&docs, "b"), policy(&docs, "a"));
    assert_ne!(policy(&docs, "c"), policy(&docs, "a"));
    assert_eq!(policy(&docs, "d"), "warden-pod-security.baseline.v1.37");
    for (block, action) in [("a", "Deny"), ("b", "Warn"), ("c", "Deny"), ("d", "Audit")] {
        assert_eq!(
            binding(&docs, block)["spec"]["validationActions"],
            serde_json::json!([action]),
            "{block}"
        );
    }
    // Only a block with rules besides Pod Security has a policy of its own.
    let own: Vec<&str> = ["a", "b", "c", "d"]
        .into_iter()
        .filter(|b| docs.contains_key(&format!("vap/{b}.policy.yaml")))
        .collect();
    assert_eq!(own, ["b"]);
    // What is exempted is the policy's; why, the block's binding says. A new reason renames nothing.
    let exemptions = |doc: &Value| doc["metadata"]["annotations"]["warden.dev/exemptions"].clone();
    let c_policy = docs
        .values()
        .find(|d| d["metadata"]["name"] == policy(&docs, "c").as_str())
        .unwrap();
    assert_eq!(exemptions(c_policy), "runAsUser");
    assert_eq!(
        exemptions(&binding(&docs, "c")),
        "runAsUser: the vendor image drops root itself (ticket 1)"
    );
    let renamed = program("another reason");
    assert_eq!(policy(&renamed, "c"), policy(&docs, "c"));
    assert_eq!(
        exemptions(&binding(&renamed, "c")),
        "runAsUser: another reason"
    );

    // Gatekeeper likewise: one template per what it checks, a constraint of its kind per block.
    let constraint = |docs: &'_ BTreeMap<String, Value>, block: &str| -> Value {
        docs[&format!("gatekeeper/{block}.pod-security.constraint.yaml")].clone()
    };
    let kind = |docs: &BTreeMap<String, Value>, block: &str| {
        constraint(docs, block)["kind"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let templates: Vec<&String> = docs
        .keys()
        .filter(|p| p.starts_with("gatekeeper/pod-security/"))
        .collect();
    assert_eq!(templates.len(), 3, "{templates:?}");
    assert_eq!(kind(&docs, "a"), "WardenPodSecurityRestrictedV1Dot37");
    assert_eq!(kind(&docs, "b"), kind(&docs, "a"));
    assert_ne!(kind(&docs, "c"), kind(&docs, "a"));
    assert_eq!(kind(&docs, "d"), "WardenPodSecurityBaselineV1Dot37");
    for (block, action) in [("a", "deny"), ("b", "warn"), ("c", "deny"), ("d", "dryrun")] {
        assert_eq!(
            constraint(&docs, block)["spec"]["enforcementAction"],
            action,
            "{block}"
        );
        assert_eq!(constraint(&docs, block)["metadata"]["name"], block);
    }
    let own: Vec<&str> = ["a", "b", "c", "d"]
        .into_iter()
        .filter(|b| docs.contains_key(&format!("gatekeeper/{b}.template.yaml")))
        .collect();
    assert_eq!(own, ["b"]);
    assert_eq!(
        exemptions(&constraint(&docs, "c")),
        "runAsUser: the vendor image drops root itself (ticket 1)"
    );
    assert_eq!(kind(&renamed, "c"), kind(&docs, "c"));
}

#[test]
fn blocks_with_only_pod_security_have_no_template_to_name_alike() {
    // `pod-limits` and `podlimits` would need one template (E0903) if each had one of its own;
    // with only `pod-security`, each is a constraint of the shared template, named after it.
    let docs = common::parsed_program(
        "namespace apps { }\nadmission pod-limits {\n  applies to workloads in namespace apps\n  pod-security baseline\n}\nadmission podlimits {\n  applies to workloads in namespace apps\n  pod-security baseline\n}\n",
        &[Target::Gatekeeper],
    );
    let constraints: Vec<(&str, &str)> = docs
        .values()
        .filter(|d| d["apiVersion"] == "constraints.gatekeeper.sh/v1beta1")
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        constraints,
        [
            ("WardenPodSecurityBaselineV1Dot37", "pod-limits"),
            ("WardenPodSecurityBaselineV1Dot37", "podlimits")
        ]
    );
}
