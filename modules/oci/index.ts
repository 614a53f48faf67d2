/** The cloud layer for one OKE cluster: network, vault and keys, IAM, cluster, node pools, bastion (issue 2). */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import * as time from "@pulumiverse/time";
import type { ClusterConfig, NodePoolConfig, PlatformConfig } from "../config";
import { kataPlatformConfig, kataShapeInfo, supportsPvEncryptionInTransit } from "../config/shapes";
import { workloadIdentities } from "../constants/identities";
import { labels as labelKeys } from "../constants/labels";
import {
    base64,
    caCertFromKubeconfig,
    endpointHost,
    managedNodeScript,
    nodeLabelsMetadata,
    poolTaints,
    selfManagedNodeScript,
} from "./cloud-init";
import {
    iamName,
    keyPolicyStatements,
    logShippingStatements,
    selfManagedWorkerStatements,
    workerDynamicGroupRule,
    workerTag,
    workloadPolicyStatements,
} from "./iam-statements";
import { NodeImageSource, selectNodeImage } from "./images";
import { AuditLogging } from "./logging";
import { NetworkPeering, OkeNetwork } from "./network";
import type { CloudClusterInfo } from "./types";
import { KeyVault } from "./vault";

export type { CloudClusterInfo } from "./types";

/** Pods per node with VCN-native pod networking (OKE default; each takes a pods-subnet IP). */
export const maxPodsPerNode = 31;

/**
 * How long to wait after creating IAM policies before using what they grant. OCI IAM is eventually
 * consistent: a policy returned as ACTIVE may not yet be honoured by KMS or OKE, and the first
 * `pulumi up` then fails with 404-NotAuthorizedOrFoundKmsKey. The value is a margin, not an OCI
 * figure. Test: "waits for IAM propagation between the policies and what uses them" in
 * test/oci/oke-cluster.test.ts.
 */
export const iamPropagationSeconds = 60;

/** Freeform tags of every OCI resource of a cluster: the stack's tags plus cluster, environment, stack. */
export function clusterTags(
    platform: PlatformConfig,
    cluster: ClusterConfig,
): Record<string, string> {
    return {
        ...platform.tags,
        cluster: cluster.name,
        environment: platform.environment,
        stack: platform.stack,
    };
}

/** Node labels of a pool: pool name, role, the Kata marker on Kata pools, then the pool's own labels. */
export function poolLabels(pool: NodePoolConfig): Record<string, string> {
    return {
        [labelKeys.pool]: pool.name,
        [labelKeys.poolRole]: pool.role,
        ...(pool.kata ? { [labelKeys.kataPool]: "true" } : {}),
        ...pool.labels,
    };
}

/** Object Storage bucket name for a cluster's encrypted models (unique per namespace). */
export function modelBucketName(stack: string, cluster: string): string {
    return `${stack}-${cluster}-models`.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 256);
}

/** Arguments for {@link OkeCluster}. */
export interface OkeClusterArgs {
    /** The stack (compartment, tenancy, tags, vault settings, environment). */
    readonly platform: PlatformConfig;
    /** The cluster to build; `target` must be `oke`. */
    readonly cluster: ClusterConfig;
    /** Provider for the home region, where IAM resources live. */
    readonly homeProvider: oci.Provider;
    /**
     * Remote peering (modules/oci/peering.ts): the region's DRG the VCN attaches to and the other
     * regions' VCN CIDRs routed through it. Defaults to no peering.
     */
    readonly peering?: NetworkPeering;
}

/** Every OCI resource of one OKE cluster. */
export class OkeCluster extends pulumi.ComponentResource {
    /** Ids the cluster layer needs. */
    public readonly info: CloudClusterInfo;
    /** Kubeconfig for the cluster (secret); its exec plugin runs `oci ce cluster generate-token`. */
    public readonly kubeconfig: pulumi.Output<string>;
    /** Resources the cluster layer must wait for: node pools, instance pools and managed add-ons. */
    public readonly readiness: pulumi.Resource[];

