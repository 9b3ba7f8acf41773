//! Node's module resolution (the algorithm of Node's `modules.md`, "All together"): a relative or
//! absolute specifier as a file (`X`, `X.js`, `X.json`, `X.node`, and for `import` `X.mjs`,
//! `X.cjs`) or a directory (its package.json `main`, else `index.*`); a bare one in each
//! `node_modules` up the tree, through the package's `exports` map when it has one (subpaths,
//! `*` patterns, nested conditions under `node`, `require` or `import`, `default`), else as a
//! file or directory below the package; `#name` through the nearest package's `imports` map.
//!
//! Written here rather than taken from `oxc_resolver`: that crate turns on serde_json's
//! `preserve_order` for the whole build, which would reorder the keys of warden's generated JSON.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// How the module is loaded, which picks the `exports` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Require,
    Import,
}

impl Kind {
    fn conditions(self) -> [&'static str; 3] {
        match self {
            Kind::Require => ["node", "require", "default"],
            Kind::Import => ["node", "import", "default"],
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Require => &["js", "json", "node", "cjs", "mjs"],
            Kind::Import => &["js", "mjs", "cjs", "json", "node"],
        }
    }
}

/// An `exports` value with its keys in the order written: Node takes the first condition that
/// matches, so the order is the meaning (serde_json's maps are sorted).
#[derive(Debug)]
enum Exports {
    Target(String),
    List(Vec<Exports>),
    Map(Vec<(String, Exports)>),
    Other,
}

