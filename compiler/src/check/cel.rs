//! `require cel "EXPRESSION" message "…"`: a rule in raw CEL, parsed by the `cel` crate and
//! type-checked here against the pod spec's schema (`compiler/catalog/pod-schema.json`), so that
//! a misspelt field or a comparison of a string with a number is an error at compile time, not a
//! policy the API server rejects or, worse, one that never fails.
//!
//! ```text
//! require cel "variables.containers.all(c, c.image.startsWith('registry.example.com/'))" message "…"  // accepted
//! require cel "variables.podSpec.hostNetwrk == false" message "…"   // E0515 no field `hostNetwrk`; did you mean `hostNetwork`?
//! require cel "variables.podSpec.priority" message "…"              // E0515 an int, not a condition
//! ```
//!
//! The check covers standard CEL and its macros, which every engine warden's output meets
//! implements; the Kubernetes extension libraries (`lowerAscii`, `quantity`, …) are refused so
//! that the generated policy means the same under every CEL engine the suite runs.

use super::Checker;
use crate::ast::Ident;
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::AdmissionRule;
use crate::span::Span;
use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, operators};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Helps for mismatched types.
const SAME_TYPE: &str =
    "compare values of one type: quote a string, or convert with int(), string()";
const STANDARD: &str = "warden keeps admission CEL to standard CEL and its macros, which every engine evaluates alike: size, startsWith, endsWith, contains, matches, conversions, has, all, exists, exists_one, map, filter";
const MACROS: &str =
    "the macros `all`, `exists`, `exists_one`, `map` and `filter` take a list or a map";

/// Longer expressions are refused: the API server's cost budget would refuse them anyway, and
/// the parser recurses.
const MAX_LEN: usize = 10_000;
/// Brackets nested deeper are refused: no rule needs them, and the parser recurses per level.
const MAX_DEPTH: usize = 32;
/// The stack the parser and the check run on: measured to hold MAX_LEN and MAX_DEPTH in a debug
/// build with room to spare (a 4,000-deep `a.a.a…` chain needs about 10 MiB there).
const STACK: usize = 256 << 20;

/// Where the name an error is about lies from its expression's offset.
#[derive(Clone, Copy, Debug)]
enum Name {
    After(usize),
    Before(usize),
}

#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Null,
    List(Box<Ty>),
    Map(Box<Ty>),
    Object(String),
    /// A type only known at run time: everything is allowed on it.
    Dyn,
    /// A type name used as a value (`int`, `string`, …).
    Type,
}

impl Ty {
    fn name(&self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Uint => "uint".into(),
            Ty::Double => "double".into(),
            Ty::String => "string".into(),
            Ty::Bytes => "bytes".into(),
            Ty::Null => "null".into(),
            Ty::List(t) => format!("list({})", t.name()),
            Ty::Map(t) => format!("map(string, {})", t.name()),
            Ty::Object(o) => o.clone(),
            Ty::Dyn => "dyn".into(),
            Ty::Type => "type".into(),
        }
    }

    fn numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double | Ty::Dyn)
    }

    fn is(&self, want: &Ty) -> bool {
        *self == Ty::Dyn || self == want
    }
}

/// The schema's field types, by kind, read once.
fn schema() -> &'static BTreeMap<String, BTreeMap<String, String>> {
    static SCHEMA: OnceLock<BTreeMap<String, BTreeMap<String, String>>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The file is compiled in and checked by the suite; an unreadable one leaves every
        // object without fields, which the suite's examples would catch.
        serde_json::from_str(include_str!("../../catalog/pod-schema.json")).unwrap_or_default()
    })
}

fn parse_ty(s: &str) -> Ty {
    if let Some(rest) = s.strip_prefix("list:") {
        return Ty::List(Box::new(parse_ty(rest)));
    }
    if let Some(rest) = s.strip_prefix("map:") {
        return Ty::Map(Box::new(parse_ty(rest)));
    }
    if let Some(rest) = s.strip_prefix("obj:") {
        return Ty::Object(rest.to_string());
    }
    match s {
        "string" => Ty::String,
        "int" => Ty::Int,
        "double" => Ty::Double,
        "bool" => Ty::Bool,
        _ => Ty::Dyn,
    }
}

