//! What lowering hands to validation and emission: generated documents, the schema each must
//! satisfy, the targets a program is compiled for and how the output directory is laid out.
//!
//! A module of its own so that `lower`, `validate` and `emit` each depend on it and on nothing of
//! each other's: the phases read down, never back.

use crate::span::Span;

/// warden's version, written into every generated document and the manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a program is compiled to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Netpol,
    Cilium,
    Seccomp,
    Vap,
    Kyverno,
    Gatekeeper,
    Spo,
    /// A DaemonSet and ConfigMaps that put the `seccomp` profiles on every node.
    Installer,
}

impl Target {
    pub const ALL: [Target; 8] = [
        Target::Netpol,
        Target::Cilium,
        Target::Seccomp,
        Target::Vap,
        Target::Kyverno,
        Target::Gatekeeper,
        Target::Spo,
        Target::Installer,
    ];
    /// What `build` writes when no target is named: one network policy kind (a cluster runs one
    /// CNI), seccomp and admission.
    pub const DEFAULT: [Target; 3] = [Target::Netpol, Target::Seccomp, Target::Vap];
}

/// How documents are laid out in the output directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// One file per document: `netpol/NAMESPACE/NAME.yaml`, `seccomp/NAMESPACE/SERVICE.json`, …
    #[default]
    Tree,
    /// One multi-document YAML file per target (`netpol.yaml`, `vap.yaml`, …); seccomp profiles
    /// stay one file per service, which is how the container runtime reads them.
    Bundle,
}

impl Layout {
    /// The file of the output directory that holds the document at `path` (a tree path).
    pub fn file_of<'a>(self, path: &'a str, schema: Schema) -> std::borrow::Cow<'a, str> {
        match (self, path.split_once('/')) {
            (Layout::Bundle, Some((target, _)))
                if !matches!(schema, Schema::SeccompProfile | Schema::Kustomization) =>
            {
                format!("{target}.yaml").into()
            }
            _ => path.into(),
        }
    }
}

/// Which schema a document must satisfy before it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Schema {
    NetworkPolicy,
    CiliumNetworkPolicy,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
    KyvernoClusterPolicy,
    GatekeeperConstraintTemplate,
    GatekeeperConstraint,
    SeccompProfile,
    SpoSeccompProfile,
    Namespace,
    ConfigMap,
    DaemonSet,
    Kustomization,
}

/// One generated file.
#[derive(Clone, Debug)]
pub struct Document {
    /// Path inside the output directory, `/`-separated, built only from checked names.
    pub path: String,
    pub text: String,
    pub schema: Schema,
    /// The source files it was generated from, sorted, each once.
    pub sources: Vec<String>,
    /// The declaration it was generated from, for errors about the document as a whole.
    pub origin: Option<Span>,
}

impl Document {
    pub fn is_kubernetes(&self) -> bool {
        !matches!(self.schema, Schema::SeccompProfile | Schema::Kustomization)
    }
}
