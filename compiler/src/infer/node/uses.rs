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
use std::collections::BTreeMap;

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
    /// `require(expr)`, `import(expr)`, `createRequire`: any module may be loaded.
    Load,
    /// `eval`, `new Function`, `vm.run*`: any code may run.
    Eval,
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
}

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
            Expression::CallExpression(call) => required(call)
                .and_then(|s| builtin(&s))
                .map(|m| (m, Vec::new())),
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
                if let Expression::StringLiteral(s) = m.expression.without_parentheses() {
                    path.push(s.value.to_string());
                }
                Some((module, path))
            }
            _ => None,
        }
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
                Expression::StaticMemberExpression(m) => root = &m.object,
                Expression::ComputedMemberExpression(m) => {
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
            self.out
                .apis
                .push(("http".into(), vec!["request".into()], at));
            self.out
                .apis
                .push(("dns".into(), vec!["lookup".into()], at));
        }
        for key in keys {
            self.visit_expression(key);
        }
        if !std::ptr::eq(root, it) {
            self.visit_expression(root);
        }
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        if let Expression::Identifier(id) = &it.callee {
            match id.name.as_str() {
                "require" => {
                    match required(it) {
                        Some(s) => match builtin(&s) {
                            Some(m) => self.out.apis.push((m, Vec::new(), it.span.start)),
                            None => self.out.loads.push((s, Kind::Require, it.span.start)),
                        },
                        None => self.out.dynamic.push((Dynamic::Load, it.span.start)),
                    }
                    for a in &it.arguments {
                        self.visit_argument(a);
                    }
                    return;
                }
                "eval" => self.out.dynamic.push((Dynamic::Eval, it.span.start)),
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
            self.out.dynamic.push((Dynamic::Eval, it.span.start));
        }
        walk::walk_new_expression(self, it);
    }

    fn visit_import_expression(&mut self, it: &oxc_ast::ast::ImportExpression<'a>) {
        match literal(&it.source) {
            Some(s) => match builtin(&s) {
                Some(m) => self.out.apis.push((m, Vec::new(), it.span.start)),
                None => self.out.loads.push((s, Kind::Import, it.span.start)),
            },
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

impl Finder<'_> {
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
    let mut finder = Finder {
        b: &bindings,
        out: Uses::default(),
    };
    finder.visit_program(program);
    let mut out = finder.out;
    // One warning a place, however many ways it was seen.
    out.dynamic.sort_by_key(|(kind, at)| (*at, *kind));
    out.dynamic.dedup();
    out
}
