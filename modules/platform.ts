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
import { ClusterPlatform } from "./k8s";
import { OkeCluster } from "./oci";
import { RegionPeering, peeringPlan } from "./oci/peering";

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

/** Name of the Kubernetes provider of a cluster (the plan maps manifests to clusters by it). */
export function kubernetesProviderName(cluster: ClusterConfig): string {
    return `${cluster.name}-k8s`;
}

/** Declares the whole platform for a validated stack and returns its outputs by cluster name. */
export function deployPlatform(cfg: PlatformConfig): Record<string, ClusterOutputs> {
    // This run's tunnels to private API endpoints (set by tools/deploy, never in a stack file).
    const access = apiAccessFromEnv(
        cfg.clusters.filter((c) => c.target === "oke").map((c) => c.name),
    );
    const ociProviders = new Map<string, oci.Provider>();
    const ociProvider = (region: string) => {
        let p = ociProviders.get(region);
        if (p === undefined) {
            // Credentials come from ~/.oci/config, a session token or the instance, never from stack config.
            p = new oci.Provider(`oci-${region}`, {
                region,
                auth: cfg.ociAuth.method,
                configFileProfile: cfg.ociAuth.profile,
            });
            ociProviders.set(region, p);
        }
        return p;
    };
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
    const outputs: Record<string, ClusterOutputs> = {};
    for (const cluster of cfg.clusters) {
        let kubeconfig: pulumi.Output<string>;
        let cloud: OkeCluster | undefined;
        if (cluster.target === "oke") {
            const peer = plan?.clusters.find((c) => c.cluster === cluster.name);
            cloud = new OkeCluster(
                cluster.name,
                {
                    platform: cfg,
                    cluster,
                    homeProvider: ociProvider(cfg.homeRegion!),
                    peering:
                        peering && peer
                            ? { drgId: peering.drgIds[cluster.region]!, peerCidrs: peer.peerCidrs }
                            : undefined,
                },
                { provider: ociProvider(cluster.region) },
            );
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
        new ClusterPlatform(
            cluster.name,
            { cluster, environment: cfg.environment, cloud: cloud?.info },
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
    return outputs;
}
