/**
 * Reachability computed from rendered objects (pure): the plan hands in the plain manifests of a
 * cluster (`{apiVersion, kind, metadata, spec}`, CustomResources included) and gets back who may
 * open connections to whom, where each workload may go outside the cluster, and the violations that
 * fail the plan. It reads only the manifests, never the intent, so a policy added by hand (or a bug
 * in a renderer) shows up here.
 *
 * Three layers: {@link ./semantics} says what the policies of the three APIs allow, {@link ./pods}
 * finds the pods, {@link ./verdicts} holds the platform's rules and {@link ./report} writes the
 * report section. This file joins them.
 */
import { nonPublicCidrs } from "../intent";
import { addKnownPods, readPods, uniqueIds } from "./pods";
import {
    allowedPorts,
    Connection,
    defaultDenyByNamespace,
    ExternalDestination,
    externalPeers,
    PodInfo,
    readPolicyModel,
} from "./semantics";
import { isPoliced } from "./verdicts";

export type { Connection, ExternalDestination, PodInfo, PortSpec } from "./semantics";
export { renderReachabilityMarkdown } from "./report";
export { isSupplyChainDestination, reachabilityViolations, unpolicedNamespaces } from "./verdicts";

/**
 * Whether a pod's namespace denies by default each way: a NetworkPolicy selecting all its pods with
 * the direction's type and no rule of it (semantics.ts {@link deniedDirections}, the same test the
 * shared default-deny rule of modules/security applies).
 */
export interface Coverage {
    readonly pod: string;
    readonly namespace: string;
    readonly ingressDeny: boolean;
    readonly egressDeny: boolean;
}

export interface ReachabilityResult {
    readonly pods: readonly PodInfo[];
    readonly connections: readonly Connection[];
    /** Ports each pod accepts from outside the pod network. */
    readonly externalIngress: Readonly<Record<string, readonly ExternalDestination[]>>;
    /** Destinations outside the pod network each pod may open connections to. */
    readonly egress: Readonly<Record<string, readonly ExternalDestination[]>>;
    /** Coverage of every platform pod (privileged and system namespaces excluded). */
    readonly coverage: readonly Coverage[];
}

export interface ReachabilityOptions {
    /** CIDRs pod IPs come from; an ipBlock overlapping them is taken to match pods. Defaults to the private ranges. */
    readonly podCidrs?: readonly string[];
}

/** Computes reachability from plain manifests. Pure. */
export function analyzeReachability(
    manifests: ReadonlyArray<Record<string, unknown>>,
    opts: ReachabilityOptions = {},
): ReachabilityResult {
    const model = readPolicyModel(manifests, opts.podCidrs ?? nonPublicCidrs);
    const objectNames = new Map<number, string>();
    const pods = readPods(manifests, objectNames);
    addKnownPods(pods, manifests);
    uniqueIds(pods, objectNames);

    // Pods of system namespaces are not the platform's to police: they appear as destinations
    // (kube-dns) but not as sources, or every ipBlock that might hold a pod would draw an arrow.
    const connections: Connection[] = [];
    for (const a of pods.filter(isPoliced)) {
        for (const b of pods) {
            if (a === b) continue;
            const ports = allowedPorts(model, a, b);
            if (ports.length > 0) connections.push({ from: a.id, to: b.id, ports });
        }
    }

    const egress: Record<string, ExternalDestination[]> = {};
    const externalIngress: Record<string, ExternalDestination[]> = {};
    for (const pod of pods) {
        const list = externalPeers(model, "egress", pod);
        for (const c of connections.filter((c) => c.from === pod.id)) {
            const proxy = pods.find((p) => p.id === c.to);
            for (const d of proxy?.proxyAllowlist ?? []) {
                list.push({
                    kind: "domain",
                    value: d,
                    ports: ["TCP/443"],
                    via: proxy!.id,
                    source: `ConfigMap of ${proxy!.id}`,
                });
            }
        }
        egress[pod.id] = dedupe(list);
        externalIngress[pod.id] = dedupe(externalPeers(model, "ingress", pod));
    }

    const denied = defaultDenyByNamespace(manifests);
    const coverage: Coverage[] = pods.filter(isPoliced).map((p: PodInfo) => ({
        pod: p.id,
        namespace: p.namespace,
        ingressDeny: denied.get(p.namespace)?.has("Ingress") ?? false,
        egressDeny: denied.get(p.namespace)?.has("Egress") ?? false,
    }));
    return { pods, connections, externalIngress, egress, coverage };
}

function dedupe(list: ExternalDestination[]): ExternalDestination[] {
    const seen = new Set<string>();
    return list.filter((d) => {
        const k = `${d.kind}|${d.value}|${d.ports.join(",")}|${d.via ?? ""}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
    });
}
