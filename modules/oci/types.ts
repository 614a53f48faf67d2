/** What the cloud layer hands to the cluster layer for one OKE cluster. */
import * as pulumi from "@pulumi/pulumi";
import type { SubnetCidrs } from "./subnets";

/** Ids and endpoints of an OKE cluster's cloud resources that in-cluster components refer to. */
export interface CloudClusterInfo {
    /** OCI region of the cluster. */
    readonly region: string;
    /** Compartment of the cluster and its keys. */
    readonly compartmentId: string;
    /** OKE cluster OCID. */
    readonly clusterId: pulumi.Output<string>;
    /**
     * Kubernetes API server URL, `https://<ip>:6443`: the private endpoint unless the cluster's
     * endpoint is public (then the public one). Reach a private endpoint through the bastion or a
     * runner inside the VCN.
     */
    readonly apiEndpoint: pulumi.Output<string>;
    /** Vault OCID. */
    readonly vaultId: pulumi.Output<string>;
    /** Vault crypto endpoint (KMS encrypt/decrypt/generate). */
    readonly cryptoEndpoint: pulumi.Output<string>;
    /** Key OCIDs by purpose. */
    readonly keys: {
        readonly secrets: pulumi.Output<string>;
        readonly volumes: pulumi.Output<string>;
        readonly models: pulumi.Output<string>;
        readonly signing: pulumi.Output<string>;
    };
    /** Object Storage namespace and bucket holding encrypted models. */
    readonly modelBucket: {
        readonly namespace: pulumi.Output<string>;
        readonly name: pulumi.Output<string>;
    };
    /**
     * NSG for service load balancers (annotation `oci.oraclecloud.com/oci-network-security-groups`);
     * the workers' NSG admits NodePorts and health checks from it.
     */
    readonly loadBalancerNsgId: pulumi.Output<string>;
    /**
     * CIDRs of the VCN's subnets by role, as the cloud layer created them (config-derived, so plain
     * strings): `cp` holds the API endpoint, `workers` the nodes' VNICs, `pods` VCN-native pods.
     */
    readonly subnetCidrs: SubnetCidrs;
    /**
     * NSGs of a load balancer's backends: `workers` always, `pods` with VCN-native pod networking
     * (a network load balancer that preserves the client's address reaches them with it).
     */
    readonly backendNsgIds?: Readonly<Partial<Record<"workers" | "pods", pulumi.Output<string>>>>;
    /** OCI Bastion for port-forwarding to a private API endpoint, when enabled. */
    readonly bastionId?: pulumi.Output<string>;
}
