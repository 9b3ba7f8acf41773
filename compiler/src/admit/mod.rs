//! What admission would say of workloads as manifests write them, decided by warden itself:
//! the Pod Security Standards (`pod_security`), every other admission rule (`rules`, raw CEL
//! through `cel`), and `warden admit`'s verdicts for a program's blocks and seccomp profiles
//! (`verdicts`), and whether it refuses the seccomp installer (`installer`).

mod cel;
mod fixes;
pub mod installer;
pub mod patches;
pub mod pod_security;
pub mod rules;
mod verdicts;

pub use verdicts::{Finding, Source, Verdict, admit};
