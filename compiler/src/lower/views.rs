//! The pieces both network targets write: label selectors and address blocks, as templates read
//! them.
//!
//! Views borrow the IR's names and labels: one policy per service names each of its peers'
//! selectors, and a copy of every label for each view would cost more than writing it.

use crate::ir::{AdmissionScope, Operator, Selector};
use serde::Serialize;
use std::borrow::Cow;
use std::cmp::Ordering;

/// A label key as a target writes it: the target's prefix for it (Cilium's `k8s:`, or none), then
/// the key. Keys compare and print as that one string, as they did when each was copied into one.
#[derive(Clone, Copy, Debug)]
pub(super) struct Key<'a> {
    pub prefix: &'static str,
    pub name: &'a str,
}

impl<'a> Key<'a> {
    pub fn plain(name: &'a str) -> Self {
        Key { prefix: "", name }
    }

    fn bytes(self) -> impl Iterator<Item = u8> + 'a {
        self.prefix.bytes().chain(self.name.bytes())
    }

    /// Appends the key quoted, as `render::push_quoted` quotes a value.
    pub fn push_quoted(self, out: &mut String) {
        super::render::push_quoted_parts(out, self.prefix, self.name, true);
    }

    /// The key as one string: borrowed where it has no prefix.
    pub fn joined(self) -> Cow<'a, str> {
        if self.prefix.is_empty() {
            Cow::Borrowed(self.name)
        } else {
            Cow::Owned(format!("{}{}", self.prefix, self.name))
        }
    }
}

impl Ord for Key<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.prefix == other.prefix {
            self.name.cmp(other.name)
        } else {
            self.bytes().cmp(other.bytes())
        }
    }
}

impl PartialOrd for Key<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key<'_> {}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.prefix)?;
        f.write_str(self.name)
    }
}

impl Serialize for Key<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.joined())
    }
}

/// A label selector as the targets write it: `matchLabels`, then `matchExpressions`.
/// INVARIANT: `match_labels` and `expressions` sorted, one per key (as the IR's selectors are).
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Default)]
pub(super) struct SelectorView<'a> {
    pub match_labels: Vec<(Key<'a>, &'a str)>,
    pub expressions: Vec<ExpressionView<'a>>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct ExpressionView<'a> {
    pub key: Key<'a>,
    pub operator: &'static str,
    pub values: Cow<'a, [String]>,
}

