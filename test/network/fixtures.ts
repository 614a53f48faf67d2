/** Shared fixtures of the network suites: one cluster config per engine, and tier pods. */
import { ClusterConfig, parseConfig } from "../../modules/config";
import type { EgressEngine } from "../../modules/config/network";
import { catalog } from "../../modules/k8s/catalog";
import type { NetworkIntent } from "../../modules/k8s/network/intent";

export const engines: readonly EgressEngine[] = ["proxy", "calico-enterprise", "cilium"];

/** The raw stack entry of an OKE cluster (us-ashburn-1) with a system and a Kata GPU pool. */
export function okeClusterRaw(
    engine: EgressEngine,
    networkPolicy: Record<string, unknown> = {},
): Record<string, unknown> {
    return {
        name: "net",
        target: "oke",
        region: "us-ashburn-1",
        network: {
            vcnCidr: "10.0.0.0/16",
            podsCidr: "10.244.0.0/16",
            servicesCidr: "10.96.0.0/16",
            podNetworking: "vcn-native",
        },
        nodePools: [
            {
                name: "system",
                role: "system",
                shape: "VM.Standard.E5.Flex",
                ocpus: 2,
                memoryGbs: 16,
                size: 2,
            },
            { name: "gpu", role: "gpu", shape: "BM.GPU.A100-v2.8", kata: true, size: 1 },
        ],
        networkPolicy: { engine, ...networkPolicy },
    };
}

/** A validated OKE cluster with every tier, observability and Kubeflow on. */
export function okeCluster(
    engine: EgressEngine,
    networkPolicy: Record<string, unknown> = {},
): ClusterConfig {
    const cfg = parseConfig(
        {
            environment: "dev",
            tenancyId: "ocid1.tenancy.oc1..aaaaaaaanetworktest",
            compartmentId: "ocid1.compartment.oc1..aaaaaaaanetworktest",
            homeRegion: "us-ashburn-1",
            kubeflow: { enabled: true },
            clusters: [okeClusterRaw(engine, networkPolicy)],
        },
        { stack: "test" },
    );
    return cfg.clusters[0];
}

/**
 * Deployments for the catalog workloads of an intent, as the tiers would declare them (the tiers
 * are built elsewhere; the analysis needs their pods).
 */
export function tierDeployments(intent: NetworkIntent): Record<string, unknown>[] {
    return intent.workloads
        .filter((w) => w.source === "catalog")
        .map((w) => ({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: w.id, namespace: w.namespace },
            spec: {
                selector: { matchLabels: { ...w.podLabels } },
                template: {
                    metadata: { labels: { ...catalog[w.id as keyof typeof catalog].podLabels } },
                    spec: {
                        containers: [
                            {
                                name: "main",
                                image: "example",
                                ports: w.ports.map((p) => ({
                                    name: p.name,
                                    containerPort: p.port,
                                    protocol: p.protocol,
                                })),
                            },
                        ],
                    },
                },
            },
        }));
}
