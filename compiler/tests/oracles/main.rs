//! The oracle suite: what warden generates, run by independent engines fed with the corpora of
//! `$WARDEN_CORPORA` (default `../shared/corpora`, beside the repository) and the pinned tools
//! `.ci/test` installs — network-config-analyzer, Python's `kubernetes-validate` and `jsonschema`,
//! `kubectl`, Graphviz, runc and a static busybox, libseccomp's resolver, Node.js, cmark-gfm.
//! Built only with `--features oracles`; each test fails, never skips, when its engine or corpus
//! is missing.

#[path = "../common/mod.rs"]
mod common;

mod admission_cel;
mod admit;
mod audit;
mod cilium_model;
mod diff;
mod engines;
mod gatekeeper_library;
mod import_netpol;
mod import_seccomp;
mod infer;
mod infer_node;
mod installer;
mod integrations;
mod markdown;
mod netpol;
mod netpol_upstream;
mod node_services;
mod pod_security_eval;
mod seccomp_node;
mod seccomp_property;
mod seccomp_runtime;
mod syscall_tables;
