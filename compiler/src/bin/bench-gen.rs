//! `bench-gen`: writes the programs warden's performance is measured on.
//!
//! ```text
//! bench-gen chain N DIR       // N services, service i in namespace ns-(i/10), each namespace
//!                             // isolated for ingress, svc-(i-1) may reach svc-i on TCP 8080
//! bench-gen realistic N DIR   // every feature: labelled namespaces, 3–6 flows of every peer
//!                             // kind per service, seccomp on half, admission per namespace,
//!                             // expectations
//! ```
//!
//! The programs are deterministic (a fixed-seed generator), so a figure can be compared with
//! another measured on the same N. One file per namespace, as a repository would hold them.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A small deterministic generator (xorshift64*), so the programs need no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// The `syscalls` block of half the realistic program's services.
const SYSCALLS: &str = "  syscalls {\n    allow group runtime-core, basic-io, fs-read, net-server, net-client, signals, timers, runc-init\n    errno ENOSYS clone3\n    allow clone if arg0 has CLONE_THREAD\n    deny ptrace, mount, bpf\n  }\n";

/// The chain: `svc-(i-1)` → `svc-i` on 8080, namespaces of ten, isolated for ingress.
fn chain(n: usize) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for ns in 0..n.div_ceil(10) {
        let mut s = format!("namespace ns-{ns} {{\n  isolate ingress\n}}\n");
        for i in ns * 10..(ns * 10 + 10).min(n) {
            let _ = write!(
                s,
                "\nservice svc-{i} in ns-{ns} {{\n  pods app = \"svc-{i}\"\n  port http 8080/tcp\n"
            );
            if i > 0 {
                let _ = writeln!(s, "  from ns-{}/svc-{} on http", (i - 1) / 10, i - 1);
            }
            s.push_str("}\n");
        }
        files.push((format!("ns-{ns}.warden"), s));
    }
    files
}

/// The `i`-th of `items`, cycling.
fn pick<'a>(items: &[&'a str], i: usize) -> &'a str {
    items.get(i % items.len().max(1)).copied().unwrap_or("")
}

/// Every feature, at a realistic mix.
fn realistic(n: usize) -> Vec<(String, String)> {
    let mut rng = Rng(0x5eed_2026_1126_0007);
    let namespaces = n.div_ceil(10);
    let tiers = ["web", "api", "data"];
    let mut files = Vec::new();
    for ns in 0..namespaces {
        let tier = pick(&tiers, ns);
        let mut s = format!(
            "namespace ns-{ns} {{\n  labels team = \"t{}\", tier = \"{tier}\"\n  isolate\n  allow dns\n}}\n",
            ns % 7
        );
        let _ = write!(
            s,
            "\nadmission adm-{ns} {{\n  applies to workloads in namespace ns-{ns}\n  pod-security restricted\n  images from \"registry.example.com/ns-{ns}/*\", \"registry.example.com/shared/*\"\n  require resource-limits\n  require labels app\n  mode {}\n}}\n",
            pick(&["deny", "warn", "audit"], ns)
        );
        for i in ns * 10..(ns * 10 + 10).min(n) {
            let _ = write!(
                s,
                "\nservice svc-{i} in ns-{ns} {{\n  pods app = \"svc-{i}\", tier = \"{tier}\"\n  port http 8080/tcp\n  port metrics 9090/tcp\n"
            );
            let flows = 3 + rng.below(4);
            for f in 0..flows {
                let other = rng.below(n);
                let line = match (f + i) % 7 {
                    _ if other == i => "  to world on 443/tcp".to_string(),
                    0 => format!("  to ns-{}/svc-{other} on http", other / 10),
                    1 => format!("  from ns-{}/svc-{other} on metrics", other / 10),
                    2 => format!(
                        "  from pods(app = \"svc-{other}\") in namespace ns-{} on http",
                        other / 10
                    ),
                    3 => format!(
                        "  from namespaces(tier = \"{}\") on metrics",
                        pick(&tiers, other)
                    ),
                    4 => format!("  to namespace ns-{} on 5432/tcp", other / 10),
                    5 => format!(
                        "  to cidr 10.{}.0.0/16 except 10.{}.9.0/24 on 443/tcp",
                        other % 250,
                        other % 250
                    ),
                    _ => "  to world on 443/tcp".to_string(),
                };
                let _ = writeln!(s, "{line}");
            }
            if i % 2 == 0 {
                s.push_str(SYSCALLS);
            }
            s.push_str("}\n");
            if i % 5 == 0 && i > 0 {
                let _ = writeln!(s, "expect world -> ns-{ns}/svc-{i} on metrics denied");
            }
        }
        files.push((format!("ns-{ns}.warden"), s));
    }
    files
}

/// `infer`'s input: N workloads in namespaces of ten, each a Deployment with a container port
/// and a Service in front (port 80 to the pod's 8080, every tenth a LoadBalancer), each given
/// the addresses of two neighbours (one literal, one through its namespace's shared ConfigMap),
/// a database URL, an external API and a Secret reference, as `helm template` writes them: a
/// file per namespace.
fn manifests(n: usize) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for ns in 0..n.div_ceil(10) {
        let mut s = String::new();
        let members: Vec<usize> = (ns * 10..(ns * 10 + 10).min(n)).collect();
        let _ = writeln!(
            s,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: ns-{ns}\ndata:"
        );
        for i in &members {
            let _ = writeln!(s, "  SVC_{i}_ADDR: svc-{i}:80");
        }
        for &i in &members {
            let next = members.get((i + 1) % members.len()).copied().unwrap_or(i);
            let kind = if i % 10 == 0 {
                "LoadBalancer"
            } else {
                "ClusterIP"
            };
            let _ = write!(
                s,
                "---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  namespace: ns-{ns}
spec:
  selector:
    matchLabels:
      app: svc-{i}
  template:
    metadata:
      labels:
        app: svc-{i}
        tier: t{tier}
    spec:
      securityContext:
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: app
          image: registry.example.com/svc-{i}:1.0
          ports:
            - containerPort: 8080
              name: http
          env:
            - name: NEXT_ADDR
              value: \"svc-{next}.ns-{ns}.svc.cluster.local:80\"
            - name: DB_URL
              value: \"postgresql://app@svc-{db}:80/app\"
            - name: API
              value: \"https://api{api}.example.com/v1\"
            - name: TOKEN
              valueFrom:
                secretKeyRef:
                  name: token
                  key: token
          envFrom:
            - configMapRef:
                name: shared
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: ns-{ns}
spec:
  type: {kind}
  selector:
    app: svc-{i}
  ports:
    - name: http
      port: 80
      targetPort: 8080
",
                tier = i % 3,
                db = members.first().copied().unwrap_or(i),
                api = i % 7,
            );
        }
        files.push((format!("ns-{ns}.yaml"), s));
    }
    files
}

fn usage() -> ExitCode {
    eprintln!("usage: bench-gen chain|realistic|manifests N DIR");
    ExitCode::from(2)
}

fn write(dir: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in files {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, n, dir] = args.as_slice() else {
        return usage();
    };
    let Ok(n) = n.parse::<usize>() else {
        return usage();
    };
    let files = match kind.as_str() {
        "chain" => chain(n),
        "realistic" => realistic(n),
        "manifests" => manifests(n),
        _ => return usage(),
    };
    match write(&PathBuf::from(dir), &files) {
        Ok(()) => {
            println!("wrote {} files ({n} services) to {dir}", files.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-gen: {dir}: {e}");
            ExitCode::FAILURE
        }
    }
}
