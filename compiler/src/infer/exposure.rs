//! What the outside reaches and how ports are named: `from world` for Services of type
//! LoadBalancer or NodePort, Ingresses and Gateway API routes, and container ports named after
//! the Service ports that target them.

use super::{Inference, protocol};
use crate::diag::Diagnostic;
use crate::manifests::objects::{Object, Service, ServicePort, TargetPort};

/// A container port the manifests leave unnamed takes the name of a Service port that targets
/// it (`grpc`, `http`), where that is a valid name the service does not use yet.
pub(super) fn name_ports(inf: &mut Inference<'_>) {
    let services: Vec<&Service> = inf.k8s.values().copied().collect();
    for s in services {
        for server in inf.selected(s) {
            let Some(svc) = inf.services.get_mut(server) else {
                continue;
            };
            for sp in &s.ports {
                let (Some(name), TargetPort::Number(n)) = (&sp.name, &sp.target) else {
                    continue;
                };
                let key = (protocol(&sp.protocol), *n);
                let unnamed = svc
                    .ports
                    .get(&key)
                    .is_some_and(|p| p.name == format!("{}-{n}", key.0));
                if unnamed
                    && crate::check::ports::container_port_name(name).is_ok()
                    && !svc.ports.values().any(|p| &p.name == name)
                    && let Some(p) = svc.ports.get_mut(&key)
                {
                    p.name = name.clone();
                    p.evidence.insert(format!(
                        "{} named by Service {} port {name}",
                        inf.m.location(&sp.at),
                        s.meta.name
                    ));
                }
            }
        }
    }
}

/// `from world` for what Services of type LoadBalancer or NodePort, Ingresses and routes expose.
pub(super) fn expose(inf: &mut Inference<'_>) {
    let mut ways: Vec<(&Service, &ServicePort, String)> = Vec::new();
    for s in inf.k8s.values() {
        if s.kind == "LoadBalancer" || s.kind == "NodePort" {
            for sp in &s.ports {
                ways.push((
                    s,
                    sp,
                    format!(
                        "{} Service {} type {} port {}",
                        inf.loc(&sp.at),
                        s.meta.name,
                        s.kind,
                        sp.port
                    ),
                ));
            }
        }
    }
    for o in &inf.m.objects {
        let Object::Route(r) = o else {
            continue;
        };
        let ns = inf.ns(&r.meta.namespace);
        for b in &r.backends {
            let target_ns = b.namespace.clone().unwrap_or_else(|| ns.clone());
            let Some(s) = inf.k8s.get(&(target_ns, b.service.clone())) else {
                let d = Diagnostic::warning(
                    "W1202",
                    format!(
                        "{} `{}` routes to Service `{}`, which the manifests do not define",
                        r.meta.kind, r.meta.name, b.service
                    ),
                )
                .primary(inf.m.span(&b.at), "this backend");
                inf.diagnostics.push(d);
                continue;
            };
            for sp in &s.ports {
                let chosen = match &b.port {
                    Some(TargetPort::Number(n)) => sp.port == *n,
                    Some(TargetPort::Name(n)) => sp.name.as_deref() == Some(n.as_str()),
                    None => true,
                };
                if chosen {
                    ways.push((
                        s,
                        sp,
                        format!(
                            "{} {} {} to Service {} port {}",
                            inf.loc(&b.at),
                            r.meta.kind,
                            r.meta.name,
                            s.meta.name,
                            sp.port
                        ),
                    ));
                }
            }
        }
    }
    for (s, sp, why) in ways {
        for server in inf.selected(s) {
            if let Some(number) = inf.pod_port(server, s, sp)
                && let Some(svc) = inf.services.get_mut(server)
            {
                svc.exposed
                    .entry((protocol(&sp.protocol), number))
                    .or_default()
                    .insert(why.clone());
            }
        }
    }
}
