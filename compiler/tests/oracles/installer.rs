//! Target `seccomp-installer` as a cluster would run it: its documents under
//! `kubernetes-validate` (Kubernetes 1.36, strict) and its schemas re-derived from that package;
//! its copy step run by runc exactly as the DaemonSet's init container says (command, user, no
//! capability, read-only root, Docker's default seccomp profile, the two mounts), on a volume laid
//! out as kubelet lays out a projected ConfigMap volume (`..data` and a link per key) and on a
//! node directory holding files of others: it must write exactly the profiles the `seccomp`
//! target writes, byte for byte, remove only what it wrote and no longer lists, and overwrite
//! nothing it did not write.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;
use crate::common::seccomp::{native, runtime_spec, tool};
use crate::engines::tool as python_tool;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const TARGETS: &str = "seccomp,seccomp-installer";

/// Builds `program` (a directory) for the two targets into `out`.
fn build(program: &Path, out: &Path) {
    let (code, _, stderr) = common::run(
        &[
            "build",
            &program.to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
            "--target",
            TARGETS,
        ],
        &common::repo(),
    );
    assert_eq!(code, 0, "{stderr}");
}

fn yaml(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The profiles the `seccomp` target wrote: `NS/SVC.json` → bytes.
fn profiles(out: &Path) -> BTreeMap<String, Vec<u8>> {
    common::tree(&out.join("seccomp")).into_iter().collect()
}

/// A program of services with `syscalls` blocks, `(namespace, name, rules)`.
fn program(dir: &Path, services: &[(&str, &str, &str)]) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut text = String::new();
    let mut namespaces: Vec<&str> = services.iter().map(|s| s.0).collect();
    namespaces.sort();
    namespaces.dedup();
    for ns in namespaces {
        text.push_str(&format!("namespace {ns} {{ }}\n"));
    }
    for (ns, name, rules) in services {
        text.push_str(&format!(
            "service {name} in {ns} {{\n  pods app = \"{name}\"\n  syscalls {{\n    {rules}\n  }}\n}}\n"
        ));
    }
    std::fs::write(dir.join("program.warden"), text).unwrap();
}

