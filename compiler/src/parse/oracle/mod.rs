//! The grammar itself, run by pest, as the oracle for the hand-written parser: on every program
//! the project holds, every stored fuzz input and mutations of each, both must accept with the
//! same syntax tree and diagnostics, or reject at the same place naming the same rules.

mod pairs_to_ast;

use super::descent;
use pest::Parser;
use std::path::{Path, PathBuf};

#[derive(pest_derive::Parser)]
#[grammar = "grammar/warden.pest"]
struct WardenParser;

#[derive(Debug, PartialEq)]
enum Outcome {
    /// The syntax tree and diagnostics, printed.
    Parsed(String),
    /// Where the parse stopped and the rules named there, by their names in the grammar.
    Failed(usize, Vec<String>),
}

fn by_pest(text: &str) -> Outcome {
    match WardenParser::parse(Rule::program, text) {
        Ok(pairs) => {
            let (file, diags) = pairs_to_ast::file(0, pairs);
            Outcome::Parsed(format!("{file:#?}\n{diags:#?}"))
        }
        Err(err) => {
            let pos = match err.location {
                pest::error::InputLocation::Pos(p) | pest::error::InputLocation::Span((p, _)) => p,
            };
            let rules = match &err.variant {
                pest::error::ErrorVariant::ParsingError { positives, .. } => {
                    positives.iter().map(|r| format!("{r:?}")).collect()
                }
                pest::error::ErrorVariant::CustomError { message } => vec![message.clone()],
            };
            Outcome::Failed(pos, sorted(rules))
        }
    }
}