/// The variables a policy's expressions see (see `lower::vap`).
fn variables() -> BTreeMap<&'static str, Ty> {
    let container = || Ty::List(Box::new(Ty::Object("Container".into())));
    BTreeMap::from([
        ("podSpec", Ty::Object("PodSpec".into())),
        ("podMeta", Ty::Object("ObjectMeta".into())),
        ("containers", container()),
        ("workloadContainers", container()),
    ])
}

/// The functions of standard CEL warden accepts, as (name, receiver-style).
const STRING_METHODS: [&str; 4] = ["startsWith", "endsWith", "contains", "matches"];
const CONVERSIONS: [(&str, Ty); 6] = [
    ("int", Ty::Int),
    ("uint", Ty::Uint),
    ("double", Ty::Double),
    ("string", Ty::String),
    ("bytes", Ty::Bytes),
    ("bool", Ty::Bool),
];

struct TypeCheck<'s> {
    source: &'s cel::common::ast::SourceInfo,
    scopes: Vec<(String, Ty)>,
    /// The first error: its message, a help, the expression's id, and where the name it is
    /// about lies from the id's offset (a field's after its `.`, a function's before its `(`).
    error: Option<(String, Option<String>, u64, Option<Name>)>,
}

impl TypeCheck<'_> {
    fn fail(&mut self, id: u64, message: String, help: Option<String>) -> Ty {
        if self.error.is_none() {
            self.error = Some((message, help, id, None));
        }
        Ty::Dyn
    }

    fn fail_field(&mut self, id: u64, field: &str, message: String, help: Option<String>) -> Ty {
        if self.error.is_none() {
            self.error = Some((message, help, id, Some(Name::After(field.len()))));
        }
        Ty::Dyn
    }

    fn fail_call(&mut self, id: u64, name: &str, message: String, help: Option<String>) -> Ty {
        if self.error.is_none() {
            self.error = Some((message, help, id, Some(Name::Before(name.len()))));
        }
        Ty::Dyn
    }

    fn lookup(&self, name: &str) -> Option<Ty> {
        self.scopes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    }

    fn expr(&mut self, e: &IdedExpr) -> Ty {
        if self.error.is_some() {
            return Ty::Dyn;
        }
        match &e.expr {
            Expr::Literal(l) => match l {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::Null => Ty::Null,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::UInt(_) => Ty::Uint,
            },
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(s) => {
                // `variables.NAME` is a variable, not a field.
                if let Expr::Ident(root) = &s.operand.expr
                    && root == "variables"
                    && self.lookup("variables").is_none()
                {
                    return match variables().get(s.field.as_str()) {
                        Some(t) if !s.test => t.clone(),
                        Some(_) => Ty::Bool,
                        None => {
                            let names: Vec<&str> = variables().keys().copied().collect();
                            let help =
                                did_you_mean(&s.field, names.iter().copied()).or_else(|| {
                                    Some(format!("the variables are {}", names.join(", ")))
                                });
                            self.fail_field(
                                e.id,
                                &s.field,
                                format!("no variable `{}`", s.field),
                                help,
                            )
                        }
                    };
                }
                let operand = self.expr(&s.operand);
                let t = self.field(e.id, &operand, &s.field);
                if s.test { Ty::Bool } else { t }
            }
            Expr::Call(call) => self.call(e.id, call),
            Expr::Comprehension(c) => {
                let range = self.expr(&c.iter_range);
                let item = match &range {
                    Ty::List(t) => (**t).clone(),
                    Ty::Map(_) => Ty::String,
                    Ty::Dyn => Ty::Dyn,
                    other => {
                        return self.fail(
                            c.iter_range.id,
                            format!("cannot iterate over {}", a(&other.name())),
                            Some(MACROS.into()),
                        );
                    }
                };
                let accu = self.expr(&c.accu_init);
                self.scopes.push((c.iter_var.clone(), item));
                self.scopes.push((c.accu_var.clone(), accu));
                self.expr(&c.loop_cond);
                let step = self.expr(&c.loop_step);
                // The accumulator's type is the step's (`[]` starts as a list of anything).
                if let Some(last) = self.scopes.last_mut() {
                    last.1 = step;
                }
                let result = self.expr(&c.result);
                self.scopes.truncate(self.scopes.len().saturating_sub(2));
                result
            }
            Expr::List(l) => {
                let mut elem: Option<Ty> = None;
                for x in &l.elements {
                    let t = self.expr(x);
                    elem = Some(match elem {
                        None => t,
                        Some(prev) => unify(&prev, &t).unwrap_or(Ty::Dyn),
                    });
                }
                Ty::List(Box::new(elem.unwrap_or(Ty::Dyn)))
            }
            Expr::Map(m) => {
                let mut value: Option<Ty> = None;
                for entry in &m.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        self.expr(&me.key);
                        let t = self.expr(&me.value);
                        value = Some(match value {
                            None => t,
                            Some(prev) => unify(&prev, &t).unwrap_or(Ty::Dyn),
                        });
                    }
                }
                Ty::Map(Box::new(value.unwrap_or(Ty::Dyn)))
            }
            Expr::Struct(s) => self.fail(
                e.id,
                format!("no message type `{}` in admission policies", s.type_name),
                None,
            ),
            Expr::Unspecified => self.fail(e.id, "an incomplete expression".into(), None),
        }
    }

    fn ident(&mut self, id: u64, name: &str) -> Ty {
        if let Some(t) = self.lookup(name) {
            return t;
        }
        match name {
            "object" | "oldObject" | "request" | "namespaceObject" => Ty::Dyn,
            "variables" => Ty::Dyn,
            "int" | "uint" | "double" | "string" | "bytes" | "bool" | "list" | "map"
            | "null_type" | "type" => Ty::Type,
            _ => {
                let known = [
                    "object",
                    "oldObject",
                    "request",
                    "namespaceObject",
                    "variables",
                ];
                let help = did_you_mean(name, known.iter().copied()).or_else(|| {
                    Some(format!(
                        "an expression sees {}, and `variables.podSpec`, `variables.containers`, `variables.podMeta`",
                        known.join(", ")
                    ))
                });
                self.fail(id, format!("unknown name `{name}`"), help)
            }
        }
    }

    fn field(&mut self, id: u64, operand: &Ty, field: &str) -> Ty {
        match operand {
            Ty::Dyn => Ty::Dyn,
            Ty::Map(v) => (**v).clone(),
            Ty::Object(kind) => {
                let Some(fields) = schema().get(kind) else {
                    return Ty::Dyn;
                };
                match fields.get(field) {
                    Some(t) => parse_ty(t),
                    None => {
                        let help = did_you_mean(field, fields.keys().map(String::as_str));
                        self.fail_field(id, field, format!("{kind} has no field `{field}`"), help)
                    }
                }
            }
            other => self.fail_field(
                id,
                field,
                format!("{} has no field `{field}`", a(&other.name())),
                None,
            ),
        }
    }

    fn call(&mut self, id: u64, call: &cel::common::ast::CallExpr) -> Ty {
        let name = call.func_name.as_str();
        let target = call.target.as_ref().map(|t| self.expr(t));
        let args: Vec<Ty> = call.args.iter().map(|a| self.expr(a)).collect();
        if self.error.is_some() {
            return Ty::Dyn;
        }
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Ty::Dyn);
        let mismatch = |what: &str| -> String {
            let shown: Vec<String> = target.iter().chain(args.iter()).map(Ty::name).collect();
            format!("{what} cannot take ({})", shown.join(", "))
        };
        match (name, &target) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, None) => {
                if args.iter().all(|a| a.is(&Ty::Bool)) {
                    Ty::Bool
                } else {
                    self.fail(
                        id,
                        mismatch("`&&` and `||`"),
                        Some("both sides are conditions".into()),
                    )
                }
            }
            (operators::LOGICAL_NOT | operators::NOT_STRICTLY_FALSE, None) => {
                if arg(0).is(&Ty::Bool) {
                    Ty::Bool
                } else {
                    self.fail(id, mismatch("`!`"), None)
                }
            }
            (operators::CONDITIONAL, None) => {
                if !arg(0).is(&Ty::Bool) {
                    return self.fail(
                        id,
                        format!("the condition of `?:` is {}, not a bool", a(&arg(0).name())),
                        None,
                    );
                }
                match unify(&arg(1), &arg(2)) {
                    Some(t) => t,
                    None => self.fail(
                        id,
                        format!(
                            "the branches of `?:` differ: {} and {}",
                            arg(1).name(),
                            arg(2).name()
                        ),
                        None,
                    ),
                }
            }
            (operators::EQUALS | operators::NOT_EQUALS, None) => {
                let (a, b) = (arg(0), arg(1));
                if (a.numeric() && b.numeric()) || unify(&a, &b).is_some() {
                    Ty::Bool
                } else {
                    self.fail(
                        id,
                        format!(
                            "{} is never equal to {}",
                            self::a(&a.name()),
                            self::a(&b.name())
                        ),
                        Some(SAME_TYPE.into()),
                    )
                }
            }
            (
                operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                None,
            ) => {
                let (a, b) = (arg(0), arg(1));
                let ordered = (a.numeric() && b.numeric())
                    || (a.is(&Ty::String) && b.is(&Ty::String))
                    || (a.is(&Ty::Bytes) && b.is(&Ty::Bytes));
                if ordered {
                    Ty::Bool
                } else {
                    self.fail(
                        id,
                        format!(
                            "{} and {} cannot be ordered",
                            self::a(&a.name()),
                            self::a(&b.name())
                        ),
                        None,
                    )
                }
            }
            (operators::ADD, None) => match (arg(0), arg(1)) {
                (Ty::Dyn, t) | (t, Ty::Dyn) => t,
                (Ty::List(a), Ty::List(b)) => Ty::List(Box::new(unify(&a, &b).unwrap_or(Ty::Dyn))),
                (a, b)
                    if a == b
                        && matches!(
                            a,
                            Ty::Int | Ty::Uint | Ty::Double | Ty::String | Ty::Bytes
                        ) =>
                {
                    a
                }
                _ => self.fail(id, mismatch("`+`"), None),
            },
            (
                operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO,
                None,
            ) => match (arg(0), arg(1)) {
                (Ty::Dyn, t) | (t, Ty::Dyn) if t.numeric() => t,
                (a, b) if a == b && a.numeric() => a,
                _ => self.fail(id, mismatch("arithmetic"), None),
            },
            (operators::NEGATE, None) if arg(0).numeric() => arg(0),
            (operators::INDEX, None) => match (arg(0), arg(1)) {
                (Ty::List(t), i) if i.is(&Ty::Int) || i == Ty::Uint => *t,
                (Ty::Map(v), k) if k.is(&Ty::String) => *v,
                (Ty::Dyn, _) => Ty::Dyn,
                (x, i) => self.fail(
                    id,
                    format!("{} cannot be indexed by {}", a(&x.name()), a(&i.name())),
                    None,
                ),
            },
            (operators::IN, None) => match arg(1) {
                Ty::List(t)
                    if unify(&arg(0), &t).is_some() || (arg(0).numeric() && t.numeric()) =>
                {
                    Ty::Bool
                }
                Ty::Map(_) if arg(0).is(&Ty::String) => Ty::Bool,
                Ty::Dyn => Ty::Bool,
                _ => self.fail(id, mismatch("`in`"), None),
            },
            ("size", _) => {
                let of = target.clone().unwrap_or_else(|| arg(0));
                match of {
                    Ty::String | Ty::Bytes | Ty::List(_) | Ty::Map(_) | Ty::Dyn => Ty::Int,
                    other => self.fail(id, format!("{} has no size", a(&other.name())), None),
                }
            }
            (m, Some(t)) if STRING_METHODS.contains(&m) => {
                if t.is(&Ty::String) && args.len() == 1 && arg(0).is(&Ty::String) {
                    Ty::Bool
                } else {
                    self.fail(id, mismatch(&format!("`{m}`")), None)
                }
            }
            ("dyn", None) => Ty::Dyn,
            ("type", None) => Ty::Type,
            (conv, None) if CONVERSIONS.iter().any(|(n, _)| *n == conv) => CONVERSIONS
                .iter()
                .find(|(n, _)| *n == conv)
                .map_or(Ty::Dyn, |(_, t)| t.clone()),
            (other, _) => self.fail_call(
                id,
                other,
                format!("`{other}` is not a function of standard CEL"),
                Some(STANDARD.into()),
            ),
        }
    }
}

