//! `warden import seccomp` against the runtime's own reading: a profile imported into a block and
//! built again must give each system call the same rules (action, errno, argument conditions) as
//! the profile it came from, once a runtime has resolved both — for x86_64 and aarch64, for a
//! container with no capabilities, Docker's default set and every capability, on a current
//! kernel (`common::seccomp::runtime_spec`, written from containerd's and moby's resolution). For
//! moby's `default.json`, its fixtures, the Security Profiles Operator's examples and 150 profiles
//! generated from a seed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::seccomp::runtime_spec;
use crate::common::{self, Rng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use warden::catalog::Arch;
use warden::document::Target;

const SEEDED: usize = 150;
const SEED: u64 = 0x5ecc_0e2d_2026_1206;
const KERNEL: (u32, u32) = (6, 8);
const ARCHES: [(&str, Arch); 2] = [
    ("SCMP_ARCH_X86_64", Arch::X86_64),
    ("SCMP_ARCH_AARCH64", Arch::Aarch64),
];

/// The capability sets compared: none, Docker's default, every one.
fn capability_sets() -> Vec<Vec<String>> {
    vec![
        Vec::new(),
        warden::lower::spo::DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect(),
        warden::catalog::pod_spec::CAPABILITIES
            .iter()
            .map(|c| format!("CAP_{c}"))
            .collect(),
    ]
}

/// A profile as a runtime receives Docker's format: old single `name`s as `names`, and an
/// `archMap` of the two architectures (a profile's rules apply on the host's architecture
/// whatever its list says, as libseccomp always adds the native one).
fn docker_form(profile: &Value) -> Value {
    let mut p = profile.clone();
    let rules: Vec<Value> = p["syscalls"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut r| {
            if let Some(name) = r.get("name").cloned() {
                r["names"] = json!([name]);
            }
            r
        })
        .collect();
    p["syscalls"] = Value::Array(rules);
    p["archMap"] = json!([
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": []},
    ]);
    p
}

/// What a resolved spec does with each call of `names`: its rules, normalized as runc reads
/// them (no errno is EPERM, no `valueTwo` is 0, `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`), or
/// the default.
fn rules_by_call(spec: &Value, names: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let action = |a: &Value, errno: &Value| -> String {
        let a = a.as_str().unwrap();
        let a = if a == "SCMP_ACT_KILL" {
            "SCMP_ACT_KILL_THREAD"
        } else {
            a
        };
        if a == "SCMP_ACT_ERRNO" {
            format!("{a}({})", errno.as_u64().unwrap_or(1))
        } else {
            a.to_string()
        }
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in spec["syscalls"].as_array().unwrap() {
        let mut args: Vec<String> = r["args"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                format!(
                    "arg{} {} {} {}",
                    a["index"],
                    a["op"].as_str().unwrap(),
                    a["value"].as_u64().unwrap(),
                    a["valueTwo"].as_u64().unwrap_or(0)
                )
            })
            .collect();
        args.sort();
        args.dedup();
        let what = format!(
            "{} [{}]",
            action(&r["action"], &r["errnoRet"]),
            args.join(", ")
        );
        for n in r["names"].as_array().unwrap() {
            let n = n.as_str().unwrap();
            if names.contains(n) {
                out.entry(n.to_string()).or_default().insert(what.clone());
            }
        }
    }
    // A rule with conditions beside one without, of the same action, changes nothing: the
    // filter takes the action either way.
    for rules in out.values_mut() {
        let unconditional: Vec<String> = rules
            .iter()
            .filter_map(|r| r.strip_suffix(" []").map(str::to_string))
            .collect();
        rules.retain(|r| {
            r.ends_with(" []")
                || !unconditional
                    .iter()
                    .any(|u| r.starts_with(&format!("{u} [")))
        });
    }
    let default = format!(
        "default {}",
        action(&spec["defaultAction"], &spec["defaultErrnoRet"])
    );
    for n in names {
        out.entry(n.clone())
            .or_insert_with(|| BTreeSet::from([default.clone()]));
    }
    out
}

/// Imports `profile` (the file's bytes) for `caps`: the block, or the errors.
fn import(name: &str, bytes: &[u8], caps: &[String], pick: Option<&str>) -> Result<String, String> {
    let options = warden::import::seccomp::Options {
        capabilities: caps.iter().cloned().collect(),
        profile: pick.map(str::to_string),
    };
    let imported = warden::import::seccomp::import(name, bytes, &options);
    imported
        .block
        .ok_or_else(|| warden::diag::render::human(&imported.sources, &imported.diagnostics))
}

/// The Docker-format profile warden generates for `block`.
fn built(block: &str) -> Value {
    let program =
        format!("namespace t {{ }}\nservice probe in t {{\n  pods app = \"probe\"\n{block}}}\n");
    common::parsed_program(&program, &[Target::Seccomp])["seccomp/t/probe.json"].clone()
}

/// Every difference between the profile and the block's, per architecture and call.
fn differences(theirs: &Value, block: &str, caps: &[String]) -> Vec<String> {
    let ours = built(block);
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for (native, arch) in ARCHES {
        let names: BTreeSet<String> = warden::catalog::get()
            .table(arch)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let a = rules_by_call(&runtime_spec(theirs, native, &caps, KERNEL), &names);
        let b = rules_by_call(&runtime_spec(&ours, native, &caps, KERNEL), &names);
        for n in &names {
            if a[n] != b[n] {
                out.push(format!(
                    "{native} {n}: profile {:?}, block {:?}",
                    a[n], b[n]
                ));
            }
        }
    }
    out
}

/// Each SeccompProfile of a YAML file as the operator merges it with its base: Docker's form.
fn spo_profiles(text: &str) -> Vec<(String, Value)> {
    use serde::Deserialize as _;
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|d| d["kind"] == "SeccompProfile")
        .collect();
    let by_name: BTreeMap<String, &Value> = docs
        .iter()
        .map(|d| (d["metadata"]["name"].as_str().unwrap().to_string(), d))
        .collect();
    docs.iter()
        .map(|d| {
            let mut spec = d["spec"].clone();
            let mut rules = spec["syscalls"].as_array().cloned().unwrap_or_default();
            let mut at = d;
            while let Some(base) = at["spec"]["baseProfileName"].as_str() {
                at = by_name[base];
                let mut first = at["spec"]["syscalls"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                first.extend(rules);
                rules = first;
            }
            spec["syscalls"] = Value::Array(rules);
            (d["metadata"]["name"].as_str().unwrap().to_string(), spec)
        })
        .collect()
}

#[test]
fn moby_and_spo_profiles_import_to_blocks_with_their_rules() {
    let corpus = common::corpora().join("seccomp");
    let mut compared = 0;
    let mut failures = Vec::new();
    let mut cases: Vec<(String, Vec<u8>, Option<String>, Value)> = Vec::new();
    for file in [
        "moby/default.json",
        "moby/fixtures/default-old-format.json",
        "moby/fixtures/conditional_include.json",
        "security-profiles-operator/raw-json/bpf-recorder.json",
        "security-profiles-operator/raw-json/security-profiles-operator.json",
    ] {
        let bytes = std::fs::read(corpus.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e} (it comes from shared/corpora)"));
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        cases.push((file.to_string(), bytes, None, value));
    }
    let examples = corpus.join("security-profiles-operator/examples");
    let mut spo = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for (name, spec) in spo_profiles(&String::from_utf8_lossy(&bytes)) {
            spo += 1;
            cases.push((path.display().to_string(), bytes.clone(), Some(name), spec));
        }
    }
    assert!(spo >= 10, "only {spo} SeccompProfiles in the SPO examples");
    for (file, bytes, pick, value) in &cases {
        for caps in capability_sets() {
            match import(file, bytes, &caps, pick.as_deref()) {
                Ok(block) => {
                    let diffs = differences(&docker_form(value), &block, &caps);
                    if !diffs.is_empty() {
                        failures.push(format!(
                            "{file} {pick:?} with {} capabilities:\n{}\n{block}",
                            caps.len(),
                            diffs
                                .iter()
                                .take(10)
                                .cloned()
                                .collect::<Vec<_>>()
                                .join("\n")
                        ));
                    }
                    compared += 1;
                }
                Err(e) => failures.push(format!("{file} {pick:?}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!("{compared} imports compared call by call on x86_64 and aarch64");
    // The fixture with an errno that has no name is refused, and says why.
    let example = std::fs::read(corpus.join("moby/fixtures/example.json")).unwrap();
    let e = import("example.json", &example, &[], None).unwrap_err();
    assert!(e.contains("E1312") && e.contains("errno 12345"), "{e}");
}

/// A Docker-format profile drawn from the seed: calls of both architectures, of one, of neither;
/// actions with errnos; conditions of every comparison; rules for some capabilities, some
/// architectures and some kernels; now and then something a block cannot say.
fn random_profile(rng: &mut Rng) -> Value {
    let cat = warden::catalog::get();
    let x86: Vec<&String> = cat.table(Arch::X86_64).unwrap().keys().collect();
    let arm: Vec<&String> = cat.table(Arch::Aarch64).unwrap().keys().collect();
    let others = ["_llseek", "socketcall", "mmap2", "not_a_call"];
    let actions = [
        ("SCMP_ACT_ALLOW", None),
        ("SCMP_ACT_ALLOW", None),
        ("SCMP_ACT_ERRNO", Some(1)),
        ("SCMP_ACT_ERRNO", Some(38)),
        ("SCMP_ACT_ERRNO", None),
        ("SCMP_ACT_KILL_PROCESS", None),
        ("SCMP_ACT_KILL", None),
        ("SCMP_ACT_LOG", None),
    ];
    let ops = [
        "SCMP_CMP_EQ",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_GT",
        "SCMP_CMP_GE",
        "SCMP_CMP_MASKED_EQ",
    ];
    let caps = [
        "CAP_SYS_ADMIN",
        "CAP_NET_RAW",
        "CAP_SYS_PTRACE",
        "CAP_CHOWN",
    ];
    let mut chosen: BTreeMap<String, usize> = BTreeMap::new();
    let mut rules = Vec::new();
    for _ in 0..(1 + rng.below(12)) {
        let mut names = Vec::new();
        for _ in 0..(1 + rng.below(6)) {
            let name = match rng.below(10) {
                0..=5 => rng.pick(&x86).to_string(),
                6..=8 => rng.pick(&arm).to_string(),
                _ => rng.pick(&others).to_string(),
            };
            names.push(name);
        }
        // One action a call, mostly: a block gives a call one.
        let a = if rng.chance(3) {
            rng.below(actions.len())
        } else {
            *chosen
                .entry(names[0].clone())
                .or_insert_with(|| rng.below(actions.len()))
        };
        for n in &names {
            chosen.entry(n.clone()).or_insert(a);
        }
        let names: Vec<String> = names.into_iter().filter(|n| chosen[n] == a).collect();
        let (action, errno) = actions[a];
        let mut rule = json!({"names": names, "action": action});
        if let Some(e) = errno {
            rule["errnoRet"] = json!(e);
        }
        if rng.chance(30) {
            let mut args = Vec::new();
            for _ in 0..(1 + rng.below(2)) {
                let op = *rng.pick(&ops);
                let value: u64 = *rng.pick(&[0, 1, 8, 38, 0x7e02_0000, u64::from(u32::MAX)]);
                let two = if op == "SCMP_CMP_MASKED_EQ" {
                    if rng.chance(5) {
                        1
                    } else {
                        *rng.pick(&[0, value])
                    }
                } else {
                    0
                };
                args.push(
                    json!({"index": rng.below(3), "value": value, "valueTwo": two, "op": op}),
                );
            }
            rule["args"] = json!(args);
        }
        if rng.chance(20) {
            rule["includes"] = json!({"caps": [rng.pick(&caps)]});
        } else if rng.chance(10) {
            rule["excludes"] = json!({"caps": [rng.pick(&caps)]});
        } else if rng.chance(8) {
            rule["includes"] = json!({"arches": [rng.pick(&["amd64", "arm64", "x32", "s390x"])]});
        } else if rng.chance(8) {
            rule["includes"] = json!({"minKernel": "4.8"});
        }
        rules.push(rule);
    }
    let (default, errno) = *rng.pick(&[
        ("SCMP_ACT_ERRNO", Some(1)),
        ("SCMP_ACT_ERRNO", None),
        ("SCMP_ACT_KILL_PROCESS", None),
        ("SCMP_ACT_LOG", None),
        ("SCMP_ACT_ALLOW", None),
    ]);
    let mut p = json!({"defaultAction": default, "syscalls": rules});
    if let Some(e) = errno {
        p["defaultErrnoRet"] = json!(e);
    }
    p
}

#[test]
fn seeded_profiles_import_to_blocks_with_their_rules() {
    let mut rng = Rng(SEED);
    let (mut equal, mut refused) = (0, 0);
    let mut failures = Vec::new();
    let mut i = 0;
    while equal < SEEDED {
        i += 1;
        assert!(
            i < SEEDED * 3,
            "the generator makes too many profiles a block cannot say"
        );
        let profile = random_profile(&mut rng);
        let bytes = serde_json::to_vec_pretty(&profile).unwrap();
        let caps = &capability_sets()[rng.below(3)];
        match import(&format!("seeded-{i}.json"), &bytes, caps, None) {
            Ok(block) => {
                let diffs = differences(&docker_form(&profile), &block, caps);
                if !diffs.is_empty() {
                    failures.push(format!(
                        "profile {i} of seed {SEED:#x} with {} capabilities:\n{}\n{}\n{block}",
                        caps.len(),
                        diffs
                            .iter()
                            .take(10)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("\n"),
                        String::from_utf8_lossy(&bytes)
                    ));
                }
                equal += 1;
            }
            // Only what a block cannot say is refused, with E1312.
            Err(e) if e.contains("E1312") && !e.contains("E1311") => refused += 1,
            Err(e) => failures.push(format!(
                "profile {i}: {e}\n{}",
                String::from_utf8_lossy(&bytes)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!("{equal} seeded profiles imported with the same rules, {refused} refused (E1312)");
    // The generator must reach both outcomes.
    assert!(refused > 0, "no seeded profile was refused");
}
