//! What one JavaScript file asks of Node.js: the modules it loads (for the module graph) and the
//! built-in APIs it uses, through every name it binds them to.
//!
//! Bindings are read first, for the whole file and to a fixed point (a function may use a name
//! declared below it): `const fs = require('fs')`, `import * as fs from 'node:fs'`, `const {
//! readFile } = require('fs')`, `const { promises: { readFile } } = …`, `const r = fs.readFile`,
//! `const f = fs`. Then every expression that reaches a built-in through them is a use of the
//! longest member path it names: `fs.promises.readFile(…)` is `fs.readFile`; `fs` passed on,
//! indexed by a computed name or exported is the module as a whole. Names are per file, not per
//! scope: a local that shadows a binding counts as the module (more calls, never fewer).

use oxc_ast::ast::{
    Argument, BindingPattern, CallExpression, Expression, ImportDeclarationSpecifier,
    ModuleExportName, PropertyKey, VariableDeclarator,
};
use oxc_ast_visit::{Visit, walk};
use std::collections::{BTreeMap, BTreeSet};

/// Node's built-in modules (`node:` prefixed or not), beyond the catalog's.
const BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

/// The built-in module a specifier names (`node:fs/promises` → `fs`), if it names one.
pub fn builtin(specifier: &str) -> Option<String> {
    let bare = specifier.strip_prefix("node:");
    let name = bare.unwrap_or(specifier);
    let root = name.split('/').next().unwrap_or(name);
    (BUILTINS.contains(&root) || (bare.is_some() && !root.is_empty())).then(|| root.to_string())
}

pub use super::resolve::Kind;

/// What the code does that cannot be read statically, and widens the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dynamic {
    /// `require(expr)`, `import(expr)`, `createRequire`, `process.getBuiltinModule(expr)`: a
    /// module named at run time is loaded.
    Load,
    /// `require(path.join(__dirname, x))`, `import(`./${x}`)`: a file of the package, named at
    /// run time.
    Relative,
    /// A direct `eval`: code made at run time, in the file's scope.
    Eval,
    /// `new Function`, `vm`'s scripts: code made at run time, in the global scope.
    Made,
    /// `process.binding`, `process.dlopen`: the runtime's native internals.
    Native,
}

/// One file's findings; offsets are byte offsets into its text.
#[derive(Debug, Default)]
pub struct Uses {
    /// Modules other than built-ins it loads: (specifier, kind, offset).
    pub loads: Vec<(String, Kind, u32)>,
    /// Built-in APIs used: (module, member path, offset).
    pub apis: Vec<(String, Vec<String>, u32)>,
    pub dynamic: Vec<(Dynamic, u32)>,
    /// `process.binding('name')` by a literal name: (name, offset).
    pub bindings: Vec<(String, u32)>,
    /// The names it reads as properties (`x.name`, `x['name']`, `{ name } = x`) that some
    /// built-in module exports: what a module passed between files may be used through.
    pub names: BTreeSet<String>,
}

/// A computed member's key that is not a literal: any member.
pub const ANY: &str = "*";
/// After a member: called with a literal IP address to connect to, so no name is resolved.
pub const BY_ADDRESS: &str = "@address";

/// Where a name leads: a built-in module and a member path below it.
type Origin = (String, Vec<String>);

#[derive(Default)]
struct Bindings {
    names: BTreeMap<String, Origin>,
    changed: bool,
}

impl Bindings {
    fn bind(&mut self, name: &str, origin: Origin) {
        if self.names.get(name) != Some(&origin) {
            self.names.insert(name.to_string(), origin);
            self.changed = true;
        }
    }

