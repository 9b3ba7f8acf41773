//! The regions against brute force: every pod over the values the selectors name (and one they do
//! not, and none) is in a region whose witness the selectors treat as they treat the pod, and no
//! region is empty.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use super::{TooMany, compatible, regions, within};
use crate::ir::{Expression, Operator, Selector};
use std::collections::{BTreeMap, BTreeSet};

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

const KEYS: [&str; 4] = ["app", "tier", "track", "gpu"];
const VALUES: [&str; 4] = ["a", "b", "other", "true"];

fn random_selector(rng: &mut Rng) -> Selector {
    let mut sel = Selector::default();
    for key in KEYS {
        if rng.below(3) != 0 {
            continue;
        }
        let mut values: Vec<String> = (0..1 + rng.below(2))
            .map(|_| VALUES[rng.below(VALUES.len())].to_string())
            .collect();
        values.sort();
        values.dedup();
        let operator = match rng.below(5) {
            0 => {
                sel.match_labels.push((key.to_string(), values[0].clone()));
                continue;
            }
            1 => Operator::In,
            2 => Operator::NotIn,
            3 => Operator::Exists,
            _ => Operator::DoesNotExist,
        };
        if matches!(operator, Operator::Exists | Operator::DoesNotExist) {
            values.clear();
        }
        sel.expressions.push(Expression {
            key: key.to_string(),
            operator,
            values,
        });
    }
    sel.match_labels.sort();
    sel.expressions.sort();
    sel
}

/// Every pod over the keys, each absent or one of the named values or a value nobody names.
fn every_pod() -> Vec<BTreeMap<String, String>> {
    let mut pods = vec![BTreeMap::new()];
    for key in KEYS {
        let mut next = Vec::new();
        for pod in &pods {
            next.push(pod.clone());
            for v in VALUES.iter().chain(&["unnamed"]) {
                let mut p = pod.clone();
                p.insert(key.to_string(), v.to_string());
                next.push(p);
            }
        }
        pods = next;
    }
    pods
}

#[test]
fn regions_are_every_combination_the_selectors_can_make() {
    let pods = every_pod();
    let mut rng = Rng(0x5eed_0027);
    let mut split = 0;
    for round in 0..400 {
        let base = random_selector(&mut rng);
        let others: Vec<Selector> = (0..1 + rng.below(4))
            .map(|_| random_selector(&mut rng))
            .collect();
        let refs: Vec<&Selector> = others.iter().collect();
        let found = regions(&base, &refs, 10_000).unwrap();
        let expected: BTreeSet<Vec<bool>> = pods
            .iter()
            .filter(|p| base.matches(p))
            .map(|p| others.iter().map(|o| o.matches(p)).collect())
            .collect();
        let got: BTreeSet<Vec<bool>> = found.iter().map(|r| r.selected.clone()).collect();
        assert_eq!(
            got, expected,
            "round {round}: base {base:?}, others {others:?}"
        );
        assert_eq!(got.len(), found.len(), "round {round}: a region twice");
        for r in &found {
            assert!(
                base.matches(&r.labels),
                "round {round}: witness {:?}",
                r.labels
            );
            let actual: Vec<bool> = others.iter().map(|o| o.matches(&r.labels)).collect();
            assert_eq!(actual, r.selected, "round {round}: witness {:?}", r.labels);
        }
        if found.len() > 1 {
            split += 1;
        }
        for o in &others {
            let meets = pods.iter().any(|p| base.matches(p) && o.matches(p));
            assert_eq!(
                compatible(&base, o),
                meets,
                "round {round}: {base:?} and {o:?}"
            );
            let inside = pods
                .iter()
                .filter(|p| base.matches(p))
                .all(|p| o.matches(p));
            assert_eq!(
                within(&base, o),
                inside,
                "round {round}: {base:?} within {o:?}"
            );
        }
    }
    assert!(split > 100, "only {split} rounds had more than one region");
}

#[test]
fn the_limit_is_said_not_sampled() {
    // Ten independent labels make 2^10 regions of the pods of `app = "x"`.
    let base = Selector {
        match_labels: vec![("app".to_string(), "x".to_string())],
        expressions: Vec::new(),
    };
    let others: Vec<Selector> = (0..10)
        .map(|i| Selector {
            match_labels: vec![(format!("k{i}"), "v".to_string())],
            expressions: Vec::new(),
        })
        .collect();
    let refs: Vec<&Selector> = others.iter().collect();
    assert_eq!(regions(&base, &refs, 1024).unwrap().len(), 1024);
    assert_eq!(regions(&base, &refs, 1000), Err(TooMany { limit: 1000 }));
}

#[test]
fn a_nested_selector_splits_its_parent_in_two() {
    let reviews = Selector {
        match_labels: vec![("app".to_string(), "reviews".to_string())],
        expressions: Vec::new(),
    };
    let v2 = Selector {
        match_labels: vec![
            ("app".to_string(), "reviews".to_string()),
            ("version".to_string(), "v2".to_string()),
        ],
        expressions: Vec::new(),
    };
    let found = regions(&reviews, &[&v2], 16).unwrap();
    let witnesses: Vec<String> = found
        .iter()
        .map(|r| format!("{:?} {:?}", r.labels, r.selected))
        .collect();
    assert_eq!(
        witnesses,
        [
            r#"{"app": "reviews"} [false]"#,
            r#"{"app": "reviews", "version": "v2"} [true]"#
        ]
    );
    // Seen from the nested one, nothing splits it.
    assert_eq!(regions(&v2, &[&reviews], 16).unwrap().len(), 1);
}

#[test]
fn candidates_include_every_pair_that_meets_once() {
    let mut rng = Rng(0x0c0f_fee5);
    for round in 0..200 {
        let selectors: Vec<Selector> = (0..2 + rng.below(30))
            .map(|_| random_selector(&mut rng))
            .collect();
        let candidates = super::Candidates::new(selectors.iter().collect());
        let mut found: Vec<(usize, usize)> = Vec::new();
        candidates.pairs(|i, j| {
            found.push((i.min(j), i.max(j)));
            true
        });
        let unique: BTreeSet<(usize, usize)> = found.iter().copied().collect();
        assert_eq!(unique.len(), found.len(), "round {round}: a pair twice");
        for i in 0..selectors.len() {
            let seen: BTreeSet<usize> = candidates.of(i).collect();
            for j in 0..selectors.len() {
                if i != j && compatible(&selectors[i], &selectors[j]) {
                    assert!(
                        unique.contains(&(i.min(j), i.max(j))) && seen.contains(&j),
                        "round {round}: {:?} and {:?} meet",
                        selectors[i],
                        selectors[j]
                    );
                }
            }
        }
    }
}
