//! Seccomp profiles as a container runtime receives them: warden writes the profile format
//! kubelet's runtimes read (Docker's: `archMap`, `includes`/`excludes`); containerd and CRI-O
//! resolve it into the OCI runtime spec's `linux.seccomp` for the host and the container, which
//! is what runc loads. This is that resolution, written from containerd's and moby's code
//! (`profiles/seccomp`: the host's architecture and its companions, rules whose `includes` all
//! hold and whose `excludes` none do), so the suite can hand runc what a node would.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The capabilities `runc spec` gives a container, as containerd would list them.
pub const CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// Go's name of an architecture, as Docker's `includes.arches` writes it.
fn go_arch(scmp: &str) -> &'static str {
    match scmp {
        "SCMP_ARCH_X86_64" => "amd64",
        "SCMP_ARCH_X86" => "386",
        "SCMP_ARCH_X32" => "x32",
        "SCMP_ARCH_AARCH64" => "arm64",
        "SCMP_ARCH_ARM" => "arm",
        other => panic!("architecture {other}"),
    }
}

fn kernel_at_least(kernel: (u32, u32), min: &str) -> bool {
    let (a, b) = min.split_once('.').unwrap();
    kernel >= (a.parse().unwrap(), b.parse().unwrap())
}

/// A Docker-format profile as containerd hands it to the runtime, for a host of architecture
/// `native` (libseccomp's name), a container with `caps`, on `kernel`.
pub fn runtime_spec(profile: &Value, native: &str, caps: &[&str], kernel: (u32, u32)) -> Value {
    let mut arches = Vec::new();
    for a in profile["archMap"].as_array().unwrap() {
        if a["architecture"] == native {
            arches.push(native.to_string());
            for s in a["subArchitectures"].as_array().unwrap() {
                arches.push(s.as_str().unwrap().to_string());
            }
        }
    }
    let holds = |cond: &Value, all: bool| -> bool {
        // `includes`: every condition given must hold; `excludes`: any condition given excludes.
        let mut parts = Vec::new();
        if let Some(c) = cond["caps"].as_array() {
            let have = |x: &Value| caps.contains(&x.as_str().unwrap());
            parts.push(if all {
                c.iter().all(have)
            } else {
                c.iter().any(have)
            });
        }
        if let Some(a) = cond["arches"].as_array() {
            parts.push(a.iter().any(|x| x == go_arch(native)));
        }
        if let Some(k) = cond["minKernel"].as_str() {
            parts.push(kernel_at_least(kernel, k));
        }
        if all {
            parts.iter().all(|p| *p)
        } else {
            parts.iter().any(|p| *p)
        }
    };
    let mut rules = Vec::new();
    for r in profile["syscalls"].as_array().unwrap() {
        if !r["includes"].is_null() && !holds(&r["includes"], true) {
            continue;
        }
        if !r["excludes"].is_null() && holds(&r["excludes"], false) {
            continue;
        }
        let mut rule = json!({"names": r["names"], "action": r["action"]});
        if !r["errnoRet"].is_null() {
            rule["errnoRet"] = r["errnoRet"].clone();
        }
        if let Some(args) = r["args"].as_array() {
            // An absent valueTwo is 0, as runc reads it.
            let args: Vec<Value> = args
                .iter()
                .map(|a| {
                    let mut a = a.clone();
                    if a["valueTwo"].is_null() {
                        a["valueTwo"] = json!(0);
                    }
                    a
                })
                .collect();
            rule["args"] = Value::Array(args);
        }
        rules.push(rule);
    }
    let mut spec = json!({
        "defaultAction": profile["defaultAction"],
        "architectures": arches,
        "syscalls": rules,
    });
    if !profile["defaultErrnoRet"].is_null() {
        spec["defaultErrnoRet"] = profile["defaultErrnoRet"].clone();
    }
    spec
}

/// A tool the project's setup installs; the test fails, saying so, where it is missing.
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("`{name}` is missing: run `.ci/test`, which installs runc and busybox-static (pinned)");
}

/// libseccomp's name of the host's architecture.
pub fn native() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        other => panic!("this test runs on x86_64 or aarch64, not {other}"),
    }
}
