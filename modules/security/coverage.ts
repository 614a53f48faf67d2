/**
 * The cluster-wide rule: every namespace that runs workloads has a default-deny NetworkPolicy in
 * both directions (DESIGN "default-deny network policy in both directions", CIS 5.3.2, NSA C-0054).
 * It needs every object of one cluster at once, so it is a function over manifests rather than a
 * per-resource {@link Rule}.
 */
import { workloadKinds } from "./pods";
import type { Severity } from "./types";
import { get, isRecord, isUnknown, list } from "./values";

/** A Kubernetes object as declared (apiVersion, kind, metadata, spec). */
export type ManifestLike = Readonly<Record<string, unknown>>;

/** Metadata of the default-deny rule, for reports and the policy pack. */
export const defaultDenyRule = {
    id: "k8s-default-deny-coverage",
    severity: "mandatory" as Severity,
    description:
        "Every namespace with workloads has a NetworkPolicy selecting all pods (podSelector: {}) that denies all Ingress and Egress (CIS 5.3.2).",
} as const;

const directions = ["Ingress", "Egress"] as const;

/** True when the selector selects every pod (absent, `{}`, or empty matchLabels/matchExpressions). */
function selectsAllPods(selector: unknown): boolean {
    if (selector === undefined || selector === null) {
        return true;
    }
    if (!isRecord(selector)) {
        return false;
    }
    const labels = selector.matchLabels;
    return (
        (labels === undefined || (isRecord(labels) && Object.keys(labels).length === 0)) &&
        list(selector.matchExpressions).length === 0 &&
        !isUnknown(selector.matchExpressions)
    );
}

/** The directions a NetworkPolicy denies for every pod of its namespace. */
export function deniedDirections(policy: ManifestLike): ReadonlySet<string> {
    const spec = get(policy, "spec");
    const out = new Set<string>();
    if (!selectsAllPods(get(spec, "podSelector"))) {
        return out;
    }
    const types = get(spec, "policyTypes");
    const ingressRules = get(spec, "ingress");
    const egressRules = get(spec, "egress");
    // Kubernetes defaults policyTypes to Ingress, plus Egress when egress rules are present.
    const declared = Array.isArray(types)
        ? types
        : ["Ingress", ...(egressRules !== undefined ? ["Egress"] : [])];
    if (
        declared.includes("Ingress") &&
        list(ingressRules).length === 0 &&
        !isUnknown(ingressRules)
    ) {
        out.add("Ingress");
    }
    if (declared.includes("Egress") && list(egressRules).length === 0 && !isUnknown(egressRules)) {
        out.add("Egress");
    }
    return out;
}

function namespaceOf(m: ManifestLike): string {
    const ns = get(m, "metadata", "namespace");
    return typeof ns === "string" && ns !== "" ? ns : "default";
}

/**
 * Violations of default-deny coverage over the objects of ONE cluster: one message per namespace
 * whose workloads are not covered in both directions, naming the workloads and the missing
 * direction. Namespaces without workloads need nothing.
 */
export function checkDefaultDenyCoverage(manifests: readonly ManifestLike[]): string[] {
    const workloads = new Map<string, string[]>();
    const denied = new Map<string, Set<string>>();
    for (const m of manifests) {
        const kind = get(m, "kind");
        const ns = namespaceOf(m);
        if (typeof kind !== "string") {
            continue;
        }
        if (workloadKinds.includes(kind)) {
            const name = get(m, "metadata", "name");
            workloads.set(ns, [
                ...(workloads.get(ns) ?? []),
                `${kind} ${typeof name === "string" ? name : "?"}`,
            ]);
        } else if (
            kind === "NetworkPolicy" &&
            String(get(m, "apiVersion")).startsWith("networking.k8s.io/")
        ) {
            const set = denied.get(ns) ?? new Set<string>();
            for (const d of deniedDirections(m)) {
                set.add(d);
            }
            denied.set(ns, set);
        }
    }
    const out: string[] = [];
    for (const [ns, names] of [...workloads.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const missing = directions.filter((d) => !denied.get(ns)?.has(d));
        if (missing.length > 0) {
            out.push(
                `namespace ${ns}: no default-deny NetworkPolicy for ${missing.join(" and ")} (podSelector: {}, policyTypes: [Ingress, Egress], no rules) while it runs ${names.join(", ")}`,
            );
        }
    }
    return out;
}
