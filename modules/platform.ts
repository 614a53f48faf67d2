/**
 * The fleet: for every cluster of the stack, the cloud layer (OKE clusters only), a Kubernetes
 * provider, and the same cluster layer. Data flows one way: config → cloud → provider → cluster.
 */
import * as k8s from "@pulumi/kubernetes";
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { apiAccessFromEnv, kubeconfigForRun } from "./access";
import { ClusterConfig, PlatformConfig, kubeconfigFor } from "./config";
import { mirrorTransformation } from "./images";
import { providerPreflight } from "./preflight";
import { ClusterPlatform } from "./k8s";
import { ClusterLookups, OkeCluster } from "./oci";
import { iamName } from "./oci/iam-statements";
import { RegionPeering, peeringPlan } from "./oci/peering";
import { GlobalEntry, planGlobalEntry } from "./oci/steering";
import { PrivateLinkAccess, PrivateLinkGateway, privateLinkPlan } from "./oci/private-link";

/** Stack outputs for one cluster. */
export interface ClusterOutputs {
    readonly target: string;
    readonly region: string;
    readonly clusterId?: pulumi.Output<string>;
    readonly apiEndpoint?: pulumi.Output<string>;
    readonly bastionId?: pulumi.Output<string>;
    readonly vaultId?: pulumi.Output<string>;
    readonly keyIds?: Record<string, pulumi.Output<string>>;
    readonly modelBucket?: pulumi.Output<string>;
    /** Secret. */
    readonly kubeconfig: pulumi.Output<string>;
}

/** Name of the Kubernetes provider of a cluster. */
export function kubernetesProviderName(cluster: ClusterConfig): string {
    return `${cluster.name}-k8s`;
}

/**
 * The Kubernetes provider of each cluster of the last {@link deployPlatform} call, by cluster
 * name: the offline plan maps objects to clusters through it (their provider's URN), not by name.
 */
export const clusterProviders = new Map<string, k8s.Provider>();

/**
 * The OCI provider of each region, created on first use (one per region, named `oci-<region>`).
 * Credentials come from ~/.oci/config, a session token or the instance, never from stack config.
 */
export function ociProviders(cfg: PlatformConfig): (region: string) => oci.Provider {
    const providers = new Map<string, oci.Provider>();
    return (region: string) => {
        let p = providers.get(region);
        if (p === undefined) {
            p = new oci.Provider(`oci-${region}`, {
                region,
                auth: cfg.ociAuth.method,
                configFileProfile: cfg.ociAuth.profile,
            });
            providers.set(region, p);
        }
        return p;
    };
}

/** The OCI providers and the provider lookups of every OKE cluster, checked (see {@link platformLookups}). */
export interface PlatformLookups {
    /** The provider of a region. */
    readonly providerFor: (region: string) => oci.Provider;
    /** Checked provider answers by OKE cluster name. */
    readonly clusters: Readonly<Record<string, ClusterLookups>>;
}

/**
 * Creates the OCI providers of the OKE clusters' regions and asks every lookup the cloud layer
 * depends on, before anything else is declared; a refused answer throws the config error
 * (modules/preflight.ts `providerPreflight`).
 */
export async function platformLookups(cfg: PlatformConfig): Promise<PlatformLookups> {
    const providerFor = ociProviders(cfg);
    return { providerFor, clusters: await providerPreflight(cfg, providerFor) };
}

/**
 * Declares the whole platform for a validated stack and returns its outputs by cluster name.
 * `lookups` come from {@link platformLookups}, awaited first.
 */
