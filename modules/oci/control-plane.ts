/** The OKE cluster resource of one cluster, its kubeconfig and its managed add-ons. */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, ClusterNetworkConfig } from "../config";
import { caCertFromKubeconfig, endpointHost } from "./cloud-init";

/** Arguments for {@link OkeControlPlane}. */
export interface OkeControlPlaneArgs {
    /** Compartment of the cluster. */
    readonly compartmentId: string;
    /** OKE cluster name (display name in OCI). */
    readonly clusterName: string;
    /** Kubernetes version, `v1.x.y`, checked against OKE's cluster options (modules/oci/lookups.ts). */
    readonly kubernetesVersion: string;
    /** VCN of the cluster. */
    readonly vcnId: pulumi.Input<string>;
    /** The cluster's network plan (pod networking, pods and services CIDRs). */
    readonly network: ClusterNetworkConfig;
    /** Public API endpoint. Defaults to false (private). */
    readonly publicEndpoint?: boolean;
    /** Subnet of the API endpoint. */
    readonly endpointSubnetId: pulumi.Input<string>;
    /** NSG of the API endpoint. */
    readonly endpointNsgId: pulumi.Input<string>;
    /** Subnet of service load balancers. */
    readonly loadBalancerSubnetId: pulumi.Input<string>;
    /** NSG of the workers: load balancers' backends. */
    readonly workersNsgId: pulumi.Input<string>;
    /** Key encrypting Kubernetes secrets at rest (creation-time only). */
    readonly secretsKeyId: pulumi.Input<string>;
    /** Key verifying image signatures; image verification is off without it. Defaults to none. */
    readonly signingKeyId?: pulumi.Input<string>;
    /** Managed add-ons; CertManager first when present. Defaults to none. */
    readonly addons?: ClusterConfig["addons"];
    /** Resources the cluster waits for (key grants and their propagation wait). Defaults to none. */
    readonly dependsOn?: pulumi.Resource[];
    /** Protect the cluster against deletion and replacement. Defaults to false. */
    readonly protect?: boolean;
    /** Freeform tags for every resource. */
    readonly tags: Readonly<Record<string, string>>;
}

/**
 * The `oci.containerengine.Cluster` and its add-ons. Takes the OkeCluster's name so its children
 * keep the logical names existing stacks hold; the alias moves them without replacement.
 */
export class OkeControlPlane extends pulumi.ComponentResource {
    /** OKE cluster OCID. */
    public readonly clusterId: pulumi.Output<string>;
    /** `https://<endpoint>`: the private endpoint unless the endpoint is public. */
    public readonly apiEndpoint: pulumi.Output<string>;
    /** Kubeconfig as OCI returns it (not yet marked secret; its exec plugin fetches tokens). */
    public readonly kubeconfigRaw: pulumi.Output<string>;
    /** Host of the private endpoint (self-managed nodes join through it). */
    public readonly privateHost: pulumi.Output<string>;
    /** The cluster CA certificate (base64, public data) from the kubeconfig. */
    public readonly caCertBase64: pulumi.Output<string>;
    /** The Kubernetes version (OKE's cluster options list it). */
    public readonly kubernetesVersion: pulumi.Output<string>;
    /** The managed add-ons, CertManager first. */
    public readonly addons: readonly oci.containerengine.Addon[];

    constructor(name: string, args: OkeControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeControlPlane", name, {}, opts);
        const publicEndpoint = args.publicEndpoint ?? false;
        const vcnNative = args.network.podNetworking === "vcn-native";
        const tags = args.tags;
        const moved = { parent: this, aliases: [{ parent: opts?.parent }] };

        // Checked against the provider's getClusterOption answer before any resource was declared
        // (modules/oci/lookups.ts; test: test/oci/provider-preflight.test.ts).
        const kubernetesVersion = args.kubernetesVersion;

        const okeCluster = new oci.containerengine.Cluster(
            `${name}-cluster`,
            {
                compartmentId: args.compartmentId,
                vcnId: args.vcnId,
                name: args.clusterName,
                kubernetesVersion,
                type: "ENHANCED_CLUSTER",
                // Creation-time only: a change replaces the cluster (and protect refuses it in prod).
                kmsKeyId: args.secretsKeyId,
                endpointConfig: {
                    subnetId: args.endpointSubnetId,
                    isPublicIpEnabled: publicEndpoint,
                    nsgIds: [args.endpointNsgId],
                },
                clusterPodNetworkOptions: [
                    { cniType: vcnNative ? "OCI_VCN_IP_NATIVE" : "FLANNEL_OVERLAY" },
                ],
                imagePolicyConfig:
                    args.signingKeyId !== undefined
                        ? { isPolicyEnabled: true, keyDetails: [{ kmsKeyId: args.signingKeyId }] }
                        : { isPolicyEnabled: false },
                options: {
                    serviceLbSubnetIds: [args.loadBalancerSubnetId],
                    kubernetesNetworkConfig: {
                        ...(vcnNative ? {} : { podsCidr: args.network.podsCidr }),
                        servicesCidr: args.network.servicesCidr,
                    },
                    serviceLbConfig: { backendNsgIds: [args.workersNsgId], freeformTags: tags },
                    addOns: { isKubernetesDashboardEnabled: false, isTillerEnabled: false },
                },
                freeformTags: tags,
            },
            { ...moved, dependsOn: args.dependsOn ?? [], protect: args.protect ?? false },
        );
        const clusterId = okeCluster.id;

        const kubeconfigRaw = oci.containerengine.getClusterKubeConfigOutput(
            {
                clusterId,
                endpoint: publicEndpoint ? "PUBLIC_ENDPOINT" : "PRIVATE_ENDPOINT",
                tokenVersion: "2.0.0",
            },
            { parent: this },
        ).content;
        const endpoint = okeCluster.endpoints.apply((eps) => {
            const ep = eps?.[0];
            return (publicEndpoint ? ep?.publicEndpoint : ep?.privateEndpoint) ?? "";
        });

        const addons: oci.containerengine.Addon[] = [];
        const all = args.addons ?? [];
        const certManager = all.find((a) => a.name === "CertManager");
        const ordered = certManager ? [certManager, ...all.filter((a) => a !== certManager)] : all;
        let first: oci.containerengine.Addon | undefined;
        for (const addon of ordered) {
            const created = new oci.containerengine.Addon(
                `${name}-addon-${addon.name.toLowerCase()}`,
                {
                    addonName: addon.name,
                    clusterId,
                    removeAddonResourcesOnDelete: true,
                    ...(addon.version !== undefined ? { version: addon.version } : {}),
                    configurations: Object.entries(addon.configurations).map(([key, value]) => ({
                        key,
                        value,
                    })),
                },
                // Other add-ons may need cert-manager's webhooks: install CertManager first.
                { ...moved, dependsOn: certManager && first ? [first] : [] },
            );
            first = first ?? created;
            addons.push(created);
        }

        this.clusterId = clusterId;
        this.kubernetesVersion = pulumi.output(kubernetesVersion);
        this.apiEndpoint = pulumi.interpolate`https://${endpoint}`;
        this.kubeconfigRaw = kubeconfigRaw;
        this.privateHost = okeCluster.endpoints.apply((eps) =>
            endpointHost(eps?.[0]?.privateEndpoint ?? ""),
        );
        this.caCertBase64 = pulumi.unsecret(kubeconfigRaw.apply(caCertFromKubeconfig));
        this.addons = addons;
        this.registerOutputs({ clusterId, apiEndpoint: this.apiEndpoint });
    }
}
