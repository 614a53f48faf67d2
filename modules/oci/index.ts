/** The cloud layer for one OKE cluster: network, vault and keys, IAM, cluster, node pools, bastion (issue 2). */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, PlatformConfig } from "../config";
import { guardrailsLogGlob } from "../constants/logs";
import { OkeBastion } from "./bastion";
import { OkeControlPlane } from "./control-plane";
import { iamName, workerTag } from "./iam-statements";
import { OkeIdentity } from "./identity";
import { OkeKeyGrants } from "./key-grants";
import { AuditLogging } from "./logging";
import { NetworkPeering, OkeNetwork } from "./network";
import { OkeNodePools, isSelfManaged } from "./node-pools";
import type { ClusterLookups } from "./lookups";
import type { CloudClusterInfo } from "./types";
import { KeyVault } from "./vault";

export type { CloudClusterInfo } from "./types";
export type { ClusterLookups } from "./lookups";
export { iamPropagationSeconds } from "./key-grants";
export { maxPodsPerNode, poolLabels } from "./node-pools";

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
     * The provider's checked answers for this cluster (versions, placement, node images, services,
     * namespace, existing vault), asked before any resource by `providerPreflight` (modules/preflight.ts).
     */
    readonly lookups: ClusterLookups;
    /**
     * Remote peering (modules/oci/peering.ts): the region's DRG the VCN attaches to and the other
     * regions' VCN CIDRs routed through it. Defaults to no peering.
     */
    readonly peering?: NetworkPeering;
}

/**
 * Every OCI resource of one OKE cluster, composed of one component per concern: network, vault,
 * key grants, control plane, identity, logging, node pools and bastion. The components that hold
 * what used to be this component's own children take its name, so those children keep their
 * logical names (and state); each carries an alias to its old parent, so an existing stack moves
 * them without replacing anything.
 */
export class OkeCluster extends pulumi.ComponentResource {
    /** Ids the cluster layer needs. */
    public readonly info: CloudClusterInfo;
    /** Kubeconfig for the cluster (secret); its exec plugin runs `oci ce cluster generate-token`. */
    public readonly kubeconfig: pulumi.Output<string>;
    /** Resources the cluster layer must wait for: node pools, instance pools and managed add-ons. */
    public readonly readiness: pulumi.Resource[];

