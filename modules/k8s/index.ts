/**
 * The cluster layer: everything the platform puts inside one Kubernetes cluster, OKE or existing.
 * It reads only its arguments (never `pulumi.Config`), so every cluster of a stack gets the same
 * platform and only the values in its config differ.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterLayerArgs } from "./args";
import { Baseline } from "./baseline";
import { Kubeflow } from "./kubeflow";
import { LlmTiers } from "./llm";
import { NetworkSecurity } from "./network";
import { Observability } from "./observability";

export type { ClusterLayerArgs } from "./args";

/** The whole in-cluster platform of one cluster. */
export class ClusterPlatform extends pulumi.ComponentResource {
    public readonly baseline: Baseline;
    public readonly network: NetworkSecurity;
    public readonly tiers: LlmTiers;
    public readonly observability: Observability;
    public readonly kubeflow: Kubeflow;

    constructor(name: string, args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:k8s:ClusterPlatform", name, {}, opts);
        const child = { parent: this };
        this.baseline = new Baseline(`${name}-baseline`, args, child);
        // Everything else lands in namespaces and on CRDs the baseline creates.
        const after = { parent: this, dependsOn: [this.baseline] };
        this.network = new NetworkSecurity(`${name}-network`, args, after);
        this.tiers = new LlmTiers(`${name}-llm`, args, after);
        this.observability = new Observability(`${name}-observability`, args, after);
        this.kubeflow = new Kubeflow(`${name}-kubeflow`, args, after);
        this.registerOutputs({});
    }
}