fn by_descent(text: &str) -> Outcome {
    match descent::file(0, text) {
        Ok((file, diags)) => Outcome::Parsed(format!("{file:#?}\n{diags:#?}")),
        Err(failure) => {
            let rules = failure.expected.iter().map(|r| match r {
                descent::Rule::Kw(word) => format!("kw_{}", word.replace('-', "_")),
                other => format!("{other:?}"),
            });
            Outcome::Failed(failure.pos, sorted(rules.collect()))
        }
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every file under `dir` whose name ends in `suffix` ("" for all), in a fixed order.
fn files(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, suffix, out);
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
}

/// The programs: every `.warden` file of the repository, then every stored fuzz input.
fn corpus() -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    for dir in ["examples", "compiler/tests"] {
        files(&repo().join(dir), ".warden", &mut paths);
    }
    let programs = paths.len();
    files(&repo().join("fuzz/corpus"), "", &mut paths);
    assert!(
        programs >= 50 && paths.len() >= programs + 1000,
        "the oracle's corpus is missing: {programs} programs, {} files in all",
        paths.len()
    );
    paths
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            Some((p, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .collect()
}

fn compare(what: &str, text: &str) {
    let expected = by_pest(text);
    let actual = by_descent(text);
    assert!(
        expected == actual,
        "{what}: the parser disagrees with the grammar\n--- input ---\n{text}\n--- pest ---\n{expected:#?}\n--- descent ---\n{actual:#?}"
    );
}

#[test]
fn agrees_with_the_grammar_on_every_stored_program() {
    let corpus = corpus();
    let mut parsed = 0;
    for (path, text) in &corpus {
        compare(&path.display().to_string(), text);
        parsed += usize::from(matches!(by_descent(text), Outcome::Parsed(_)));
    }
    // Both outcomes must be well represented, or the comparison proves little.
    assert!(
        parsed > 1000 && corpus.len() - parsed > 200,
        "{parsed} of {} inputs parse",
        corpus.len()
    );
}

/// Every rule of the grammar, lists of one and of several, every optional part present and absent.
const TOUR: &str = r#"
namespace shop {
  labels team = "a", tier = web, n = 1, bad = "a\qb"
  isolate
  isolate ingress
  isolate egress
  allow dns
  to world
  from cidr 10.0.0.0/8 except 10.1.0.0/16, 10.2.0.0/16 on 80, 443/tcp, 8000-8100/udp, http
  to host "api.example.com", host "*.s3.amazonaws.com" on all ports
  to pods(app = "x") in namespace other, pods() in namespaces(team in (a, "b", 3)), pods(!legacy, gpu) in all namespaces, pods(a=b)
  to namespace kube-system, namespaces(env notin (dev)), namespaces(), all pods only GET "/v1/.*", POST, "/health"
  from a, b/c on web only GET
}
dns { namespace kube-system pods k8s-app = "kube-dns" nodelocal 169.254.20.10 }
dns { }
service cart in shop {
  pods app = "cart", tier in (web, api)
  port http 8080/tcp
  port grpc 9000 - 9010 / udp
  port metrics
  port admin/tcp
  port one 7
  isolate
  to shop/db on 5432
  syscalls {
    base docker-default
    default errno EPERM
    default kill-process
    allow read, write, _llseek
    deny group network, mount
    kill-process ptrace
    kill-thread bpf
    log execve
    trace clone if arg0 has CLONE_THREAD
    notify socket if arg0 in (AF_INET, AF_INET6) and arg1 == 0x1f and arg2 < 8 | 16 | A_B
    errno EACCES openat if arg1 lacks O_CREAT
    allow mmap if arg2 != 3 and arg3 <= 4 and arg4 >= 5 and arg5 > _X
  }
  syscalls { }
}
service empty in shop { }
admission base {
  applies to workloads in all namespaces
  applies to workloads in namespaces(env = "prod")
  applies to workloads in namespaces()
  applies to workloads in namespace a, b
  applies to workloads in namespaces a
  except namespaces(team = "x")
  except namespace kube-system, c
  forbid host-paths "/etc", "/var/run"
  forbid host-paths "/proc"
  forbid privileged, host-network
  require cel "object.spec.x == 1" message "need \"x\""
  require labels app, team.example.com/owner
  require annotations a.b/c
  require non-root, read-only
  images from "registry.example.com/*", "docker.io/library/*"
  mode enforce
  pod-security restricted version v1.36
  pod-security baseline version 1
  pod-security baseline
  exempt images "a/*", "b/*", "c" because "legacy"
  exempt images "c/*" because "x"
  exempt host-network "needs it"
  allow capabilities NET_ADMIN, SYS_TIME
  allow volumes configMap
  run-as-user non-root
  run-as-group 1000-2000, 5000
  fs-group 2000
  supplemental-groups 1, 2-3
}
admission empty { }
expect a -> shop/b on 8080/tcp allowed
expect world -> cidr 10.0.0.0/8 denied
expect shop/a -> b on http denied
expect cidr 1.2.3.4/32 -> world allowed
"#;

/// `text` with `f` applied to each space outside string literals.
fn respace(text: &str, f: impl Fn(Option<char>, Option<char>) -> &'static str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
            out.push(c);
        } else if c == ' ' {
            let before = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
            out.push_str(f(before, chars.get(i + 1).copied()));
        } else {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// The tour, and the tour with comments, line breaks or nothing between its tokens.
fn tours() -> Vec<String> {
    let tight = |b: Option<char>, a: Option<char>| {
        let punct = |c: Option<char>| c.is_some_and(|c| ",(){}=|/!".contains(c));
        if punct(b) || punct(a) { "" } else { " " }
    };
    vec![
        TOUR.to_string(),
        respace(TOUR, |_, _| "  /* c */  "),
        respace(TOUR, |_, _| "\n// c \"\n"),
        respace(TOUR, tight),
    ]
}

#[test]
fn agrees_with_the_grammar_on_every_rule() {
    for (n, tour) in tours().iter().enumerate() {
        assert!(
            matches!(by_pest(tour), Outcome::Parsed(_)),
            "tour {n} does not parse:\n{tour}\n{:#?}",
            by_pest(tour)
        );
        compare(&format!("tour {n}"), tour);
    }
}

/// Edits that reach the error paths: cut the text, drop a byte, or put in one of these.
const INSERTS: [&str; 16] = [
    "{", "}", ",", "\"", "/", " ", "(", ")", "-", "x", "\n", "/*", "//", "!", "=", " in ",
];

#[test]
fn agrees_with_the_grammar_on_mutations() {
    let mut paths = Vec::new();
    for dir in ["examples", "compiler/tests"] {
        files(&repo().join(dir), ".warden", &mut paths);
    }
    assert!(paths.len() >= 50, "only {} programs found", paths.len());
    let mut programs: Vec<(String, String)> = tours()
        .into_iter()
        .enumerate()
        .map(|(n, t)| (format!("tour {n}"), t))
        .collect();
    programs.extend(
        paths
            .iter()
            .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?))),
    );
    let mut failed = 0;
    let mut total = 0;
    for (n, (name, text)) in programs.iter().enumerate() {
        // The tours hold every rule: they get many more edits than the other programs.
        let edits = if name.starts_with("tour") { 1500 } else { 96 };
        // A fixed pseudo-random walk over the file's character boundaries.
        let bounds: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ n as u64;
        for _ in 0..edits {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let pick = (seed >> 33) as usize;
            let at = bounds[pick % bounds.len()];
            let next = bounds
                .iter()
                .copied()
                .find(|&b| b > at)
                .unwrap_or(text.len());
            let mutated = match pick % 3 {
                0 => text[..at].to_string(),
                1 => format!("{}{}", &text[..at], &text[next..]),
                _ => format!(
                    "{}{}{}",
                    &text[..at],
                    INSERTS[(pick / 3) % INSERTS.len()],
                    &text[at..]
                ),
            };
            compare(&format!("{name} mutated at {at}"), &mutated);
            total += 1;
            failed += usize::from(matches!(by_descent(&mutated), Outcome::Failed(..)));
        }
    }
    assert!(
        failed > total / 3,
        "only {failed} of {total} mutations fail to parse"
    );
}
