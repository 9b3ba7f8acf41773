//! Target `seccomp-installer`: what puts the `seccomp` target's profiles on every node, for a
//! cluster without the Security Profiles Operator (see `targets/seccomp-installer/README.md`).
//!
//! A Namespace, ConfigMaps holding the profiles byte for byte (as many as their size needs), one
//! listing where each goes, and a DaemonSet whose init container copies them to kubelet's seccomp
//! root (`targets/seccomp-installer/install.sh`): a pod's `localhostProfile: NS/SVC.json` is
//! then found on whichever node it lands. The pod template carries the profiles' digest, so a
//! changed profile rolls the DaemonSet node by node and `kubectl rollout status` says when every
//! node has it; its containers then only hold the pod (pause), so that readiness means installed.

use super::render::push_quoted;
use super::{Document, Schema};
use crate::document::VERSION;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Where the installer runs: a namespace of its own, whose Pod Security level allows its
/// hostPath volume without loosening any namespace of the program.
pub const NAMESPACE: &str = "warden-system";
pub const NAME: &str = "warden-seccomp-installer";
/// The copy step, run by busybox's `sh`.
pub const SCRIPT: &str = include_str!("../../../targets/seccomp-installer/install.sh");
pub const COPY_IMAGE: &str = "docker.io/library/busybox:1.37.0";
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";
/// kubelet's seccomp root under its default `--root-dir`; `localhost/` profiles are read below it.
pub const KUBELET_SECCOMP: &str = "/var/lib/kubelet/seccomp";
/// Where the installer's containers see the profiles and the node's seccomp root.
pub const MOUNT_PROFILES: &str = "/warden/profiles";
pub const MOUNT_ROOT: &str = "/host/seccomp";
/// The list of profile paths, a key of the list ConfigMap.
pub const LIST_KEY: &str = "profiles.list";
/// The profile bytes one ConfigMap carries at most: the API server refuses a ConfigMap whose data
/// passes 1 MiB; quoting makes the object larger still, and etcd stores at most 1.5 MiB of it.
const CHUNK: usize = 786_432;

/// The ConfigMap key of the profile at `path` (`NS/SVC.json` → `NS.SVC.json`): keys cannot hold
/// a `/`, and neither a namespace nor a service name holds a `.`.
pub fn key_of(path: &str) -> String {
    path.replace('/', ".")
}

/// The installer's documents for the `seccomp` target's `profiles` (`seccomp/NS/SVC.json`).
/// None without a profile: nothing to install, and an installer left in place would need its
/// hostPath for nothing (profiles it installed before stay on the nodes, as an uninstall leaves
/// them).
pub(super) fn lower(profiles: &[Document]) -> Result<Vec<Document>, String> {
    if profiles.is_empty() {
        return Ok(Vec::new());
    }
    let mut entries = Vec::with_capacity(profiles.len());
    for doc in profiles {
        let path = doc
            .path
            .strip_prefix("seccomp/")
            .ok_or_else(|| format!("`{}` is not a seccomp profile", doc.path))?;
        entries.push((path, key_of(path), doc));
    }
    let mut sources: Vec<String> = profiles.iter().flat_map(|d| d.sources.clone()).collect();
    sources.sort();
    sources.dedup();
    let source = sources.join(", ");

    // Profiles in the order of their paths, a ConfigMap filled before the next is begun.
    let mut chunks: Vec<Vec<&(&str, String, &Document)>> = Vec::new();
    let mut size = 0;
    for entry in &entries {
        let bytes = entry.1.len() + entry.2.text.len();
        match chunks.last_mut() {
            Some(chunk) if size + bytes <= CHUNK => chunk.push(entry),
            _ => {
                chunks.push(vec![entry]);
                size = 0;
            }
        }
        size += bytes;
    }

    let mut list = String::new();
    let mut digest = Sha256::new();
    for (path, key, doc) in &entries {
        list.push_str(path);
        list.push('\n');
        digest.update(key.as_bytes());
        digest.update([0]);
        digest.update(doc.text.as_bytes());
        digest.update([0]);
    }
    digest.update(list.as_bytes());
    let digest: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let mut docs = vec![
        document("namespace", namespace(), Schema::Namespace, &sources, None),
        document(
            "profiles-list",
            config_map(
                &format!("{NAME}-list"),
                &source,
                &[(LIST_KEY.to_string(), list.as_str())],
            ),
            Schema::ConfigMap,
            &sources,
            None,
        ),
    ];
    let mut maps = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        let name = format!("{NAME}-profiles-{i}");
        let data: Vec<(String, &str)> = chunk
            .iter()
            .map(|(_, key, doc)| (key.clone(), doc.text.as_str()))
            .collect();
        let mut files: Vec<String> = chunk.iter().flat_map(|e| e.2.sources.clone()).collect();
        files.sort();
        files.dedup();
        let origin = chunk.first().and_then(|e| e.2.origin);
        docs.push(document(
            &format!("profiles-{i}"),
            config_map(&name, &files.join(", "), &data),
            Schema::ConfigMap,
            &files,
            origin,
        ));
        maps.push(name);
    }
    docs.push(document(
        "daemonset",
        daemon_set(&source, &maps, &digest),
        Schema::DaemonSet,
        &sources,
        None,
    ));
    docs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(docs)
}

