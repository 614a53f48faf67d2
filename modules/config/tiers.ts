/** `tiers` section: the LLM serving tiers (gateway, guardrails, inference, output filter). */
import type { LayerContext } from "./layer";
import { Issues, bool, num, obj } from "./validate";

export const tierNames = ["gateway", "guardrails", "inference", "outputFilter"] as const;
export type TierName = (typeof tierNames)[number];

/** Settings common to every tier. */
export interface TierConfig {
    /** Whether the tier runs on this cluster. Defaults to true. */
    readonly enabled: boolean;
    /** Pod replicas. Defaults to 2. */
    readonly replicas: number;
}

export type TiersConfig = Readonly<Record<TierName, TierConfig>>;

export function parseTiers(raw: unknown, path: string, issues: Issues, _ctx: LayerContext): TiersConfig {
    const o = obj(raw, path, issues, [...tierNames]);
    const tier = (name: TierName): TierConfig => {
        const p = `${path}.${name}`;
        const t = obj(o[name], p, issues, ["enabled", "replicas"]);
        return {
            enabled: bool(t, "enabled", p, issues, true),
            replicas: num(t, "replicas", p, issues, { min: 1, max: 100, default: 2 }),
        };
    };
    return {
        gateway: tier("gateway"),
        guardrails: tier("guardrails"),
        inference: tier("inference"),
        outputFilter: tier("outputFilter"),
    };
}
