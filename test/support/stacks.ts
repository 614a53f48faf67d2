/** Fixtures shared by the suites: stack configs as the program receives them, and fake cloud ids. */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    ClusterConfig,
    ConfigValidationError,
    PlatformConfig,
    decodeConfigValue,
    parseConfig,
} from "../../modules/config";
import { IntentInputs, intentInputs } from "../../modules/k8s/network/intent";
import { planSubnets, subnetCidrs } from "../../modules/oci/subnets";
import type { CloudClusterInfo } from "../../modules/oci/types";
import { readStackConfig } from "../../tools/plan/stackfile";

/** The repository root. */
export const repoRoot = path.resolve(__dirname, "..", "..");

/** A stack's raw config (short keys, decoded values), deep-copied so a test may change it. */
export function stackRaw(stack = "dev"): Record<string, any> {
    const sc = readStackConfig(repoRoot, stack);
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(sc.values)) {
        if (k.startsWith("secure-llm-platform:")) {
            raw[k.slice("secure-llm-platform:".length)] = decodeConfigValue(v);
        }
    }
    return JSON.parse(JSON.stringify(raw)) as Record<string, any>;
}

/** Parses a raw config for the test stack. */
export function parse(raw: Record<string, unknown>, secretKeys: string[] = []): PlatformConfig {
    return parseConfig(raw, { stack: "test", secretKeys });
}

/** The `path: expected` lines a raw config is refused with; fails when it is accepted. */
export function refusal(raw: Record<string, unknown>, secretKeys: string[] = []): string[] {
    try {
        parse(raw, secretKeys);
    } catch (e) {
        if (e instanceof ConfigValidationError) {
            return e.issues.map((i) => `${i.path}: ${i.expected}`);
        }
        throw e;
    }
    throw new Error("expected the configuration to be refused");
}

/** Cloud ids an OKE cluster's cloud layer would hand to the cluster layer. */
export function fakeCloud(
    region: string,
    bucket: { namespace: string; name: string } = { namespace: "ns", name: "models" },
): CloudClusterInfo {
    const o = (s: string) => pulumi.output(s);
    return {
        region,
        compartmentId: "ocid1.compartment.oc1..aaaatest",
        clusterId: o("ocid1.cluster.oc1.iad.aaaatest"),
        apiEndpoint: o("https://10.0.0.10:6443"),
        loadBalancerNsgId: o("ocid1.networksecuritygroup.oc1.iad.aaaatest"),
        // The subnet plan of a 10.0.0.0/16 VCN with VCN-native pods (modules/oci/subnets.ts).
        subnetCidrs: {
            cp: "10.0.0.0/24",
            lb: "10.0.4.0/22",
            workers: "10.0.64.0/18",
            pods: "10.0.128.0/17",
        },
        vaultId: o("ocid1.vault.oc1.iad.aaaatestvault"),
        cryptoEndpoint: o("https://crypto.example"),
        keys: {
            secrets: o("ocid1.key.oc1.iad.secrets"),
            volumes: o("ocid1.key.oc1.iad.volumes"),
            models: o("ocid1.key.oc1.iad.models"),
            signing: o("ocid1.key.oc1.iad.signing"),
        },
        modelBucket: { namespace: o(bucket.namespace), name: o(bucket.name) },
    };
}

/**
 * The subnet CIDRs an OKE cluster's cloud layer hands to the cluster layer (OkeNetwork carves them
 * with planSubnets); none for other targets. For tests that build the cluster layer's intent alone.
 */
export function cloudSubnets(
    cluster: ClusterConfig,
): Pick<CloudClusterInfo, "subnetCidrs"> | undefined {
    if (cluster.target !== "oke" || cluster.network === undefined) return undefined;
    return {
        subnetCidrs: subnetCidrs(
            planSubnets({
                vcnCidr: cluster.network.vcnCidr,
                podNetworking: cluster.network.podNetworking,
                publicEndpoint: cluster.endpoint.public,
                publicLoadBalancers: cluster.network.publicLoadBalancers,
            }),
        ),
    };
}

/** {@link intentInputs} of a cluster with what its cloud layer would hand over ({@link cloudSubnets}). */
export function clusterIntentInputs(cluster: ClusterConfig): IntentInputs {
    return intentInputs(cluster, cloudSubnets(cluster));
}