fn document(
    file: &str,
    text: String,
    schema: Schema,
    sources: &[String],
    origin: Option<crate::span::Span>,
) -> Document {
    Document {
        path: format!("seccomp-installer/{file}.yaml"),
        text,
        schema,
        sources: sources.to_vec(),
        origin,
    }
}

fn q(out: &mut String, s: &str) {
    push_quoted(out, s, true);
}

/// `metadata` of an installer object with `labels` beside warden's; `source` is left out when
/// empty.
fn metadata(out: &mut String, name: &str, namespaced: bool, source: &str, labels: &str) {
    out.push_str("metadata:\n  name: ");
    q(out, name);
    if namespaced {
        out.push_str("\n  namespace: ");
        q(out, NAMESPACE);
    }
    out.push_str(
        "\n  labels:\n    app.kubernetes.io/managed-by: warden\n    app.kubernetes.io/name: ",
    );
    q(out, NAME);
    out.push_str(labels);
    out.push_str("\n  annotations:");
    if !source.is_empty() {
        out.push_str("\n    warden.dev/source: ");
        q(out, source);
    }
    out.push_str("\n    warden.dev/version: ");
    q(out, VERSION);
    out.push('\n');
}

/// The installer's namespace: `privileged` for Pod Security, which a hostPath volume needs.
fn namespace() -> String {
    let mut o = String::from("apiVersion: v1\nkind: Namespace\n");
    metadata(
        &mut o,
        NAMESPACE,
        false,
        "",
        "\n    pod-security.kubernetes.io/enforce: \"privileged\"\n    pod-security.kubernetes.io/warn: \"privileged\"",
    );
    o
}

fn config_map(name: &str, source: &str, data: &[(String, &str)]) -> String {
    let mut o = String::with_capacity(
        64 + data
            .iter()
            .map(|(k, v)| k.len() + v.len() * 5 / 4)
            .sum::<usize>(),
    );
    o.push_str("apiVersion: v1\nkind: ConfigMap\n");
    metadata(&mut o, name, true, source, "");
    o.push_str("data:");
    for (key, value) in data {
        o.push_str("\n  ");
        q(&mut o, key);
        o.push_str(": ");
        q(&mut o, value);
    }
    o.push('\n');
    o
}

