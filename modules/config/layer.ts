/**
 * The in-cluster part of a stack's configuration. Each section is owned and parsed by its area
 * module; a cluster may override any section (deep-merged over the stack-level value), so every
 * cluster gets the same platform and only what it says differs.
 */
import { BaselineConfig, parseBaseline } from "./baseline";
import { KubeflowConfig, parseKubeflow } from "./kubeflow";
import { NetworkPolicyConfig, parseNetworkPolicy } from "./network";
import { ObservabilityConfig, parseObservability } from "./observability";
import type { ClusterCapabilities, ClusterTarget, Environment } from "./schema";
import { TiersConfig, parseTiers } from "./tiers";
import { Issues } from "./validate";

/** Everything a cluster layer needs to know, after per-cluster overrides. */
export interface ClusterLayerConfig {
    readonly baseline: BaselineConfig;
    readonly tiers: TiersConfig;
    readonly networkPolicy: NetworkPolicyConfig;
    readonly observability: ObservabilityConfig;
    readonly kubeflow: KubeflowConfig;
}

/** What a section parser may know about the cluster it parses for. */
export interface LayerContext {
    readonly environment: Environment;
    readonly clusterName: string;
    /** Key path of the cluster in the stack file, e.g. `secure-llm-platform:clusters[0]`. */
    readonly clusterPath?: string;
    readonly target: ClusterTarget;
    readonly region: string;
    readonly capabilities: ClusterCapabilities;
    /** Names of the OKE managed add-ons the cluster lists (empty for existing clusters). */
    readonly addons: readonly string[];
}

/** Section name → parser. Section names are also the config keys (stack level and per cluster). */
export const layerSections = {
    baseline: parseBaseline,
    tiers: parseTiers,
    networkPolicy: parseNetworkPolicy,
    observability: parseObservability,
    kubeflow: parseKubeflow,
} as const;

export type LayerSection = keyof typeof layerSections;

export const layerSectionNames = Object.keys(layerSections) as LayerSection[];

/**
 * Parses every section from `raw` (section name → raw value). `pathOf` gives the key path a
 * section is reported under.
 */
export function parseLayer(
    raw: Partial<Record<LayerSection, unknown>>,
    pathOf: (section: LayerSection) => string,
    issues: Issues,
    ctx: LayerContext,
): ClusterLayerConfig {
    return {
        baseline: parseBaseline(raw.baseline, pathOf("baseline"), issues, ctx),
        tiers: parseTiers(raw.tiers, pathOf("tiers"), issues, ctx),
        networkPolicy: parseNetworkPolicy(raw.networkPolicy, pathOf("networkPolicy"), issues, ctx),
        observability: parseObservability(raw.observability, pathOf("observability"), issues, ctx),
        kubeflow: parseKubeflow(raw.kubeflow, pathOf("kubeflow"), issues, ctx),
    };
}