impl<'de> serde::Deserialize<'de> for Exports {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Exports;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an exports value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Exports, E> {
                Ok(Exports::Target(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Exports, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Exports::List(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Exports, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = a.next_entry()? {
                    entries.push(entry);
                }
                Ok(Exports::Map(entries))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Exports, E> {
                Ok(Exports::Other)
            }
            fn visit_unit<E>(self) -> Result<Exports, E> {
                Ok(Exports::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Exports, E> {
                Ok(Exports::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Exports, E> {
                Ok(Exports::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Exports, E> {
                Ok(Exports::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(serde::Deserialize)]
struct Manifest {
    exports: Option<Exports>,
    imports: Option<Exports>,
}

fn manifest_of(dir: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    serde_json::from_str::<Manifest>(&text).ok()
}

/// The `exports` of the package.json in `dir`, in order.
fn exports_of(dir: &Path) -> Option<Exports> {
    manifest_of(dir)?.exports
}

/// `#name`: the `imports` map of the nearest package.json up from `dir`.
fn imported(dir: &Path, spec: &str, kind: Kind) -> Option<PathBuf> {
    let package = dir.ancestors().find(|d| d.join("package.json").is_file())?;
    let imports = manifest_of(package)?.imports?;
    let Exports::Map(entries) = &imports else {
        return None;
    };
    if let Some((_, value)) = entries.iter().find(|(k, _)| k == spec) {
        return Some(package.join(target(value, kind, None)?));
    }
    entries.iter().find_map(|(key, value)| {
        let (before, after) = key.split_once('*')?;
        let star = spec
            .strip_prefix(before)?
            .strip_suffix(after)
            .filter(|_| spec.len() >= before.len() + after.len())?;
        Some(package.join(target(value, kind, Some(star))?))
    })
}

/// A package.json, if `dir` has one that parses.
pub fn manifest(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn as_file(x: &Path, kind: Kind) -> Option<PathBuf> {
    if x.is_file() {
        return Some(x.to_path_buf());
    }
    let name = x.file_name()?.to_string_lossy().to_string();
    kind.extensions()
        .iter()
        .map(|e| x.with_file_name(format!("{name}.{e}")))
        .find(|p| p.is_file())
}

fn as_directory(x: &Path, kind: Kind) -> Option<PathBuf> {
    if !x.is_dir() {
        return None;
    }
    if let Some(main) = manifest(x)
        .as_ref()
        .and_then(|m| m.get("main"))
        .and_then(Value::as_str)
        && !main.is_empty()
    {
        let m = x.join(main);
        if let Some(found) = as_file(&m, kind).or_else(|| as_index(&m, kind)) {
            return Some(found);
        }
    }
    as_index(x, kind)
}

fn as_index(x: &Path, kind: Kind) -> Option<PathBuf> {
    kind.extensions()
        .iter()
        .map(|e| x.join(format!("index.{e}")))
        .find(|p| p.is_file())
}

/// The target an `exports` value gives under `kind`'s conditions (`*` replaced by `star`).
fn target(value: &Exports, kind: Kind, star: Option<&str>) -> Option<String> {
    match value {
        Exports::Target(s) => Some(match star {
            Some(star) => s.replace('*', star),
            None => s.clone(),
        }),
        Exports::List(items) => items.iter().find_map(|v| target(v, kind, star)),
        Exports::Map(entries) => entries.iter().find_map(|(condition, v)| {
            kind.conditions()
                .contains(&condition.as_str())
                .then(|| target(v, kind, star))
                .flatten()
        }),
        Exports::Other => None,
    }
}

/// The file an `exports` map gives for `subpath` (`.` or `./x`), below `package`.
fn exported(package: &Path, exports: &Exports, subpath: &str, kind: Kind) -> Option<PathBuf> {
    // A string, an array or a map of conditions is the `.` entry alone.
    let subpaths = match exports {
        Exports::Map(entries) if entries.iter().any(|(k, _)| k.starts_with('.')) => entries,
        _ if subpath == "." => return Some(package.join(target(exports, kind, None)?)),
        _ => return None,
    };
    if let Some((_, value)) = subpaths.iter().find(|(k, _)| k == subpath) {
        return Some(package.join(target(value, kind, None)?));
    }
    // The longest pattern `./a/*.js` whose parts enclose the subpath.
    let mut best: Option<(usize, &Exports, String)> = None;
    for (key, value) in subpaths {
        if let Some((before, after)) = key.split_once('*')
            && subpath.len() >= before.len() + after.len()
            && subpath.starts_with(before)
            && subpath.ends_with(after)
            && best.as_ref().is_none_or(|b| before.len() > b.0)
            && let Some(star) = subpath.get(before.len()..subpath.len() - after.len())
        {
            best = Some((before.len(), value, star.to_string()));
        }
    }
    let (_, value, star) = best?;
    Some(package.join(target(value, kind, Some(&star))?))
}

/// Every file the package at `dir` exports to Node, under either loading kind: each subpath of
/// its `exports` (patterns left out: they name no file of their own).
pub fn exported_files(dir: &Path) -> Vec<PathBuf> {
    let Some(exports) = exports_of(dir) else {
        return Vec::new();
    };
    let subpaths: Vec<&str> = match &exports {
        Exports::Map(entries) if entries.iter().any(|(k, _)| k.starts_with('.')) => entries
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !k.contains('*'))
            .collect(),
        _ => vec!["."],
    };
    let mut files = Vec::new();
    for subpath in subpaths {
        for kind in [Kind::Require, Kind::Import] {
            if let Some(p) = exported(dir, &exports, subpath, kind)
                && p.is_file()
                && let Ok(p) = std::fs::canonicalize(&p)
            {
                files.push(p);
            }
        }
    }
    files
}

/// The file `spec` names from a file in `dir`, as Node finds it; `None` if Node would not.
pub fn resolve(dir: &Path, spec: &str, kind: Kind) -> Option<PathBuf> {
    let found = if spec.starts_with('#') {
        imported(dir, spec, kind).filter(|p| p.is_file())
    } else if spec.starts_with("./")
        || spec.starts_with("../")
        || spec.starts_with('/')
        || spec == "."
        || spec == ".."
    {
        let x = dir.join(spec);
        as_file(&x, kind).or_else(|| as_directory(&x, kind))
    } else {
        // `@scope/name/sub` and `name/sub`: the package, then the path below it.
        let mut parts = spec.splitn(if spec.starts_with('@') { 3 } else { 2 }, '/');
        let name = if spec.starts_with('@') {
            format!("{}/{}", parts.next()?, parts.next()?)
        } else {
            parts.next()?.to_string()
        };
        let rest = parts.next();
        dir.ancestors().find_map(|up| {
            let package = up.join("node_modules").join(&name);
            if !package.is_dir() {
                return None;
            }
            match exports_of(&package) {
                Some(exports) => {
                    let subpath = rest.map_or(".".to_string(), |r| format!("./{r}"));
                    exported(&package, &exports, &subpath, kind).filter(|p| p.is_file())
                }
                None => {
                    let x = rest.map_or(package.clone(), |r| package.join(r));
                    as_file(&x, kind).or_else(|| as_directory(&x, kind))
                }
            }
        })
    }?;
    // One file by one name, however it was reached (`a/../b`, links).
    std::fs::canonicalize(&found).ok()
}
