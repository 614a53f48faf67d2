/**
 * Reachability across the clusters of a stack (pure; issue 16): the edges from pods of one
 * cluster to another cluster's internal load balancers, read from the rendered manifests and each
 * cluster's {@link ReachabilityResult}. With the single-cluster verdicts it proves that the only
 * path to any inference goes through a guardrails tier:
 * - inside a cluster, only the guardrails and a sealed entry ({@link isSealedEntry}) open
 *   inference's serving port (single-cluster check 1);
 * - a sealed entry is open to no pod of its cluster, and from outside to CIDR blocks only;
 * - here: the only pods of other clusters whose egress reaches an entry's load balancer address
 *   and port are guardrails pods, and no load balancer fronts inference pods directly.
 * Hosts outside every cluster of the stack in the admitted CIDRs are not modelled: the entry's
 * client-certificate check (mTLS) is what keeps them out (docs/hybrid.md).
 */
import { Cidr, contains, parseCidr } from "../../../config/cidr";
import type { ReachabilityResult } from "./index";
import { Obj, PodInfo, arr, nameOf, nsOf, obj, strMap } from "./semantics";
import { isGuardrails, isPoliced, isSealedEntry, isWorkload } from "./verdicts";

/** One cluster of the stack: its rendered objects and their reachability. */
export interface ClusterReachability {
    readonly cluster: string;
    readonly manifests: readonly Obj[];
    readonly result: ReachabilityResult;
}

/** An internal load balancer Service and the pods it fronts. */
export interface LoadBalancerEntry {
    readonly cluster: string;
    /** `namespace/name` of the Service. */
    readonly service: string;
    /** Fixed private address, if the Service pins one. */
    readonly address?: string;
    readonly ports: readonly number[];
    readonly internal: boolean;
    /** Ids of the pods it selects. */
    readonly pods: readonly string[];
}

/** A pod of one cluster that can open a connection to another cluster's load balancer. */
export interface CrossClusterEdge {
    readonly fromCluster: string;
    readonly fromPod: string;
    readonly toCluster: string;
    readonly service: string;
    readonly address: string;
    readonly port: number;
    /** Whether the calling pod is a guardrails pod. */
    readonly guardrails: boolean;
}

const internalAnnotations = [
    "oci-network-load-balancer.oraclecloud.com/internal",
    "service.beta.kubernetes.io/oci-load-balancer-internal",
];
const assignedAddress = "oci-network-load-balancer.oraclecloud.com/assigned-private-ipv4";

function selects(selector: Record<string, string>, pod: PodInfo): boolean {
    const keys = Object.keys(selector);
    return keys.length > 0 && keys.every((k) => pod.labels[k] === selector[k]);
}

/** The LoadBalancer Services of a cluster and what they front. */
export function loadBalancers(c: ClusterReachability): LoadBalancerEntry[] {
    const out: LoadBalancerEntry[] = [];
    for (const m of c.manifests) {
        if (m.kind !== "Service" || obj(m.spec).type !== "LoadBalancer") continue;
        const spec = obj(m.spec);
        const ann = strMap(obj(m.metadata).annotations);
        const selector = strMap(spec.selector);
        const ns = nsOf(m) ?? "default";
        out.push({
            cluster: c.cluster,
            service: `${ns}/${nameOf(m)}`,
            address:
                ann[assignedAddress] ??
                (typeof spec.loadBalancerIP === "string" ? spec.loadBalancerIP : undefined),
            ports: arr(spec.ports)
                .map((p) => Number(obj(p).port))
                .filter((p) => Number.isInteger(p)),
            internal: internalAnnotations.some((a) => ann[a] === "true"),
            pods: c.result.pods
                .filter((p) => p.namespace === ns && selects(selector, p))
                .map((p) => p.id),
        });
    }
    return out;
}

/** Whether an egress destination (`cidr[ except a, b]`, or anywhere) covers `address` on TCP `port`. */
function reaches(
    d: { kind: string; value: string; ports: readonly string[] },
    address: Cidr,
    port: number,
): boolean {
    const portOk = d.ports.some((p) => p === "*" || p === `TCP/${port}` || p === "TCP/*");
    if (!portOk) return false;
    if (d.kind === "any") return true;
    if (d.kind !== "cidr") return false;
    const [block, rest] = d.value.split(" except ");
    const c = parseCidr(block!.trim());
    if (c === undefined || !contains(c, address)) return false;
    const except = (rest ?? "")
        .split(",")
        .map((e) => parseCidr(e.trim()))
        .filter((e): e is Cidr => e !== undefined);
    return !except.some((e) => contains(e, address));
}

/** Every edge from a pod of one cluster to an addressed load balancer of another. */
export function crossClusterEdges(clusters: readonly ClusterReachability[]): CrossClusterEdge[] {
    const out: CrossClusterEdge[] = [];
    for (const target of clusters) {
        for (const lb of loadBalancers(target)) {
            if (lb.address === undefined) continue;
            const address = parseCidr(`${lb.address}/32`);
            if (address === undefined) continue;
            for (const source of clusters) {
                if (source.cluster === target.cluster) continue;
                for (const pod of source.result.pods.filter(isPoliced)) {
                    for (const port of lb.ports) {
                        const dests = source.result.egress[pod.id] ?? [];
                        if (dests.some((d) => reaches(d, address, port))) {
                            out.push({
                                fromCluster: source.cluster,
                                fromPod: pod.id,
                                toCluster: target.cluster,
                                service: lb.service,
                                address: lb.address,
                                port,
                                // The candidate tier too: the live tier's pod with other rules.
                                guardrails: isGuardrails(pod),
                            });
                        }
                    }
                }
            }
        }
    }
    return out;
}

