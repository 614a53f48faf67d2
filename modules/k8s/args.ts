/** Arguments every component of the cluster layer receives. */
import type * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, Environment } from "../config";
import type { CloudClusterInfo } from "../oci/types";

/** What a cluster-layer component knows: the cluster's validated config and, for OKE, its cloud ids. */
export interface ClusterLayerArgs {
    /** The cluster, with its in-cluster settings in `cluster.layer`. */
    readonly cluster: ClusterConfig;
    /** The stack's environment. */
    readonly environment: Environment;
    /** Cloud ids and endpoints; undefined for `target: existing` clusters. */
    readonly cloud?: CloudClusterInfo;
    /** The stack's steered client-facing name (`globalEntry.hostname`) when this cluster is behind it. */
    readonly globalHostname?: string;
    /**
     * A calling cluster of remote inference (`tiers.guardrails.inferenceFrom`): the serving
     * cluster's vault, where its guardrails' client certificate is pushed. Defaults to none.
     */
    readonly remoteInference?: {
        readonly vaultId: pulumi.Output<string>;
        readonly region: string;
    };
}
