//! `warden import netpol` against network-config-analyzer: NetworkPolicies imported into a
//! program and built again must be equivalent (`nca --equiv`, which compares connections as sets
//! of ports and addresses, not by probing) to the policies imported — for the 15 recipes, the
//! upstream Online Boutique policies, and the policies of 300 programs generated from a seed. nca
//! compares over the pods it is given, so each comparison has the pods that tell the selectors
//! apart, and a program with one rule taken out must be found different (else the comparison
//! could not fail).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use super::netpol::{nca, write_cluster};
use super::netpol_upstream::{boutique_cluster, recipe_cluster};
use crate::common::{self, Rng, cluster};
use std::path::{Path, PathBuf};
use std::process::Command;
use warden::document::Target;
use warden::span::SourceMap;

const PROGRAMS: usize = 300;
const SEED: u64 = 0x1a70_2026_1206;

const EMPTY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyList\nitems: []\n";

/// Writes the NetworkPolicies a program generates into `dir`, a file each.
fn write_policies(files: &[(String, String)], dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("empty.yaml"), EMPTY).unwrap();
    let docs = compile(files)?;
    for d in docs.iter().filter(|d| d.path.starts_with("netpol/")) {
        std::fs::write(dir.join(d.path.replace('/', "_")), &d.text).unwrap();
    }
    Ok(())
}

fn compile(files: &[(String, String)]) -> Result<Vec<warden::document::Document>, String> {
    let mut sources = SourceMap::new();
    for (name, text) in files {
        sources.add(name.clone(), text.clone());
    }
    let c = warden::compile(sources, &[Target::Netpol]);
    let errors = c.diagnostics.iter().any(warden::diag::Diagnostic::is_error);
    match c.documents {
        Some(docs) if !errors => Ok(docs),
        _ => Err(format!(
            "does not compile:\n{}\n{}",
            files.iter().map(|(_, t)| t.as_str()).collect::<String>(),
            warden::diag::render::human(&c.sources, &c.diagnostics)
        )),
    }
}

/// The program `import` makes of the policies in `dir`, or its errors.
fn import(dir: &Path, namespace: &str) -> Result<Vec<(String, String)>, String> {
    let manifests = warden::manifests::read(&[dir.to_path_buf()]);
    assert!(manifests.diagnostics.is_empty(), "{dir:?} reads");
    let imported = warden::import::netpol::import(&manifests, namespace);
    if imported
        .diagnostics
        .iter()
        .any(warden::diag::Diagnostic::is_error)
    {
        return Err(warden::diag::render::human(
            &manifests.sources,
            &imported.diagnostics,
        ));
    }
    Ok(imported.files)
}

/// nca's verdict: whether the two directories of policies allow the same connections.
fn equivalent(ours: &Path, theirs: &Path, pods: &Path, ns: &Path) -> (bool, String) {
    let out = Command::new(nca())
        .arg("--equiv")
        .arg(ours)
        .arg("--base_np_list")
        .arg(theirs)
        .arg("--pod_list")
        .arg(pods)
        .arg("--ns_list")
        .arg(ns)
        .output()
        .expect("nca runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    // nca exits 0 for equivalent, 1 for not; anything else is a failure to read the input.
    assert!(
        matches!(code, Some(0 | 1)) && !stderr.contains("Error"),
        "nca failed ({code:?}):\n{stdout}\n{stderr}"
    );
    (code == Some(0), stdout)
}

/// The program with its first flow line (and the lines it continues on) taken out, if it has
/// one.
fn without_a_rule(files: &[(String, String)]) -> Option<Vec<(String, String)>> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = files.to_vec();
    for (_, text) in &mut out {
        let lines: Vec<&str> = text.lines().collect();
        if let Some(i) = lines.iter().position(|l| {
            let l = l.trim_start();
            l.starts_with("from ") || l.starts_with("to ")
        }) {
            let end = (i + 1..lines.len())
                .find(|&j| indent(lines[j]) <= indent(lines[i]))
                .unwrap_or(lines.len());
            let mut kept = lines.clone();
            kept.drain(i..end);
            *text = kept.join("\n") + "\n";
            return Some(out);
        }
    }
    None
}

