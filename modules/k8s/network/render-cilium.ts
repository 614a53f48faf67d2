/** Cilium rendering of the domain allowlists: `toFQDNs` with the DNS proxy rule (pure). */
import { labels } from "../../constants/labels";
import { okePorts } from "../../constants/ports";
import type { NetworkIntent } from "./intent";
import type { K8sObject } from "./render-k8s";

const managed = { [labels.managedBy]: "pulumi", [labels.partOf]: "secure-llm-platform" };

/** A `toFQDNs` selector: exact names as `matchName`, `*.` wildcards as `matchPattern`. */
export function fqdnSelector(domain: string): { matchName: string } | { matchPattern: string } {
    return domain.startsWith("*.") ? { matchPattern: domain } : { matchName: domain };
}

/**
 * Per workload with an allowlist, `CiliumNetworkPolicy <id>-fqdn-egress`: DNS to kube-dns through
 * Cilium's DNS proxy (the L7 `dns` rule is what lets `toFQDNs` learn the answers' IPs), and TCP 443
 * to the allowlisted names. Cilium adds these allows to the Kubernetes policies of the same pod.
 */
export function renderCilium(intent: NetworkIntent): K8sObject[] {
    if (intent.engine !== "cilium") {
        throw new Error(
            `toFQDNs is only enforced by Cilium, not by engine ${intent.engine}; refusing to render it`,
        );
    }
    const byId = new Map(intent.workloads.map((w) => [w.id, w]));
    return Object.entries(intent.egress).map(([id, domains]) => {
        const w = byId.get(id)!;
        return {
            apiVersion: "cilium.io/v2",
            kind: "CiliumNetworkPolicy",
            metadata: { name: `${id}-fqdn-egress`, namespace: w.namespace, labels: { ...managed } },
            spec: {
                endpointSelector: { matchLabels: { ...w.podLabels } },
                egress: [
                    {
                        toEndpoints: [
                            {
                                matchLabels: {
                                    "k8s:io.kubernetes.pod.namespace": intent.dns.namespace,
                                    ...intent.dns.podLabels,
                                },
                            },
                        ],
                        toPorts: [
                            {
                                ports: [{ port: String(intent.dns.port), protocol: "ANY" }],
                                rules: { dns: [{ matchPattern: "*" }] },
                            },
                        ],
                    },
                    {
                        toFQDNs: domains.map(fqdnSelector),
                        toPorts: [{ ports: [{ port: String(okePorts.https), protocol: "TCP" }] }],
                    },
                ],
            },
        };
    });
}
