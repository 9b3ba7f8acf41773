//! The pieces both network targets write: label selectors and address blocks, as templates read
//! them.

use crate::ir::{AdmissionScope, IpBlock, Operator, Selector};
use serde::Serialize;

/// A label selector as the templates write it: `matchLabels`, then `matchExpressions`.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone, Default)]
pub(super) struct SelectorView {
    pub match_labels: Vec<(String, String)>,
    pub expressions: Vec<ExpressionView>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct ExpressionView {
    pub key: String,
    pub operator: &'static str,
    pub values: Vec<String>,
}

/// `sel` with every key written as `prefix` + key.
pub(super) fn selector_view(sel: &Selector, prefix: &str) -> SelectorView {
    SelectorView {
        match_labels: sel
            .match_labels
            .iter()
            .map(|(k, v)| (format!("{prefix}{k}"), v.clone()))
            .collect(),
        expressions: sel
            .expressions
            .iter()
            .map(|e| ExpressionView {
                key: format!("{prefix}{}", e.key),
                operator: e.operator.k8s(),
                values: e.values.clone(),
            })
            .collect(),
    }
}

impl SelectorView {
    /// Both selectors' requirements (their keys never meet: callers prefix them apart).
    pub fn and(mut self, other: SelectorView) -> SelectorView {
        self.match_labels.extend(other.match_labels);
        self.match_labels.sort();
        self.expressions.extend(other.expressions);
        self.expressions.sort();
        self
    }
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct IpBlockView {
    pub cidr: String,
    pub except: Vec<String>,
}

pub(super) fn ip_block_view(b: &IpBlock) -> IpBlockView {
    IpBlockView {
        cidr: b.cidr.to_string(),
        except: b.except.iter().map(ToString::to_string).collect(),
    }
}

/// A selector serialized in Kubernetes' own shape (`matchLabels` map, `matchExpressions` list,
/// empty parts left out), for templates that write it as one JSON value.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct K8sSelector(pub SelectorView);

impl Serialize for K8sSelector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct Expression<'a> {
            key: &'a str,
            operator: &'a str,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            values: &'a [String],
        }
        let sel = &self.0;
        let parts =
            usize::from(!sel.match_labels.is_empty()) + usize::from(!sel.expressions.is_empty());
        let mut map = serializer.serialize_map(Some(parts))?;
        if !sel.match_labels.is_empty() {
            let labels: std::collections::BTreeMap<&str, &str> = sel
                .match_labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            map.serialize_entry("matchLabels", &labels)?;
        }
        if !sel.expressions.is_empty() {
            let list: Vec<Expression<'_>> = sel
                .expressions
                .iter()
                .map(|e| Expression {
                    key: &e.key,
                    operator: e.operator,
                    values: &e.values,
                })
                .collect();
            map.serialize_entry("matchExpressions", &list)?;
        }
        map.end()
    }
}

/// The label the API server puts on every namespace, holding its name.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where an admission block applies, in the pieces each engine writes.
#[derive(Serialize)]
pub(super) struct ScopeView {
    /// The namespaces by name (empty: the block selects by label).
    pub namespaces: Vec<String>,
    pub excluded_namespaces: Vec<String>,
    /// The `applies to` selector, when not empty (Kyverno).
    pub labels: Option<K8sSelector>,
    /// The exclusions by label as written (Kyverno).
    pub except_labels: Vec<K8sSelector>,
    /// The selector with the exclusions by label negated into it, when not empty (Gatekeeper).
    pub selector: Option<K8sSelector>,
    /// All of the scope as one namespace selector, names as `kubernetes.io/metadata.name`
    /// (ValidatingAdmissionPolicyBinding, which has no list of names).
    pub one_selector: K8sSelector,
}

/// `sel`, one requirement, negated: what a namespace must satisfy not to be left out.
fn negated(sel: &Selector) -> Vec<ExpressionView> {
    let labels = sel.match_labels.iter().map(|(k, v)| ExpressionView {
        key: k.clone(),
        operator: Operator::NotIn.k8s(),
        values: vec![v.clone()],
    });
    let expressions = sel.expressions.iter().map(|e| ExpressionView {
        key: e.key.clone(),
        operator: match e.operator {
            Operator::In => Operator::NotIn,
            Operator::NotIn => Operator::In,
            Operator::Exists => Operator::DoesNotExist,
            Operator::DoesNotExist => Operator::Exists,
        }
        .k8s(),
        values: e.values.clone(),
    });
    labels.chain(expressions).collect()
}

pub(super) fn scope_view(scope: &AdmissionScope) -> ScopeView {
    let non_empty = |v: SelectorView| {
        (!v.match_labels.is_empty() || !v.expressions.is_empty()).then_some(K8sSelector(v))
    };
    let labels = selector_view(&scope.labels, "");
    let mut selector = labels.clone();
    selector
        .expressions
        .extend(scope.except_labels.iter().flat_map(negated));
    selector.expressions.sort();
    let mut one = selector.clone();
    if let Some(names) = &scope.names {
        one.expressions.push(ExpressionView {
            key: NAME_LABEL.to_string(),
            operator: Operator::In.k8s(),
            values: names.iter().cloned().collect(),
        });
    }
    if !scope.except_names.is_empty() {
        one.expressions.push(ExpressionView {
            key: NAME_LABEL.to_string(),
            operator: Operator::NotIn.k8s(),
            values: scope.except_names.iter().cloned().collect(),
        });
    }
    one.expressions.sort();
    ScopeView {
        namespaces: scope.names.iter().flatten().cloned().collect(),
        excluded_namespaces: scope.except_names.iter().cloned().collect(),
        labels: non_empty(labels),
        except_labels: scope
            .except_labels
            .iter()
            .map(|s| K8sSelector(selector_view(s, "")))
            .collect(),
        selector: non_empty(selector),
        one_selector: K8sSelector(one),
    }
}