    /// The built-in an expression leads to.
    fn origin(&self, e: &Expression<'_>) -> Option<Origin> {
        match e.without_parentheses() {
            Expression::Identifier(id) => match self.names.get(id.name.as_str()) {
                Some(o) => Some(o.clone()),
                // `process` is a global; a file may also bind it.
                None if id.name == "process" => Some(("process".to_string(), Vec::new())),
                None => None,
            },
            Expression::CallExpression(call) => match required(call) {
                Some(s) => builtin(&s).map(|m| (m, Vec::new())),
                // `process.getBuiltinModule('fs')`, Node 20.16's way to a built-in.
                None => self
                    .builtin_by_process(call)
                    .and_then(|name| builtin(&name?))
                    .map(|m| (m, Vec::new())),
            },
            Expression::AwaitExpression(a) => match a.argument.without_parentheses() {
                Expression::ImportExpression(i) => literal(&i.source)
                    .and_then(|s| builtin(&s))
                    .map(|m| (m, Vec::new())),
                _ => None,
            },
            Expression::StaticMemberExpression(m) => {
                let (module, mut path) = self.origin(&m.object)?;
                path.push(m.property.name.to_string());
                Some((module, path))
            }
            Expression::ComputedMemberExpression(m) => {
                let (module, mut path) = self.origin(&m.object)?;
                match literal(&m.expression) {
                    Some(s) => path.push(s),
                    None => path.push(ANY.to_string()),
                }
                Some((module, path))
            }
            _ => None,
        }
    }

    /// For `process.getBuiltinModule(…)`: its literal argument, or `Some(None)` for another.
    fn builtin_by_process(&self, call: &CallExpression<'_>) -> Option<Option<String>> {
        let (module, path) = self.origin(&call.callee)?;
        (module == "process" && path == ["getBuiltinModule"]).then(|| {
            call.arguments
                .first()
                .and_then(Argument::as_expression)
                .and_then(literal)
        })
    }

    /// For `process.binding('name')` (or `_linkedBinding`): its literal argument, or `Some(None)`.
    fn binding(&self, call: &CallExpression<'_>) -> Option<Option<String>> {
        let (module, path) = self.origin(&call.callee)?;
        let named = matches!(
            path.as_slice(),
            [one] if one == "binding" || one == "_linkedBinding"
        );
        (module == "process" && named).then(|| {
            call.arguments
                .first()
                .and_then(Argument::as_expression)
                .and_then(literal)
        })
    }

    /// Binds the names of `pattern` to what `origin` leads to.
    fn bind_pattern(&mut self, pattern: &BindingPattern<'_>, origin: &Origin) {
        match pattern {
            BindingPattern::BindingIdentifier(id) => self.bind(&id.name, origin.clone()),
            BindingPattern::ObjectPattern(o) => {
                for p in &o.properties {
                    let key = match &p.key {
                        PropertyKey::StaticIdentifier(k) => Some(k.name.to_string()),
                        PropertyKey::StringLiteral(s) => Some(s.value.to_string()),
                        _ => None,
                    };
                    let mut below = origin.clone();
                    // A computed key could be any member: the module as a whole.
                    if let Some(key) = key {
                        below.1.push(key);
                    }
                    self.bind_pattern(&p.value, &below);
                }
                if let Some(rest) = &o.rest {
                    self.bind_pattern(&rest.argument, origin);
                }
            }
            BindingPattern::AssignmentPattern(a) => self.bind_pattern(&a.left, origin),
            BindingPattern::ArrayPattern(_) => {}
        }
    }
}

/// The specifier of `require('…')`.
fn required(call: &CallExpression<'_>) -> Option<String> {
    match &call.callee {
        Expression::Identifier(id) if id.name == "require" => match call.arguments.first() {
            Some(Argument::StringLiteral(s)) => Some(s.value.to_string()),
            Some(Argument::TemplateLiteral(t)) if t.expressions.is_empty() => {
                t.quasis.first().map(|q| q.value.raw.to_string())
            }
            _ => None,
        },
        _ => None,
    }
}

/// The names `e` may be that are written in it, through `||`, `??`, `&&` and `?:`; whether it
/// can be nothing else.
fn alternatives(e: &Expression<'_>, out: &mut Vec<String>) -> bool {
    match e.without_parentheses() {
        Expression::LogicalExpression(l) => {
            let left = alternatives(&l.left, out);
            let right = alternatives(&l.right, out);
            left && right
        }
        Expression::ConditionalExpression(c) => {
            let yes = alternatives(&c.consequent, out);
            let no = alternatives(&c.alternate, out);
            yes && no
        }
        other => match literal(other) {
            Some(s) => {
                out.push(s);
                true
            }
            None => false,
        },
    }
}