/// The type both `a` and `b` can be: equal types, anything with dyn, null with an object, a map
/// or a list, lists of unifiable elements.
fn unify(a: &Ty, b: &Ty) -> Option<Ty> {
    match (a, b) {
        _ if a == b => Some(a.clone()),
        (Ty::Dyn, t) | (t, Ty::Dyn) => Some(t.clone()),
        (Ty::Null, t @ (Ty::Object(_) | Ty::Map(_) | Ty::List(_)))
        | (t @ (Ty::Object(_) | Ty::Map(_) | Ty::List(_)), Ty::Null) => Some(t.clone()),
        (Ty::List(x), Ty::List(y)) => unify(x, y).map(|t| Ty::List(Box::new(t))),
        (Ty::Map(x), Ty::Map(y)) => unify(x, y).map(|t| Ty::Map(Box::new(t))),
        _ => None,
    }
}

/// The span of `offset` (in the expression's text) in the program: exact when the string literal
/// holds no escapes, the whole literal otherwise.
fn span_at(literal: &Ident, raw_len: usize, offset: Option<(usize, usize)>) -> Span {
    let text = literal.text.as_str();
    let exact = raw_len == text.len() + 2;
    match offset {
        Some((start, end)) if exact && end <= text.len() => {
            // The parser may point inside a character of non-ASCII text: the span covers all of
            // it, at least one character.
            let start = (0..=start)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            let first_end = text
                .get(start..)
                .and_then(|rest| rest.chars().next())
                .map_or(start, |c| start + c.len_utf8());
            let end = (end.max(first_end)..=text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            Span::new(
                literal.span.file,
                literal.span.start + 1 + start,
                literal.span.start + 1 + end,
            )
        }
        _ => literal.span,
    }
}

/// What the parser and the type check make of an expression.
enum Analysis {
    Condition,
    NotBool(String),
    SyntaxError {
        msg: String,
        offset: Option<usize>,
    },
    TypeError {
        msg: String,
        help: Option<String>,
        offset: Option<(usize, usize)>,
    },
}

fn analyse(text: &str) -> Analysis {
    let parsed = cel::parser::Parser::new()
        .enable_optional_syntax(false)
        .parse_with_source_info(text);
    let (ast, info) = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            let first = errors.errors.first();
            return Analysis::SyntaxError {
                msg: first.map_or_else(
                    || "syntax error".to_string(),
                    |e| e.msg.trim_start_matches("Syntax error: ").to_string(),
                ),
                offset: first.and_then(|e| line_col_offset(text, e.pos)),
            };
        }
    };
    let mut tc = TypeCheck {
        source: &info,
        scopes: Vec::new(),
        error: None,
    };
    let ty = tc.expr(&ast);
    if let Some((msg, help, id, name)) = tc.error.take() {
        let offset = tc
            .source
            .offset_for(id)
            .map(|(s, e)| (s as usize, (e as usize).max(s as usize + 1)));
        // A field's error points at the field's name after its `.`, a function's at its name
        // before its `(`.
        let offset = match (offset, name) {
            (Some((dot, _)), Some(Name::After(len))) => Some((dot + 1, dot + 1 + len)),
            (Some((paren, _)), Some(Name::Before(len))) if paren >= len => {
                Some((paren - len, paren))
            }
            (o, _) => o,
        };
        return Analysis::TypeError { msg, help, offset };
    }
    if ty.is(&Ty::Bool) {
        Analysis::Condition
    } else {
        Analysis::NotBool(ty.name())
    }
}

