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

mod common;

use common::Rng;
use serde_json::Value;
use std::collections::BTreeMap;
use warden::lower::Target;
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

type Labels = BTreeMap<String, String>;

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

    fn warden(&self, name: &str) -> String {
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
        out.push_str("  forbid privileged\n}\n");
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

/// A Kubernetes LabelSelector (`matchLabels`, `matchExpressions`), as the API server evaluates it.
fn selects(selector: &Value, labels: &Labels) -> bool {
    let by_label = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let by_expression = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap();
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap())
                .collect();
            let value = labels.get(key).map(String::as_str);
            match e["operator"].as_str().unwrap() {
                "In" => value.is_some_and(|v| values.contains(&v)),
                "NotIn" => value.is_none_or(|v| !values.contains(&v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("operator {other}"),
            }
        });
    by_label && by_expression
}

/// Gatekeeper's namespace patterns: a name, with `*` allowed at either end.
fn gatekeeper_name(pattern: &str, name: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => name.contains(rest.trim_end_matches('*')),
        (Some(rest), _) => name.ends_with(rest),
        (_, Some(rest)) => name.starts_with(rest),
        _ => pattern == name,
    }
}

fn names(v: &Value) -> Option<Vec<&str>> {
    v.as_array()
        .map(|a| a.iter().map(|n| n.as_str().unwrap()).collect())
}

/// The three engines' readings of one namespace.
fn engines(docs: &BTreeMap<String, Value>, block: &str, name: &str, labels: &Labels) -> [bool; 3] {
    let binding = &docs[&format!("vap/{block}.binding.yaml")];
    let vap = match &binding["spec"]["matchResources"]["namespaceSelector"] {
        Value::Null => true,
        sel => selects(sel, labels),
    };

    let policy = &docs[&format!("kyverno/{block}.yaml")];
    let rule = &policy["spec"]["rules"][0];
    let filter_holds = |f: &Value| {
        let r = &f["resources"];
        names(&r["namespaces"]).is_none_or(|n| n.iter().any(|p| gatekeeper_name(p, name)))
            && (r["namespaceSelector"].is_null() || selects(&r["namespaceSelector"], labels))
    };
    let matched = rule["match"]["any"]
        .as_array()
        .unwrap()
        .iter()
        .any(filter_holds);
    let excluded = rule["exclude"]["any"]
        .as_array()
        .into_iter()
        .flatten()
        .any(filter_holds);
    let kyverno = matched && !excluded;

    let constraint = &docs[&format!("gatekeeper/{block}.constraint.yaml")];
    let m = &constraint["spec"]["match"];
    let gatekeeper = names(&m["namespaces"])
        .is_none_or(|n| n.iter().any(|p| gatekeeper_name(p, name)))
        && !names(&m["excludedNamespaces"])
            .is_some_and(|n| n.iter().any(|p| gatekeeper_name(p, name)))
        && (m["namespaceSelector"].is_null() || selects(&m["namespaceSelector"], labels));
    [vap, kyverno, gatekeeper]
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
            text.push_str(&s.warden(&format!("block-{i}")));
        }
        let mut sources = SourceMap::new();
        sources.add("p.warden".to_string(), text.clone());
        let c = warden::compile(sources, &[Target::Vap, Target::Kyverno, Target::Gatekeeper]);
        let docs = c.documents.unwrap_or_else(|| {
            panic!(
                "round {round}:\n{text}\n{}",
                warden::diag::render::human(&c.sources, &c.diagnostics)
            )
        });
        let docs: BTreeMap<String, Value> = docs
            .iter()
            .map(|d| (d.path.clone(), warden::validate::parse(d).unwrap()))
            .collect();
        programs += 1;
        for (i, scope) in scopes.iter().enumerate() {
            for (name, labels) in &namespaces {
                let want = scope.applies(name, labels);
                let got = engines(&docs, &format!("block-{i}"), name, labels);
                assert_eq!(
                    got,
                    [want; 3],
                    "round {round}, block-{i} in {name} {labels:?} (want {want}; [vap, kyverno, gatekeeper]):\n{}",
                    scope.warden("b")
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
