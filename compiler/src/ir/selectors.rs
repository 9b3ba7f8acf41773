//! Label selectors, as Kubernetes evaluates them.

use std::collections::BTreeMap;

/// A label selector: every pod whose labels satisfy all of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selector {
    /// INVARIANT: sorted by key, one per key. A vector rather than a map: almost every selector
    /// has one or two labels, and a map's smallest node is eleven entries wide. Sorted, it
    /// compares and orders as the map did.
    pub match_labels: Vec<(String, String)>,
    /// INVARIANT: sorted by key, one per key, no key also in `match_labels`; `key in (v)` with one
    /// value is kept in `match_labels`, so that selectors meaning the same compare equal.
    pub expressions: Vec<Expression>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expression {
    pub key: String,
    pub operator: Operator,
    /// INVARIANT: sorted and deduplicated; empty for `Exists` and `DoesNotExist`.
    pub values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Operator {
    pub fn k8s(self) -> &'static str {
        match self {
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Exists => "Exists",
            Operator::DoesNotExist => "DoesNotExist",
        }
    }
}

impl Selector {
    /// Whether a pod with `labels` satisfies every requirement, as Kubernetes evaluates them.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_by(|k| labels.get(k).map(String::as_str))
    }

    /// `matches` for labels read through `label`, which needs no map of them.
    pub fn matches_by<'l>(&self, label: impl Fn(&str) -> Option<&'l str>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| label(k) == Some(v.as_str()))
            && self.expressions.iter().all(|e| {
                let value = label(&e.key);
                match e.operator {
                    Operator::In => value.is_some_and(|v| e.values.iter().any(|x| x == v)),
                    Operator::NotIn => value.is_none_or(|v| e.values.iter().all(|x| x != v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.expressions.is_empty()
    }

    /// The labels of a pod this selector matches, with as few labels as it takes: the pod that
    /// stands for a service's pods when a question names the service.
    pub fn example(&self) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = self.match_labels.iter().cloned().collect();
        for e in &self.expressions {
            match e.operator {
                Operator::In => {
                    if let Some(v) = e.values.first() {
                        labels.insert(e.key.clone(), v.clone());
                    }
                }
                Operator::Exists => {
                    labels.insert(e.key.clone(), "true".to_string());
                }
                Operator::NotIn | Operator::DoesNotExist => {}
            }
        }
        labels
    }
}
