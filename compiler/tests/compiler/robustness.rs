//! No input makes warden panic: mutated programs in process, and hostile files through the binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use crate::common::Rng;

use warden::document::Target;
use warden::span::SourceMap;

const TOKENS: &[&str] = &[
    "{",
    "}",
    ",",
    "/",
    "->",
    "=",
    "\"",
    "\\",
    "//",
    "/*",
    "*/",
    "\n",
    " ",
    "to ",
    "from ",
    "on ",
    "world",
    "cidr ",
    "except ",
    "10.0.0.0/8",
    "::/0",
    "999999",
    "0",
    "65536",
    "port ",
    "pods ",
    "service ",
    "namespace ",
    "in ",
    "isolate",
    "allow ",
    "deny ",
    "group ",
    "syscalls ",
    "admission ",
    "expect ",
    "allowed",
    "denied",
    "x",
    "é",
    "\u{2028}",
    "\u{0}",
    "\u{feff}",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(4) {
            0 if !chars.is_empty() => {
                let len = rng.below(12).min(chars.len() - at.min(chars.len()));
                chars.drain(at.min(chars.len())..at.min(chars.len()) + len);
            }
            1 => {
                let tok: Vec<char> = TOKENS[rng.below(TOKENS.len())].chars().collect();
                chars.splice(at..at, tok);
            }
            2 if !chars.is_empty() => {
                let from = rng.below(chars.len());
                let len = rng.below(40).min(chars.len() - from);
                let piece: Vec<char> = chars[from..from + len].to_vec();
                chars.splice(at..at, piece);
            }
            _ => {
                let tok: Vec<char> = TOKENS[rng.below(TOKENS.len())].chars().collect();
                if at < chars.len() {
                    chars[at] = tok[0];
                }
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mutated_programs_never_panic() {
    let mut seeds: Vec<String> = Vec::new();
    for dir in common::examples() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_file() {
                seeds.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    for f in std::fs::read_dir(common::repo().join("compiler/tests/broken")).unwrap() {
        seeds.push(std::fs::read_to_string(f.unwrap().path()).unwrap());
    }
    let mut rng = Rng(0x0005_eed0_f3a4_de11);
    let mut compiled = 0;
    for round in 0..3000 {
        let seed = &seeds[round % seeds.len()];
        let text = mutate(seed, &mut rng);
        let result = std::panic::catch_unwind(|| {
            let mut sources = SourceMap::new();
            sources.add("m.warden".to_string(), text.clone());
            let c = warden::compile(sources, &Target::ALL);
            // Rendering the diagnostics must not panic either.
            let _ = warden::diag::render::human(&c.sources, &c.diagnostics);
            let _ = warden::diag::render::json_lines(&c.sources, &c.diagnostics);
            assert!(c.documents.is_some() || c.diagnostics.iter().any(|d| d.is_error()));
            c.documents.is_some()
        });
        match result {
            Ok(ok) => compiled += usize::from(ok),
            Err(_) => panic!("round {round}: warden panicked on:\n{text}"),
        }
    }
    // The mutations must not all be rejected by the parser, or this would test nothing past it.
    assert!(compiled > 40, "only {compiled} mutated programs compiled");
}

#[test]
fn hostile_files_exit_with_1_or_2_never_101() {
    let tmp = tempfile::tempdir().unwrap();
    let long = "service a in b { pods a = \"".repeat(10_000);
    // Raw CEL goes to a recursive parser: deep brackets, long chains, too long an expression.
    let cel = |e: String| {
        format!("namespace s {{ }}\nadmission a {{\n  applies to workloads in namespace s\n  require cel \"{e}\" message \"m\"\n}}\n")
            .into_bytes()
    };
    let cel_parens = cel(format!("{}true{}", "(".repeat(4000), ")".repeat(4000)));
    let cel_lists = cel(format!("{}{} == []", "[".repeat(3000), "]".repeat(3000)));
    let cel_chain = cel(format!("object{} == 1 && x", ".a".repeat(4900)));
    let cel_index = cel(format!("object{} == 1 && x", "[0]".repeat(3300)));
    let cel_long = cel("true || ".repeat(2000) + "true");
    let cel_broken = cel("variables.containers.all(c, c.image ==".to_string());
    let cases: &[(&str, &[u8])] = &[
        ("cel-parens.warden", &cel_parens),
        ("cel-lists.warden", &cel_lists),
        ("cel-chain.warden", &cel_chain),
        ("cel-index.warden", &cel_index),
        ("cel-long.warden", &cel_long),
        ("cel-broken.warden", &cel_broken),
        ("empty.warden", b""),
        ("binary.warden", b"\x00\xff\xfe\x01garbage"),
        ("bom.warden", "\u{feff}namespace a { isolate".as_bytes()),
        ("deep.warden", &[b'{'; 100_000]),
        ("long.warden", long.as_bytes()),
    ];
    for (name, bytes) in cases {
        let dir = tmp.path().join(name.trim_end_matches(".warden"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
        let (code, _, err) = common::run(
            &["check", dir.to_str().unwrap(), "--out", "out"],
            tmp.path(),
        );
        assert!(code == 1 || code == 2, "{name}: exit {code}: {err}");
        assert!(err.contains("error["), "{name}: {err}");
        // Among a hundred files, parsing runs on worker threads: the same answer.
        let crowded = tmp
            .path()
            .join(format!("{}-crowded", name.trim_end_matches(".warden")));
        std::fs::create_dir(&crowded).unwrap();
        std::fs::write(crowded.join(name), bytes).unwrap();
        for i in 0..100 {
            std::fs::write(
                crowded.join(format!("n{i}.warden")),
                format!("namespace n{i} {{ }}\n"),
            )
            .unwrap();
        }
        let (code, _, err) = common::run(
            &["check", crowded.to_str().unwrap(), "--out", "out"],
            tmp.path(),
        );
        assert!(
            code == 1 || code == 2,
            "{name} among 100 files: exit {code}: {err}"
        );
        assert!(err.contains("error["), "{name} among 100 files: {err}");
    }
}