/// Imports the policies in `theirs`, builds the program, and asks nca whether the two agree;
/// then whether the program less a rule is found different. Returns the program.
fn round_trip(
    theirs: &Path,
    namespace: &str,
    pods: &Path,
    ns: &Path,
    tmp: &Path,
) -> Result<Vec<(String, String)>, String> {
    let files = import(theirs, namespace)?;
    let ours = tmp.join("ours");
    write_policies(&files, &ours)?;
    let (same, report) = equivalent(&ours, theirs, pods, ns);
    if !same {
        return Err(format!(
            "not equivalent:\n{report}\n--- program\n{}",
            files.iter().map(|(_, t)| t.as_str()).collect::<String>()
        ));
    }
    Ok(files)
}

#[test]
fn every_recipe_imports_to_a_program_with_its_meaning() {
    let corpus = common::corpora().join("netpol-recipes/manifests");
    let mut recipes: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e} (it comes from shared/corpora)", corpus.display()))
        .map(|e| e.unwrap().path())
        .collect();
    recipes.sort();
    assert_eq!(recipes.len(), 15, "the corpus has 15 recipes");
    let mut failures = Vec::new();
    let mut caught = 0;
    for recipe in &recipes {
        let tmp = tempfile::tempdir().unwrap();
        let (pods, ns, _) = recipe_cluster(tmp.path());
        let theirs = tmp.path().join("theirs");
        std::fs::create_dir_all(&theirs).unwrap();
        std::fs::copy(recipe, theirs.join("policy.yaml")).unwrap();
        match round_trip(&theirs, "default", &pods, &ns, tmp.path()) {
            Ok(files) => {
                if let Some(less) = without_a_rule(&files) {
                    let mutant = tmp.path().join("mutant");
                    write_policies(&less, &mutant).unwrap();
                    if equivalent(&mutant, &theirs, &pods, &ns).0 {
                        failures.push(format!(
                            "{}: a rule taken out is not noticed",
                            recipe.display()
                        ));
                    }
                    caught += 1;
                }
            }
            Err(e) => failures.push(format!("{}: {e}", recipe.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Recipes that only deny have no rule to take out; the others must all be caught.
    assert!(caught >= 9, "only {caught} recipes had a rule to take out");
}

#[test]
fn upstream_online_boutique_policies_import_to_a_program_with_their_meaning() {
    let upstream = common::corpora().join("microservices-demo/network-policies");
    let tmp = tempfile::tempdir().unwrap();
    let (pods, ns, _, _) = boutique_cluster(tmp.path());
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    let mut count = 0;
    for entry in std::fs::read_dir(&upstream)
        .unwrap_or_else(|e| panic!("{}: {e} (it comes from shared/corpora)", upstream.display()))
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(&path, theirs.join(path.file_name().unwrap())).unwrap();
            count += 1;
        }
    }
    assert_eq!(count, 13, "upstream ships 13 policies");
    // nca reads the upstream policies without a namespace as in `default`; so does import.
    let (pods, ns) = in_default(&pods, &ns, tmp.path());
    let files =
        round_trip(&theirs, "default", &pods, &ns, tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let text: String = files.iter().map(|(_, t)| t.as_str()).collect();
    // Each upstream policy but the namespace's deny-all selects one app: twelve services.
    assert_eq!(text.matches("\nservice ").count(), 12, "{text}");
    let less = without_a_rule(&files).unwrap();
    let mutant = tmp.path().join("mutant");
    write_policies(&less, &mutant).unwrap();
    assert!(
        !equivalent(&mutant, &theirs, &pods, &ns).0,
        "a rule taken out is not noticed"
    );
}

/// The Online Boutique cluster with its namespace renamed `default`, where upstream's policies
/// (which name none) apply.
fn in_default(pods: &Path, ns: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let rename = |path: &Path, name: &str| {
        let text = std::fs::read_to_string(path)
            .unwrap()
            .replace("\"online-boutique\"", "\"default\"");
        let out = dir.join(name);
        std::fs::write(&out, text).unwrap();
        out
    };
    (
        rename(pods, "pods-default.json"),
        rename(ns, "ns-default.json"),
    )
}

/// One seeded program's round trip: `None` when the program does not compile (the generator's
/// programs sometimes do not), else whether import said it cannot, or the failure.
enum Outcome {
    Skipped,
    Unsayable(String),
    Equivalent { caught: Option<bool> },
    Failed(String),
}

fn seeded(index: usize, text: String, mutate: bool) -> Outcome {
    let mut sources = SourceMap::new();
    sources.add(format!("p{index}.warden"), text.clone());
    let c = warden::compile(sources, &[Target::Netpol]);
    let Some(program) = c.program.filter(|_| c.documents.is_some()) else {
        return Outcome::Skipped;
    };
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join("theirs");
    write_policies(&[(format!("p{index}.warden"), text.clone())], &theirs).unwrap();
    let cluster_pods = cluster::pods(&program);
    let refs: Vec<&warden::ir::Pod> = cluster_pods.iter().collect();
    let (pods, ns) = write_cluster(&[&program], &refs, tmp.path());
    match round_trip(&theirs, "default", &pods, &ns, tmp.path()) {
        Ok(files) => {
            let caught = (mutate)
                .then(|| without_a_rule(&files))
                .flatten()
                .map(|less| {
                    let mutant = tmp.path().join("mutant");
                    write_policies(&less, &mutant).unwrap();
                    !equivalent(&mutant, &theirs, &pods, &ns).0
                });
            Outcome::Equivalent { caught }
        }
        // What a program cannot say is named, and only that: a port named in an egress rule
        // (the generated programs name the ports of pods that are no service).
        Err(e) if e.contains("E1302") && !e.contains("E1301") => Outcome::Unsayable(e),
        Err(e) => Outcome::Failed(format!("program {index} of seed {SEED:#x}:\n{text}\n{e}")),
    }
}

#[test]
fn policies_of_seeded_programs_import_to_programs_with_their_meaning() {
    let mut rng = Rng(SEED);
    let texts: Vec<String> = (0..PROGRAMS * 2)
        .map(|i| cluster::random_program(i, &mut rng))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(text) = texts.get(i) else {
                            return done;
                        };
                        done.push((i, seeded(i, text.clone(), i.is_multiple_of(4))));
                    }
                })
            })
            .collect();
        let mut all: Vec<(usize, Outcome)> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, o)| o).collect()
    });
    let (mut equivalent, mut unsayable, mut mutated, mut caught) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    let mut unsayable_example = String::new();
    for o in outcomes {
        match o {
            Outcome::Skipped => {}
            Outcome::Unsayable(e) => {
                unsayable += 1;
                unsayable_example = e;
            }
            Outcome::Equivalent { caught: c } => {
                equivalent += 1;
                if let Some(c) = c {
                    mutated += 1;
                    caught += usize::from(c);
                }
            }
            Outcome::Failed(e) => failures.push(e),
        }
    }
    println!(
        "{equivalent} policy sets imported to equivalent programs, {unsayable} refused as a program cannot say them (e.g.\n{unsayable_example}); {caught} of {mutated} programs less a rule found different"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        equivalent >= PROGRAMS,
        "only {equivalent} policy sets imported"
    );
    // A rule taken out may be one another rule covers, but most are not.
    assert!(
        caught * 10 >= mutated * 7,
        "only {caught} of {mutated} programs less a rule were found different"
    );
}
