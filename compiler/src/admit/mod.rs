//! What admission would say of workloads as manifests write them, decided by warden itself:
//! the Pod Security Standards (`pod_security`).

pub mod pod_security;