const podOf = (c: ClusterReachability, id: string) => c.result.pods.find((p) => p.id === id)!;

/**
 * The plan-failing checks across clusters:
 * 1. a load balancer fronts inference pods directly, or fronts an entry that is not sealed;
 * 2. a pod other than the guardrails, in another cluster, can reach a load balancer that fronts
 *    inference or an entry (its address and port are in the pod's egress).
 */
export function crossClusterViolations(clusters: readonly ClusterReachability[]): string[] {
    const out: string[] = [];
    const fronted = new Set<string>();
    for (const c of clusters) {
        for (const lb of loadBalancers(c)) {
            const pods = lb.pods.map((id) => podOf(c, id));
            if (pods.some((p) => isWorkload(p, "inference"))) {
                fronted.add(`${c.cluster}|${lb.service}`);
                out.push(
                    `cross-cluster: ${c.cluster}: LoadBalancer ${lb.service} fronts inference pods directly: ` +
                        "only a sealed inference entry, reached by guardrails, may front inference",
                );
            }
            for (const p of pods.filter((x) => isWorkload(x, "inference-entry"))) {
                fronted.add(`${c.cluster}|${lb.service}`);
                if (!isSealedEntry(c.result, p)) {
                    out.push(
                        `cross-cluster: ${c.cluster}: LoadBalancer ${lb.service} fronts ${p.namespace}/${p.id}, ` +
                            "which is not sealed (a pod of its cluster, or anywhere outside, can open its entry port)",
                    );
                }
                if (!lb.internal) {
                    out.push(
                        `cross-cluster: ${c.cluster}: LoadBalancer ${lb.service} of the inference entry is not internal; ` +
                            'set oci-network-load-balancer.oraclecloud.com/internal: "true"',
                    );
                }
            }
        }
    }
    for (const e of crossClusterEdges(clusters)) {
        if (e.guardrails || !fronted.has(`${e.toCluster}|${e.service}`)) continue;
        out.push(
            `cross-cluster: ${e.fromCluster}/${e.fromPod} can reach ${e.toCluster} ${e.service} ` +
                `(${e.address}:${e.port}) in front of inference: only the guardrails may reach a remote inference entry`,
        );
    }
    return out;
}

/** The report section on cross-cluster reachability (Markdown). */
export function renderCrossClusterMarkdown(clusters: readonly ClusterReachability[]): string {
    const violations = crossClusterViolations(clusters);
    const edges = crossClusterEdges(clusters);
    const lbs = clusters.flatMap(loadBalancers);
    const lines: string[] = [
        `Computed from the rendered Services and each cluster's reachability: ${lbs.length} LoadBalancer ` +
            `Service(s), ${edges.length} cross-cluster edge(s), ${violations.length} violation(s).`,
    ];
    if (violations.length > 0) lines.push("", ...violations.map((v) => `- ${v}`));
    if (lbs.length > 0) {
        lines.push(
            "",
            "| cluster | Service | address:port | internal | fronts | admitted from outside | reached from other clusters by |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        );
        for (const lb of lbs) {
            const c = clusters.find((x) => x.cluster === lb.cluster)!;
            const admitted = [
                ...new Set(
                    lb.pods.flatMap((id) =>
                        (c.result.externalIngress[id] ?? []).map(
                            (d) =>
                                `${d.kind === "any" ? "anywhere" : d.value} ${d.ports.join(" ")}`,
                        ),
                    ),
                ),
            ];
            const by = edges
                .filter((e) => e.toCluster === lb.cluster && e.service === lb.service)
                .map((e) => `${e.fromCluster}/${e.fromPod}`);
            lines.push(
                `| ${lb.cluster} | ${lb.service} | ${lb.address ?? "(assigned by OCI)"}:${lb.ports.join(",")} | ` +
                    `${lb.internal ? "yes" : "**no**"} | ${lb.pods.join(", ") || "·"} | ${admitted.join("; ") || "·"} | ` +
                    `${[...new Set(by)].join(", ") || "·"} |`,
            );
        }
    }
    const entries = lbs.filter((lb) =>
        lb.pods.some((id) =>
            isWorkload(
                podOf(clusters.find((x) => x.cluster === lb.cluster)!, id),
                "inference-entry",
            ),
        ),
    );
    if (entries.length > 0) {
        lines.push(
            "",
            violations.length === 0
                ? "**Verdict:** every path to inference goes through a guardrails tier: in each cluster only the " +
                      "guardrails and a sealed entry open inference's serving port, each entry is open to no pod of its " +
                      "own cluster, and only guardrails pods of other clusters reach an entry's address and port. Hosts " +
                      "in the admitted CIDRs outside every cluster of the stack are kept out by the entry's client-" +
                      "certificate check (mTLS), which the plan cannot prove; the real suite runs it " +
                      "(test/real/request-path/mtls.test.ts)."
                : "**Verdict:** the cross-cluster path to inference is not proven (violations above).",
        );
    }
    return lines.join("\n");
}
