/**
 * In-transit protection per flow (issue 16, docs/hybrid.md). The intent states it (a flow's
 * `protection`); the standard renderer writes it onto the workload's `allow-<id>` NetworkPolicy as
 * an annotation; the plan reads it back from the rendered manifests and states, for every allowed
 * connection the reachability analysis found, how it is protected. A connection nothing declares
 * protection for is reported as plaintext on the pod network.
 */
import { labelDomain } from "../../constants/labels";
import { type FlowProtection, type NetworkIntent, plaintextInCluster } from "./intent";
import type { ReachabilityResult } from "./reachability";

/** Annotation of an `allow-<id>` NetworkPolicy: JSON list of {@link ProtectionEntry}. */
export const protectionAnnotation = `${labelDomain}/flow-protection`;

/** One protected flow end, as the annotation carries it. */
export interface ProtectionEntry {
    readonly direction: "ingress" | "egress";
    /** Workload id of the other end, or `cidr:<block>`. */
    readonly peer: string;
    readonly port: number;
    readonly kind: FlowProtection["kind"];
    readonly how: string;
}

/** The protection entries of one workload's policy (pure): flows and CIDR rules that state one. */
export function protectionEntries(intent: NetworkIntent, workloadId: string): ProtectionEntry[] {
    const out: ProtectionEntry[] = [];
    const add = (
        direction: ProtectionEntry["direction"],
        peer: string,
        port: number,
        p?: FlowProtection,
    ) => {
        if (p !== undefined) out.push({ direction, peer, port, kind: p.kind, how: p.how });
    };
    for (const f of intent.flows) {
        if (f.to === workloadId) add("ingress", f.from, f.port, f.protection);
        if (f.from === workloadId) add("egress", f.to, f.port, f.protection);
    }
    for (const c of intent.cidrIngress.filter((c) => c.to === workloadId)) {
        for (const cidr of c.cidrs)
            for (const port of c.ports) add("ingress", `cidr:${cidr}`, port, c.protection);
    }
    for (const c of intent.cidrEgress.filter((c) => c.from === workloadId)) {
        for (const cidr of c.cidrs)
            for (const port of c.ports) add("egress", `cidr:${cidr}`, port, c.protection);
    }
    return out;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {};

/** The entries every rendered NetworkPolicy declares, by `namespace/policy-name`. */
function declared(manifests: readonly Obj[]): Map<string, ProtectionEntry[]> {
    const out = new Map<string, ProtectionEntry[]>();
    for (const m of manifests) {
        if (m.kind !== "NetworkPolicy") continue;
        const meta = obj(m.metadata);
        const text = obj(meta.annotations)[protectionAnnotation];
        if (typeof text !== "string") continue;
        try {
            out.set(`${String(meta.namespace)}/${String(meta.name)}`, JSON.parse(text));
        } catch {
            // An annotation that does not parse declares nothing: the flow is reported unprotected.
        }
    }
    return out;
}

/** One row of the report's protection table. */
export interface ProtectionRow {
    readonly from: string;
    readonly to: string;
    readonly ports: readonly string[];
    readonly protection: FlowProtection;
}

/**
 * How each allowed connection of `result` is protected (pure): the pod-to-pod connections, and
 * the CIDR flows outside the cluster some policy declares a protection for.
 */
export function protectionRows(
    result: ReachabilityResult,
    manifests: readonly Obj[],
): ProtectionRow[] {
    const entries = declared(manifests);
    const byId = new Map(result.pods.map((p) => [p.id, p]));
    const of = (id: string) => {
        const p = byId.get(id);
        return p === undefined ? [] : (entries.get(`${p.namespace}/allow-${id}`) ?? []);
    };
    const find = (list: ProtectionEntry[], dir: string, peer: string, ports: readonly string[]) =>
        list.find((e) => e.direction === dir && e.peer === peer && ports.includes(`TCP/${e.port}`));
    const rows: ProtectionRow[] = [];
    for (const c of result.connections) {
        const e =
            find(of(c.to), "ingress", c.from, c.ports) ?? find(of(c.from), "egress", c.to, c.ports);
        rows.push({
            from: c.from,
            to: c.to,
            ports: c.ports,
            protection: e ?? plaintextInCluster,
        });
    }
    for (const [pod, dir, list] of [
        ...Object.entries(result.externalIngress).map(([p, l]) => [p, "ingress", l] as const),
        ...Object.entries(result.egress).map(([p, l]) => [p, "egress", l] as const),
    ]) {
        for (const d of list) {
            if (d.kind !== "cidr") continue;
            const e = find(of(pod), dir, `cidr:${d.value}`, d.ports);
            if (e === undefined) continue;
            rows.push({
                from: dir === "ingress" ? d.value : pod,
                to: dir === "ingress" ? pod : d.value,
                ports: d.ports,
                protection: e,
            });
        }
    }
    return rows;
}

/** The report's protection table (Markdown). */
export function renderProtectionMarkdown(
    result: ReachabilityResult,
    manifests: readonly Obj[],
): string {
    const rows = protectionRows(result, manifests);
    const cell = (s: string) => s.replace(/\|/g, "\\|");
    const mtls = rows.filter((r) => r.protection.kind === "mtls").length;
    return [
        `${rows.length} flow(s): ${mtls} mutually authenticated and encrypted (mTLS), ` +
            `${rows.length - mtls} plaintext on the pod network.`,
        "",
        "| from | to | ports | protection | how |",
        "| --- | --- | --- | --- | --- |",
        ...rows.map(
            (r) =>
                `| ${cell(r.from)} | ${cell(r.to)} | ${r.ports.join(", ")} | ${r.protection.kind === "mtls" ? "mTLS" : "**none**"} | ${cell(r.protection.how)} |`,
        ),
    ].join("\n");
}