#[test]
fn installer_documents_are_schema_valid_and_carry_every_profile_byte_for_byte() {
    // The committed schemas are what the derivation script makes of the pinned package.
    for file in ["daemonset-apps-v1", "configmap-v1", "namespace-v1"] {
        let derived = Command::new(python_tool("python"))
            .arg(common::repo().join("targets/derive-k8s-schema.py"))
            .args(["v1.36.0", &format!("{file}.json")])
            .output()
            .expect("derive-k8s-schema.py runs");
        assert!(
            derived.status.success(),
            "{}",
            String::from_utf8_lossy(&derived.stderr)
        );
        let committed = std::fs::read(
            common::repo().join(format!("targets/seccomp-installer/schema/{file}.json")),
        )
        .unwrap();
        assert!(
            derived.stdout == committed,
            "targets/seccomp-installer/schema/{file}.json is not what derive-k8s-schema.py makes: regenerate it"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    // Every example with profiles, and a program whose profiles need more than one ConfigMap.
    let mut programs: Vec<std::path::PathBuf> = common::examples();
    let many = tmp.path().join("many");
    let services: Vec<(String, String)> = (0..120)
        .map(|i| (format!("ns-{}", i % 7), format!("svc-{i}")))
        .collect();
    let refs: Vec<(&str, &str, &str)> = services
        .iter()
        .map(|(ns, name)| {
            (
                ns.as_str(),
                name.as_str(),
                "base docker-default\n    default deny",
            )
        })
        .collect();
    program(&many, &refs);
    programs.push(many);
    let mut checked = 0;
    let mut split = false;
    for dir in programs {
        let out = tmp.path().join(format!("out-{checked}"));
        let (code, _, stderr) = common::run(
            &[
                "build",
                &dir.to_string_lossy(),
                "--out",
                &out.to_string_lossy(),
                "--target",
                TARGETS,
            ],
            &common::repo(),
        );
        if code != 0 {
            // An example whose admission refuses the installer says so (E0907) and writes nothing.
            assert!(
                stderr.contains("error[E0907]"),
                "{}: {stderr}",
                dir.display()
            );
            continue;
        }
        let profiles = profiles(&out);
        if profiles.is_empty() {
            continue;
        }
        let files: Vec<String> = common::tree(&out.join("seccomp-installer"))
            .into_iter()
            .map(|(p, _)| format!("seccomp-installer/{p}"))
            .collect();
        let result = Command::new(python_tool("kubernetes-validate"))
            .args(["--strict", "--kubernetes-version", "1.36.0", "--no-warn"])
            .args(&files)
            .current_dir(&out)
            .output()
            .expect("kubernetes-validate runs");
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(result.status.success(), "{}: {stdout}", dir.display());
        assert_eq!(stdout.matches(" passed ").count(), files.len(), "{stdout}");

        let installer = out.join("seccomp-installer");
        let ds = yaml(&installer.join("daemonset.yaml"));
        let sources: Vec<String> =
            ds["spec"]["template"]["spec"]["volumes"][0]["projected"]["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["configMap"]["name"].as_str().unwrap().to_string())
                .collect();
        let mut data: BTreeMap<String, String> = BTreeMap::new();
        for (file, _) in common::tree(&installer) {
            let doc = yaml(&installer.join(&file));
            if doc["kind"] != "ConfigMap" {
                continue;
            }
            let name = doc["metadata"]["name"].as_str().unwrap().to_string();
            assert!(sources.contains(&name), "{name} is not mounted");
            let mut bytes = 0;
            for (k, v) in doc["data"].as_object().unwrap() {
                let v = v.as_str().unwrap();
                bytes += k.len() + v.len();
                assert!(
                    data.insert(k.to_string(), v.to_string()).is_none(),
                    "{k} twice"
                );
            }
            // The API server refuses a ConfigMap whose data passes 1 MiB.
            assert!(bytes <= 1 << 20, "{name}: {bytes} bytes");
        }
        // The namespace, the DaemonSet and the ConfigMaps it mounts: nothing else.
        assert_eq!(common::tree(&installer).len(), sources.len() + 2);
        split |= sources.len() > 2;
        let list = data.remove("profiles.list").expect("the list");
        let listed: Vec<&str> = list.lines().collect();
        assert_eq!(
            listed,
            profiles.keys().map(String::as_str).collect::<Vec<_>>()
        );
        for (path, bytes) in &profiles {
            let carried = data.remove(&path.replace('/', ".")).expect(path);
            assert!(carried.as_bytes() == bytes.as_slice(), "{path} differs");
        }
        assert!(data.is_empty(), "keys beyond the profiles: {data:?}");
        checked += 1;
    }
    assert!(checked >= 3, "{checked} programs with profiles");
    assert!(
        split,
        "no program needed more than one ConfigMap of profiles"
    );
    println!("seccomp-installer: {checked} programs, every profile carried byte for byte");
}

/// The init container of the DaemonSet, run by runc as kubelet and the runtime would run it.
struct Node {
    dir: tempfile::TempDir,
    /// The DaemonSet's init container and pod volumes.
    container: Value,
    volumes: Value,
    generation: usize,
}

impl Node {
    fn new(out: &Path) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bundle/rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy(tool("busybox"), root.join("bin/busybox")).unwrap();
        let applets = Command::new(tool("busybox"))
            .arg("--list")
            .output()
            .unwrap();
        for applet in String::from_utf8_lossy(&applets.stdout).lines() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
            }
        }
        std::fs::create_dir_all(dir.path().join("host/seccomp")).unwrap();
        let status = Command::new(tool("runc"))
            .args(["spec", "--bundle"])
            .arg(dir.path().join("bundle"))
            .status()
            .unwrap();
        assert!(status.success());
        let ds = yaml(&out.join("seccomp-installer/daemonset.yaml"));
        let pod = &ds["spec"]["template"]["spec"];
        Node {
            dir,
            container: pod["initContainers"][0].clone(),
            volumes: pod["volumes"].clone(),
            generation: 0,
        }
    }

    /// The node's seccomp root (the hostPath volume's directory).
    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("host/seccomp")
    }

    /// Lays out the projected volume of `out`'s ConfigMaps as kubelet's atomic writer does: the
    /// files in a directory of this generation, `..data` linking to it, and a link per key.
    fn volume(&mut self, out: &Path) -> std::path::PathBuf {
        self.generation += 1;
        let volume = self.dir.path().join("volume");
        let _ = std::fs::remove_dir_all(&volume);
        let stamp = format!("..2026_12_07_00_00_0{}.123", self.generation);
        std::fs::create_dir_all(volume.join(&stamp)).unwrap();
        let projected = &self.volumes[0]["projected"];
        let mode = projected["defaultMode"].as_u64().unwrap() as u32;
        for source in projected["sources"].as_array().unwrap() {
            let name = source["configMap"]["name"].as_str().unwrap();
            let map = common::tree(&out.join("seccomp-installer"))
                .into_iter()
                .map(|(p, _)| yaml(&out.join("seccomp-installer").join(p)))
                .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name)
                .expect(name);
            for (key, value) in map["data"].as_object().unwrap() {
                let file = volume.join(&stamp).join(key);
                std::fs::write(&file, value.as_str().unwrap()).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
                std::os::unix::fs::symlink(format!("..data/{key}"), volume.join(key)).unwrap();
            }
        }
        std::os::unix::fs::symlink(&stamp, volume.join("..data")).unwrap();
        volume
    }

    /// Runs the init container on `out`'s volume; its exit code and output.
    fn install(&mut self, out: &Path) -> (i32, String) {
        let volume = self.volume(out);
        let c = &self.container;
        let sc = &c["securityContext"];
        let bundle = self.dir.path().join("bundle");
        let config_path = bundle.join("config.json");
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = c["command"].clone();
        config["process"]["env"] = json!(["PATH=/bin"]);
        config["process"]["user"] = json!({
            "uid": sc["runAsUser"], "gid": sc["runAsGroup"]
        });
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert!(sc["capabilities"]["add"].is_null());
        let none: Vec<String> = Vec::new();
        for set in [
            "bounding",
            "effective",
            "inheritable",
            "permitted",
            "ambient",
        ] {
            config["process"]["capabilities"][set] = json!(none);
        }
        config["process"]["noNewPrivileges"] = json!(sc["allowPrivilegeEscalation"] == false);
        config["root"]["readonly"] = sc["readOnlyRootFilesystem"].clone();
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        let moby: Value = serde_json::from_str(
            &std::fs::read_to_string(common::corpora().join("seccomp/moby/default.json"))
                .expect("shared/corpora/seccomp/moby/default.json"),
        )
        .unwrap();
        config["linux"]["seccomp"] = runtime_spec(&moby, native(), &[], (6, 1));
        let mut mounts = config["mounts"].as_array().unwrap().clone();
        for m in c["volumeMounts"].as_array().unwrap() {
            let source = match m["name"].as_str().unwrap() {
                "profiles" => volume.clone(),
                "seccomp-root" => {
                    let host = self.volumes[1]["hostPath"]["path"].as_str().unwrap();
                    assert_eq!(host, "/var/lib/kubelet/seccomp");
                    self.root()
                }
                other => panic!("volume {other}"),
            };
            let ro = if m["readOnly"] == true { "ro" } else { "rw" };
            mounts.push(json!({
                "destination": m["mountPath"],
                "type": "bind",
                "source": source,
                "options": ["rbind", ro]
            }));
        }
        config["mounts"] = json!(mounts);
        std::fs::write(&config_path, config.to_string()).unwrap();
        let id = format!(
            "warden-installer-{}-{}",
            std::process::id(),
            self.generation
        );
        let run = Command::new("timeout")
            .arg("60")
            .arg(tool("runc"))
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(&id)
            .output()
            .expect("runc runs");
        let _ = Command::new(tool("runc"))
            .args(["delete", "-f", &id])
            .output();
        (
            run.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            ),
        )
    }

    fn tree(&self) -> BTreeMap<String, Vec<u8>> {
        common::tree(&self.root()).into_iter().collect()
    }
}

