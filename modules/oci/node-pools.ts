/**
 * The worker nodes of one OKE cluster: managed node pools, and instance configurations with
 * instance pools for self-managed Kata pools.
 */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { NodePoolConfig } from "../config";
import { kataPlatformConfig, kataShapeInfo, supportsPvEncryptionInTransit } from "../config/shapes";
import { labels as labelKeys } from "../constants/labels";
import {
    base64,
    managedNodeScript,
    nodeLabelsMetadata,
    poolTaints,
    selfManagedNodeScript,
} from "./cloud-init";

/** Pods per node with VCN-native pod networking (OKE default; each takes a pods-subnet IP). */
export const maxPodsPerNode = 31;

/** Node labels of a pool: pool name, role, the Kata marker on Kata pools, then the pool's own labels. */
export function poolLabels(pool: NodePoolConfig): Record<string, string> {
    return {
        [labelKeys.pool]: pool.name,
        [labelKeys.poolRole]: pool.role,
        ...(pool.kata ? { [labelKeys.kataPool]: "true" } : {}),
        ...pool.labels,
    };
}

/** True for pools that run as self-managed nodes (instance pools joining the cluster). */
export function isSelfManaged(pool: NodePoolConfig): boolean {
    return pool.kata && pool.kataMode === "self-managed";
}

/**
 * The plan's warning for managed pools, which keep the legacy IMDSv1 endpoints: @pulumi/oci
 * 4.20.0's NodePool (CreateNodePoolDetails) has no instance option for them (its schema has no
 * `areLegacyImdsEndpointsDisabled`, unlike InstanceConfiguration's `instanceOptions`), so only
 * self-managed pools disable them. What does hold: every platform namespace is default-deny
 * egress and no NetworkPolicy or egress-proxy rule of ours admits 169.254.0.0/16 (`nonPublicCidrs`
 * in modules/k8s/network/intent.ts is excepted from every CIDR rule and refused by the proxy), and
 * the admission policies refuse hostNetwork pods, so a policed pod cannot reach
 * 169.254.169.254. Host-network system pods (OKE's own, CNI, device plugins) can. Undefined when
 * every pool is self-managed. Test: "warns that managed pools keep IMDSv1, naming them and the
 * mitigation" in test/oci/pure.test.ts.
 */
export function imdsWarning(
    clusterName: string,
    pools: readonly NodePoolConfig[],
): string | undefined {
    const managed = pools.filter((p) => !isSelfManaged(p)).map((p) => p.name);
    if (managed.length === 0) return undefined;
    return (
        `cluster ${clusterName}: managed node pools ${managed.join(", ")} keep the legacy IMDSv1 ` +
        "endpoints (OKE node pools have no option to disable them; self-managed pools do). " +
        "Mitigation in place: platform pods are default-deny egress with 169.254.0.0/16 excepted " +
        "from every allowed CIDR and refused by the egress proxy, and hostNetwork pods are refused " +
        "by admission; host-network system pods can still reach 169.254.169.254."
    );
}

/** Arguments for {@link OkeNodePools}. */
export interface OkeNodePoolsArgs {
    /** Compartment of the pools and instances. */
    readonly compartmentId: string;
    /** Cluster name (pool display names are `<cluster>-<pool>`). */
    readonly clusterName: string;
    /** Kubernetes version of the nodes. */
    readonly kubernetesVersion: string;
    /** The pools to create. */
    readonly pools: readonly NodePoolConfig[];
    /** Pool name → AD names its nodes go to (checked provider answers, modules/oci/lookups.ts). */
    readonly placement: Readonly<Record<string, readonly string[]>>;
    /** Pool name → node image OCID (checked provider answers, modules/oci/lookups.ts). */
    readonly nodeImages: Readonly<Record<string, string>>;
    /** VCN-native pod networking (pods get pods-subnet IPs). Defaults to false (flannel overlay). */
    readonly vcnNative?: boolean;
    /** The OKE cluster managed pools join. */
    readonly clusterId: pulumi.Input<string>;
    /** Private API endpoint host self-managed nodes join through. */
    readonly privateHost: pulumi.Input<string>;
    /** Cluster CA certificate (base64) self-managed nodes trust. */
    readonly caCertBase64: pulumi.Input<string>;
    /** Workers subnet and NSG. */
    readonly workers: {
        readonly subnetId: pulumi.Input<string>;
        readonly nsgId: pulumi.Input<string>;
    };
    /** Pods subnet and NSG (VCN-native only). Defaults to none. */
    readonly pods?: {
        readonly subnetId: pulumi.Input<string>;
        readonly nsgId: pulumi.Input<string>;
    };
    /** Key encrypting boot volumes. */
    readonly volumesKeyId: pulumi.Input<string>;
    /** Defined tags every worker carries (dynamic group membership). */
    readonly workerDefinedTags: Readonly<Record<string, string>>;
    /** Key grants (policy and wait) every pool waits for. */
    readonly keyReady: readonly pulumi.Resource[];
    /** The key policy alone (instance pools wait on it; their configurations wait for the rest). */
    readonly keyPolicy: pulumi.Resource;
    /** The worker tag key (pools set the tag). */
    readonly workerTagKey: pulumi.Resource;
    /** The self-managed join policy and its wait. Defaults to none. */
    readonly joinReady?: readonly pulumi.Resource[];
    /** Freeform tags. */
    readonly tags: Readonly<Record<string, string>>;
}

