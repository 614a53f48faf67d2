/**
 * The cluster-wide rule: every namespace that runs workloads has a default-deny NetworkPolicy in
 * both directions (DESIGN "default-deny network policy in both directions", CIS 5.3.2, NSA C-0054).
 * It needs every object of one cluster at once, so it is a function over manifests rather than a
 * per-resource {@link Rule}. What counts as a default deny is the reachability analysis's own test
 * ({@link deniedDirections}), so the rule and the report's coverage table cannot disagree.
 */
import {
    defaultDenyByNamespace,
    deniedDirections,
    Direction,
} from "../k8s/network/reachability/semantics";
import { workloadKinds } from "./pods";
import type { Severity } from "./types";
import { get } from "./values";

export { deniedDirections };

/** A Kubernetes object as declared (apiVersion, kind, metadata, spec). */
export type ManifestLike = Readonly<Record<string, unknown>>;

/** Metadata of the default-deny rule, for reports and the policy pack. */
export const defaultDenyRule = {
    id: "k8s-default-deny-coverage",
    severity: "mandatory" as Severity,
    description:
        "Every namespace with workloads has a NetworkPolicy selecting all pods (podSelector: {}) that denies all Ingress and Egress (CIS 5.3.2).",
} as const;

const directions: readonly Direction[] = ["Ingress", "Egress"];

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
    for (const m of manifests) {
        const kind = get(m, "kind");
        if (typeof kind === "string" && workloadKinds.includes(kind)) {
            const ns = namespaceOf(m);
            const name = get(m, "metadata", "name");
            workloads.set(ns, [
                ...(workloads.get(ns) ?? []),
                `${kind} ${typeof name === "string" ? name : "?"}`,
            ]);
        }
    }
    const denied = defaultDenyByNamespace(manifests);
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