/// Whether an argument names a host by a literal IP address: `'10.0.0.1'`,
/// `` `http://127.0.0.1:${port}/` ``, `{ host: '::1' }`.
fn address_given(a: &Argument<'_>) -> bool {
    let address = |s: &str| {
        s.trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok()
    };
    // A URL's host, where the text holds all of it: up to `]` for IPv6, else up to the port,
    // path, query or fragment.
    let url_host = |s: &str, whole: bool| {
        let rest = s.split_once("://").map(|(_, r)| r)?;
        let end = if rest.starts_with('[') {
            rest.find(']').map(|i| i + 1)
        } else {
            rest.find([':', '/', '?', '#'])
        };
        let host = rest.get(..end.or(whole.then_some(rest.len()))?)?;
        Some(address(host))
    };
    let text = |e: &Expression<'_>| match e.without_parentheses() {
        Expression::StringLiteral(s) => Some((s.value.to_string(), true)),
        Expression::TemplateLiteral(t) => t
            .quasis
            .first()
            .map(|q| (q.value.raw.to_string(), t.expressions.is_empty())),
        _ => None,
    };
    let Some(e) = a.as_expression() else {
        return false;
    };
    if let Expression::ObjectExpression(o) = e.without_parentheses() {
        return o.properties.iter().any(|p| match p {
            oxc_ast::ast::ObjectPropertyKind::ObjectProperty(p) => {
                p.key
                    .static_name()
                    .is_some_and(|k| k == "host" || k == "hostname")
                    && matches!(text(&p.value), Some((s, true)) if address(&s))
            }
            oxc_ast::ast::ObjectPropertyKind::SpreadProperty(_) => false,
        });
    }
    match text(e) {
        Some((s, whole)) if s.contains("://") => url_host(&s, whole).unwrap_or(false),
        Some((s, true)) => address(&s),
        _ => false,
    }
}

/// Whether a name computed at run time is a path, as its code reads: starting with `./`, `../`
/// or `/`, or built from `__dirname`, `__filename` or `import.meta` (`path.join(__dirname, x)`,
/// `` `${__dirname}/${x}` ``, `'./' + x`).
fn relative(e: &Expression<'_>) -> bool {
    let path = |s: &str| s.starts_with("./") || s.starts_with("../") || s.starts_with('/');
    match e.without_parentheses() {
        Expression::StringLiteral(s) => path(&s.value),
        Expression::Identifier(id) => id.name == "__dirname" || id.name == "__filename",
        Expression::ImportMeta(_) => true,
        Expression::StaticMemberExpression(m) => relative(&m.object),
        Expression::TemplateLiteral(t) => match (t.quasis.first(), t.expressions.first()) {
            (Some(q), _) if !q.value.raw.is_empty() => path(&q.value.raw),
            (_, Some(first)) => relative(first),
            _ => false,
        },
        Expression::BinaryExpression(b) => relative(&b.left),
        // `path.join(__dirname, …)`, `path.resolve(…)`, `new URL(x, import.meta.url)`.
        Expression::CallExpression(c) => c
            .arguments
            .first()
            .and_then(Argument::as_expression)
            .is_some_and(relative),
        Expression::NewExpression(n) => n
            .arguments
            .iter()
            .filter_map(Argument::as_expression)
            .any(relative),
        _ => false,
    }
}

fn literal(e: &Expression<'_>) -> Option<String> {
    match e.without_parentheses() {
        Expression::StringLiteral(s) => Some(s.value.to_string()),
        Expression::TemplateLiteral(t) if t.expressions.is_empty() => {
            t.quasis.first().map(|q| q.value.raw.to_string())
        }
        _ => None,
    }
}

/// First pass: every binding of the file.
struct Binder<'b> {
    b: &'b mut Bindings,
}

