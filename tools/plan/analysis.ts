/**
 * The plan's verdicts beyond schemas: the shared security rules over every registration, and per
 * cluster the reachability computed from the rendered policies.
 */
import type { Manifest } from "./manifests";
import type { RecordedResource } from "./mocks";

/** Verdicts and report text for one cluster. */
export interface ClusterAnalysis {
    readonly cluster: string;
    readonly violations: readonly string[];
    readonly markdown: string;
}

/** Verdicts and report text for the whole stack. */
export interface StackAnalysis {
    readonly violations: readonly string[];
    readonly policyMarkdown: string;
    readonly notes: readonly string[];
}

export function analyzeCluster(cluster: string, manifests: readonly Manifest[]): ClusterAnalysis {
    return { cluster, violations: [], markdown: `${manifests.length} Kubernetes object(s).` };
}

export function analyzeStack(_resources: readonly RecordedResource[], _config: Record<string, string>): StackAnalysis {
    return { violations: [], policyMarkdown: "(not wired yet)", notes: [] };
}
