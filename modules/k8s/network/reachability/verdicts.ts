/**
 * The platform's verdicts on a cluster's reachability (pure): which pods it answers for, what its
 * inference may reach outside the cluster, and the checks that fail the plan.
 */
import { contains, parseCidr } from "../../../config/cidr";
import { labels as labelKeys } from "../../../constants/labels";
import { privilegedNamespaces } from "../../../constants/namespaces";
import { candidateEvaluation } from "../../../constants/rollout";
import { catalog } from "../../catalog";
import { isSupplyChainDomain } from "../intent";
import type { ReachabilityResult } from "./index";
import type { ExternalDestination, PodInfo } from "./semantics";

/** Namespaces whose pods the platform does not police (system and privileged components). */
export const unpolicedNamespaces: readonly string[] = [
    ...new Set([
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "calico-system",
        "calico-apiserver",
        ...Object.values(privilegedNamespaces),
    ]),
];

/**
 * True for the pods the platform answers for: every pod it declares (whatever the namespace), and
 * pods it knows of outside the system and privileged namespaces.
 */
export function isPoliced(p: PodInfo): boolean {
    return p.source === "manifest" || !unpolicedNamespaces.includes(p.namespace);
}

const privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) => parseCidr(c)!);

/**
 * Whether an external destination of the inference pods is part of its model supply chain: the
 * Object Storage or KMS endpoints of the Oracle Services Network (TCP 443, directly or through an
 * egress proxy), or the OKE control plane's workload-identity endpoint (TCP 12250 to a private
 * block) the loader exchanges its token at. Anything else is exfiltration room.
 */
export function isSupplyChainDestination(d: ExternalDestination): boolean {
    const tls = d.ports.length > 0 && d.ports.every((p) => p === "TCP/443");
    if (d.kind === "domain") return tls && isSupplyChainDomain(d.value);
    if (d.kind === "cidr") {
        const c = parseCidr(d.value.split(" ")[0]);
        return (
            c !== undefined &&
            privateRanges.some((r) => contains(r, c)) &&
            d.ports.length > 0 &&
            d.ports.every((p) => p === "TCP/12250")
        );
    }
    return false;
}

export const isWorkload = (pod: PodInfo, id: string) => pod.labels[labelKeys.name] === id;

/**
 * Serving ports only the guardrails may open: inference answers unfiltered, and the output
 * filter's analyzer and anonymizer see every completion. Their metrics ports are apart.
 */
const guardedServingPorts = (
    [
        ["inference", "inference"],
        ["presidio-analyzer", "the output filter"],
        ["presidio-anonymizer", "the output filter"],
    ] as const
).map(([id, what]) => ({
    id,
    what,
    port: catalog[id].ports.find((p) => p.name === "http")!.port,
}));

/** The guardrails tiers: the live one and the candidate (same builder, same backends). */
export const isGuardrails = (pod: PodInfo) =>
    isWorkload(pod, "guardrails") || isWorkload(pod, "candidate-guardrails");

/** The candidate tier's serving port: unpromoted rules, for the evaluation step only. */
const candidatePort = `TCP/${catalog["candidate-guardrails"].ports[0].port}`;

/**
 * Whether `a` is a sealed remote inference entry (issue 16): its entry port is open to no pod of
 * its own cluster and to the outside only from CIDR blocks (never "anywhere"). Such an entry may
 * reach inference; who may reach it from other clusters is {@link crossClusterViolations}' verdict.
 */
export function isSealedEntry(result: ReachabilityResult, a: PodInfo): boolean {
    if (!isWorkload(a, "inference-entry")) return false;
    const port = `TCP/${catalog["inference-entry"].ports[0].port}`;
    const inside = result.connections.some(
        (c) => c.to === a.id && c.ports.some((p) => p === "*" || p === port),
    );
    const outside = result.externalIngress[a.id] ?? [];
    return !inside && outside.length > 0 && outside.every((d) => d.kind === "cidr");
}

/**
 * The plan-failing checks:
 * 1. a pod other than the guardrails (or a sealed remote inference entry, {@link isSealedEntry})
 *    can open the serving port of inference or of the output filter (the guardrails would be
 *    bypassed; Prometheus scrapes metrics-only ports); a pod other than the guardrail
 *    evaluation step can open the candidate guardrails tier (unpromoted rules in front of the
 *    model: the gateway in particular must never reach it);
 * 2. an inference pod can reach anything outside the cluster beyond its model supply chain (see
 *    {@link isSupplyChainDestination}); through a proxy, every domain of the proxy's allowlist counts;
 * 3. a platform pod is not under a deny-by-default NetworkPolicy in both directions.
 */
export function reachabilityViolations(result: ReachabilityResult): string[] {
    const out: string[] = [];
    const byId = new Map(result.pods.map((p) => [p.id, p]));
    for (const c of result.connections) {
        const a = byId.get(c.from)!;
        const b = byId.get(c.to)!;
        if (isWorkload(b, "candidate-guardrails") && !isWorkload(a, candidateEvaluation.id)) {
            const open = c.ports.filter((p) => p === "*" || p === candidatePort);
            if (open.length > 0) {
                out.push(
                    `reachability: ${a.namespace}/${a.id} can connect to ${b.namespace}/${b.id} on ${open.join(", ")}: ` +
                        `the candidate tier serves unpromoted rules; only the guardrail-promotion evaluation step may reach it`,
                );
            }
        }
        const guarded = guardedServingPorts.find((g) => isWorkload(b, g.id));
        if (guarded === undefined || isGuardrails(a)) continue;
        if (guarded.id === "inference" && isSealedEntry(result, a)) continue;
        const open = c.ports.filter((p) => p === "*" || p === `TCP/${guarded.port}`);
        if (open.length > 0) {
            out.push(
                `reachability: ${a.namespace}/${a.id} can connect to ${b.namespace}/${b.id} on ${open.join(", ")} ` +
                    `directly: requests would bypass the guardrails; only the guardrails may reach ${guarded.what}`,
            );
        }
    }
    for (const pod of result.pods.filter((p) => isWorkload(p, "inference"))) {
        for (const d of result.egress[pod.id] ?? []) {
            if (!isSupplyChainDestination(d)) {
                out.push(
                    `reachability: inference pod ${pod.namespace}/${pod.id} may reach ${d.value} ` +
                        `(${d.ports.join(", ")}${d.via ? `, via ${d.via}` : ""}; allowed by ${d.source}): inference may ` +
                        "reach only the Object Storage and KMS endpoints of its model supply chain",
                );
            }
        }
    }
    for (const c of result.coverage) {
        const missing = [c.ingressDeny ? "" : "ingress", c.egressDeny ? "" : "egress"].filter(
            (x) => x !== "",
        );
        if (missing.length > 0) {
            out.push(
                `reachability: pod ${c.namespace}/${c.pod} is not under a default-deny NetworkPolicy for ${missing.join(
                    " and ",
                )}; add one (podSelector: {}, policyTypes: [Ingress, Egress]) to namespace ${c.namespace}`,
            );
        }
    }
    return out;
}
