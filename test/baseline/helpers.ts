/** Shared fixtures of the baseline suites: configs, fake cloud ids, and a recorder per component. */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    ClusterConfig,
    ConfigValidationError,
    PlatformConfig,
    decodeConfigValue,
    parseConfig,
} from "../../modules/config";
import type { CloudClusterInfo } from "../../modules/oci/types";
import { RecordedResource, recordedResources, settle, unwrapSecrets } from "../../tools/plan/mocks";
import { readStackConfig } from "../../tools/plan/stackfile";

const root = path.resolve(__dirname, "..", "..");

/** The dev stack's raw config (short keys), deep-copied so a test may change it. */
export function devRaw(): Record<string, any> {
    const sc = readStackConfig(root, "dev");
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(sc.values)) {
        if (k.startsWith("secure-llm-platform:")) {
            raw[k.slice("secure-llm-platform:".length)] = decodeConfigValue(v);
        }
    }
    return JSON.parse(JSON.stringify(raw)) as Record<string, any>;
}

/** Parses a raw config. */
export function parse(raw: Record<string, unknown>, secretKeys: string[] = []): PlatformConfig {
    return parseConfig(raw, { stack: "test", secretKeys });
}

/** The issues a raw config is refused with, one `path: …` line each. */
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

/** Cloud ids an OKE cluster's cloud layer would hand over. */
export function fakeCloud(region: string): CloudClusterInfo {
    const o = (s: string) => pulumi.output(s);
    return {
        region,
        compartmentId: "ocid1.compartment.oc1..aaaatest",
        clusterId: o("ocid1.cluster.oc1.iad.aaaatest"),
        apiEndpoint: o("10.0.0.10:6443"),
        loadBalancerNsgId: o("ocid1.networksecuritygroup.oc1.iad.aaaatest"),
        vaultId: o("ocid1.vault.oc1.iad.aaaatestvault"),
        cryptoEndpoint: o("https://crypto.example"),
        keys: {
            secrets: o("ocid1.key.oc1.iad.secrets"),
            volumes: o("ocid1.key.oc1.iad.volumes"),
            models: o("ocid1.key.oc1.iad.models"),
            signing: o("ocid1.key.oc1.iad.signing"),
        },
        modelBucket: { namespace: o("ns"), name: o("models") },
    };
}

/** Builds a Baseline and returns what it registered (secrets unwrapped). */
export async function recordBaseline(
    name: string,
    cluster: ClusterConfig,
    cloud?: CloudClusterInfo,
): Promise<RecordedResource[]> {
    const { Baseline } = await import("../../modules/k8s/baseline");
    new Baseline(name, { cluster, environment: "dev", cloud });
    await settle();
    return recordedResources()
        .filter((r) => r.name === name || r.name.startsWith(`${name}-`))
        .map((r) => ({ ...r, inputs: unwrapSecrets(r.inputs) as Record<string, unknown> }));
}

/** Kubernetes objects of a kind. */
export function ofType(rs: readonly RecordedResource[], type: string): RecordedResource[] {
    return rs.filter((r) => r.type === type);
}

/** `metadata` of a recorded object. */
export function meta(r: RecordedResource): {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
} {
    return r.inputs.metadata as never;
}

/** A Helm release by release name. */
export function release(
    rs: readonly RecordedResource[],
    releaseName: string,
): RecordedResource | undefined {
    return rs.find(
        (r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.name === releaseName,
    );
}
