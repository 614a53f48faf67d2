/** Kubeflow Pipelines, the pipeline profile and the rollout identity (issue 8). */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterLayerArgs } from "./args";

/** Kubeflow Pipelines, the pipeline profile and the rollout identity (issue 8). */
export class Kubeflow extends pulumi.ComponentResource {
    constructor(name: string, _args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:kubeflow:Kubeflow", name, {}, opts);
        this.registerOutputs({});
    }
}