/**
 * Takes the OkeCluster's name so its children keep the logical names existing stacks hold; the
 * alias moves them under this component without replacement.
 */
export class OkeNodePools extends pulumi.ComponentResource {
    /** Node pools and instance pools, in config order. */
    public readonly pools: pulumi.Resource[];

    constructor(name: string, args: OkeNodePoolsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeNodePools", name, {}, opts);
        const { compartmentId, tags } = args;
        const vcnNative = args.vcnNative ?? false;
        const moved = { parent: this, aliases: [{ parent: opts?.parent }] };

        // Placement and images come from the provider's answers, asked and checked before any
        // resource (modules/oci/lookups.ts): a pool is never declared where its shape is not.
        const known = <T>(
            m: Readonly<Record<string, T>>,
            pool: NodePoolConfig,
            what: string,
        ): T => {
            const v = m[pool.name];
            if (v === undefined) {
                throw new pulumi.ResourceError(
                    `node pool ${pool.name} has no checked ${what}`,
                    this,
                );
            }
            return v;
        };
        const placementFor = (pool: NodePoolConfig) => known(args.placement, pool, "placement");

        const imds = imdsWarning(args.clusterName, args.pools);
        if (imds !== undefined) {
            void pulumi.log.warn(imds, this);
        }

        const pools: pulumi.Resource[] = [];
        for (const pool of args.pools) {
            const nodeLabels = poolLabels(pool);
            const taints = poolTaints(pool);
            const imageId = known(args.nodeImages, pool, "node image");
            if (isSelfManaged(pool)) {
                const info = kataShapeInfo(pool.shape);
                if (info === undefined) {
                    throw new pulumi.ResourceError(
                        `Kata pool ${pool.name} uses shape ${pool.shape}, whose platformConfig type is unknown; use a shape from modules/config/shapes.ts such as BM.Standard.E4.128`,
                        this,
                    );
                }
                const platformConfig = kataPlatformConfig(info, pool.gpu);
                if (platformConfig === undefined) {
                    throw new pulumi.ResourceError(
                        `Kata GPU pool ${pool.name} uses shape ${pool.shape}, whose platform type ${info.platformType} cannot enable IOMMU and ACS for GPU pass-through; use BM.GPU.A100-v2.8`,
                        this,
                    );
                }
                // Self-managed nodes always join through the private endpoint, with the cluster's CA
                // (public data) from the kubeconfig.
                const userData = pulumi
                    .all([args.privateHost, args.caCertBase64])
                    .apply(([apiServerHost, caCertBase64]) =>
                        base64(selfManagedNodeScript({ apiServerHost, caCertBase64, taints })),
                    );
                const config = new oci.core.InstanceConfiguration(
                    `${name}-${pool.name}-config`,
                    {
                        compartmentId,
                        displayName: `${args.clusterName}-${pool.name}`,
                        instanceDetails: {
                            instanceType: "compute",
                            launchDetails: {
                                compartmentId,
                                shape: pool.shape,
                                platformConfig,
                                sourceDetails: {
                                    sourceType: "image",
                                    imageId,
                                    bootVolumeSizeInGbs: String(pool.bootVolumeGbs),
                                    kmsKeyId: args.volumesKeyId,
                                },
                                createVnicDetails: {
                                    subnetId: args.workers.subnetId,
                                    nsgIds: [args.workers.nsgId],
                                    assignPublicIp: false,
                                    freeformTags: tags,
                                },
                                instanceOptions: { areLegacyImdsEndpointsDisabled: true },
                                // Only where OCI documents it (modules/config/shapes.ts).
                                ...(supportsPvEncryptionInTransit(pool.shape)
                                    ? { isPvEncryptionInTransitEnabled: true }
                                    : {}),
                                metadata: {
                                    apiserver_host: args.privateHost,
                                    cluster_ca_cert: args.caCertBase64,
                                    "oke-k8version": args.kubernetesVersion,
                                    "oke-initial-node-labels": nodeLabelsMetadata(nodeLabels),
                                    user_data: userData,
                                    ...(vcnNative && args.pods
                                        ? {
                                              "oke-native-pod-networking": "true",
                                              "oke-max-pods": String(maxPodsPerNode),
                                              "pod-subnets": args.pods.subnetId,
                                              "pod-nsgids": args.pods.nsgId,
                                          }
                                        : {}),
                                },
                                freeformTags: { ...tags, pool: pool.name },
                                definedTags: { ...args.workerDefinedTags },
                            },
                        },
                        freeformTags: { ...tags, pool: pool.name },
                    },
                    { ...moved, dependsOn: [...args.keyReady, args.workerTagKey] },
                );
                const instancePool = new oci.core.InstancePool(
                    `${name}-${pool.name}`,
                    {
                        compartmentId,
                        displayName: `${args.clusterName}-${pool.name}`,
                        instanceConfigurationId: config.id,
                        size: pool.size,
                        placementConfigurations: placementFor(pool).map((availabilityDomain) => ({
                            availabilityDomain,
                            primaryVnicSubnets: { subnetId: args.workers.subnetId },
                        })),
                        freeformTags: { ...tags, pool: pool.name },
                    },
                    { ...moved, dependsOn: [args.keyPolicy, ...(args.joinReady ?? [])] },
                );
                pools.push(instancePool);
                continue;
            }
            const flex = pool.shape.endsWith(".Flex");
            const nodePool = new oci.containerengine.NodePool(
                `${name}-${pool.name}`,
                {
                    clusterId: args.clusterId,
                    compartmentId,
                    name: `${args.clusterName}-${pool.name}`,
                    kubernetesVersion: args.kubernetesVersion,
                    nodeShape: pool.shape,
                    ...(flex
                        ? { nodeShapeConfig: { ocpus: pool.ocpus, memoryInGbs: pool.memoryGbs } }
                        : {}),
                    nodeSourceDetails: {
                        sourceType: "IMAGE",
                        imageId,
                        bootVolumeSizeInGbs: String(pool.bootVolumeGbs),
                    },
                    nodeConfigDetails: {
                        size: pool.size,
                        placementConfigs: placementFor(pool).map((availabilityDomain) => ({
                            availabilityDomain,
                            subnetId: args.workers.subnetId,
                        })),
                        nsgIds: [args.workers.nsgId],
                        kmsKeyId: args.volumesKeyId,
                        // Only where OCI documents it: VMs and three bare-metal shapes, not
                        // BM.GPU.* (modules/config/shapes.ts, test "sends in-transit encryption
                        // only where OCI supports it").
                        ...(supportsPvEncryptionInTransit(pool.shape)
                            ? { isPvEncryptionInTransitEnabled: true }
                            : {}),
                        nodePoolPodNetworkOptionDetails:
                            vcnNative && args.pods
                                ? {
                                      cniType: "OCI_VCN_IP_NATIVE",
                                      maxPodsPerNode,
                                      podSubnetIds: [args.pods.subnetId],
                                      podNsgIds: [args.pods.nsgId],
                                  }
                                : { cniType: "FLANNEL_OVERLAY" },
                        freeformTags: { ...tags, pool: pool.name },
                        // Nodes carry the cluster's worker tag (dynamic group membership).
                        definedTags: { ...args.workerDefinedTags },
                    },
                    initialNodeLabels: Object.entries(nodeLabels).map(([key, value]) => ({
                        key,
                        value,
                    })),
                    ...(taints.length > 0
                        ? { nodeMetadata: { user_data: base64(managedNodeScript(taints)) } }
                        : {}),
                    nodePoolCyclingDetails: {
                        isNodeCyclingEnabled: true,
                        maximumSurge: "1",
                        maximumUnavailable: "0",
                    },
                    freeformTags: { ...tags, pool: pool.name },
                },
                // Boot volumes are encrypted with the volumes key: the key-delegate policy comes first.
                // IMDSv1 stays on for managed nodes (imdsWarning above).
                { ...moved, dependsOn: [...args.keyReady, args.workerTagKey] },
            );
            pools.push(nodePool);
        }
        this.pools = pools;
        this.registerOutputs({});
    }
}