impl<'a> Visit<'a> for Binder<'_> {
    fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
        if let Some(init) = &it.init
            && let Some(origin) = self.b.origin(init)
        {
            self.b.bind_pattern(&it.id, &origin);
        }
        walk::walk_variable_declarator(self, it);
    }

    fn visit_import_declaration(&mut self, it: &oxc_ast::ast::ImportDeclaration<'a>) {
        let Some(module) = builtin(&it.source.value) else {
            return;
        };
        for s in it.specifiers.iter().flatten() {
            match s {
                ImportDeclarationSpecifier::ImportSpecifier(s) => {
                    let member = match &s.imported {
                        ModuleExportName::IdentifierName(n) => n.name.to_string(),
                        ModuleExportName::IdentifierReference(n) => n.name.to_string(),
                        ModuleExportName::StringLiteral(n) => n.value.to_string(),
                    };
                    let path = if member == "default" {
                        Vec::new()
                    } else {
                        vec![member]
                    };
                    self.b.bind(&s.local.name, (module.clone(), path));
                }
                ImportDeclarationSpecifier::ImportDefaultSpecifier(s) => {
                    self.b.bind(&s.local.name, (module.clone(), Vec::new()));
                }
                ImportDeclarationSpecifier::ImportNamespaceSpecifier(s) => {
                    self.b.bind(&s.local.name, (module.clone(), Vec::new()));
                }
            }
        }
    }
}

/// Second pass: loads and uses.
struct Finder<'b> {
    b: &'b Bindings,
    /// The names built-in modules export (the catalog's).
    exports: &'b BTreeSet<String>,
    out: Uses,
}

