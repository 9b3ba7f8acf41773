//! `warden fmt`: over every example, every broken input that parses and every program the fuzzers
//! grew, formatting twice is formatting once, the comments come out in the same order with the
//! same text, and the formatted program compiles to the same documents but for the source lines
//! they name; and the command rewrites, checks and refuses as it says.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{examples, repo, run, targets_for};
use std::fs;
use std::path::{Path, PathBuf};
use warden::format::source::format;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>, only_warden: bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let path = e.unwrap().path();
        // Packages npm installed for the Node.js examples hold no programs.
        if path.is_dir() && !path.ends_with("node_modules") {
            files_under(&path, out, only_warden);
        } else if !only_warden || path.extension().is_some_and(|x| x == "warden") {
            out.push(path);
        }
    }
}

/// The comments of `text` as the parser finds them, each line comment without trailing blanks.
fn comments(text: &str) -> Vec<String> {
    let laid = warden::parse::parse_for_layout(0, text).expect("parses");
    laid.comments
        .iter()
        .map(|&(s, e)| text[s..e].trim_end().to_string())
        .collect()
}

#[test]
fn formatting_is_idempotent_and_keeps_every_comment() {
    let mut inputs = Vec::new();
    files_under(&repo().join("examples"), &mut inputs, true);
    files_under(&repo().join("compiler/tests/broken"), &mut inputs, true);
    for corpus in ["parse", "check"] {
        files_under(&repo().join("fuzz/corpus").join(corpus), &mut inputs, false);
    }
    inputs.sort();
    let mut formatted = 0;
    let mut commented = 0;
    for path in &inputs {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        let parses = warden::parse::parse_for_layout(0, &text)
            .is_ok_and(|l| !l.diags.iter().any(|d| d.is_error()));
        if !parses {
            continue;
        }
        let once = format(0, &text)
            .unwrap_or_else(|d| panic!("{}: fmt refused it: {d:?}", path.display()));
        let twice = format(0, &once).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        assert_eq!(twice, once, "{}: not idempotent", path.display());
        let before = comments(&text);
        assert_eq!(
            comments(&once),
            before,
            "{}: comments changed",
            path.display()
        );
        assert!(
            !once.lines().any(|l| l.ends_with(' ')),
            "{}",
            path.display()
        );
        formatted += 1;
        commented += usize::from(!before.is_empty());
    }
    // The corpora hold thousands of programs; a handful would mean the inputs were not found.
    assert!(formatted > 1000, "only {formatted} programs formatted");
    assert!(commented > 50, "only {commented} programs with comments");
}

/// Every document of the program in `dir`, built for the targets of the example `example`, by
/// path, with the source lines it names (`shop.warden:12`), which move with the layout, left out.
fn documents(dir: &Path, example: &Path) -> Vec<(String, String)> {
    let sources = warden::load::load(&[dir.to_path_buf()]).expect("loads");
    let c = warden::compile(sources, &targets_for(example));
    let docs = c
        .documents
        .unwrap_or_else(|| panic!("{}: does not compile", dir.display()));
    let line = regex::Regex::new(r"\.warden:[0-9]+").unwrap();
    // The installer's digest is of profiles that name those lines.
    let digest = regex::Regex::new(r#"profiles-sha256: "[0-9a-f]+""#).unwrap();
    docs.into_iter()
        .map(|d| {
            let text = line.replace_all(&d.text, ".warden:N");
            (
                d.path,
                digest.replace_all(&text, "profiles-sha256: D").into_owned(),
            )
        })
        .collect()
}

#[test]
fn a_formatted_program_compiles_to_the_same_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let mut changed = 0;
    for (i, dir) in examples().into_iter().enumerate() {
        let copy = tmp.path().join(i.to_string());
        let mut files = Vec::new();
        files_under(&dir, &mut files, true);
        for f in &files {
            let to = copy.join(f.strip_prefix(&dir).unwrap());
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(f, &to).unwrap();
        }
        let (code, _, err) = run(&["fmt", s(&copy)], tmp.path());
        assert_eq!(code, 0, "{}: {err}", dir.display());
        for f in &files {
            let to = copy.join(f.strip_prefix(&dir).unwrap());
            changed += usize::from(fs::read(f).unwrap() != fs::read(&to).unwrap());
        }
        let before = documents(&dir, &dir);
        let after = documents(&copy, &dir);
        let paths =
            |docs: &[(String, String)]| docs.iter().map(|d| d.0.clone()).collect::<Vec<_>>();
        assert_eq!(paths(&after), paths(&before), "{}", dir.display());
        for ((path, a), (_, b)) in after.iter().zip(&before) {
            let differs = a.lines().zip(b.lines()).find(|(x, y)| x != y);
            assert!(a == b, "{} {path}: {differs:?}", dir.display());
        }
    }
    assert!(
        changed > 10,
        "formatting changed only {changed} example files"
    );
}

#[test]
fn fmt_rewrites_checks_and_leaves_a_broken_file_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policy");
    fs::create_dir(&dir).unwrap();
    let messy = "namespace shop{isolate // why\nallow dns}\n";
    let broken = "namespace shop { isolate\n";
    fs::write(dir.join("a.warden"), messy).unwrap();
    fs::write(dir.join("b.warden"), broken).unwrap();
    let clean = "namespace web {\n  isolate\n}\n";
    fs::write(dir.join("c.warden"), clean).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.join("a.warden"), fs::Permissions::from_mode(0o640)).unwrap();
    }
    // --check writes nothing and names what is not formatted, and the broken file.
    let (code, _, err) = run(&["fmt", "--check", s(&dir)], tmp.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("`a.warden` is not formatted"), "{err}");
    assert!(
        err.contains("error[E0001]") && err.contains("b.warden"),
        "{err}"
    );
    assert!(!err.contains("`c.warden` is not formatted"), "{err}");
    assert_eq!(fs::read_to_string(dir.join("a.warden")).unwrap(), messy);
    // fmt rewrites the first, keeps the broken one as it was, and fails for it.
    let (code, _, err) = run(&["fmt", s(&dir)], tmp.path());
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        fs::read_to_string(dir.join("a.warden")).unwrap(),
        "namespace shop {\n  isolate // why\n  allow dns\n}\n"
    );
    assert_eq!(fs::read_to_string(dir.join("b.warden")).unwrap(), broken);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join("a.warden"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    // No temporary file is left behind.
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // Once the broken file is fixed, everything is formatted.
    fs::write(dir.join("b.warden"), "namespace shop2 { isolate }\n").unwrap();
    let (code, _, err) = run(&["fmt", s(&dir)], tmp.path());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["fmt", "--check", s(&dir)], tmp.path());
    assert_eq!((code, err.as_str()), (0, ""));
}

/// `warden fmt -` with `input` on standard input.
fn fmt_stdin(input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::common::warden_bin())
        .args(["fmt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn fmt_reads_standard_input_for_editors() {
    let out = fmt_stdin(b"expect a -> b   denied // kept\n");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "expect a -> b denied // kept\n"
    );
    // A syntax error: nothing on standard output, the error on standard error.
    let out = fmt_stdin(b"expect a -> ");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("<stdin>"));
}