/// Two sorted lists as one, sorted: what sorting them together gives, without the sort (a
/// service's selector and the label of its namespace, for every rule that names the service).
fn merged<T: Ord>(a: Vec<T>, b: Vec<T>) -> Vec<T> {
    debug_assert!(a.is_sorted() && b.is_sorted(), "selectors are sorted");
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x <= y => a.next(),
            (_, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    out
}

/// `sel` with every key written as `prefix` + key.
pub(super) fn selector_view<'a>(sel: &'a Selector, prefix: &'static str) -> SelectorView<'a> {
    SelectorView {
        match_labels: sel
            .match_labels
            .iter()
            .map(|(k, v)| (Key { prefix, name: k }, v.as_str()))
            .collect(),
        expressions: sel
            .expressions
            .iter()
            .map(|e| ExpressionView {
                key: Key {
                    prefix,
                    name: &e.key,
                },
                operator: e.operator.k8s(),
                values: Cow::Borrowed(&e.values),
            })
            .collect(),
    }
}

impl<'a> SelectorView<'a> {
    /// Both selectors' requirements (their keys never meet: callers prefix them apart).
    pub fn and(self, other: SelectorView<'a>) -> SelectorView<'a> {
        SelectorView {
            match_labels: merged(self.match_labels, other.match_labels),
            expressions: merged(self.expressions, other.expressions),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.expressions.is_empty()
    }
}

/// An address block as the targets write it, its addresses as text (and ordered as text).
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct IpBlockView<'a> {
    pub cidr: Cow<'a, str>,
    pub except: Vec<Cow<'a, str>>,
}

/// A selector serialized in Kubernetes' own shape (`matchLabels` map, `matchExpressions` list,
/// empty parts left out), for templates that write it as one JSON value.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct K8sSelector<'a>(pub SelectorView<'a>);

impl Serialize for K8sSelector<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct Expression<'a> {
            key: Key<'a>,
            operator: &'a str,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            values: &'a [String],
        }
        /// The labels in their order, which is the keys' (sorted, each once).
        struct Labels<'s, 'a>(&'s [(Key<'a>, &'a str)]);
        impl Serialize for Labels<'_, '_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
            }
        }
        let sel = &self.0;
        let parts =
            usize::from(!sel.match_labels.is_empty()) + usize::from(!sel.expressions.is_empty());
        let mut map = serializer.serialize_map(Some(parts))?;
        if !sel.match_labels.is_empty() {
            map.serialize_entry("matchLabels", &Labels(&sel.match_labels))?;
        }
        if !sel.expressions.is_empty() {
            let list: Vec<Expression<'_>> = sel
                .expressions
                .iter()
                .map(|e| Expression {
                    key: e.key,
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
pub(super) struct ScopeView<'a> {
    /// The namespaces by name (empty: the block selects by label).
    pub namespaces: Vec<&'a str>,
    pub excluded_namespaces: Vec<&'a str>,
    /// The `applies to` selector, when not empty (Kyverno).
    pub labels: Option<K8sSelector<'a>>,
    /// The exclusions by label as written (Kyverno).
    pub except_labels: Vec<K8sSelector<'a>>,
    /// The selector with the exclusions by label negated into it, when not empty (Gatekeeper).
    pub selector: Option<K8sSelector<'a>>,
    /// All of the scope as one namespace selector, names as `kubernetes.io/metadata.name`
    /// (ValidatingAdmissionPolicyBinding, which has no list of names).
    pub one_selector: K8sSelector<'a>,
}

/// `sel`, one requirement, negated: what a namespace must satisfy not to be left out.
fn negated(sel: &Selector) -> Vec<ExpressionView<'_>> {
    let labels = sel.match_labels.iter().map(|(k, v)| ExpressionView {
        key: Key::plain(k),
        operator: Operator::NotIn.k8s(),
        values: Cow::Owned(vec![v.clone()]),
    });
    let expressions = sel.expressions.iter().map(|e| ExpressionView {
        key: Key::plain(&e.key),
        operator: match e.operator {
            Operator::In => Operator::NotIn,
            Operator::NotIn => Operator::In,
            Operator::Exists => Operator::DoesNotExist,
            Operator::DoesNotExist => Operator::Exists,
        }
        .k8s(),
        values: Cow::Borrowed(&e.values),
    });
    labels.chain(expressions).collect()
}

pub(super) fn scope_view(scope: &AdmissionScope) -> ScopeView<'_> {
    fn non_empty(v: SelectorView<'_>) -> Option<K8sSelector<'_>> {
        (!v.is_empty()).then_some(K8sSelector(v))
    }
    let labels = selector_view(&scope.labels, "");
    let mut selector = labels.clone();
    selector
        .expressions
        .extend(scope.except_labels.iter().flat_map(negated));
    selector.expressions.sort();
    let mut one = selector.clone();
    if let Some(names) = &scope.names {
        one.expressions.push(ExpressionView {
            key: Key::plain(NAME_LABEL),
            operator: Operator::In.k8s(),
            values: Cow::Owned(names.iter().cloned().collect()),
        });
    }
    if !scope.except_names.is_empty() {
        one.expressions.push(ExpressionView {
            key: Key::plain(NAME_LABEL),
            operator: Operator::NotIn.k8s(),
            values: Cow::Owned(scope.except_names.iter().cloned().collect()),
        });
    }
    one.expressions.sort();
    ScopeView {
        namespaces: scope.names.iter().flatten().map(String::as_str).collect(),
        excluded_namespaces: scope.except_names.iter().map(String::as_str).collect(),
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