#[test]
fn runc_installs_exactly_the_profiles_and_removes_none_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let (prog, out) = (tmp.path().join("program"), tmp.path().join("out"));
    let web = "base docker-default\n    default deny";
    let api = "allow group runc-init\n    allow read, write, exit_group\n    default kill-process";
    program(
        &prog,
        &[
            ("shop", "web", web),
            ("shop", "api", api),
            ("pay", "card", web),
        ],
    );
    build(&prog, &out);
    let first = profiles(&out);
    assert_eq!(first.len(), 3);

    let mut node = Node::new(&out);
    // Files of others: a hand-installed profile, the Security Profiles Operator's, and a copy of
    // one of warden's profiles someone put there first, byte for byte.
    let others: BTreeMap<String, Vec<u8>> = [
        (
            "audit.json",
            b"{\"defaultAction\": \"SCMP_ACT_LOG\"}\n".to_vec(),
        ),
        ("operator/shop/web.json", b"{}\n".to_vec()),
        ("pay/card.json", first["pay/card.json"].clone()),
    ]
    .into_iter()
    .map(|(p, b)| (p.to_string(), b))
    .collect();
    for (path, bytes) in &others {
        let file = node.root().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    let (code, said) = node.install(&out);
    assert_eq!(code, 0, "{said}");
    let mut expected = others.clone();
    expected.extend(first.clone());
    let state = ".warden-seccomp-installer".to_string();
    // It owns what it wrote, not the identical copy it found.
    expected.insert(state.clone(), b"shop/api.json\nshop/web.json\n".to_vec());
    assert_eq!(node.tree(), expected, "{said}");

    // Run again on the same volume: nothing changes.
    let (code, said) = node.install(&out);
    assert_eq!(code, 0, "{said}");
    assert_eq!(node.tree(), expected, "{said}");

    // The program changes: `api` is gone, `web` tightened, `pay/cash` added.
    program(
        &prog,
        &[
            (
                "shop",
                "web",
                "base docker-default\n    deny ptrace\n    default deny",
            ),
            ("pay", "card", web),
            ("pay", "cash", api),
        ],
    );
    build(&prog, &out);
    let second = profiles(&out);
    assert_ne!(second["shop/web.json"], first["shop/web.json"]);
    let (code, said) = node.install(&out);
    assert_eq!(code, 0, "{said}");
    let mut expected = others.clone();
    expected.extend(second.clone());
    expected.insert(state.clone(), b"pay/cash.json\nshop/web.json\n".to_vec());
    assert_eq!(node.tree(), expected, "{said}");
    assert!(said.contains("1 no longer listed removed"), "{said}");

    // A file of someone else's, different, where a new profile goes: refused, nothing written.
    program(
        &prog,
        &[
            ("shop", "web", web),
            ("pay", "card", web),
            ("ops", "probe", api),
        ],
    );
    build(&prog, &out);
    let theirs = node.root().join("ops/probe.json");
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    std::fs::write(&theirs, b"{\"defaultAction\": \"SCMP_ACT_ALLOW\"}\n").unwrap();
    let before = node.tree();
    let (code, said) = node.install(&out);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("refusing to overwrite /host/seccomp/ops/probe.json"),
        "{said}"
    );
    assert_eq!(node.tree(), before, "a refused run changed the node");
    println!("seccomp-installer under runc: installs, re-installs, updates, refuses, as listed");
}