/// A container's `securityContext`: nothing beyond what its work needs. The copy runs as root
/// without any capability (the seccomp root belongs to root); the pause container as nobody.
fn security_context(o: &mut String, indent: &str, root: bool) {
    let user = if root { 0 } else { 65534 };
    let _ = write!(
        o,
        "\n{indent}securityContext:\
         \n{indent}  runAsUser: {user}\
         \n{indent}  runAsGroup: {user}\
         \n{indent}  runAsNonRoot: {}\
         \n{indent}  privileged: false\
         \n{indent}  allowPrivilegeEscalation: false\
         \n{indent}  readOnlyRootFilesystem: true\
         \n{indent}  capabilities:\
         \n{indent}    drop:\
         \n{indent}    - \"ALL\"\
         \n{indent}  seccompProfile:\
         \n{indent}    type: \"RuntimeDefault\"",
        !root
    );
}

fn resources(o: &mut String, indent: &str, cpu: &str, memory: &str) {
    for part in ["requests", "limits"] {
        let _ = write!(
            o,
            "\n{indent}  {part}:\n{indent}    cpu: \"{cpu}\"\n{indent}    memory: \"{memory}\""
        );
    }
}

fn daemon_set(source: &str, maps: &[String], digest: &str) -> String {
    let mut o = String::with_capacity(8192);
    o.push_str("apiVersion: apps/v1\nkind: DaemonSet\n");
    metadata(&mut o, NAME, true, source, "");
    o.push_str("spec:\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: ");
    q(&mut o, NAME);
    // Unavailable is harmless here: a node keeps the profiles while its installer restarts.
    o.push_str(
        "\n  updateStrategy:\n    type: \"RollingUpdate\"\n    rollingUpdate:\n      maxUnavailable: \"25%\"",
    );
    o.push_str("\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/managed-by: warden\n        app.kubernetes.io/name: ");
    q(&mut o, NAME);
    o.push_str("\n      annotations:\n        warden.dev/profiles-sha256: ");
    q(&mut o, digest);
    // Every node, tainted or not: a pod that lands on one without its profile does not start.
    o.push_str(
        "\n    spec:\
         \n      automountServiceAccountToken: false\
         \n      enableServiceLinks: false\
         \n      nodeSelector:\
         \n        kubernetes.io/os: \"linux\"\
         \n      tolerations:\
         \n      - operator: \"Exists\"\
         \n      securityContext:\
         \n        seccompProfile:\
         \n          type: \"RuntimeDefault\"\
         \n      initContainers:\
         \n      - name: \"install\"\
         \n        image: ",
    );
    q(&mut o, COPY_IMAGE);
    o.push_str("\n        command:\n        - \"/bin/sh\"\n        - \"-c\"\n        - ");
    q(&mut o, SCRIPT);
    security_context(&mut o, "        ", true);
    o.push_str("\n        resources:");
    resources(&mut o, "        ", "100m", "64Mi");
    o.push_str("\n        volumeMounts:\n        - name: \"profiles\"\n          mountPath: ");
    q(&mut o, MOUNT_PROFILES);
    o.push_str(
        "\n          readOnly: true\n        - name: \"seccomp-root\"\n          mountPath: ",
    );
    q(&mut o, MOUNT_ROOT);
    o.push_str("\n      containers:\n      - name: \"pause\"\n        image: ");
    q(&mut o, PAUSE_IMAGE);
    security_context(&mut o, "        ", false);
    o.push_str("\n        resources:");
    resources(&mut o, "        ", "10m", "16Mi");
    o.push_str(
        "\n      volumes:\
         \n      - name: \"profiles\"\
         \n        projected:\
         \n          defaultMode: 292\
         \n          sources:\
         \n          - configMap:\
         \n              name: ",
    );
    q(&mut o, &format!("{NAME}-list"));
    for map in maps {
        o.push_str("\n          - configMap:\n              name: ");
        q(&mut o, map);
    }
    o.push_str("\n      - name: \"seccomp-root\"\n        hostPath:\n          path: ");
    q(&mut o, KUBELET_SECCOMP);
    o.push_str("\n          type: \"DirectoryOrCreate\"\n");
    o
}
