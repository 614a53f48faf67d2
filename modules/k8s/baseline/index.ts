/** Namespaces, Pod Security, quotas, RBAC, Kata, GPU stack, External Secrets, admission policies and ingress (issue 3). */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterLayerArgs } from "../args";

/** Namespaces, Pod Security, quotas, RBAC, Kata, GPU stack, External Secrets, admission policies and ingress (issue 3). */
export class Baseline extends pulumi.ComponentResource {
    constructor(name: string, _args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:Baseline", name, {}, opts);
        this.registerOutputs({});
    }
}
