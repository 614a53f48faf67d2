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
import { NodeImageSource, selectNodeImage } from "./images";

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

/** The number of an availability domain name (`Uocm:US-ASHBURN-AD-2` → 2). */
export function adNumber(name: string): number | undefined {
    const m = /-AD-(\d+)$/.exec(name);
    return m === null ? undefined : Number(m[1]);
}

/**
 * The availability domains a pool's nodes go to (pure): the configured AD numbers, or every AD
 * of the region whose shapes (`oci.core.getShapes` per AD: the shapes the tenancy can launch
 * there) include the pool's shape. GPU bare-metal shapes exist in few ADs, and a placement in an
 * AD without the shape fails at launch ("Out of host capacity" / shape not available), so the
 * default follows the lookup. Throws naming the key when a configured AD is missing or lacks the
 * shape, or when no AD offers it. Test: "places a pool only where its shape exists, or where
 * config says" in test/oci/pure.test.ts.
 */
export function placementDomains(
    clusterName: string,
    pool: Pick<NodePoolConfig, "name" | "shape" | "availabilityDomains">,
    shapesByAd: Readonly<Record<string, readonly string[]>>,
): string[] {
    const key = `cluster ${clusterName}: nodePools[${pool.name}]`;
    const ads = Object.keys(shapesByAd).sort();
    const offering = ads.filter((ad) => shapesByAd[ad]!.includes(pool.shape));
    const where = (list: string[]) => list.map((a) => `AD-${adNumber(a)}`).join(", ") || "none";
    if (pool.availabilityDomains === undefined) {
        if (offering.length === 0) {
            throw new Error(
                `${key}.shape: ${pool.shape} is offered in no availability domain of the region (ADs: ${where(ads)}); choose a shape the region offers or another region`,
            );
        }
        return offering;
    }
    const chosen: string[] = [];
    for (const n of pool.availabilityDomains) {
        const ad = ads.find((a) => adNumber(a) === n);
        if (ad === undefined) {
            throw new Error(
                `${key}.availabilityDomains: AD ${n} does not exist in the region; expected a subset of ${ads.map(adNumber).join(", ")}`,
            );
        }
        if (!offering.includes(ad)) {
            throw new Error(
                `${key}.availabilityDomains: ${pool.shape} is not offered in AD ${n}; expected ADs where it is: ${where(offering)}`,
            );
        }
        chosen.push(ad);
    }
    return chosen;
}

/** Arguments for {@link OkeNodePools}. */
export interface OkeNodePoolsArgs {
    /** Compartment of the pools and instances. */
    readonly compartmentId: string;
    /** Tenancy OCID (availability domains are listed there). */
    readonly tenancyId: string;
    /** Cluster name (pool display names are `<cluster>-<pool>`). */
    readonly clusterName: string;
    /** Kubernetes version of the nodes. */
    readonly kubernetesVersion: string;
    /** The pools to create. */
    readonly pools: readonly NodePoolConfig[];
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
        const child = { parent: this };
        const moved = { parent: this, aliases: [{ parent: opts?.parent }] };

        const ads = oci.identity
            .getAvailabilityDomainsOutput({ compartmentId: args.tenancyId }, child)
            .availabilityDomains.apply((list) => list.map((ad) => ad.name).sort());
        // The shapes each AD offers, looked up once for all pools (capacity-aware placement).
        const shapesByAd = ads.apply((names) =>
            pulumi
                .all(
                    names.map((availabilityDomain) =>
                        oci.core
                            .getShapesOutput({ compartmentId, availabilityDomain }, child)
                            .shapes.apply(
                                (list) =>
                                    [availabilityDomain, list.map((x) => x.name)] as [
                                        string,
                                        string[],
                                    ],
                            ),
                    ),
                )
                .apply((entries) => Object.fromEntries(entries)),
        );
        const placementFor = (pool: NodePoolConfig): pulumi.Output<string[]> =>
            shapesByAd.apply((m) => {
                try {
                    return placementDomains(args.clusterName, pool, m);
                } catch (e) {
                    throw new pulumi.ResourceError((e as Error).message, this);
                }
            });
        const options = oci.containerengine.getNodePoolOptionOutput(
            { nodePoolOptionId: "all" },
            child,
        );
        const imageFor = (pool: NodePoolConfig): pulumi.Output<string> =>
            pool.imageId !== undefined
                ? pulumi.output(pool.imageId)
                : options.sources.apply((sources) => {
                      const found = selectNodeImage(sources as NodeImageSource[], {
                          kubernetesVersion: args.kubernetesVersion,
                          shape: pool.shape,
                          gpu: pool.gpu,
                      });
                      if (found === undefined) {
                          throw new pulumi.ResourceError(
                              `no OKE node image for Kubernetes ${args.kubernetesVersion} fits shape ${pool.shape}${pool.gpu ? " (GPU)" : ""} of node pool ${pool.name}; set nodePools[].imageId to an image OCID`,
                              this,
                          );
                      }
                      return found.imageId;
                  });

        const imds = imdsWarning(args.clusterName, args.pools);
        if (imds !== undefined) {
            void pulumi.log.warn(imds, this);
        }

        const pools: pulumi.Resource[] = [];
        for (const pool of args.pools) {
            const nodeLabels = poolLabels(pool);
            const taints = poolTaints(pool);
            const imageId = imageFor(pool);
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
                        placementConfigurations: pulumi
                            .all([placementFor(pool), args.workers.subnetId])
                            .apply(([names, workers]) =>
                                names.map((availabilityDomain) => ({
                                    availabilityDomain,
                                    primaryVnicSubnets: { subnetId: workers },
                                })),
                            ),
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
                        placementConfigs: pulumi
                            .all([placementFor(pool), args.workers.subnetId])
                            .apply(([names, workers]) =>
                                names.map((availabilityDomain) => ({
                                    availabilityDomain,
                                    subnetId: workers,
                                })),
                            ),
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