    constructor(name: string, args: OkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeCluster", name, {}, opts);
        const { platform, cluster, lookups } = args;
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
        const tags = clusterTags(platform, cluster);
        const child = { parent: this };
        const iam = (prefix: string) => iamName(prefix, platform.stack, cluster.name);
        const subject = `OKE cluster ${cluster.name} of stack ${platform.stack}`;

        const net = new OkeNetwork(
            `${name}-net`,
            {
                compartmentId,
                network,
                publicEndpoint: cluster.endpoint.public,
                endpointAllowedCidrs: cluster.endpoint.allowedCidrs,
                bastion: cluster.bastion.enabled,
                // ingress-nginx opens its HTTP listener only for ACME (modules/k8s/baseline/ingress.ts).
                httpListener: cluster.layer.baseline.ingress.acme !== undefined,
                tags,
                osnService: lookups.osnService,
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
                existingVault: lookups.existingVault,
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

        const keyGrants = new OkeKeyGrants(
            name,
            {
                compartmentId,
                region: cluster.region,
                policyName: iam("oke-keys"),
                description: `Key use by ${subject}: secrets, volumes, models`,
                keys: {
                    secrets: keys.secrets,
                    volumes: keys.volumes,
                    models: keys.models,
                    signing: cluster.imageSigning ? keys.signing : undefined,
                },
                homeProvider: args.homeProvider,
                tags,
            },
            child,
        );

        const namespace = lookups.namespace;
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
                dependsOn: keyGrants.ready,
            },
        );

        const controlPlane = new OkeControlPlane(
            name,
            {
                compartmentId,
                clusterName: cluster.name,
                kubernetesVersion: lookups.kubernetesVersion,
                vcnId: net.vcnId,
                network,
                publicEndpoint: cluster.endpoint.public,
                endpointSubnetId: subnet("cp"),
                endpointNsgId: nsg("cp"),
                loadBalancerSubnetId: subnet("lb"),
                workersNsgId: nsg("workers"),
                secretsKeyId: keys.secrets,
                signingKeyId: cluster.imageSigning ? keys.signing : undefined,
                addons: cluster.addons,
                dependsOn: keyGrants.ready,
                protect: platform.environment === "prod",
                tags,
            },
            child,
        );
        const clusterId = controlPlane.clusterId;
        this.kubeconfig = pulumi.secret(controlPlane.kubeconfigRaw);

        const logging = cluster.layer.observability.logging;
        const selfManaged = cluster.nodePools.filter(isSelfManaged);
        const identity = new OkeIdentity(
            name,
            {
                compartmentId,
                tenancyId,
                stack: platform.stack,
                clusterName: cluster.name,
                clusterId,
                modelsKeyId: keys.models,
                volumesKeyId: keys.volumes,
                modelBucketName: bucket.name,
                vaultId: vault.vaultId,
                workerTag: workerTag(platform.stack, cluster.name),
                // The workers' dynamic group serves self-managed joins and the log-shipping agent.
                workersGroup: selfManaged.length > 0 || logging.decisionLogs,
                selfManagedJoin: selfManaged.length > 0,
                homeProvider: args.homeProvider,
                tags,
            },
            child,
        );

        let bastionId: pulumi.Output<string> | undefined;
        if (cluster.bastion.enabled) {
            bastionId = new OkeBastion(
                name,
                {
                    compartmentId,
                    bastionName: `${cluster.name}${platform.stack}`,
                    targetSubnetId: subnet("cp"),
                    clientCidrs: cluster.bastion.clientCidrs,
                    tags,
                },
                child,
            ).bastionId;
        }

        new AuditLogging(
            `${name}-logging`,
            {
                compartmentId,
                clusterId,
                clusterName: cluster.name,
                retentionDays: logging.retentionDays,
                decisionLogs: logging.decisionLogs,
                decisionLogPaths: [guardrailsLogGlob],
                tags,
                dynamicGroupId: logging.decisionLogs ? identity.workersGroupId : undefined,
                shippingPolicy: {
                    name: iam("oke-log-shipping"),
                    homeProvider: args.homeProvider,
                },
            },
            child,
        );

        const pools = new OkeNodePools(
            name,
            {
                compartmentId,
                clusterName: cluster.name,
                kubernetesVersion: lookups.kubernetesVersion,
                pools: cluster.nodePools,
                placement: lookups.placement,
                nodeImages: lookups.nodeImages,
                vcnNative,
                clusterId,
                privateHost: controlPlane.privateHost,
                caCertBase64: controlPlane.caCertBase64,
                workers: { subnetId: subnet("workers"), nsgId: nsg("workers") },
                pods: vcnNative ? { subnetId: subnet("pods"), nsgId: nsg("pods") } : undefined,
                volumesKeyId: keys.volumes,
                workerDefinedTags: identity.workerDefinedTags,
                keyReady: keyGrants.ready,
                keyPolicy: keyGrants.policy,
                workerTagKey: identity.workerTagKey,
                joinReady: identity.joinReady,
                tags,
            },
            child,
        );

        this.readiness = [...pools.pools, ...controlPlane.addons];
        this.info = {
            region: cluster.region,
            compartmentId,
            clusterId,
            apiEndpoint: controlPlane.apiEndpoint,
            vaultId: vault.vaultId,
            cryptoEndpoint: vault.cryptoEndpoint,
            keys,
            modelBucket: { namespace: bucket.namespace, name: bucket.name },
            loadBalancerNsgId: nsg("lb"),
            subnetCidrs: net.subnetCidrs,
            backendNsgIds: vcnNative
                ? { workers: nsg("workers"), pods: nsg("pods") }
                : { workers: nsg("workers") },
            bastionId,
        };
        this.registerOutputs({
            clusterId,
            apiEndpoint: controlPlane.apiEndpoint,
            vaultId: vault.vaultId,
            kubeconfig: this.kubeconfig,
        });
    }
}
