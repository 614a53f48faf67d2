/** The cloud layer for one OKE cluster: network, vault and keys, IAM, cluster, node pools, bastion (issue 2). */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, PlatformConfig } from "../config";
import type { CloudClusterInfo } from "./types";

export type { CloudClusterInfo } from "./types";

/** Arguments for {@link OkeCluster}. */
export interface OkeClusterArgs {
    /** The stack (compartment, tenancy, tags, vault settings, environment). */
    readonly platform: PlatformConfig;
    /** The cluster to build; `target` must be `oke`. */
    readonly cluster: ClusterConfig;
    /** Provider for the home region, where IAM resources live. */
    readonly homeProvider: oci.Provider;
}

/** Every OCI resource of one OKE cluster. */
export class OkeCluster extends pulumi.ComponentResource {
    /** Ids the cluster layer needs. */
    public readonly info!: CloudClusterInfo;
    /** Kubeconfig for the cluster (secret). */
    public readonly kubeconfig!: pulumi.Output<string>;
    /** Resources the cluster layer must wait for (node pools ready to schedule). */
    public readonly readiness!: pulumi.Resource[];

    constructor(name: string, _args: OkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeCluster", name, {}, opts);
        this.registerOutputs({});
    }
}