impl<'a> Visit<'a> for Finder<'_> {
    fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
        // A binding is not a use: its names are, where they are used.
        if let Some(init) = &it.init
            && self.b.origin(init).is_some()
            && !matches!(it.id, BindingPattern::ArrayPattern(_))
        {
            return;
        }
        walk::walk_variable_declarator(self, it);
    }

    fn visit_expression(&mut self, it: &Expression<'a>) {
        if !matches!(
            it,
            Expression::Identifier(_)
                | Expression::StaticMemberExpression(_)
                | Expression::ComputedMemberExpression(_)
        ) {
            walk::walk_expression(self, it);
            return;
        }
        // A member chain is taken whole, from its root, without a visit per level: a chain
        // a million members long is read once, not a million times.
        let mut keys: Vec<&Expression<'a>> = Vec::new();
        let mut root = it;
        loop {
            match root {
                Expression::StaticMemberExpression(m) => {
                    self.read(&m.property.name);
                    root = &m.object;
                }
                Expression::ComputedMemberExpression(m) => {
                    if let Some(name) = literal(&m.expression) {
                        self.read(&name);
                    }
                    keys.push(&m.expression);
                    root = &m.object;
                }
                _ => break,
            }
        }
        let leads = match root.without_parentheses() {
            Expression::Identifier(id) => {
                id.name == "process" || self.b.names.contains_key(id.name.as_str())
            }
            Expression::CallExpression(_) | Expression::AwaitExpression(_) => true,
            _ => false,
        };
        if leads && let Some((module, path)) = self.b.origin(it) {
            let at = oxc_span::GetSpan::span(it).start;
            if module == "process"
                && matches!(
                    path.first().map(String::as_str),
                    Some("binding" | "dlopen" | "_linkedBinding")
                )
            {
                self.out.dynamic.push((Dynamic::Native, at));
            }
            // `createRequire` makes a `require` under any name: what it loads is not followed.
            if module == "module" && path.first().is_some_and(|m| m == "createRequire") {
                self.out.dynamic.push((Dynamic::Load, at));
            }
            if module == "vm" && path.first().is_some_and(|m| VM_CODE.contains(&m.as_str())) {
                self.out.dynamic.push((Dynamic::Made, at));
            }
            self.out.apis.push((module, path, at));
            // A computed member's key is code of its own.
            for key in keys {
                self.visit_expression(key);
            }
            return;
        }
        if let Expression::Identifier(id) = root
            && id.name == "fetch"
            && !self.b.names.contains_key("fetch")
        {
            let at = id.span.start;
            // Connecting to a name: http.request's calls, resolving included.
            self.out
                .apis
                .push(("http".into(), vec!["request".into()], at));
        }
        for key in keys {
            self.visit_expression(key);
        }
        if !std::ptr::eq(root, it) {
            self.visit_expression(root);
        }
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        // `process.binding('fs')` by a literal name is the binding's module, not native code.
        if let Some(Some(name)) = self.b.binding(it) {
            self.out.bindings.push((name, it.span.start));
            for a in &it.arguments {
                self.visit_argument(a);
            }
            return;
        }
        if let Some(None) = self.b.builtin_by_process(it) {
            self.out.dynamic.push((Dynamic::Load, it.span.start));
        }
        // `net.connect(port, '10.0.0.1')`, `http.get('http://127.0.0.1/')`: no name to resolve.
        if let Some((module, mut path)) = self.b.origin(&it.callee)
            && !path.is_empty()
            && it.arguments.iter().any(address_given)
        {
            if let Some(last) = path.last() {
                self.read(&last.clone());
            }
            path.push(BY_ADDRESS.to_string());
            self.out.apis.push((module, path, it.span.start));
            for a in &it.arguments {
                self.visit_argument(a);
            }
            return;
        }
        if let Expression::Identifier(id) = &it.callee {
            match id.name.as_str() {
                "require" => {
                    match required(it) {
                        Some(s) => match builtin(&s) {
                            Some(m) => self.out.apis.push((m, Vec::new(), it.span.start)),
                            None => self.out.loads.push((s, Kind::Require, it.span.start)),
                        },
                        None => {
                            let arg = it.arguments.first().and_then(Argument::as_expression);
                            // `require(name || 'pino')`, `require(c ? 'a' : 'b')`: the names
                            // written are loaded as written; only the rest is computed.
                            let mut written = Vec::new();
                            let computed = arg.is_none_or(|e| !alternatives(e, &mut written));
                            for s in written {
                                match builtin(&s) {
                                    Some(m) => self.out.apis.push((m, Vec::new(), it.span.start)),
                                    None => self.out.loads.push((s, Kind::Require, it.span.start)),
                                }
                            }
                            if computed {
                                let kind = match arg {
                                    Some(e) if relative(e) => Dynamic::Relative,
                                    _ => Dynamic::Load,
                                };
                                self.out.dynamic.push((kind, it.span.start));
                            }
                        }
                    }
                    for a in &it.arguments {
                        self.visit_argument(a);
                    }
                    return;
                }
                "eval" => self.out.dynamic.push((Dynamic::Eval, it.span.start)),
                "Function" => self.out.dynamic.push((Dynamic::Made, it.span.start)),
                "createRequire" => self.out.dynamic.push((Dynamic::Load, it.span.start)),
                _ => {}
            }
        }
        walk::walk_call_expression(self, it);
    }

    fn visit_new_expression(&mut self, it: &oxc_ast::ast::NewExpression<'a>) {
        if let Expression::Identifier(id) = &it.callee
            && id.name == "Function"
        {
            self.out.dynamic.push((Dynamic::Made, it.span.start));
        }
        walk::walk_new_expression(self, it);
    }

    fn visit_binding_property(&mut self, it: &oxc_ast::ast::BindingProperty<'a>) {
        if let Some(name) = it.key.static_name() {
            self.read(&name);
        }
        walk::walk_binding_property(self, it);
    }

    fn visit_assignment_target_property_identifier(
        &mut self,
        it: &oxc_ast::ast::AssignmentTargetPropertyIdentifier<'a>,
    ) {
        self.read(&it.binding.name);
        walk::walk_assignment_target_property_identifier(self, it);
    }

    fn visit_assignment_target_property_property(
        &mut self,
        it: &oxc_ast::ast::AssignmentTargetPropertyProperty<'a>,
    ) {
        if let Some(name) = it.name.static_name() {
            self.read(&name);
        }
        walk::walk_assignment_target_property_property(self, it);
    }

    fn visit_import_expression(&mut self, it: &oxc_ast::ast::ImportExpression<'a>) {
        match literal(&it.source) {
            Some(s) => match builtin(&s) {
                Some(m) => self.out.apis.push((m, Vec::new(), it.span.start)),
                None => self.out.loads.push((s, Kind::Import, it.span.start)),
            },
            None if relative(&it.source) => {
                self.out.dynamic.push((Dynamic::Relative, it.span.start));
            }
            None => self.out.dynamic.push((Dynamic::Load, it.span.start)),
        }
        walk::walk_import_expression(self, it);
    }

    fn visit_import_declaration(&mut self, it: &oxc_ast::ast::ImportDeclaration<'a>) {
        // Built-ins are used where their names are.
        if builtin(&it.source.value).is_none() {
            self.out
                .loads
                .push((it.source.value.to_string(), Kind::Import, it.span.start));
        }
    }

    fn visit_export_all_declaration(&mut self, it: &oxc_ast::ast::ExportAllDeclaration<'a>) {
        self.reexport(&it.source.value, it.span.start);
    }

    fn visit_export_from_declaration(&mut self, it: &oxc_ast::ast::ExportFromDeclaration<'a>) {
        self.reexport(&it.source.value, it.span.start);
    }

    fn visit_export_named_declaration(&mut self, it: &oxc_ast::ast::ExportNamedDeclaration<'a>) {
        // `export { fs }`: the module leaves the file as a whole.
        for s in &it.specifiers {
            if let ModuleExportName::IdentifierReference(id) = &s.local
                && let Some((m, path)) = self.b.names.get(id.name.as_str())
            {
                self.out.apis.push((m.clone(), path.clone(), s.span.start));
            }
        }
        walk::walk_export_named_declaration(self, it);
    }
}

