// The chain job written in Jsonnet: N services, service i in namespace ns-(i/10), each namespace
// isolated for ingress, svc-(i-1) may reach svc-i on TCP 8080. The same NetworkPolicies warden
// writes for `bench-gen chain N`, without its source annotations.
local n = std.parseInt(std.extVar('n'));
local ns(i) = 'ns-' + std.floor(i / 10);
local meta(name, namespace) = {
  name: name,
  namespace: namespace,
  labels: { 'app.kubernetes.io/managed-by': 'warden' },
};
local deny(k) = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta('default-deny', 'ns-' + k),
  spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [] },
};
local service(i) = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta('svc-' + i, ns(i)),
  spec: {
    podSelector: { matchLabels: { app: 'svc-' + i } },
    policyTypes: ['Ingress'],
    ingress: if i == 0 then [] else [{
      from: [{ podSelector: { matchLabels: { app: 'svc-' + (i - 1) } } } + (
        if ns(i - 1) != ns(i)
        then { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns(i - 1) } } }
        else {}
      )],
      ports: [{ protocol: 'TCP', port: 8080 }],
    }],
  },
};
std.manifestYamlStream(
  [deny(k) for k in std.range(0, std.ceil(n / 10) - 1)] + [service(i) for i in std.range(0, n - 1)]
)
