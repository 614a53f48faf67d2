/** `networkPolicy` section: how default-deny and FQDN egress allowlists are enforced. */
import type { LayerContext } from "./layer";
import { Issues, obj, str } from "./validate";

export const egressEngines = ["proxy", "calico-enterprise", "cilium"] as const;
export type EgressEngine = (typeof egressEngines)[number];

/** Network policy settings of a cluster. */
export interface NetworkPolicyConfig {
    /** FQDN egress engine. Defaults to `proxy` (works with open-source Calico and any enforcing CNI). */
    readonly engine: EgressEngine;
}

/** The CNI an engine needs, or undefined when any policy-enforcing CNI will do. */
export const engineNeedsCni: Readonly<Record<EgressEngine, string | undefined>> = {
    proxy: undefined,
    "calico-enterprise": "calico-enterprise",
    cilium: "cilium",
};

export function parseNetworkPolicy(
    raw: unknown,
    path: string,
    issues: Issues,
    ctx: LayerContext,
): NetworkPolicyConfig {
    const o = obj(raw, path, issues, ["engine"]);
    const engine = str(o, "engine", path, issues, { oneOf: egressEngines, default: "proxy" });
    const needs = engineNeedsCni[engine];
    if (needs !== undefined && ctx.capabilities.cni !== needs) {
        issues.add(
            `${path}.engine`,
            engine,
            `an engine the cluster's CNI (${ctx.capabilities.cni}) can enforce: proxy` +
                (ctx.target === "existing" ? `, or set capabilities.cni to ${needs}` : ""),
        );
    }
    if (ctx.capabilities.cni === "other") {
        issues.add(
            `clusters[${ctx.clusterName}].capabilities.cni`,
            "other",
            "a CNI that enforces Kubernetes NetworkPolicy (calico, calico-enterprise or cilium): default-deny is the platform's baseline",
        );
    }
    return { engine };
}