/// `vm`'s ways to run code made at run time.
const VM_CODE: &[&str] = &[
    "Script",
    "createScript",
    "runInThisContext",
    "runInContext",
    "runInNewContext",
    "compileFunction",
    "SourceTextModule",
];

impl Finder<'_> {
    /// A property read by name, kept if some built-in exports that name.
    fn read(&mut self, name: &str) {
        if self.exports.contains(name) && !self.out.names.contains(name) {
            self.out.names.insert(name.to_string());
        }
    }

    /// `export … from 'source'`: a built-in leaves the file as a whole; another module is loaded.
    fn reexport(&mut self, source: &str, at: u32) {
        match builtin(source) {
            Some(m) => self.out.apis.push((m, Vec::new(), at)),
            None => self.out.loads.push((source.to_string(), Kind::Import, at)),
        }
    }
}

/// What `program` loads and uses.
pub fn find(program: &oxc_ast::ast::Program<'_>) -> Uses {
    let mut bindings = Bindings::default();
    // Each round can only add or refine names; a chain of aliases N long settles in N rounds.
    for _ in 0..8 {
        bindings.changed = false;
        Binder { b: &mut bindings }.visit_program(program);
        if !bindings.changed {
            break;
        }
    }
    static NONE: BTreeSet<String> = BTreeSet::new();
    let exports = crate::catalog::node_apis::node_apis().map_or(&NONE, |c| &c.export_names);
    let mut finder = Finder {
        b: &bindings,
        exports,
        out: Uses::default(),
    };
    finder.visit_program(program);
    let mut out = finder.out;
    // Code made at run time reaches what its scope does: `process` and `fetch` from the global
    // scope, and a direct `eval` every module its file binds.
    let bound: BTreeSet<&String> = bindings.names.values().map(|(m, _)| m).collect();
    let made: Vec<(Dynamic, u32)> = out
        .dynamic
        .iter()
        .filter(|(kind, _)| matches!(kind, Dynamic::Eval | Dynamic::Made))
        .copied()
        .collect();
    for (kind, at) in made {
        let mut reached = vec!["process"];
        if kind == Dynamic::Eval {
            reached.extend(bound.iter().map(|m| m.as_str()));
        }
        for m in reached {
            out.apis.push((m.to_string(), vec![ANY.to_string()], at));
        }
        out.apis.push(("http".into(), vec!["request".into()], at));
    }
    // One warning a place, however many ways it was seen.
    out.dynamic.sort_by_key(|(kind, at)| (*at, *kind));
    out.dynamic.dedup();
    out
}