/// The deepest bracket nesting outside string literals: where it is reached, and how deep.
fn nesting(text: &str) -> Option<(usize, usize)> {
    let (mut depth, mut deepest, mut quote): (usize, Option<(usize, usize)>, Option<char>) =
        (0, None, None);
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    if deepest.is_none_or(|(_, d)| depth > d) {
                        deepest = Some((i, depth));
                    }
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

impl Checker<'_> {
    pub(super) fn cel_rule(
        &mut self,
        expression: &Ident,
        message: &Ident,
    ) -> Option<AdmissionRule> {
        let raw_len = expression.span.end.saturating_sub(expression.span.start);
        let text = expression.text.as_str();
        let fail = |cx: &mut Checker<'_>,
                    headline: String,
                    span: Span,
                    label: &str,
                    help: Option<String>| {
            let mut d = Diagnostic::error("E0515", headline).primary(span, label.to_string());
            if let Some(h) = help {
                d = d.help(h);
            }
            cx.diags.push(d);
        };
        if message.text.trim().is_empty() {
            fail(
                self,
                "a CEL rule needs a message".into(),
                message.span,
                "empty",
                Some("say what is wrong when the expression is false".into()),
            );
            return None;
        }
        if text.len() > MAX_LEN || text.trim().is_empty() {
            fail(
                self,
                "invalid CEL expression".into(),
                expression.span,
                if text.trim().is_empty() {
                    "empty"
                } else {
                    "longer than 10,000 characters"
                },
                None,
            );
            return None;
        }
        if let Some((depth_at, depth)) = nesting(text)
            && depth > MAX_DEPTH
        {
            fail(
                self,
                format!("CEL expression nested {depth} deep"),
                span_at(expression, raw_len, Some((depth_at, depth_at + 1))),
                "here",
                Some(format!(
                    "at most {MAX_DEPTH} levels of brackets: split the rule"
                )),
            );
            return None;
        }
        let owned = text.to_string();
        // The parser and the check recurse over the expression: on a thread with a stack of its
        // own, large enough for MAX_LEN and MAX_DEPTH whatever the caller's; a panic in the
        // parser (a dependency) is an error here, not a crash.
        let analysis = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || analyse(&owned))
            .ok()
            .and_then(|t| t.join().ok());
        match analysis {
            Some(Analysis::Condition) => {}
            Some(Analysis::SyntaxError { msg, offset }) => {
                fail(
                    self,
                    format!("CEL syntax error: {msg}"),
                    span_at(expression, raw_len, offset.map(|o| (o, o + 1))),
                    "here",
                    None,
                );
                return None;
            }
            Some(Analysis::TypeError { msg, help, offset }) => {
                let span = span_at(expression, raw_len, offset);
                fail(self, format!("CEL type error: {msg}"), span, "here", help);
                return None;
            }
            Some(Analysis::NotBool(name)) => {
                fail(
                    self,
                    format!(
                        "a CEL rule is a condition: this expression is {}, not a bool",
                        a(&name)
                    ),
                    expression.span,
                    "the pod is admitted when this is true",
                    Some("compare it, e.g. `… == true`, `… > 0`, `size(…) > 0`".into()),
                );
                return None;
            }
            None => {
                fail(
                    self,
                    "the CEL parser failed on this expression".into(),
                    expression.span,
                    "here",
                    None,
                );
                return None;
            }
        }
        Some(AdmissionRule::Cel {
            expression: text.to_string(),
            message: message.text.clone(),
        })
    }
}

/// `a int` reads badly: the article for a type's name.
fn a(name: &str) -> String {
    let vowel = name.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']);
    format!("{} {name}", if vowel { "an" } else { "a" })
}

/// The byte offset of a parser position (line from 1, column from 0) in `text`.
fn line_col_offset(text: &str, (line, col): (isize, isize)) -> Option<usize> {
    let line = usize::try_from(line).ok()?.checked_sub(1)?;
    let col = usize::try_from(col).ok()?;
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    // The column counts characters, not bytes.
    let in_line: usize = text
        .get(start..)
        .unwrap_or("")
        .chars()
        .take(col)
        .map(char::len_utf8)
        .sum();
    Some((start + in_line).min(text.len()))
}
