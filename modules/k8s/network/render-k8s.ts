/**
 * Renders the intent as standard `networking.k8s.io/v1` NetworkPolicy (pure). Emitted whatever the
 * engine: every CNI that enforces policy and every scanner understands it.
 */
import { labels } from "../../constants/labels";
import type { Flow, NetWorkload, NetworkIntent } from "./intent";
import { protectionAnnotation, protectionEntries } from "./protection";

/** A plain Kubernetes object, as the plan writes it. */
export interface K8sObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: {
        readonly name: string;
        readonly namespace?: string;
        readonly labels?: Record<string, string>;
        readonly annotations?: Record<string, string>;
    };
    readonly spec?: Record<string, unknown>;
    readonly [key: string]: unknown;
}

const nsNameLabel = "kubernetes.io/metadata.name";
const managed = { [labels.managedBy]: "pulumi", [labels.partOf]: "secure-llm-platform" };

function policy(name: string, namespace: string, spec: Record<string, unknown>): K8sObject {
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name, namespace, labels: { ...managed } },
        spec,
    };
}

function peerOf(w: NetWorkload): Record<string, unknown> {
    return {
        namespaceSelector: { matchLabels: { [nsNameLabel]: w.namespace } },
        podSelector: { matchLabels: { ...w.podLabels } },
    };
}

const ipBlocks = (cidrs: readonly string[], except: readonly string[] = []) =>
    cidrs.map((cidr) => ({
        ipBlock:
            except.length > 0 && cidr === "0.0.0.0/0" ? { cidr, except: [...except] } : { cidr },
    }));

const tcp = (ports: readonly number[]) => ports.map((port) => ({ protocol: "TCP", port }));

/** The DNS rule every platform pod gets: kube-dns in kube-system only, port 53. */
function dnsRule(intent: NetworkIntent): Record<string, unknown> {
    return {
        to: [
            {
                namespaceSelector: { matchLabels: { [nsNameLabel]: intent.dns.namespace } },
                podSelector: { matchLabels: { ...intent.dns.podLabels } },
            },
        ],
        ports: [
            { protocol: "UDP", port: intent.dns.port },
            { protocol: "TCP", port: intent.dns.port },
        ],
    };
}

/** Name of the per-workload policy. */
export function workloadPolicyName(id: string): string {
    return `allow-${id}`;
}

/**
 * Every NetworkPolicy of the intent:
 * - per platform namespace: `default-deny` (both directions) and `allow-dns` (kube-dns only);
 * - per chart namespace: traffic among its own pods, and to/from the API server;
 * - per workload: `allow-<id>`, whose `podSelector.matchLabels` selects exactly its pods, with one
 *   ingress rule per flow into it and one egress rule per flow out of it (so each flow is allowed
 *   on both ends), plus DNS: at least one rule each way, as Polaris requires of a per-pod policy.
 */
export function renderKubernetesPolicies(intent: NetworkIntent): K8sObject[] {
    const out: K8sObject[] = [];
    const byId = new Map(intent.workloads.map((w) => [w.id, w]));
    for (const ns of intent.platformNamespaces) {
        out.push(
            policy("default-deny", ns, { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
        );
        out.push(
            policy("allow-dns", ns, {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [dnsRule(intent)],
            }),
        );
    }
    for (const c of intent.chartNamespaces) {
        out.push(
            policy("allow-same-namespace", c.namespace, {
                podSelector: {},
                policyTypes: ["Ingress", "Egress"],
                ingress: [{ from: [{ podSelector: {} }] }],
                egress: [{ to: [{ podSelector: {} }] }],
            }),
        );
        if (c.apiServer && intent.apiServer.cidrs.length > 0) {
            // Controllers watch the API server; the API server calls the charts' admission webhooks.
            out.push(
                policy("allow-kube-apiserver", c.namespace, {
                    podSelector: {},
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [{ from: ipBlocks(intent.apiServer.cidrs) }],
                    egress: [
                        {
                            to: ipBlocks(intent.apiServer.cidrs),
                            ports: tcp([intent.apiServer.port]),
                        },
                    ],
                }),
            );
        }
    }
    const ruleFor = (f: Flow, peer: NetWorkload, dir: "from" | "to") => ({
        [dir]: [peerOf(peer)],
        ports: [{ protocol: f.protocol, port: f.port }],
    });
    for (const w of intent.workloads) {
        // Pipeline-namespace workloads get theirs from the Kubeflow component, with the namespace.
        if (w.source === "system" || w.source === "pipeline") continue;
        const ingress: Record<string, unknown>[] = [];
        const egress: Record<string, unknown>[] = [];
        for (const f of intent.flows) {
            if (f.to === w.id && byId.has(f.from))
                ingress.push(ruleFor(f, byId.get(f.from)!, "from"));
            if (f.from === w.id && byId.has(f.to)) egress.push(ruleFor(f, byId.get(f.to)!, "to"));
        }
        for (const c of intent.cidrIngress.filter((c) => c.to === w.id)) {
            ingress.push({
                from: ipBlocks(c.cidrs),
                ...(c.ports.length > 0 ? { ports: tcp(c.ports) } : {}),
            });
        }
        for (const c of intent.cidrEgress.filter((c) => c.from === w.id)) {
            egress.push({ to: ipBlocks(c.cidrs, c.except), ports: tcp(c.ports) });
        }
        egress.push(dnsRule(intent));
        const p = policy(workloadPolicyName(w.id), w.namespace, {
            podSelector: { matchLabels: { ...w.podLabels } },
            policyTypes: ["Ingress", "Egress"],
            ingress,
            egress,
        });
        // In-transit protection the intent states for this workload's flows (protection.ts).
        const protection = protectionEntries(intent, w.id);
        out.push(
            protection.length === 0
                ? p
                : {
                      ...p,
                      metadata: {
                          ...p.metadata,
                          annotations: { [protectionAnnotation]: JSON.stringify(protection) },
                      },
                  },
        );
    }
    return out;
}