    constructor(name: string, args: OkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeCluster", name, {}, opts);
        const { platform, cluster } = args;
        if (cluster.target !== "oke" || cluster.network === undefined) {
            throw new pulumi.ResourceError(
                `cluster ${cluster.name} is not an OKE cluster (target ${cluster.target}); only target oke has a cloud layer`,
                this,
            );
        }
        const compartmentId = platform.compartmentId;
        const tenancyId = platform.tenancyId;
        if (compartmentId === undefined || tenancyId === undefined) {
            throw new pulumi.ResourceError(
                "compartmentId and tenancyId are required for OKE clusters; set them in the stack config",
                this,
            );
        }
        const network = cluster.network;
        const vcnNative = network.podNetworking === "vcn-native";
        const prod = platform.environment === "prod";
        const tags = clusterTags(platform, cluster);
        const child = { parent: this };
        const home = { parent: this, provider: args.homeProvider };
        const iam = (prefix: string) => iamName(prefix, platform.stack, cluster.name);

        const net = new OkeNetwork(
            `${name}-net`,
            {
                compartmentId,
                network,
                publicEndpoint: cluster.endpoint.public,
                endpointAllowedCidrs: cluster.endpoint.allowedCidrs,
                bastion: cluster.bastion.enabled,
                tags,
                peering: args.peering,
            },
            child,
        );
        const subnet = (role: "cp" | "lb" | "workers" | "pods") => net.subnetIds[role]!;
        const nsg = (role: "cp" | "lb" | "workers" | "pods") => net.nsgIds[role]!;

        const vault = new KeyVault(
            `${name}-kms`,
            {
                compartmentId,
                vaultType: platform.vault.type,
                protectionMode: platform.vault.protectionMode,
                rotationDays: platform.vault.rotationDays,
                existingVaultId: platform.vault.existingVaultId,
                tags,
            },
            child,
        );
        const keys = {
            secrets: vault.keyIds.secrets!,
            volumes: vault.keyIds.volumes!,
            models: vault.keyIds.models!,
            signing: vault.keyIds.signing!,
        };

        // Key policies first: without them cluster, node pool and bucket creation fail with
        // 404-NotAuthorizedOrFoundKmsKey.
        const keyPolicy = new oci.identity.Policy(
            `${name}-keys-policy`,
            {
                compartmentId,
                name: iam("oke-keys"),
                description: `Key use by OKE cluster ${cluster.name} of stack ${platform.stack}: secrets, volumes, models`,
                statements: pulumi
                    .all([keys.secrets, keys.volumes, keys.models, keys.signing])
                    .apply(([secretsKeyId, volumesKeyId, modelsKeyId, signingKeyId]) =>
                        keyPolicyStatements({
                            keyCompartmentId: compartmentId,
                            principalCompartmentId: compartmentId,
                            region: cluster.region,
                            secretsKeyId,
                            volumesKeyId,
                            modelsKeyId,
                            signingKeyId: cluster.imageSigning ? signingKeyId : undefined,
                        }),
                    ),
                freeformTags: tags,
            },
            home,
        );

        const keyPolicyWait = new time.Sleep(
            `${name}-keys-policy-wait`,
            { createDuration: `${iamPropagationSeconds}s` },
            { parent: this, dependsOn: [keyPolicy] },
        );
        const namespace = oci.objectstorage.getNamespaceOutput({ compartmentId }, child).namespace;
        const bucket = new oci.objectstorage.Bucket(
            `${name}-models`,
            {
                compartmentId,
                namespace,
                name: modelBucketName(platform.stack, cluster.name),
                accessType: "NoPublicAccess",
                kmsKeyId: keys.models,
                versioning: "Enabled",
                freeformTags: { ...tags, purpose: "models" },
            },
            {
                parent: this,
                protect: true,
                retainOnDelete: true,
                dependsOn: [keyPolicy, keyPolicyWait],
            },
        );

        const okeCluster = new oci.containerengine.Cluster(
            `${name}-cluster`,
            {
                compartmentId,
                vcnId: net.vcnId,
                name: cluster.name,
                kubernetesVersion: cluster.kubernetesVersion,
                type: "ENHANCED_CLUSTER",
                // Creation-time only: a change replaces the cluster (and protect refuses it in prod).
                kmsKeyId: keys.secrets,
                endpointConfig: {
                    subnetId: subnet("cp"),
                    isPublicIpEnabled: cluster.endpoint.public,
                    nsgIds: [nsg("cp")],
                },
                clusterPodNetworkOptions: [
                    { cniType: vcnNative ? "OCI_VCN_IP_NATIVE" : "FLANNEL_OVERLAY" },
                ],
                imagePolicyConfig: cluster.imageSigning
                    ? { isPolicyEnabled: true, keyDetails: [{ kmsKeyId: keys.signing }] }
                    : { isPolicyEnabled: false },
                options: {
                    serviceLbSubnetIds: [subnet("lb")],
                    kubernetesNetworkConfig: {
                        ...(vcnNative ? {} : { podsCidr: network.podsCidr }),
                        servicesCidr: network.servicesCidr,
                    },
                    serviceLbConfig: { backendNsgIds: [nsg("workers")], freeformTags: tags },
                    addOns: { isKubernetesDashboardEnabled: false, isTillerEnabled: false },
                },
                freeformTags: tags,
            },
            { parent: this, dependsOn: [keyPolicy, keyPolicyWait], protect: prod },
        );
        const clusterId = okeCluster.id;

        const kubeconfigRaw = oci.containerengine.getClusterKubeConfigOutput(
            {
                clusterId,
                endpoint: cluster.endpoint.public ? "PUBLIC_ENDPOINT" : "PRIVATE_ENDPOINT",
                tokenVersion: "2.0.0",
            },
            child,
        ).content;
        this.kubeconfig = pulumi.secret(kubeconfigRaw);
        const endpoint = okeCluster.endpoints.apply((eps) => {
            const ep = eps?.[0];
            return (cluster.endpoint.public ? ep?.publicEndpoint : ep?.privateEndpoint) ?? "";
        });
        const apiEndpoint = pulumi.interpolate`https://${endpoint}`;

        // Workloads trusted through OKE workload identity: exactly one ServiceAccount each.
        new oci.identity.Policy(
            `${name}-workloads-policy`,
            {
                compartmentId,
                name: iam("oke-workloads"),
                description: `Workload identities of OKE cluster ${cluster.name} of stack ${platform.stack}: model loader, External Secrets`,
                statements: pulumi
                    .all([clusterId, keys.models, bucket.name, vault.vaultId])
                    .apply(([cid, modelsKeyId, modelBucketName, vaultId]) =>
                        workloadPolicyStatements({
                            compartmentId,
                            clusterId: cid,
                            modelsKeyId,
                            modelBucketName,
                            vaultId,
                            modelLoader: workloadIdentities.modelLoader,
                            externalSecrets: workloadIdentities.externalSecrets,
                        }),
                    ),
                freeformTags: tags,
            },
            home,
        );

        let bastionId: pulumi.Output<string> | undefined;
        if (cluster.bastion.enabled) {
            bastionId = new oci.bastion.Bastion(
                `${name}-bastion`,
                {
                    bastionType: "STANDARD",
                    compartmentId,
                    name: `${cluster.name}${platform.stack}`
                        .replace(/[^A-Za-z0-9]/g, "")
                        .slice(0, 255),
                    targetSubnetId: subnet("cp"),
                    clientCidrBlockAllowLists: [...cluster.bastion.clientCidrs],
                    maxSessionTtlInSeconds: 10800,
                    freeformTags: tags,
                },
                child,
            ).id;
        }

        const addons: oci.containerengine.Addon[] = [];
        const certManager = cluster.addons.find((a) => a.name === "CertManager");
        const ordered = certManager
            ? [certManager, ...cluster.addons.filter((a) => a !== certManager)]
            : cluster.addons;
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
                { parent: this, dependsOn: certManager && first ? [first] : [] },
            );
            first = first ?? created;
            addons.push(created);
        }

        // Node pools.
        const ads = oci.identity
            .getAvailabilityDomainsOutput({ compartmentId: tenancyId }, child)
            .availabilityDomains.apply((list) => list.map((ad) => ad.name).sort());
        const options = oci.containerengine.getNodePoolOptionOutput(
            { nodePoolOptionId: "all" },
            child,
        );
        const imageFor = (pool: NodePoolConfig): pulumi.Output<string> =>
            pool.imageId !== undefined
                ? pulumi.output(pool.imageId)
                : options.sources.apply((sources) => {
                      const found = selectNodeImage(sources as NodeImageSource[], {
                          kubernetesVersion: cluster.kubernetesVersion,
                          shape: pool.shape,
                          gpu: pool.gpu,
                      });
                      if (found === undefined) {
                          throw new pulumi.ResourceError(
                              `no OKE node image for Kubernetes ${cluster.kubernetesVersion} fits shape ${pool.shape}${pool.gpu ? " (GPU)" : ""} of node pool ${pool.name}; set nodePools[].imageId to an image OCID`,
                              this,
                          );
                      }
                      return found.imageId;
                  });

        const readiness: pulumi.Resource[] = [];
        const selfManaged = cluster.nodePools.filter(
            (p) => p.kata && p.kataMode === "self-managed",
        );
        let workersPolicy: oci.identity.Policy | undefined;
        let workersPolicyWait: time.Sleep | undefined;
        const logging = cluster.layer.observability.logging;
        // The workers' dynamic group serves self-managed joins and the log-shipping agent.
        const needsWorkersGroup = selfManaged.length > 0 || logging.decisionLogs;
        // A defined tag this program owns marks the cluster's workers (node pools and instance
        // configurations carry it), so the dynamic group matches them and no other instance of
        // the compartment. Tag namespaces are IAM resources: home region.
        const nodeTag = workerTag(platform.stack, cluster.name);
        const tagNamespace = new oci.identity.TagNamespace(
            `${name}-tag-ns`,
            {
                compartmentId,
                name: nodeTag.namespace,
                description: `Worker tags of OKE cluster ${cluster.name} of stack ${platform.stack}`,
                freeformTags: tags,
            },
            home,
        );
        const workerTagKey = new oci.identity.Tag(
            `${name}-tag-cluster`,
            {
                tagNamespaceId: tagNamespace.id,
                name: nodeTag.key,
                description: `Marks the worker instances of OKE cluster ${cluster.name}; dynamic group ${iam("oke-workers")} matches it`,
                validator: { validatorType: "ENUM", values: [nodeTag.value] },
                freeformTags: tags,
            },
            home,
        );
        const workerDefinedTags = { [`${nodeTag.namespace}.${nodeTag.key}`]: nodeTag.value };
        const workersGroup = needsWorkersGroup
            ? new oci.identity.DynamicGroup(
                  `${name}-workers-dg`,
                  {
                      compartmentId: tenancyId,
                      name: iam("oke-workers"),
                      description: `Worker instances of OKE cluster ${cluster.name} of stack ${platform.stack}`,
                      matchingRule: workerDynamicGroupRule(compartmentId, nodeTag),
                      freeformTags: tags,
                  },
                  { ...home, dependsOn: [workerTagKey] },
              )
            : undefined;
        if (selfManaged.length > 0 && workersGroup !== undefined) {
            const dg = workersGroup;
            workersPolicy = new oci.identity.Policy(
                `${name}-workers-policy`,
                {
                    compartmentId,
                    name: iam("oke-workers"),
                    description: `Self-managed workers may join OKE cluster ${cluster.name} of stack ${platform.stack}`,
                    statements: pulumi
                        .all([clusterId, dg.id, keys.volumes])
                        .apply(([cid, dgId, volumesKeyId]) =>
                            selfManagedWorkerStatements({
                                compartmentId,
                                keyCompartmentId: compartmentId,
                                clusterId: cid,
                                dynamicGroupId: dgId,
                                volumesKeyId,
                            }),
                        ),
                    freeformTags: tags,
                },
                home,
            );
            workersPolicyWait = new time.Sleep(
                `${name}-workers-policy-wait`,
                { createDuration: `${iamPropagationSeconds}s` },
                { parent: this, dependsOn: [workersPolicy, workersGroup] },
            );
        }

        const auditLogging = new AuditLogging(
            `${name}-logging`,
            {
                compartmentId,
                clusterId,
                clusterName: cluster.name,
                retentionDays: logging.retentionDays,
                decisionLogs: logging.decisionLogs,
                tags,
                dynamicGroupId: logging.decisionLogs ? workersGroup?.id : undefined,
            },
            { parent: this },
        );
        if (workersGroup !== undefined && logging.decisionLogs) {
            new oci.identity.Policy(
                `${name}-logging-policy`,
                {
                    compartmentId,
                    name: iam("oke-log-shipping"),
                    description: `Workers of OKE cluster ${cluster.name} may ship guardrail decision logs`,
                    statements: pulumi
                        .all([workersGroup.id, auditLogging.logGroupId])
                        .apply(([dgId, logGroupId]) =>
                            logShippingStatements({
                                compartmentId,
                                dynamicGroupId: dgId,
                                logGroupId,
                            }),
                        ),
                    freeformTags: tags,
                },
                home,
            );
        }

        for (const pool of cluster.nodePools) {
            const nodeLabels = poolLabels(pool);
            const taints = poolTaints(pool);
            const imageId = imageFor(pool);
            if (pool.kata && pool.kataMode === "self-managed") {
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
                const privateHost = okeCluster.endpoints.apply((eps) =>
                    endpointHost(eps?.[0]?.privateEndpoint ?? ""),
                );
                const caCert = pulumi.unsecret(kubeconfigRaw.apply(caCertFromKubeconfig));
                const userData = pulumi
                    .all([privateHost, caCert])
                    .apply(([apiServerHost, caCertBase64]) =>
                        base64(selfManagedNodeScript({ apiServerHost, caCertBase64, taints })),
                    );
                const config = new oci.core.InstanceConfiguration(
                    `${name}-${pool.name}-config`,
                    {
                        compartmentId,
                        displayName: `${cluster.name}-${pool.name}`,
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
                                    kmsKeyId: keys.volumes,
                                },
                                createVnicDetails: {
                                    subnetId: subnet("workers"),
                                    nsgIds: [nsg("workers")],
                                    assignPublicIp: false,
                                    freeformTags: tags,
                                },
                                instanceOptions: { areLegacyImdsEndpointsDisabled: true },
                                // Only where OCI documents it (modules/config/shapes.ts).
                                ...(supportsPvEncryptionInTransit(pool.shape)
                                    ? { isPvEncryptionInTransitEnabled: true }
                                    : {}),
                                metadata: {
                                    apiserver_host: privateHost,
                                    cluster_ca_cert: caCert,
                                    "oke-k8version": cluster.kubernetesVersion,
                                    "oke-initial-node-labels": nodeLabelsMetadata(nodeLabels),
                                    user_data: userData,
                                    ...(vcnNative
                                        ? {
                                              "oke-native-pod-networking": "true",
                                              "oke-max-pods": String(maxPodsPerNode),
                                              "pod-subnets": subnet("pods"),
                                              "pod-nsgids": nsg("pods"),
                                          }
                                        : {}),
                                },
                                freeformTags: { ...tags, pool: pool.name },
                                definedTags: workerDefinedTags,
                            },
                        },
                        freeformTags: { ...tags, pool: pool.name },
                    },
                    { parent: this, dependsOn: [keyPolicy, keyPolicyWait, workerTagKey] },
                );
                const instancePool = new oci.core.InstancePool(
                    `${name}-${pool.name}`,
                    {
                        compartmentId,
                        displayName: `${cluster.name}-${pool.name}`,
                        instanceConfigurationId: config.id,
                        size: pool.size,
                        placementConfigurations: pulumi
                            .all([ads, subnet("workers")])
                            .apply(([names, workers]) =>
                                names.map((availabilityDomain) => ({
                                    availabilityDomain,
                                    primaryVnicSubnets: { subnetId: workers },
                                })),
                            ),
                        freeformTags: { ...tags, pool: pool.name },
                    },
                    { parent: this, dependsOn: [keyPolicy, workersPolicy!, workersPolicyWait!] },
                );
                readiness.push(instancePool);
                continue;
            }
            const flex = pool.shape.endsWith(".Flex");
            const nodePool = new oci.containerengine.NodePool(
                `${name}-${pool.name}`,
                {
                    clusterId,
                    compartmentId,
                    name: `${cluster.name}-${pool.name}`,
                    kubernetesVersion: cluster.kubernetesVersion,
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
                            .all([ads, subnet("workers")])
                            .apply(([names, workers]) =>
                                names.map((availabilityDomain) => ({
                                    availabilityDomain,
                                    subnetId: workers,
                                })),
                            ),
                        nsgIds: [nsg("workers")],
                        kmsKeyId: keys.volumes,
                        // Only where OCI documents it: VMs and three bare-metal shapes, not
                        // BM.GPU.* (modules/config/shapes.ts, test "sends in-transit encryption
                        // only where OCI supports it").
                        ...(supportsPvEncryptionInTransit(pool.shape)
                            ? { isPvEncryptionInTransitEnabled: true }
                            : {}),
                        nodePoolPodNetworkOptionDetails: vcnNative
                            ? {
                                  cniType: "OCI_VCN_IP_NATIVE",
                                  maxPodsPerNode,
                                  podSubnetIds: [subnet("pods")],
                                  podNsgIds: [nsg("pods")],
                              }
                            : { cniType: "FLANNEL_OVERLAY" },
                        freeformTags: { ...tags, pool: pool.name },
                        // Nodes carry the cluster's worker tag (dynamic group membership).
                        definedTags: workerDefinedTags,
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
                // IMDSv1 stays on for managed nodes: @pulumi/oci 4.20.0's NodePool has no
                // instanceOptions / areLegacyImdsEndpointsDisabled (types/input.d.ts), so only the
                // self-managed instance configurations above disable the legacy endpoints.
                { parent: this, dependsOn: [keyPolicy, keyPolicyWait, workerTagKey] },
            );
            readiness.push(nodePool);
        }
        readiness.push(...addons);

        this.readiness = readiness;
        this.info = {
            region: cluster.region,
            compartmentId,
            clusterId,
            apiEndpoint,
            vaultId: vault.vaultId,
            cryptoEndpoint: vault.cryptoEndpoint,
            keys,
            modelBucket: { namespace: bucket.namespace, name: bucket.name },
            loadBalancerNsgId: nsg("lb"),
            backendNsgIds: vcnNative
                ? { workers: nsg("workers"), pods: nsg("pods") }
                : { workers: nsg("workers") },
            bastionId,
        };
        this.registerOutputs({
            clusterId,
            apiEndpoint,
            vaultId: vault.vaultId,
            kubeconfig: this.kubeconfig,
        });
    }
}