export function deployPlatform(
    cfg: PlatformConfig,
    lookups: PlatformLookups,
): Record<string, ClusterOutputs> {
    // This run's tunnels to private API endpoints (set by tools/deploy, never in a stack file).
    const access = apiAccessFromEnv(
        cfg.clusters.filter((c) => c.target === "oke").map((c) => c.name),
    );
    const ociProvider = lookups.providerFor;
    // Peering: DRGs and remote peering connections first; each OKE VCN attaches to its region's DRG.
    const plan = cfg.peering.enabled ? peeringPlan(cfg.clusters) : undefined;
    const peering =
        plan === undefined
            ? undefined
            : new RegionPeering("peering", {
                  compartmentId: cfg.compartmentId!,
                  plan,
                  providerFor: ociProvider,
                  tags: { ...cfg.tags, environment: cfg.environment, stack: cfg.stack },
              });
    // Private links (issue 16): on-premises clusters calling an OKE cluster's inference.
    const links = privateLinkPlan(cfg.clusters);
    const servingVaults = new Map<string, { vaultId: pulumi.Output<string>; region: string }>();
    const outputs: Record<string, ClusterOutputs> = {};
    clusterProviders.clear();
    for (const cluster of servingFirst(cfg.clusters)) {
        let kubeconfig: pulumi.Output<string>;
        let cloud: OkeCluster | undefined;
        if (cluster.target === "oke") {
            const peer = plan?.clusters.find((c) => c.cluster === cluster.name);
            const link = links.find((l) => l.cluster === cluster.name);
            const gateway =
                link === undefined
                    ? undefined
                    : new PrivateLinkGateway(
                          `${cluster.name}-private-link`,
                          {
                              compartmentId: cfg.compartmentId!,
                              links: link,
                              drgId: peering?.drgIds[cluster.region],
                              tags: { ...cfg.tags, environment: cfg.environment, stack: cfg.stack },
                          },
                          { provider: ociProvider(cluster.region) },
                      );
            const drgId =
                gateway?.drgId ?? (peering && peer ? peering.drgIds[cluster.region] : undefined);
            const peerCidrs = [...(peer?.peerCidrs ?? []), ...(link?.routedCidrs ?? [])];
            cloud = new OkeCluster(
                cluster.name,
                {
                    platform: cfg,
                    cluster,
                    homeProvider: ociProvider(cfg.homeRegion!),
                    lookups: clusterLookups(lookups, cluster.name),
                    peering: drgId !== undefined ? { drgId, peerCidrs } : undefined,
                },
                { provider: ociProvider(cluster.region) },
            );
            if (link !== undefined) {
                new PrivateLinkAccess(
                    `${cluster.name}-private-link-access`,
                    {
                        links: link,
                        podNetworking: cluster.network!.podNetworking,
                        compartmentId: cfg.compartmentId!,
                        clusterId: cloud.info.clusterId,
                        vaultId: cloud.info.vaultId,
                        keyId: cloud.info.keys.secrets,
                        nsgIds: { lb: cloud.info.loadBalancerNsgId, ...cloud.info.backendNsgIds },
                        homeProvider: ociProvider(cfg.homeRegion!),
                        iamName: iamName("inference-link", cfg.stack, cluster.name),
                    },
                    { provider: ociProvider(cluster.region) },
                );
                servingVaults.set(cluster.name, {
                    vaultId: cloud.info.vaultId,
                    region: cluster.region,
                });
            }
            const tunnel = access[cluster.name];
            kubeconfig = pulumi.secret(
                cloud.kubeconfig.apply((k) => kubeconfigForRun(k, cfg.ociAuth, tunnel)),
            );
        } else {
            kubeconfig = kubeconfigFor(cluster);
        }
        const provider = new k8s.Provider(kubernetesProviderName(cluster), {
            kubeconfig,
            // The kubeconfig's server differs between runs (a tunnel's local port, or the private
            // endpoint from a runner in the VCN); the cluster's OCID is what identifies it, so a
            // new server is an update of the provider, never a replacement of every object.
            ...(cloud ? { clusterIdentifier: cloud.info.clusterId } : {}),
            enableServerSideApply: true,
            deleteUnreachable: false,
        });
        clusterProviders.set(cluster.name, provider);
        new ClusterPlatform(
            cluster.name,
            {
                cluster,
                environment: cfg.environment,
                cloud: cloud?.info,
                globalHostname: cfg.globalEntry?.clusters.includes(cluster.name)
                    ? cfg.globalEntry.hostname
                    : undefined,
                remoteInference: servingVaults.get(
                    cluster.layer.tiers.guardrails.inferenceFrom ?? "",
                ),
            },
            {
                provider,
                dependsOn: cloud?.readiness ?? [],
                // With images.mirror set, every rendered object references the OCIR mirrors.
                transformations: mirrorTransformation(cfg, cluster.name),
            },
        );
        outputs[cluster.name] = {
            target: cluster.target,
            region: cluster.region,
            clusterId: cloud?.info.clusterId,
            apiEndpoint: cloud?.info.apiEndpoint,
            bastionId: cloud?.info.bastionId,
            vaultId: cloud?.info.vaultId,
            keyIds: cloud ? { ...cloud.info.keys } : undefined,
            modelBucket: cloud?.info.modelBucket.name,
            kubeconfig,
        };
    }
    // The steered entry: DNS traffic management and Health Checks are global services, declared
    // through the home region's provider.
    if (cfg.globalEntry !== undefined) {
        new GlobalEntry(
            "global-entry",
            {
                compartmentId: cfg.compartmentId!,
                plan: planGlobalEntry(cfg.clusters, cfg.globalEntry),
                tags: { ...cfg.tags, environment: cfg.environment, stack: cfg.stack },
            },
            { provider: ociProvider(cfg.homeRegion ?? cfg.clusters[0].region) },
        );
    }
    return outputs;
}

function clusterLookups(lookups: PlatformLookups, cluster: string): ClusterLookups {
    const found = lookups.clusters[cluster];
    if (found === undefined) {
        throw new Error(`cluster ${cluster}: no provider lookups; call platformLookups first`);
    }
    return found;
}

/**
 * The clusters with every cluster that serves remote inference before the clusters that call it
 * (the callers need its vault); otherwise in stack-file order. Pure.
 */
export function servingFirst(clusters: readonly ClusterConfig[]): ClusterConfig[] {
    const serving = new Set(clusters.map((c) => c.layer.tiers.guardrails.inferenceFrom));
    return [
        ...clusters.filter((c) => serving.has(c.name)),
        ...clusters.filter((c) => !serving.has(c.name)),
    ];
}
